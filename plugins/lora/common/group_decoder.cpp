#include "group_decoder.h"

#include <ATen/ATen.h>

#include <set>

#include "sdxl/sdk/shape_text.h"

namespace sdxl::lora {
namespace {

// DoRA's epsilon (LyCORIS, PEFT): float32 machine epsilon.
constexpr double kDoraEps = 1.1920929e-07;

sdk::Status bad(const std::string& group, const std::string& what) {
  return sdk::invalid_argument("LoRA group '" + group + "': " + what);
}

struct DoraSpec {
  at::Tensor scale;          // float32, broadcastable to the weight
  bool output_axis = true;   // norm per output row (else per input column)
  DoraConvention convention = DoraConvention::interpolate;
};

// dora_scale [out,1(,1,1)] / [out] (PEFT magnitude) -> output axis; [1,in(,1,1)] -> input axis.
sdk::Result<DoraSpec> make_dora(const at::Tensor& scale, const std::vector<std::int64_t>& w, DoraConvention c,
                                const std::string& group) {
  const auto s = scale.sizes().vec();
  std::vector<std::int64_t> out_axis(w.size(), 1), in_axis(w.size(), 1);
  out_axis[0] = w[0];
  in_axis[1] = w[1];
  DoraSpec d;
  d.convention = c;
  if (s == out_axis || (s.size() == 1 && s[0] == w[0])) {
    d.output_axis = true;
    d.scale = scale.to(at::kFloat).reshape(out_axis);
  } else if (s == in_axis) {
    d.output_axis = false;
    d.scale = scale.to(at::kFloat).reshape(in_axis);
  } else {
    return bad(group, "dora_scale shape " + sdk::shape_text(s) + " fits neither the output axis " + sdk::shape_text(out_axis) +
                          " nor the input axis " + sdk::shape_text(in_axis) + " of weight " + sdk::shape_text(w));
  }
  return d;
}

class DeltaPatch final : public sdk::WeightPatch {
 public:
  DeltaPatch(std::string module, std::string parameter, std::vector<std::int64_t> target, DeltaFactors factors,
             double scale, std::int64_t rank, std::optional<DoraSpec> dora)
      : module_(std::move(module)), parameter_(std::move(parameter)), target_(std::move(target)),
        factors_(std::move(factors)), scale_(scale), rank_(rank), dora_(std::move(dora)) {}

  const std::string& module() const override { return module_; }
  const std::string& parameter() const override { return parameter_; }
  std::int64_t rank() const override { return rank_; }

  /// The change as low-rank factors (sdk/lora_low_rank.h): plain or Tucker LoRA/LoCon without DoRA.
  std::optional<sdk::LowRankFactors> low_rank() const {
    if (factors_.algorithm != Algorithm::low_rank || dora_ || parameter_ != "weight") return std::nullopt;
    const DeltaFactors& f = factors_;
    sdk::LowRankFactors out;
    out.up = f.up.reshape({f.up.size(0), f.up.size(1)});  // [out, r]
    const std::int64_t r = f.down.size(0);
    if (f.mid.defined()) {
      out.mid = f.mid;                                                 // [r, r2, kh, kw]
      out.down = f.down.reshape({r, target_[1], 1, 1});                // [r2, in, 1, 1]
    } else if (target_.size() == 4) {
      out.down = f.down.reshape({r, target_[1], target_[2], target_[3]});  // [r, in, kh, kw]
    } else {
      out.down = f.down.reshape({r, target_[1]});  // [r, in] (a 1x1 conv factor on a Linear too)
    }
    out.scale = scale_;
    return out;
  }

  sdk::Result<at::Tensor> apply(const at::Tensor& base, double m) const override {
    try {
      return apply_unguarded(base, m);
    } catch (const c10::Error& e) {  // without the C++ backtrace what() carries
      return sdk::internal_error("LoRA patch for " + module_ + "." + parameter_ + ": " + e.what_without_backtrace());
    }
  }

