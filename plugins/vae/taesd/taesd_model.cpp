#include "taesd_model.h"

#include <nlohmann/json.hpp>

#include "sdxl/sdk/shape_text.h"

namespace sdxl::vae_taesd {
namespace {

using nlohmann::json;

sdk::Status read_int_list(const json& j, const std::string& source, const char* key, std::vector<std::int64_t>* out) {
  if (!j.contains(key) || j[key].is_null()) return sdk::Status::Ok();
  if (!j[key].is_array() || j[key].empty()) return sdk::invalid_argument(source + ": config key '" + key + "' must be a non-empty list");
  out->clear();
  for (const auto& v : j[key]) {
    if (!v.is_number_integer() || v.get<std::int64_t>() <= 0) {
      return sdk::invalid_argument(source + ": config key '" + key + "' must hold positive integers");
    }
    out->push_back(v.get<std::int64_t>());
  }
  return sdk::Status::Ok();
}

class Binder {
 public:
  Binder(const std::map<std::string, at::Tensor>& w, std::string source, c10::Device device, c10::ScalarType dtype)
      : w_(w), source_(std::move(source)), device_(device), dtype_(dtype) {}
  const sdk::Status& status() const { return status_; }

  at::Tensor get(const std::string& name, const std::vector<std::int64_t>& shape) {
    if (!status_.ok()) return {};
    auto it = w_.find(name);
    if (it == w_.end()) {
      status_ = sdk::not_found(source_ + ": missing tensor '" + name + "' (expected shape " + sdk::shape_text(shape) + ")");
      return {};
    }
    if (it->second.sizes() != at::IntArrayRef(shape) || !it->second.is_floating_point()) {
      status_ = sdk::corrupt_data(source_ + ": tensor '" + name + "' has shape " + sdk::shape_text(it->second.sizes()) +
                                  " " + std::string(it->second.dtype().name()) + ", expected " + sdk::shape_text(shape) +
                                  " floating point");
      return {};
    }
    return it->second.to(device_, dtype_).contiguous();
  }
  Conv conv(const std::string& p, std::int64_t cin, std::int64_t cout, std::int64_t k, std::int64_t stride, bool bias) {
    Conv c{get(p + ".weight", {cout, cin, k, k}), {}, stride, k / 2};
    if (bias) c.bias = get(p + ".bias", {cout});
    return c;
  }
  Layer conv_layer(const std::string& p, std::int64_t cin, std::int64_t cout, std::int64_t stride, bool bias) {
    Layer l;
    l.kind = Layer::conv;
    l.c = conv(p, cin, cout, 3, stride, bias);
    return l;
  }
  Layer block_layer(const std::string& p, std::int64_t cin, std::int64_t cout) {
    Layer l;
    l.kind = Layer::block;
    l.b.conv0 = conv(p + ".conv.0", cin, cout, 3, 1, true);
    l.b.conv2 = conv(p + ".conv.2", cout, cout, 3, 1, true);
    l.b.conv4 = conv(p + ".conv.4", cout, cout, 3, 1, true);
    if (cin != cout) l.b.skip = conv(p + ".skip", cin, cout, 1, 1, false);
    return l;
  }

 private:
  const std::map<std::string, at::Tensor>& w_;
  std::string source_;
  c10::Device device_;
  c10::ScalarType dtype_;
  sdk::Status status_;
};

Layer param_free(Layer::Kind k) {
  Layer l;
  l.kind = k;
  return l;
}

at::Tensor conv(const at::Tensor& x, const Conv& c) {
  return at::conv2d(x, c.weight, c.bias, {c.stride, c.stride}, {c.padding, c.padding});
}

at::Tensor run(at::Tensor x, const std::vector<Layer>& layers) {
  for (const auto& l : layers) {
    switch (l.kind) {
      case Layer::conv: x = conv(x, l.c); break;
      case Layer::relu: x = at::relu(x); break;
      case Layer::upsample: x = at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2}); break;
      case Layer::block: {
        at::Tensor h = conv(x, l.b.conv0).relu_();
        h = conv(h, l.b.conv2).relu_();
        h = conv(h, l.b.conv4);
        h.add_(l.b.skip ? conv(x, *l.b.skip) : x);
        x = h.relu_();
        break;
      }
    }
  }
  return x;
}

}  // namespace

