#include "lora/runtime_engine.h"

#include <ATen/ATen.h>

#include <map>

#include "lora/low_rank_product.h"
#include "models/common/cpu_matmul.h"
#include "models/common/layers.h"

namespace sdxl::lora {
namespace {

bool is_text_encoder(const std::string& module) { return module.rfind("text_encoder", 0) == 0; }

std::uint64_t bytes_of(const at::Tensor& t) {
  return t.defined() ? static_cast<std::uint64_t>(t.numel()) * t.element_size() : 0;
}

/// The adapter of one layer.  Linear weight [out, in]; Conv2d weight [out, in, kh, kw].
class LoraAdapter final : public models::LayerAdapter {
 public:
  // Plain low rank, every LoRA's rank concatenated (m·s folded into up):
  at::Tensor down;  // Linear [R, in]; Conv2d [R, in, kh, kw]
  at::Tensor up;    // Linear [out, R]; Conv2d [out, R, 1, 1]
  struct Tucker {
    at::Tensor down;  // [r2, in, 1, 1]
    at::Tensor mid;   // [r, r2, kh, kw]
    at::Tensor up;    // [out, r, 1, 1], m·s folded in
  };
  std::vector<Tucker> tucker;
  at::Tensor dense;  // materialised dW, the weight's shape
  at::Tensor bias;   // [out] bias difference

  at::Tensor linear(const at::Tensor& x) const override {
    at::Tensor out;
    if (down.defined()) add(out, models::linear(models::linear(x, down), up));
    if (dense.defined()) add(out, models::linear(x, dense));
    if (bias.defined()) add(out, bias);  // [out] broadcasts over [..., out]
    return out;
  }

  at::Tensor conv2d(const at::Tensor& x, std::int64_t stride, std::int64_t padding) const override {
    at::Tensor out;
    // down carries the layer's kernel, stride and padding; up is a 1x1 mix of the ranks.
    if (down.defined()) add(out, models::conv2d(models::conv2d(x, down, {}, stride, padding), up, {}, 1, 0));
    for (const auto& t : tucker)
      add(out, models::conv2d(models::conv2d(models::conv2d(x, t.down, {}, 1, 0), t.mid, {}, stride, padding), t.up, {}, 1, 0));
    if (dense.defined()) add(out, models::conv2d(x, dense, {}, stride, padding));
    if (bias.defined()) add(out, bias.view({1, -1, 1, 1}));
    return out;
  }

  std::uint64_t bytes() const {
    std::uint64_t n = bytes_of(down) + bytes_of(up) + bytes_of(dense) + bytes_of(bias);
    for (const auto& t : tucker) n += bytes_of(t.down) + bytes_of(t.mid) + bytes_of(t.up);
    return n;
  }

