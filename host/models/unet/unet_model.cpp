#include "models/unet/unet_model.h"

#include <ATen/ATen.h>

#include "models/common/channels_last.h"
#include "models/common/weight_reader.h"

namespace sdxl::models {
namespace {

// Brackets one stage with the observer's before/after; after() also runs when the stage throws,
// so a streamer always gets its weights back. No observer: two null checks and nothing else.
class BlockScope {
 public:
  BlockScope(UNetBlockObserver* observer, std::string name) : observer_(observer), name_(std::move(name)) {
    if (observer_) observer_->before(name_);  // throws: no after() (see UNetBlockObserver)
  }
  ~BlockScope() {
    if (observer_) observer_->after(name_);
  }
  BlockScope(const BlockScope&) = delete;
  BlockScope& operator=(const BlockScope&) = delete;

 private:
  UNetBlockObserver* observer_;
  std::string name_;
};

// The stage name, built only when someone observes (keeps the unobserved path allocation-free).
std::string stage(const UNetBlockObserver* observer, const char* prefix, std::size_t index) {
  return observer ? prefix + std::to_string(index) : std::string();
}

}  // namespace

std::string UNet2DConditionModel::block_of(const std::string& parameter) {
  const auto dot = parameter.find('.');
  const std::string head = parameter.substr(0, dot);
  if (head == "time_embedding" || head == "add_embedding" || head == "conv_in") return "stem";
  if (head == "conv_norm_out" || head == "conv_out") return "head";
  if (head == "mid_block") return head;
  if ((head == "down_blocks" || head == "up_blocks") && dot != std::string::npos) {
    const auto next = parameter.find('.', dot + 1);
    const std::string index = parameter.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1);
    if (!index.empty() && index.find_first_not_of("0123456789") == std::string::npos) return head + "." + index;
  }
  return {};
}

std::vector<std::string> UNet2DConditionModel::block_names() const {
  std::vector<std::string> names{"stem"};
  for (std::size_t l = 0; l < down_blocks.size(); ++l) names.push_back("down_blocks." + std::to_string(l));
  names.push_back("mid_block");
  for (std::size_t u = 0; u < up_blocks.size(); ++u) names.push_back("up_blocks." + std::to_string(u));
  names.push_back("head");
  return names;
}

void UNet2DConditionModel::set_block_observer(std::shared_ptr<UNetBlockObserver> observer) {
  std::lock_guard<std::mutex> lock(observer_mutex_);
  observer_ = std::move(observer);
}

std::shared_ptr<UNetBlockObserver> UNet2DConditionModel::block_observer() const {
  std::lock_guard<std::mutex> lock(observer_mutex_);
  return observer_;
}

sdk::Result<std::shared_ptr<UNet2DConditionModel>> UNet2DConditionModel::load(
    const std::map<std::string, at::Tensor>& weights, const UNetConfig& c, const std::string& source,
    c10::ScalarType dtype, c10::Device device) {
  return sdk::guard("UNet2DConditionModel::load", [&]() -> sdk::Result<std::shared_ptr<UNet2DConditionModel>> {
    auto m = std::make_shared<UNet2DConditionModel>();
    m->config_ = c;
    m->dtype_ = dtype;
    m->device_ = device;
    WeightReader r(weights, source, dtype, device);
    m->build(r);
    auto st = r.finish();
    if (!st.ok()) return st;
    m->resident_bytes_ = r.resident_bytes();
    m->parameters_ = r.handed_out();
    m->instance_ = CrossAttentionKV::new_model_id();
    return m;
  });
}

void UNet2DConditionModel::build(WeightReader& r) {
  const UNetConfig& c = config_;
  const auto c0 = c.block_out_channels.at(0);
  conv_in.load(r, "conv_in", c.in_channels, c0, 3, 1, 1);
  time_embedding.load(r, "time_embedding", c0, c.time_embed_dim());
  add_embedding.load(r, "add_embedding", c.projection_class_embeddings_input_dim, c.time_embed_dim());
  down_blocks.resize(c.levels());
  for (std::int64_t l = 0; l < c.levels(); ++l) down_blocks[l].load(r, c, l);
  mid_block.load(r, c);
  up_blocks.resize(c.levels());
  for (std::int64_t u = 0; u < c.levels(); ++u) up_blocks[u].load(r, c, u);
  conv_norm_out.load(r, "conv_norm_out", c0, c.norm_num_groups, c.norm_eps);
  conv_out.load(r, "conv_out", c0, c.out_channels, 3, 1, 1);
}

