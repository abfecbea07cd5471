#include "lora/merge_engine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "lora/low_rank_product.h"

namespace sdxl::lora {
namespace {

bool is_text_encoder(const std::string& module) { return module.rfind("text_encoder", 0) == 0; }

struct PendingPatch {
  const sdk::WeightPatch* patch;
  const sdk::LowRankFactors* low_rank;  // null: only apply() knows the change
  double multiplier;
  const std::string* file;
};

struct ParamWork {
  std::string name;
  at::Tensor* target;
  std::vector<PendingPatch> patches;
  at::Tensor before;  // value before this call (storage dtype); set once the parameter is written
};

// Stored value upcast, every patch applied in order, range-checked, written back in place.
// Plain low-rank patches are added as W += m s (up @ down) with the product formed by
// low_rank_product (oneDNN on the CPU); all others go through the plugin's apply().
sdk::Status merge_one(ParamWork& w) {
  at::Tensor& target = *w.target;
  at::Tensor running = target.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  for (const auto& pp : w.patches) {
    if (pp.low_rank && !pp.low_rank->mid.defined()) {
      running.add_(low_rank_product(*pp.low_rank, running.sizes(), running.device()), pp.multiplier * pp.low_rank->scale);
      continue;
    }
    auto r = pp.patch->apply(running, pp.multiplier);
    if (!r.ok()) return sdk::Status(r.status().code(), *pp.file + ": " + r.status().message());
    if (r.value().sizes() != running.sizes())
      return sdk::internal_error(*pp.file + ": patch for '" + w.name + "' changed the shape");
    running = r.value().to(at::kFloat);
  }
  // Checked in float32 (fast on CPU, unlike half ops): finite, and within the storage range.
  // aminmax reads the tensor once and allocates nothing; NaN fails both comparisons.
  const double limit = target.scalar_type() == at::kHalf ? 65504.0 : 3.0e38;
  if (running.numel()) {
    auto [lo, hi] = at::aminmax(running);
    const double lo_v = lo.item<double>(), hi_v = hi.item<double>();
    if (!(hi_v <= limit && lo_v >= -limit))
      return sdk::invalid_argument("merging into '" + w.name +
                                   "' gives non-finite values in its storage dtype (multiplier too large?)");
  }
  w.before = target.clone();
  target.copy_(running);  // rounds once to the storage dtype
  return {};
}

}  // namespace

sdk::Result<MergeStats> MergeEngine::merge(const std::vector<LoraApplication>& stack, const ComponentMultipliers& comp) {
  // Parameter -> its patches in stack order (file order within one LoRA).
  std::map<std::string, std::size_t> index;
  std::vector<ParamWork> work;
  MergeStats stats;
  for (const auto& app : stack) {
    if (!app.lora) return sdk::invalid_argument("merge: empty LoRA entry");
    const std::string& file = app.lora->source->path.native();
    const auto& patches = app.lora->parse.patches;
    for (std::size_t i = 0; i < patches.size(); ++i) {
      const auto& p = patches[i];
      const std::string param = p->module() + "." + p->parameter();
      auto wit = weights_->find(param);
      if (wit == weights_->end())
        return sdk::not_found(file + ": patch targets '" + param + "', which this model does not have");
      const double m = app.multiplier * (is_text_encoder(p->module()) ? comp.text_encoder : comp.unet);
      const sdk::LowRankFactors* lr =
          host_low_rank_ && i < app.lora->low_rank.size() && app.lora->low_rank[i] ? &*app.lora->low_rank[i] : nullptr;
      auto [it, added] = index.emplace(param, work.size());
      if (added) work.push_back(ParamWork{param, &wit->second, {}, {}});
      work[it->second].patches.push_back(PendingPatch{p.get(), lr, m, &file});
      ++stats.patches_applied;
    }
  }
  // Parameters are independent: merge them on all intra-op threads, each thread taking the next
  // parameter (sizes differ by 100x, so a static split would idle). Inside, ATen and oneDNN run
  // single-threaded (nested parallel regions are inlined).
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  sdk::Status error;
  auto worker = [&] {
    for (std::size_t i = next++; i < work.size() && !failed.load(); i = next++) {
      sdk::Status st;
      try {
        st = merge_one(work[i]);
      } catch (const c10::Error& e) {
        st = sdk::internal_error("merging into '" + work[i].name + "': " + e.what_without_backtrace());
      } catch (const std::exception& e) {
        st = sdk::internal_error("merging into '" + work[i].name + "': " + e.what());
      }
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!failed.exchange(true)) error = st;
      }
    }
  };
  const std::int64_t threads = std::min<std::int64_t>(at::get_num_threads(), static_cast<std::int64_t>(work.size()));
  if (threads > 1) at::parallel_for(0, threads, 1, [&](std::int64_t, std::int64_t) { worker(); });
  else worker();

  if (failed) {  // all or nothing: restore every parameter this call wrote
    for (auto& w : work)
      if (w.before.defined()) w.target->copy_(w.before);
    return error;
  }
  for (auto& w : work) {
    // First touch: the pre-call value is the original. Otherwise the backup already holds it.
    if (!backups_.count(w.name)) backups_.emplace(w.name, std::move(w.before));
    ++stats.parameters_changed;
  }
  stats.backup_bytes = backup_bytes();
  return stats;
}

void MergeEngine::unmerge() {
  for (auto& [name, original] : backups_) {
    auto it = weights_->find(name);
    if (it != weights_->end()) it->second.copy_(original);
  }
  backups_.clear();
}

std::uint64_t MergeEngine::backup_bytes() const {
  std::uint64_t n = 0;
  for (const auto& kv : backups_) n += static_cast<std::uint64_t>(kv.second.numel()) * kv.second.element_size();
  return n;
}

std::vector<std::string> MergeEngine::changed_parameters() const {
  std::vector<std::string> out;
  for (const auto& kv : backups_) out.push_back(kv.first);
  return out;
}

at::Tensor MergeEngine::original(const std::string& parameter) const {
  auto it = backups_.find(parameter);
  return it == backups_.end() ? at::Tensor() : it->second;
}

}  // namespace sdxl::lora
