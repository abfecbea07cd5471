#include "lora/merge_engine.h"

#include <ATen/ATen.h>

namespace sdxl::lora {
namespace {

bool is_text_encoder(const std::string& module) { return module.rfind("text_encoder", 0) == 0; }

struct PendingPatch {
  const sdk::WeightPatch* patch;
  double multiplier;
  const std::string* file;
};

}  // namespace

sdk::Result<MergeStats> MergeEngine::merge(const std::vector<LoraApplication>& stack, const ComponentMultipliers& comp) {
  // Parameter -> its patches in stack order (file order within one LoRA).
  std::map<std::string, std::vector<PendingPatch>> work;
  std::vector<std::string> order;
  for (const auto& app : stack) {
    if (!app.lora) return sdk::invalid_argument("merge: empty LoRA entry");
    const std::string& file = app.lora->source->path.native();
    for (const auto& p : app.lora->parse.patches) {
      const std::string param = p->module() + "." + p->parameter();
      if (!weights_->count(param))
        return sdk::not_found(file + ": patch targets '" + param + "', which this model does not have");
      const double m = app.multiplier * (is_text_encoder(p->module()) ? comp.text_encoder : comp.unet);
      auto& list = work[param];
      if (list.empty()) order.push_back(param);
      list.push_back(PendingPatch{p.get(), m, &file});
    }
  }
  // Undo log for parameters already merged before this call (their pre-call value is not the original).
  std::map<std::string, at::Tensor> undo;
  std::vector<std::string> fresh;  // first touched by this call
  auto roll_back = [&] {
    for (auto& [name, before] : undo) (*weights_)[name].copy_(before);
    for (const auto& name : fresh) {
      (*weights_)[name].copy_(backups_[name]);
      backups_.erase(name);
    }
  };
  MergeStats stats;
  for (const auto& param : order) {
    at::Tensor& target = (*weights_)[param];
    at::Tensor running = target.to(at::kFloat);  // copy when the storage is not float32
    if (running.data_ptr() == target.data_ptr()) running = running.clone();
    for (const auto& pp : work[param]) {
      auto r = pp.patch->apply(running, pp.multiplier);
      if (!r.ok()) {
        roll_back();
        return sdk::Status(r.status().code(), *pp.file + ": " + r.status().message());
      }
      if (r.value().sizes() != running.sizes()) {
        roll_back();
        return sdk::internal_error(*pp.file + ": patch for '" + param + "' changed the shape");
      }
      running = r.value().to(at::kFloat);
      ++stats.patches_applied;
    }
    // Checked in float32 (fast on CPU, unlike half ops): finite, and within the storage range.
    const double limit = target.scalar_type() == at::kHalf ? 65504.0 : 3.0e38;
    const double peak = running.numel() ? running.abs().max().item<double>() : 0.0;  // NaN propagates
    if (!(peak <= limit)) {
      roll_back();
      return sdk::invalid_argument("merging into '" + param +
                                   "' gives non-finite values in its storage dtype (multiplier too large?)");
    }
    if (backups_.count(param)) {
      undo.emplace(param, target.clone());
    } else {
      backups_.emplace(param, target.clone());
      fresh.push_back(param);
    }
    target.copy_(running);  // rounds once to the storage dtype
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