sdk::Result<std::map<std::string, std::vector<std::int64_t>>> UNet2DConditionModel::parameter_shapes(
    const UNetConfig& config) {
  return sdk::guard("UNet2DConditionModel::parameter_shapes",
                    [&]() -> sdk::Result<std::map<std::string, std::vector<std::int64_t>>> {
                      std::map<std::string, std::vector<std::int64_t>> shapes;
                      UNet2DConditionModel m;
                      m.config_ = config;
                      WeightReader r = WeightReader::recorder(&shapes);
                      m.build(r);
                      if (r.failed()) return r.finish();
                      return shapes;
                    });
}

sdk::Status UNet2DConditionModel::check_inputs(const UNetInputs& in) const {
  auto bad = [](const std::string& m) { return sdk::invalid_argument("UNet input: " + m); };
  if (!in.sample.defined() || in.sample.dim() != 4 || in.sample.size(1) != config_.in_channels)
    return bad("sample must be [B, " + std::to_string(config_.in_channels) + ", h, w]");
  const auto b = in.sample.size(0);
  if (!in.timestep.defined() || (in.timestep.dim() > 1) || (in.timestep.dim() == 1 && in.timestep.size(0) != b))
    return bad("timestep must be a scalar or [B]");
  const auto& ehs = in.encoder_hidden_states;
  if (!ehs.defined() || ehs.dim() != 3 || ehs.size(0) != b || ehs.size(2) != config_.cross_attention_dim)
    return bad("encoder_hidden_states must be [B, M, " + std::to_string(config_.cross_attention_dim) + "]");
  if (!in.text_embeds.defined() || !in.time_ids.defined() || in.text_embeds.dim() != 2 || in.time_ids.dim() != 2 ||
      in.text_embeds.size(0) != b || in.time_ids.size(0) != b)
    return bad("text_embeds and time_ids must be [B, pooled] and [B, n_ids]");
  if (in.text_embeds.size(1) + in.time_ids.size(1) * config_.addition_time_embed_dim !=
      config_.projection_class_embeddings_input_dim)
    return bad("text_embeds width + n_ids * " + std::to_string(config_.addition_time_embed_dim) + " must equal " +
               std::to_string(config_.projection_class_embeddings_input_dim));
  const std::size_t n_skips = 1 + static_cast<std::size_t>(config_.levels() * (config_.layers_per_block + 1) - 1);
  if (!in.down_residuals.empty() && in.down_residuals.size() != n_skips)
    return bad("expected " + std::to_string(n_skips) + " ControlNet down residuals, got " +
               std::to_string(in.down_residuals.size()));
  if (in.context_kv && !in.context_kv->belongs_to(instance_, ehs))
    return bad("context_kv was computed by another model or from other encoder_hidden_states "
               "(or they were modified since)");
  const std::int64_t multiple = std::int64_t{1} << (config_.levels() - 1);
  if (in.sample.size(2) < multiple || in.sample.size(3) < multiple)
    return bad("latent sides must be at least " + std::to_string(multiple));
  return sdk::Status::Ok();
}

sdk::Result<at::Tensor> UNet2DConditionModel::forward(const UNetInputs& in, const DebugSink* debug) const {
  auto st = check_inputs(in);
  if (!st.ok()) return st;
  // Held for the whole forward: detaching the observer meanwhile does not destroy it under us.
  const auto observer = block_observer();
  try {
    return run(in, debug, observer.get());
  } catch (const std::exception& e) {  // c10::Error from mismatched residual shapes etc.
    return sdk::invalid_argument(std::string("UNet forward failed: ") + e.what());
  }
}

template <class Self, class Fn>
void UNet2DConditionModel::for_each_transformer(Self& unet, Fn&& fn) {
  for_each_down_mid_transformer(unet.down_blocks, unet.mid_block, fn);
  for (auto& block : unet.up_blocks)
    for (auto& t : block.attentions) fn(t);
}

sdk::Result<std::shared_ptr<const CrossAttentionKV>> UNet2DConditionModel::cross_attention_kv(
    const at::Tensor& encoder_hidden_states) const {
  if (block_observer())
    return sdk::unsupported("cross_attention_kv: the UNet's weights are streamed block by block");
  std::vector<const Transformer2DModel*> transformers;
  for_each_transformer(*this, [&](const Transformer2DModel& t) { transformers.push_back(&t); });
  return CrossAttentionKV::compute(transformers, encoder_hidden_states, config_.cross_attention_dim, instance_,
                                   device_, dtype_, "cross_attention_kv");
}