 private:
  sdk::Result<at::Tensor> apply_unguarded(const at::Tensor& base, double m) const {
    return sdk::guard("LoRA patch for " + module_ + "." + parameter_, [&]() -> sdk::Result<at::Tensor> {
      if (base.sizes().vec() != target_)
        return sdk::invalid_argument(module_ + "." + parameter_ + ": base has shape " + sdk::shape_text(base.sizes()) +
                                     ", the patch was built for " + sdk::shape_text(target_));
      const at::Tensor w = base.to(at::kFloat);
      const at::Tensor dw = compute_delta(factors_, target_, w.device());
      if (!dora_) return w.add(dw, m * scale_);  // W + m s dW in one pass
      // DoRA: the norm is taken of the full-strength result W + s dW (LyCORIS / PEFT definition).
      const at::Tensor wf = w + dw * scale_;
      std::vector<std::int64_t> reduce;
      for (std::int64_t d = 0; d < wf.dim(); ++d)
        if (dora_->output_axis ? d != 0 : d != 1) reduce.push_back(d);
      const at::Tensor norm = wf.pow(2).sum(reduce, /*keepdim=*/true).sqrt() + kDoraEps;
      const at::Tensor ratio = dora_->scale.to(w.device()) / norm;  // broadcasts along the kept axis
      if (dora_->convention == DoraConvention::lycoris) return wf * (1.0 + m * (ratio - 1.0));
      return w + m * (wf * ratio - w);
    });
  }