sdk::Result<TaesdConfig> parse_taesd_config(const std::string& json_text, const std::string& source) {
  json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return sdk::invalid_argument(source + ": config.json is not a JSON object");
  TaesdConfig c;
  sdk::Status st;
  if (!(st = read_int_list(j, source, "encoder_block_out_channels", &c.encoder_channels)).ok()) return st;
  if (!(st = read_int_list(j, source, "decoder_block_out_channels", &c.decoder_channels)).ok()) return st;
  if (!(st = read_int_list(j, source, "num_encoder_blocks", &c.encoder_blocks)).ok()) return st;
  if (!(st = read_int_list(j, source, "num_decoder_blocks", &c.decoder_blocks)).ok()) return st;
  for (const char* key : {"in_channels", "out_channels", "latent_channels"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (!j[key].is_number_integer() || j[key].get<std::int64_t>() <= 0) {
      return sdk::invalid_argument(source + ": config key '" + key + "' must be a positive integer");
    }
  }
  c.in_channels = j.value("in_channels", c.in_channels);
  c.out_channels = j.value("out_channels", c.out_channels);
  c.latent_channels = j.value("latent_channels", c.latent_channels);
  for (const char* key : {"scaling_factor", "shift_factor"}) {
    if (j.contains(key) && !j[key].is_null() && !j[key].is_number()) {
      return sdk::invalid_argument(source + ": config key '" + key + "' must be a number");
    }
  }
  if (j.contains("scaling_factor") && j["scaling_factor"].is_number()) c.scaling_factor = j["scaling_factor"].get<double>();
  if (j.contains("shift_factor") && j["shift_factor"].is_number()) c.shift_factor = j["shift_factor"].get<double>();
  if (c.scaling_factor == 0.0) return sdk::invalid_argument(source + ": config key 'scaling_factor' must not be 0");
  if (c.encoder_channels.size() != c.encoder_blocks.size() || c.decoder_channels.size() != c.decoder_blocks.size()) {
    return sdk::invalid_argument(source + ": block_out_channels and num_*_blocks lists differ in length");
  }
  if (j.contains("act_fn") && j["act_fn"] != "relu") return sdk::invalid_argument(source + ": config key 'act_fn' must be \"relu\"");
  if (j.contains("upsample_fn") && j["upsample_fn"] != "nearest") {
    return sdk::invalid_argument(source + ": config key 'upsample_fn' must be \"nearest\"");
  }
  return c;
}

sdk::Result<TaesdModel> TaesdModel::bind(const TaesdConfig& c, const std::map<std::string, at::Tensor>& w,
                                         const std::string& source, c10::Device device, c10::ScalarType dtype) {
  Binder b(w, source, device, dtype);
  TaesdModel m;
  m.config_ = c;
  m.device_ = device;
  m.dtype_ = dtype;
  // Decoder: indices count every Sequential entry, parameter-free ones included.
  {
    std::int64_t n = 0;
    auto name = [&](std::int64_t i) { return "decoder.layers." + std::to_string(i); };
    m.decoder_.push_back(b.conv_layer(name(n++), c.latent_channels, c.decoder_channels[0], 1, true));
    m.decoder_.push_back(param_free(Layer::relu));
    ++n;
    std::int64_t cin = c.decoder_channels[0];
    for (std::size_t i = 0; i < c.decoder_blocks.size(); ++i) {
      const bool last = i + 1 == c.decoder_blocks.size();
      const std::int64_t ch = c.decoder_channels[i];
      for (std::int64_t k = 0; k < c.decoder_blocks[i]; ++k) {
        m.decoder_.push_back(b.block_layer(name(n++), cin, ch));
        cin = ch;
      }
      if (!last) {
        m.decoder_.push_back(param_free(Layer::upsample));
        ++n;
      }
      const std::int64_t cout = last ? c.out_channels : ch;
      m.decoder_.push_back(b.conv_layer(name(n++), ch, cout, 1, last));
      cin = cout;
    }
  }
  if (!b.status().ok()) return b.status();
  if (w.count("encoder.layers.0.weight")) {
    std::int64_t n = 0;
    auto name = [&](std::int64_t i) { return "encoder.layers." + std::to_string(i); };
    std::int64_t cin = c.in_channels;
    for (std::size_t i = 0; i < c.encoder_blocks.size(); ++i) {
      const std::int64_t ch = c.encoder_channels[i];
      m.encoder_.push_back(b.conv_layer(name(n++), cin, ch, i == 0 ? 1 : 2, i == 0));
      for (std::int64_t k = 0; k < c.encoder_blocks[i]; ++k) m.encoder_.push_back(b.block_layer(name(n++), ch, ch));
      cin = ch;
    }
    m.encoder_.push_back(b.conv_layer(name(n++), cin, c.latent_channels, 1, true));
    if (!b.status().ok()) return b.status();
  }
  return m;
}

at::Tensor TaesdModel::encode(const at::Tensor& x) const {
  return run(x.add(1).div(2), encoder_);
}

at::Tensor TaesdModel::decode(const at::Tensor& z) const {
  return run(at::tanh(z / 3) * 3, decoder_).mul(2).sub(1);
}

}  // namespace sdxl::vae_taesd
