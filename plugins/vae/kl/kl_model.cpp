#include "kl_model.h"

#include "sdxl/sdk/shape_text.h"

#include <utility>

namespace sdxl::vae_kl {
namespace {

// Looks tensors up by diffusers name, checks shapes, converts them; remembers the first error so
// the binding code below reads as a plain description of the architecture.
class Binder {
 public:
  Binder(const std::map<std::string, at::Tensor>& w, std::string source, c10::Device device, c10::ScalarType dtype,
         bool channels_last)
      : w_(w), source_(std::move(source)), device_(device), dtype_(dtype), channels_last_(channels_last) {}

  const sdk::Status& status() const { return status_; }
  bool has(const std::string& name) const { return w_.count(name) != 0; }

  at::Tensor get(const std::string& name, std::vector<std::int64_t> shape) {
    if (!status_.ok()) return {};
    auto it = w_.find(name);
    if (it == w_.end()) {
      status_ = sdk::not_found(source_ + ": missing tensor '" + name + "' (expected shape " + sdk::shape_text(shape) + ")");
      return {};
    }
    at::Tensor t = it->second;
    // The single-file layout stores attention projections as 1x1 convs [C, C, 1, 1]; the
    // diffusers layout as Linear [C, C]. Accept both.
    if (shape.size() == 2 && t.dim() == 4 && t.size(2) == 1 && t.size(3) == 1) t = t.flatten(1);
    if (t.sizes() != at::IntArrayRef(shape)) {
      status_ = sdk::corrupt_data(source_ + ": tensor '" + name + "' has shape " + sdk::shape_text(t.sizes()) +
                                  ", expected " + sdk::shape_text(shape));
      return {};
    }
    if (!t.is_floating_point()) {
      status_ = sdk::corrupt_data(source_ + ": tensor '" + name + "' is not floating point");
      return {};
    }
    const bool nhwc = channels_last_ && shape.size() == 4;  // convolution weights
    return t.to(device_, dtype_).contiguous(nhwc ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  }

  Conv conv(const std::string& p, std::int64_t cin, std::int64_t cout, std::int64_t k, std::int64_t stride,
            std::int64_t padding) {
    return Conv{get(p + ".weight", {cout, cin, k, k}), get(p + ".bias", {cout}), stride, padding};
  }
  Norm norm(const std::string& p, std::int64_t c) { return Norm{get(p + ".weight", {c}), get(p + ".bias", {c})}; }

  Resnet resnet(const std::string& p, std::int64_t cin, std::int64_t cout) {
    Resnet r;
    r.norm1 = norm(p + ".norm1", cin);
    r.conv1 = conv(p + ".conv1", cin, cout, 3, 1, 1);
    r.norm2 = norm(p + ".norm2", cout);
    r.conv2 = conv(p + ".conv2", cout, cout, 3, 1, 1);
    if (cin != cout) r.conv_shortcut = conv(p + ".conv_shortcut", cin, cout, 1, 1, 0);
    return r;
  }

  Attention attention(const std::string& p, std::int64_t c) {
    Attention a;
    a.group_norm = norm(p + ".group_norm", c);
    a.q_w = get(p + ".to_q.weight", {c, c});
    a.q_b = get(p + ".to_q.bias", {c});
    a.k_w = get(p + ".to_k.weight", {c, c});
    a.k_b = get(p + ".to_k.bias", {c});
    a.v_w = get(p + ".to_v.weight", {c, c});
    a.v_b = get(p + ".to_v.bias", {c});
    a.out_w = get(p + ".to_out.0.weight", {c, c});
    a.out_b = get(p + ".to_out.0.bias", {c});
    return a;
  }

  MidBlock mid(const std::string& p, std::int64_t c, bool with_attention) {
    MidBlock m;
    m.resnet0 = resnet(p + ".resnets.0", c, c);
    if (with_attention) m.attention = attention(p + ".attentions.0", c);
    m.resnet1 = resnet(p + ".resnets.1", c, c);
    return m;
  }

 private:
  const std::map<std::string, at::Tensor>& w_;
  std::string source_;
  c10::Device device_;
  c10::ScalarType dtype_;
  bool channels_last_;
  sdk::Status status_;
};

Encoder bind_encoder(Binder& b, const KlConfig& c) {
  const auto& ch = c.block_out_channels;
  const auto blocks = ch.size();
  Encoder e;
  e.conv_in = b.conv("encoder.conv_in", c.in_channels, ch[0], 3, 1, 1);
  std::int64_t cin = ch[0];
  for (std::size_t i = 0; i < blocks; ++i) {
    DownBlock d;
    const auto p = "encoder.down_blocks." + std::to_string(i);
    for (std::int64_t j = 0; j < c.layers_per_block; ++j) {
      d.resnets.push_back(b.resnet(p + ".resnets." + std::to_string(j), j == 0 ? cin : ch[i], ch[i]));
    }
    if (i + 1 < blocks) d.downsample = b.conv(p + ".downsamplers.0.conv", ch[i], ch[i], 3, 2, 0);
    cin = ch[i];
    e.down_blocks.push_back(std::move(d));
  }
  e.mid_block = b.mid("encoder.mid_block", ch.back(), c.mid_block_add_attention);
  e.conv_norm_out = b.norm("encoder.conv_norm_out", ch.back());
  e.conv_out = b.conv("encoder.conv_out", ch.back(), 2 * c.latent_channels, 3, 1, 1);
  if (c.use_quant_conv) e.quant_conv = b.conv("quant_conv", 2 * c.latent_channels, 2 * c.latent_channels, 1, 1, 0);
  return e;
}

Decoder bind_decoder(Binder& b, const KlConfig& c) {
  std::vector<std::int64_t> ch(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  const auto blocks = ch.size();
  Decoder d;
  if (c.use_post_quant_conv) {
    d.post_quant_conv = b.conv("post_quant_conv", c.latent_channels, c.latent_channels, 1, 1, 0);
  }
  d.conv_in = b.conv("decoder.conv_in", c.latent_channels, ch[0], 3, 1, 1);
  d.mid_block = b.mid("decoder.mid_block", ch[0], c.mid_block_add_attention);
  std::int64_t cin = ch[0];
  for (std::size_t i = 0; i < blocks; ++i) {
    UpBlock u;
    const auto p = "decoder.up_blocks." + std::to_string(i);
    for (std::int64_t j = 0; j <= c.layers_per_block; ++j) {
      u.resnets.push_back(b.resnet(p + ".resnets." + std::to_string(j), j == 0 ? cin : ch[i], ch[i]));
    }
    if (i + 1 < blocks) u.upsample = b.conv(p + ".upsamplers.0.conv", ch[i], ch[i], 3, 1, 1);
    cin = ch[i];
    d.up_blocks.push_back(std::move(u));
  }
  d.conv_norm_out = b.norm("decoder.conv_norm_out", ch.back());
  d.conv_out = b.conv("decoder.conv_out", ch.back(), c.out_channels, 3, 1, 1);
  return d;
}

}  // namespace

sdk::Result<KlModel> KlModel::bind(const KlConfig& config, const std::map<std::string, at::Tensor>& weights,
                                   const std::string& source, c10::Device device, c10::ScalarType dtype,
                                   const KlComputeOptions& compute) {
  if (config.block_out_channels.empty()) return sdk::invalid_argument(source + ": block_out_channels is empty");
  for (auto ch : config.block_out_channels) {
    if (ch % config.norm_num_groups != 0) {
      return sdk::invalid_argument(source + ": channel count " + std::to_string(ch) +
                                   " is not divisible by norm_num_groups " + std::to_string(config.norm_num_groups));
    }
  }
  Binder b(weights, source, device, dtype, compute.channels_last);
  KlModel m;
  m.config_ = config;
  m.norm_ = NormSettings{config.norm_num_groups, 1e-6, compute.ops};
  m.device_ = device;
  m.dtype_ = dtype;
  m.compute_ = compute;
  m.decoder_ = bind_decoder(b, config);
  if (!b.status().ok()) return b.status();
  if (compute.subpixel_upsample)
    for (auto& u : m.decoder_.up_blocks)
      if (u.upsample) u.subpixel = subpixel_upsample(*u.upsample);
  if (b.has("encoder.conv_in.weight")) {
    m.encoder_ = bind_encoder(b, config);
    if (!b.status().ok()) return b.status();
  }
  return m;
}

at::Tensor KlModel::encode_moments(const at::Tensor& x) const {
  const Encoder& e = *encoder_;
  at::Tensor h = conv(compute_.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x, e.conv_in);
  for (const auto& d : e.down_blocks) {
    for (const auto& r : d.resnets) h = resnet(std::move(h), r, norm_);
    if (d.downsample) h = downsample(h, *d.downsample);
  }
  h = mid_block(h, e.mid_block, norm_, max_score_elements);
  h = norm_silu(h, e.conv_norm_out, norm_);
  h = conv(h, e.conv_out);
  if (e.quant_conv) h = conv(h, *e.quant_conv);
  return h.contiguous();
}

at::Tensor KlModel::decode(const at::Tensor& z) const {
  const Decoder& d = decoder_;
  at::Tensor h = compute_.channels_last ? z.contiguous(at::MemoryFormat::ChannelsLast) : z;
  if (d.post_quant_conv) h = conv(h, *d.post_quant_conv);
  h = conv(h, d.conv_in);
  h = mid_block(h, d.mid_block, norm_, max_score_elements);
  for (const auto& u : d.up_blocks) {
    for (const auto& r : u.resnets) h = resnet(std::move(h), r, norm_);
    if (u.subpixel) h = upsample(h, *u.subpixel);
    else if (u.upsample) h = upsample(h, *u.upsample);
  }
  h = norm_silu(h, d.conv_norm_out, norm_);
  return conv(h, d.conv_out).contiguous();
}

}  // namespace sdxl::vae_kl