  std::string module_, parameter_;
  std::vector<std::int64_t> target_;
  DeltaFactors factors_;
  double scale_;
  std::int64_t rank_;
  std::optional<DoraSpec> dora_;
};

const std::map<std::string, Algorithm>& suffix_table() {
  static const std::map<std::string, Algorithm> t = {
      {"lora_up.weight", Algorithm::low_rank}, {"lora_down.weight", Algorithm::low_rank},
      {"lora_mid.weight", Algorithm::low_rank}, {"hada_w1_a", Algorithm::hadamard},
      {"hada_w1_b", Algorithm::hadamard},       {"hada_w2_a", Algorithm::hadamard},
      {"hada_w2_b", Algorithm::hadamard},       {"hada_t1", Algorithm::hadamard},
      {"hada_t2", Algorithm::hadamard},         {"lokr_w1", Algorithm::kronecker},
      {"lokr_w1_a", Algorithm::kronecker},      {"lokr_w1_b", Algorithm::kronecker},
      {"lokr_w2", Algorithm::kronecker},        {"lokr_w2_a", Algorithm::kronecker},
      {"lokr_w2_b", Algorithm::kronecker},      {"lokr_t2", Algorithm::kronecker},
      {"diff", Algorithm::full},                {"diff_b", Algorithm::full}};
  return t;
}

bool is_modifier(const std::string& s) { return s == "alpha" || s == "dora_scale"; }

sdk::Status check_finite(const at::Tensor& t, const std::string& key) {
  if (!at::isFloatingType(t.scalar_type())) return {};
  if (t.numel() > 0 && !at::isfinite(t.to(at::kFloat)).all().item<bool>())
    return sdk::invalid_argument("non-finite values (NaN or Inf) in " + key);
  return {};
}

at::Tensor part(const GroupTensors& g, const char* suffix) {
  auto it = g.parts.find(suffix);
  return it == g.parts.end() ? at::Tensor() : it->second;
}

class DeltaPatchLowRank final : public sdk::LowRankAccess {
 public:
  std::optional<sdk::LowRankFactors> low_rank(const sdk::WeightPatch& patch) const override {
    const auto* p = dynamic_cast<const DeltaPatch*>(&patch);
    if (!p) return std::nullopt;
    try {
      return p->low_rank();
    } catch (const c10::Error&) {  // shapes were validated; never expected
      return std::nullopt;
    }
  }
};

}  // namespace

void* lora_format_extension(const char* id) {
  static DeltaPatchLowRank low_rank_access;
  if (id && std::string(id) == SDXL_LORA_LOW_RANK_EXTENSION) return static_cast<sdk::LowRankAccess*>(&low_rank_access);
  return nullptr;
}

bool is_known_suffix(const std::string& s) { return is_modifier(s) || suffix_table().count(s) != 0; }

std::optional<Algorithm> algorithm_of_suffix(const std::string& s) {
  auto it = suffix_table().find(s);
  if (it == suffix_table().end()) return std::nullopt;
  return it->second;
}

sdk::Status decode_group(const GroupTensors& g, const sdk::ModuleInfo& module, DoraConvention dora,
                         std::vector<std::unique_ptr<sdk::WeightPatch>>* out) {
  std::set<Algorithm> algorithms;
  std::string listing;
  for (const auto& [suffix, t] : g.parts) {
    listing += (listing.empty() ? "" : ", ") + suffix;
    if (auto a = algorithm_of_suffix(suffix)) algorithms.insert(*a);
    else if (!is_modifier(suffix)) return bad(g.group, "unknown tensor suffix '" + suffix + "'");
  }
  if (algorithms.size() > 1)
    return bad(g.group, "cannot determine the algorithm: tensors of several families in one group [" + listing + "]");
  if (algorithms.empty()) return bad(g.group, "incomplete group: no weight tensors, only [" + listing + "]");
  for (const auto& [suffix, t] : g.parts)
    if (auto st = check_finite(t, g.group + "." + suffix); !st.ok()) return st;

  const std::vector<std::int64_t>& target = module.weight_shape;
  std::optional<double> alpha;
  if (at::Tensor a = part(g, "alpha"); a.defined()) {
    if (a.numel() != 1) return bad(g.group, "alpha must be a scalar, got shape " + sdk::shape_text(a.sizes()));
    alpha = a.to(at::kDouble).item<double>();
  }
  DeltaFactors f;
  f.algorithm = *algorithms.begin();
  f.up = part(g, "lora_up.weight");
  f.down = part(g, "lora_down.weight");
  f.mid = part(g, "lora_mid.weight");
  f.w1a = part(g, "hada_w1_a");
  f.w1b = part(g, "hada_w1_b");
  f.w2a = part(g, "hada_w2_a");
  f.w2b = part(g, "hada_w2_b");
  f.t1 = part(g, "hada_t1");
  f.t2 = part(g, "hada_t2");
  f.k_w1 = part(g, "lokr_w1");
  f.k_w1a = part(g, "lokr_w1_a");
  f.k_w1b = part(g, "lokr_w1_b");
  f.k_w2 = part(g, "lokr_w2");
  f.k_w2a = part(g, "lokr_w2_a");
  f.k_w2b = part(g, "lokr_w2_b");
  f.k_t2 = part(g, "lokr_t2");
  f.diff = part(g, "diff");

  std::vector<std::unique_ptr<sdk::WeightPatch>> made;
  const at::Tensor diff_b = part(g, "diff_b");
  if (f.algorithm == Algorithm::full && diff_b.defined()) {
    // Full bias difference: b' = b + m * diff_b.
    if (target.empty() || diff_b.dim() != 1 || diff_b.size(0) != target[0])
      return bad(g.group, "diff_b " + sdk::shape_text(diff_b.sizes()) + " does not match the bias [" +
                              std::to_string(target.empty() ? 0 : target[0]) + "]");
    DeltaFactors fb;
    fb.algorithm = Algorithm::full;
    fb.diff = diff_b;
    made.push_back(std::make_unique<DeltaPatch>(module.canonical, "bias", std::vector<std::int64_t>{target[0]}, fb, 1.0, 0,
                                                std::nullopt));
  }
  const bool has_weight_part = !(f.algorithm == Algorithm::full && !f.diff.defined());
  if (has_weight_part) {
    auto info = validate_delta(f, target, g.group);
    if (!info.ok()) return info.status();
    const std::int64_t rank = info.value().rank;
    const double scale = (alpha && rank > 0) ? *alpha / static_cast<double>(rank) : 1.0;
    std::optional<DoraSpec> dora_spec;
    if (at::Tensor ds = part(g, "dora_scale"); ds.defined()) {
      auto d = make_dora(ds, target, dora, g.group);
      if (!d.ok()) return d.status();
      dora_spec = std::move(d).value();
    }
    made.push_back(std::make_unique<DeltaPatch>(module.canonical, "weight", target, f, scale, rank, std::move(dora_spec)));
  } else if (part(g, "dora_scale").defined()) {
    return bad(g.group, "dora_scale without a weight difference");
  }
  for (auto& p : made) out->push_back(std::move(p));
  return {};
}

std::vector<sdk::OptionSpec> common_lora_options() {
  sdk::OptionSpec dora;
  dora.key = "dora_convention";
  dora.type = sdk::OptionType::string;
  dora.default_value = std::string("interpolate");
  dora.choices = {"interpolate", "lycoris"};
  dora.description =
      "how the multiplier m acts on DoRA groups: interpolate (A1111/Forge/ComfyUI, W + m(Wd - W)) or lycoris "
      "(LyCORIS forward, Wf (1 + m (s/n - 1)))";
  sdk::OptionSpec unknown;
  unknown.key = "unknown_modules";
  unknown.type = sdk::OptionType::string;
  unknown.default_value = std::string("error");
  unknown.choices = {"error", "warn"};
  unknown.description = "a key group naming no module of the model: reject the file (error) or skip it with a warning";
  return {dora, unknown};
}

CommonSettings read_common_settings(const sdk::Options& options) {
  CommonSettings s;
  s.dora = options.get_string("dora_convention", "interpolate") == "lycoris" ? DoraConvention::lycoris
                                                                              : DoraConvention::interpolate;
  s.unknown_modules_are_errors = options.get_string("unknown_modules", "error") != "warn";
  return s;
}

sdk::Result<sdk::LoraParse> finish_parse(const std::string& path, const std::map<std::string, GroupTensors>& groups,
                                         const std::function<std::optional<sdk::ModuleInfo>(const std::string&)>& resolve,
                                         std::vector<std::string> unresolved, const std::string& what,
                                         const std::function<std::string(const std::string&)>& annotate,
                                         bool unknown_are_errors, DoraConvention dora, sdk::LoraParse result) {
  std::vector<std::pair<const GroupTensors*, sdk::ModuleInfo>> resolved;
  for (const auto& [name, g] : groups) {
    auto m = resolve(name);
    if (!m) {
      unresolved.push_back(name);
      continue;
    }
    resolved.emplace_back(&g, std::move(*m));
  }
  if (!unresolved.empty()) {
    std::string list;
    for (std::size_t i = 0; i < unresolved.size() && i < 8; ++i)
      list += (i ? ", '" : "'") + unresolved[i] + "'" + (annotate ? annotate(unresolved[i]) : std::string());
    if (unresolved.size() > 8) list += " and " + std::to_string(unresolved.size() - 8) + " more";
    const std::string message = std::to_string(unresolved.size()) + " " + what + ": " + list;
    if (unknown_are_errors) return sdk::not_found(path + ": " + message);
    result.warnings.push_back("skipped " + message);  // one line, the names listed (at most 8)
  }
  for (const auto& [g, module] : resolved) {
    auto st = decode_group(*g, module, dora, &result.patches);
    if (!st.ok()) return sdk::Status(st.code(), path + ": " + st.message());
  }
  if (result.patches.empty()) return sdk::invalid_argument(path + ": no applicable LoRA groups");
  return result;
}

}  // namespace sdxl::lora