at::Tensor UNet2DConditionModel::run(const UNetInputs& in, const DebugSink* debug, UNetBlockObserver* observer) const {
  auto emit = [&](const char* name, const at::Tensor& t) {
    if (debug && *debug) (*debug)(name, t);
  };
  auto to_compute = [&](const at::Tensor& t) { return t.to(device_, dtype_); };
  const auto b = in.sample.size(0);

  const AttentionContext context(to_compute(in.encoder_hidden_states), in.context_kv.get());
  at::Tensor emb, h;
  {
    BlockScope scope(observer, observer ? "stem" : "");
    // Sinusoids are computed in float32 (as the reference does) and then cast.
    at::Tensor t = in.timestep.to(device_).to(at::kFloat).reshape({-1}).expand({b});
    at::Tensor t_proj = sinusoidal_embedding(t, config_.block_out_channels[0], config_.flip_sin_to_cos,
                                             config_.freq_shift);  // [B, C0]
    emit("time_proj", t_proj);
    at::Tensor temb = time_embedding(to_compute(t_proj));  // [B, 4*C0]
    emit("time_embedding", temb);

    at::Tensor ids = in.time_ids.to(device_).to(at::kFloat).reshape({-1});
    at::Tensor ids_proj = sinusoidal_embedding(ids, config_.addition_time_embed_dim, config_.flip_sin_to_cos,
                                               config_.freq_shift);  // [B*n_ids, d]
    emit("add_time_proj", ids_proj);
    // Pooled text embedding first, then the time-id sinusoids in id order.
    at::Tensor add_in = at::cat({to_compute(in.text_embeds), to_compute(ids_proj.reshape({b, -1}))}, 1);
    emit("add_embedding.input", add_in);
    at::Tensor aug = add_embedding(add_in);
    emit("add_embedding", aug);
    emb = temb + aug;

    at::Tensor sample = to_compute(in.sample);
    h = conv_in(channels_last_ ? sample.contiguous(at::MemoryFormat::ChannelsLast) : sample);
    emit("conv_in", h);
  }
  std::vector<at::Tensor> skips{h};
  for (size_t l = 0; l < down_blocks.size(); ++l) {
    BlockScope scope(observer, stage(observer, "down_blocks.", l));
    h = down_blocks[l](h, emb, context, &skips);
    emit(("down_blocks." + std::to_string(l)).c_str(), h);
  }
  if (!in.down_residuals.empty())
    for (size_t i = 0; i < skips.size(); ++i) skips[i] = skips[i] + to_compute(in.down_residuals[i]);

  {
    BlockScope scope(observer, observer ? "mid_block" : "");
    h = mid_block(h, emb, context);
    if (in.mid_residual.defined()) h = h + to_compute(in.mid_residual);
    emit("mid_block", h);
  }

  for (size_t u = 0; u < up_blocks.size(); ++u) {
    BlockScope scope(observer, stage(observer, "up_blocks.", u));
    h = up_blocks[u](h, emb, context, &skips);
    emit(("up_blocks." + std::to_string(u)).c_str(), h);
  }
  BlockScope scope(observer, observer ? "head" : "");
  h = conv_norm_out(h);
  emit("conv_norm_out", h);
  at::Tensor eps = conv_out(at::silu(h));
  return channels_last_ ? eps.contiguous() : eps;
}

void UNet2DConditionModel::use_channels_last() {
  reseat_channels_last(parameters_);
  channels_last_ = true;
}

std::size_t UNet2DConditionModel::stack_self_attention_projections() {
  qkv_stacked_ = true;
  for_each_transformer(*this, [](Transformer2DModel& t) { t.stack_self_attention_projections(); });
  return stacked_self_attentions();
}

std::size_t UNet2DConditionModel::stacked_self_attentions() const {
  std::size_t n = 0;
  for_each_transformer(*this, [&](const Transformer2DModel& t) { n += t.stacked_self_attentions(); });
  return n;
}

std::size_t UNet2DConditionModel::self_attentions() const {
  std::size_t n = 0;
  for_each_transformer(*this, [&](const Transformer2DModel& t) { n += t.transformer_blocks.size(); });
  return n;
}

void UNet2DConditionModel::restore_weight_layouts() {
  if (channels_last_) use_channels_last();
  if (qkv_stacked_) stack_self_attention_projections();
}

}  // namespace sdxl::models
