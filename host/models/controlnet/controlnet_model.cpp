#include "models/controlnet/controlnet_model.h"

#include <ATen/ATen.h>

#include "io/device_upload.h"
#include "models/common/channels_last.h"
#include "models/controlnet/controlnet_loader.h"

namespace sdxl::models {

void ControlNetConditioningEmbedding::load(WeightReader& r, const ControlNetConfig& c) {
  const auto& ch = c.cond_embedding_channels;
  const std::string p = "controlnet_cond_embedding";
  conv_in.load(r, p + ".conv_in", c.conditioning_channels, ch.front(), 3, 1, 1);
  blocks.resize(2 * (ch.size() - 1));
  for (std::size_t i = 0; i + 1 < ch.size(); ++i) {
    blocks[2 * i].load(r, p + ".blocks." + std::to_string(2 * i), ch[i], ch[i], 3, 1, 1);
    blocks[2 * i + 1].load(r, p + ".blocks." + std::to_string(2 * i + 1), ch[i], ch[i + 1], 3, /*stride=*/2, 1);
  }
  conv_out.load(r, p + ".conv_out", ch.back(), c.unet.block_out_channels.at(0), 3, 1, 1);
}

at::Tensor ControlNetConditioningEmbedding::operator()(const at::Tensor& cond) const {
  at::Tensor x = at::silu(conv_in(cond));
  for (const auto& b : blocks) x = at::silu(b(x));
  return conv_out(x);
}

sdk::Result<std::shared_ptr<ControlNetModel>> ControlNetModel::load(const std::filesystem::path& file_or_folder,
                                                                    const std::filesystem::path& config_dir,
                                                                    c10::ScalarType dtype, c10::Device device) {
  auto w = read_controlnet_weights(file_or_folder, config_dir);
  if (!w.ok()) return w.status();
  auto config = ControlNetConfig::from_diffusers_json(w->config, w->config_source);
  if (!config.ok()) return config.status();
  if (device.is_cuda()) {  // up through pinned staging buffers (io/device_upload.h), converted there
    auto uploaded = io::upload_tensors(w->tensors, device, dtype, w->source);
    if (!uploaded.ok()) return uploaded.status();
    w->tensors = std::move(uploaded).value();
  }
  auto m = from_weights(w->tensors, *config, w->source, dtype, device);
  if (!m.ok()) return m.status();
  (*m)->source_ = file_or_folder.string();
  return m;
}

sdk::Result<std::shared_ptr<ControlNetModel>> ControlNetModel::from_weights(
    const std::map<std::string, at::Tensor>& weights, const ControlNetConfig& config, const std::string& source,
    c10::ScalarType dtype, c10::Device device) {
  return sdk::guard("ControlNetModel::load", [&]() -> sdk::Result<std::shared_ptr<ControlNetModel>> {
    auto m = std::make_shared<ControlNetModel>();
    m->config_ = config;
    m->dtype_ = dtype;
    m->device_ = device;
    m->source_ = source;
    WeightReader r(weights, source, dtype, device);
    m->build(r);
    auto st = r.finish();
    if (!st.ok()) return st;
    m->resident_bytes_ = r.resident_bytes();
    m->parameters_ = r.handed_out();
    return m;
  });
}

sdk::Result<std::map<std::string, std::vector<std::int64_t>>> ControlNetModel::parameter_shapes(
    const ControlNetConfig& config) {
  return sdk::guard("ControlNetModel::parameter_shapes",
                    [&]() -> sdk::Result<std::map<std::string, std::vector<std::int64_t>>> {
                      std::map<std::string, std::vector<std::int64_t>> shapes;
                      ControlNetModel m;
                      m.config_ = config;
                      WeightReader r = WeightReader::recorder(&shapes);
                      m.build(r);
                      if (r.failed()) return r.finish();
                      return shapes;
                    });
}

void ControlNetModel::build(WeightReader& r) {
  const UNetConfig& c = config_.unet;
  const auto c0 = c.block_out_channels.at(0);
  conv_in.load(r, "conv_in", c.in_channels, c0, 3, 1, 1);
  time_embedding.load(r, "time_embedding", c0, c.time_embed_dim());
  add_embedding.load(r, "add_embedding", c.projection_class_embeddings_input_dim, c.time_embed_dim());
  cond_embedding.load(r, config_);
  down_blocks.resize(c.levels());
  for (std::int64_t l = 0; l < c.levels(); ++l) down_blocks[l].load(r, c, l);
  mid_block.load(r, c);
  // One 1x1 conv per skip tensor, in skip order: conv_in, then per level its resnets and downsampler.
  std::vector<std::int64_t> skip_channels = {c0};
  for (std::int64_t l = 0; l < c.levels(); ++l) {
    for (std::int64_t j = 0; j < c.layers_per_block; ++j) skip_channels.push_back(c.block_out_channels[l]);
    if (l + 1 < c.levels()) skip_channels.push_back(c.block_out_channels[l]);
  }
  controlnet_down_blocks.resize(skip_channels.size());
  for (std::size_t i = 0; i < skip_channels.size(); ++i)
    controlnet_down_blocks[i].load(r, "controlnet_down_blocks." + std::to_string(i), skip_channels[i],
                                   skip_channels[i], 1);
  const auto last = c.block_out_channels.back();
  controlnet_mid_block.load(r, "controlnet_mid_block", last, last, 1);
}

sdk::Status ControlNetModel::check_inputs(const ControlNetInputs& in) const {
  const UNetConfig& c = config_.unet;
  auto bad = [](const std::string& m) { return sdk::invalid_argument("ControlNet input: " + m); };
  if (!in.sample.defined() || in.sample.dim() != 4 || in.sample.size(1) != c.in_channels)
    return bad("sample must be [B, " + std::to_string(c.in_channels) + ", h, w]");
  const auto b = in.sample.size(0);
  if (!in.timestep.defined() || in.timestep.dim() > 1 || (in.timestep.dim() == 1 && in.timestep.size(0) != b))
    return bad("timestep must be a scalar or [B]");
  const auto& ehs = in.encoder_hidden_states;
  if (!ehs.defined() || ehs.dim() != 3 || ehs.size(0) != b || ehs.size(2) != c.cross_attention_dim)
    return bad("encoder_hidden_states must be [B, M, " + std::to_string(c.cross_attention_dim) + "]");
  if (!in.text_embeds.defined() || !in.time_ids.defined() || in.text_embeds.dim() != 2 || in.time_ids.dim() != 2 ||
      in.text_embeds.size(0) != b || in.time_ids.size(0) != b)
    return bad("text_embeds and time_ids must be [B, pooled] and [B, n_ids]");
  if (in.text_embeds.size(1) + in.time_ids.size(1) * c.addition_time_embed_dim != c.projection_class_embeddings_input_dim)
    return bad("text_embeds width + n_ids * " + std::to_string(c.addition_time_embed_dim) + " must equal " +
               std::to_string(c.projection_class_embeddings_input_dim));
  const auto k = config_.cond_downscale();
  const auto& cond = in.controlnet_cond;
  if (!cond.defined() || cond.dim() != 4 || cond.size(0) != b || cond.size(1) != config_.conditioning_channels)
    return bad("controlnet_cond must be [B, " + std::to_string(config_.conditioning_channels) + ", H, W] with B = " +
               std::to_string(b));
  if (cond.size(2) != in.sample.size(2) * k || cond.size(3) != in.sample.size(3) * k)
    return bad("controlnet_cond is " + std::to_string(cond.size(2)) + "x" + std::to_string(cond.size(3)) +
               " but must be " + std::to_string(k) + " times the latent size " + std::to_string(in.sample.size(2)) +
               "x" + std::to_string(in.sample.size(3)));
  const std::int64_t multiple = std::int64_t{1} << (c.levels() - 1);
  if (in.sample.size(2) < multiple || in.sample.size(3) < multiple)
    return bad("latent sides must be at least " + std::to_string(multiple));
  if (in.context_kv && !in.context_kv->belongs_to(instance_, ehs))
    return bad("context_kv was computed by another model or from other encoder_hidden_states "
               "(or they were modified since)");
  return sdk::Status::Ok();
}

sdk::Result<std::shared_ptr<const CrossAttentionKV>> ControlNetModel::cross_attention_kv(
    const at::Tensor& encoder_hidden_states) const {
  std::vector<const Transformer2DModel*> transformers;
  for_each_transformer(*this, [&](const Transformer2DModel& t) { transformers.push_back(&t); });
  return CrossAttentionKV::compute(transformers, encoder_hidden_states, config_.unet.cross_attention_dim, instance_,
                                   device_, dtype_, "ControlNet cross_attention_kv");
}

void ControlNetModel::use_channels_last() {
  reseat_channels_last(parameters_);
  channels_last_ = true;
}

std::size_t ControlNetModel::stack_self_attention_projections() {
  std::size_t n = 0;
  for_each_transformer(*this, [&](Transformer2DModel& t) { n += t.stack_self_attention_projections(); });
  return n;
}

std::size_t ControlNetModel::self_attentions() const {
  std::size_t n = 0;
  for_each_transformer(*this, [&](const Transformer2DModel& t) { n += t.transformer_blocks.size(); });
  return n;
}

sdk::Result<ControlNetResiduals> ControlNetModel::forward(const ControlNetInputs& in) const {
  return forward(in, nullptr);
}

sdk::Result<ControlNetResiduals> ControlNetModel::forward(const ControlNetInputs& in,
                                                          at::Tensor* cond_embedding_out) const {
  auto st = check_inputs(in);
  if (!st.ok()) return st;
  try {
    return run(in, cond_embedding_out);
  } catch (const std::exception& e) {
    return sdk::invalid_argument("ControlNet forward failed (" + source_ + "): " + e.what());
  }
}

ControlNetResiduals ControlNetModel::run(const ControlNetInputs& in, at::Tensor* cond_embedding_out) const {
  const UNetConfig& c = config_.unet;
  auto to_compute = [&](const at::Tensor& t) { return t.to(device_, dtype_); };
  const auto b = in.sample.size(0);

  // Time + micro-conditioning embedding exactly as the UNet computes it (sinusoids in float32).
  at::Tensor t = in.timestep.to(device_).to(at::kFloat).reshape({-1}).expand({b});
  at::Tensor temb = time_embedding(to_compute(sinusoidal_embedding(t, c.block_out_channels[0], c.flip_sin_to_cos,
                                                                   c.freq_shift)));  // [B, 4*C0]
  at::Tensor ids = in.time_ids.to(device_).to(at::kFloat).reshape({-1});
  at::Tensor ids_proj = sinusoidal_embedding(ids, c.addition_time_embed_dim, c.flip_sin_to_cos, c.freq_shift);
  at::Tensor add_in = at::cat({to_compute(in.text_embeds), to_compute(ids_proj.reshape({b, -1}))}, 1);
  at::Tensor emb = temb + add_embedding(add_in);

  const AttentionContext context(to_compute(in.encoder_hidden_states), in.context_kv.get());
  // Channels-last: the inputs in NHWC order; every convolution then keeps it (weights and input
  // alike), and so do the residuals.
  auto to_layout = [&](const at::Tensor& t) {
    return channels_last_ ? t.contiguous(at::MemoryFormat::ChannelsLast) : t;
  };
  at::Tensor hint = cond_embedding(to_layout(to_compute(in.controlnet_cond)));  // [B, C0, h, w]
  if (cond_embedding_out) *cond_embedding_out = hint;
  at::Tensor h = conv_in(to_layout(to_compute(in.sample))) + hint;
  std::vector<at::Tensor> skips{h};
  for (const auto& block : down_blocks) h = block(h, emb, context, &skips);
  h = mid_block(h, emb, context);

  ControlNetResiduals out;
  out.down.reserve(skips.size());
  for (std::size_t i = 0; i < skips.size(); ++i) {
    at::Tensor r = controlnet_down_blocks[i](skips[i]);
    out.down.push_back(in.conditioning_scale == 1.0 ? r : r * in.conditioning_scale);
  }
  at::Tensor mid = controlnet_mid_block(h);
  out.mid = in.conditioning_scale == 1.0 ? mid : mid * in.conditioning_scale;
  return out;
}

sdk::Status ControlNetModel::check_compatible(const UNetConfig& u, const std::string& unet_source) const {
  const UNetConfig& c = config_.unet;
  auto join = [](const std::vector<std::int64_t>& v) {
    std::string s;
    for (auto x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
    return "[" + s + "]";
  };
  auto differ = [&](const std::string& what, const std::string& mine, const std::string& theirs) {
    return sdk::invalid_argument("ControlNet " + source_ + " does not fit " + unet_source + ": " + what + " is " +
                                 mine + " in the ControlNet but " + theirs + " in the UNet");
  };
  // The residuals' shapes follow from the widths and the skip count; the conditioning inputs
  // (context width, micro-conditioning layout) must be the ones the UNet is fed.
  if (c.block_out_channels != u.block_out_channels)
    return differ("block_out_channels", join(c.block_out_channels), join(u.block_out_channels));
  if (c.layers_per_block != u.layers_per_block)
    return differ("layers_per_block", std::to_string(c.layers_per_block), std::to_string(u.layers_per_block));
  if (c.in_channels != 4 && c.in_channels != u.in_channels)
    return differ("in_channels", std::to_string(c.in_channels), std::to_string(u.in_channels));
  if (c.cross_attention_dim != u.cross_attention_dim)
    return differ("cross_attention_dim", std::to_string(c.cross_attention_dim), std::to_string(u.cross_attention_dim));
  if (c.projection_class_embeddings_input_dim != u.projection_class_embeddings_input_dim)
    return differ("projection_class_embeddings_input_dim", std::to_string(c.projection_class_embeddings_input_dim),
                  std::to_string(u.projection_class_embeddings_input_dim));
  if (c.addition_time_embed_dim != u.addition_time_embed_dim)
    return differ("addition_time_embed_dim", std::to_string(c.addition_time_embed_dim),
                  std::to_string(u.addition_time_embed_dim));
  return sdk::Status::Ok();
}

}  // namespace sdxl::models