 private:
  static void add(at::Tensor& acc, const at::Tensor& t) { acc = acc.defined() ? acc + t : t; }
};

struct PatchRef {
  const sdk::WeightPatch* patch;
  const sdk::LowRankFactors* low_rank;
  double multiplier;
  const std::string* file;
};

struct ModuleWork {
  std::string weight_name;
  const at::Tensor* weight = nullptr;
  const at::Tensor* bias = nullptr;
  std::vector<PatchRef> weight_patches, bias_patches;
};

// (stored value, every patch applied in float32) − stored value: the change a merge would make,
// before rounding. Used where the change is not a low-rank product.
sdk::Result<at::Tensor> materialise(const at::Tensor& stored, const std::vector<PatchRef>& patches,
                                    const std::string& name) {
  const at::Tensor base = stored.to(at::kFloat);
  at::Tensor running = base.clone();
  for (const auto& p : patches) {
    if (p.low_rank && !p.low_rank->mid.defined()) {
      running.add_(low_rank_product(*p.low_rank, running.sizes(), running.device()), p.multiplier * p.low_rank->scale);
      continue;
    }
    auto r = p.patch->apply(running, p.multiplier);
    if (!r.ok()) return sdk::Status(r.status().code(), *p.file + ": " + r.status().message());
    if (r.value().sizes() != running.sizes())
      return sdk::internal_error(*p.file + ": patch for '" + name + "' changed the shape");
    running = r.value().to(at::kFloat);
  }
  at::Tensor delta = running.sub_(base);
  const double limit = stored.scalar_type() == at::kHalf ? 65504.0 : 3.0e38;
  if (delta.numel() && !(delta.abs().max().item<double>() <= limit))
    return sdk::invalid_argument("LoRA change of '" + name + "' is not finite in its dtype (multiplier too large?)");
  return delta.to(stored.scalar_type());
}

sdk::Result<std::shared_ptr<LoraAdapter>> build_adapter(const ModuleWork& w) {
  auto a = std::make_shared<LoraAdapter>();
  const at::Tensor& weight = *w.weight;
  const auto dtype = weight.scalar_type();
  const auto device = weight.device();
  const bool conv = weight.dim() == 4;
  bool all_low_rank = !w.weight_patches.empty();
  for (const auto& p : w.weight_patches)
    all_low_rank = all_low_rank && p.low_rank && (conv || !p.low_rank->mid.defined());
  if (all_low_rank) {
    std::vector<at::Tensor> downs, ups;
    for (const auto& p : w.weight_patches) {
      const auto& f = *p.low_rank;
      const double k = p.multiplier * f.scale;
      // Folding m·s into up in float32 before the cast keeps one rounding per factor.
      at::Tensor up = f.up.to(device, at::kFloat).mul(k).to(dtype);  // [out, r]
      if (conv) up = up.reshape({up.size(0), up.size(1), 1, 1});
      if (f.mid.defined()) {
        a->tucker.push_back({f.down.to(device, dtype), f.mid.to(device, dtype), up});
      } else {
        downs.push_back(f.down.to(device, dtype));
        ups.push_back(up);
      }
    }
    if (!downs.empty()) {
      a->down = at::cat(downs, 0).contiguous();
      a->up = at::cat(ups, 1).contiguous();
    }
  } else if (!w.weight_patches.empty()) {
    auto d = materialise(weight, w.weight_patches, w.weight_name);
    if (!d.ok()) return d.status();
    a->dense = d.value();
  }
  if (!w.bias_patches.empty()) {
    const std::string bias_name = w.weight_name.substr(0, w.weight_name.size() - 6) + "bias";
    auto d = materialise(*w.bias, w.bias_patches, bias_name);
    if (!d.ok()) return d.status();
    a->bias = d.value();
  }
  return a;
}

}  // namespace

sdk::Result<RuntimeStats> RuntimeEngine::attach(const std::vector<RuntimeLora>& stack) {
  // Module -> its weight and bias patches, in stack order.
  std::map<std::string, ModuleWork> modules;
  RuntimeStats stats;
  for (const auto& entry : stack) {
    if (!entry.lora) return sdk::invalid_argument("runtime LoRA: empty entry");
    const std::string& file = entry.lora->source->path.native();
    const auto& patches = entry.lora->parse.patches;
    for (std::size_t i = 0; i < patches.size(); ++i) {
      const auto& p = patches[i];
      const std::string weight_name = p->module() + ".weight";
      const std::string param = p->module() + "." + p->parameter();
      auto wit = weights_->find(weight_name);
      auto pit = weights_->find(param);
      if (wit == weights_->end() || pit == weights_->end())
        return sdk::not_found(file + ": patch targets '" + param + "', which this model does not have");
      if (wit->second.dim() != 2 && wit->second.dim() != 4)
        return sdk::invalid_argument(file + ": '" + weight_name + "' is neither a Linear nor a Conv2d weight");
      if (!adaptable_ || !adaptable_(weight_name))
        return sdk::unsupported(file + ": runtime LoRA mode cannot patch '" + param +
                                "' (the network does not compute it through an adaptable layer); use [lora] mode = \"merge\"");
      ModuleWork& w = modules[p->module()];
      w.weight_name = weight_name;
      w.weight = &wit->second;
      const double m = is_text_encoder(p->module()) ? entry.multipliers.text_encoder : entry.multipliers.unet;
      const sdk::LowRankFactors* lr =
          i < entry.lora->low_rank.size() && entry.lora->low_rank[i] ? &*entry.lora->low_rank[i] : nullptr;
      if (p->parameter() == "bias") {
        w.bias = &pit->second;
        w.bias_patches.push_back(PatchRef{p.get(), nullptr, m, &file});
      } else if (p->parameter() == "weight") {
        w.weight_patches.push_back(PatchRef{p.get(), lr, m, &file});
      } else {
        return sdk::invalid_argument(file + ": patch targets '" + param + "' (only weight and bias are supported)");
      }
      ++stats.patches;
    }
  }
  // Build every adapter before attaching any: a failure leaves the previous set in place.
  std::vector<std::pair<at::Tensor, std::shared_ptr<LoraAdapter>>> built;
  for (const auto& [module, w] : modules) {
    sdk::Result<std::shared_ptr<LoraAdapter>> a = sdk::internal_error("unset");
    try {
      a = build_adapter(w);
    } catch (const c10::Error& e) {
      return sdk::internal_error("runtime LoRA for '" + module + "': " + e.what_without_backtrace());
    }
    if (!a.ok()) return a.status();
    stats.adapter_bytes += a.value()->bytes();
    if (a.value()->dense.defined()) ++stats.dense_modules;
    else if (a.value()->down.defined() || !a.value()->tucker.empty()) ++stats.low_rank_modules;
    built.emplace_back(*w.weight, a.value());
  }
  detach();
  for (auto& [weight, adapter] : built) {
    models::set_layer_adapter(weight, adapter);
    attached_.push_back(weight);
  }
  stats.modules = built.size();
  stats_ = stats;
  return stats;
}

void RuntimeEngine::detach() {
  for (const auto& w : attached_) models::set_layer_adapter(w, nullptr);
  attached_.clear();
  stats_ = RuntimeStats{};
}

}  // namespace sdxl::lora
