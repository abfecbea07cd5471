#include "models/loader/checkpoint.h"
#include "util/json_file.h"

#include <ATen/ATen.h>

#include <fstream>

#include "models/loader/config_inference.h"
#include "models/loader/key_mapping.h"

namespace sdxl::models::loader {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kComponents = {"unet", "vae", "text_encoder", "text_encoder_2"};

std::string weights_stem(const std::string& component) {
  return (component == "unet" || component == "vae") ? "diffusion_pytorch_model" : "model";
}


bool wanted(const LoadOptions& o, const std::string& c) { return o.components.empty() || o.components.count(c); }

ShapeMap shapes_of(const std::map<std::string, at::Tensor>& tensors) {
  ShapeMap m;
  for (const auto& [k, t] : tensors) m[k] = t.sizes().vec();
  return m;
}

std::uint64_t entry_bytes(const io::TensorEntry& e) { return e.end - e.begin; }

// Adds every tensor of one safetensors file (diffusers names already) to `out`.
sdk::Status add_file_tensors(const fs::path& file, ComponentWeights* out) {
  auto f = io::SafetensorsFile::open(file);
  if (!f.ok()) return f.status();
  for (const auto& e : (*f)->entries()) {
    auto t = (*f)->tensor(e.name);
    if (!t.ok()) return t.status();
    if (!out->tensors.emplace(e.name, std::move(t.value())).second)
      return sdk::corrupt_data(file.string() + ": tensor '" + e.name + "' appears in more than one shard");
    out->bytes += entry_bytes(e);
  }
  out->source += (out->source.empty() ? "" : ", ") + file.string();
  return sdk::Status::Ok();
}

}  // namespace

sdk::Status load_folder_component(const fs::path& dir, const std::string& name, const LoadOptions& o,
                                  ComponentWeights* out) {
  out->name = name;
  const std::string stem = weights_stem(name);
  std::vector<std::string> files = {stem + ".safetensors", stem + ".fp16.safetensors"};
  if (o.prefer_fp16_variant) std::swap(files[0], files[1]);
  for (const auto& f : files) {
    if (fs::exists(dir / f)) {
      auto st = add_file_tensors(dir / f, out);
      if (!st.ok()) return st;
      break;
    }
    const fs::path index = dir / (f + ".index.json");  // sharded weights
    if (fs::exists(index)) {
      auto j = util::read_json_file(index);
      if (!j.ok()) return j.status();
      if (!j->contains("weight_map") || !(*j)["weight_map"].is_object())
        return sdk::corrupt_data(index.string() + ": no weight_map");
      std::set<std::string> shards;
      for (const auto& [k, v] : (*j)["weight_map"].items())
        if (v.is_string()) shards.insert(v.get<std::string>());
      for (const auto& s : shards) {
        auto st = add_file_tensors(dir / s, out);
        if (!st.ok()) return st;
      }
      break;
    }
  }
  if (out->tensors.empty()) {
    std::string hint = fs::exists(dir / (stem + ".bin")) ? " (PyTorch .bin pickles are not supported; convert to safetensors)" : "";
    return sdk::not_found(dir.string() + ": no weights found, looked for " + files[0] + " and " + files[1] + hint);
  }
  auto cfg = util::read_json_file(dir / "config.json");
  if (!cfg.ok()) return cfg.status();
  out->config = std::move(cfg.value());
  out->config_source = (dir / "config.json").string();
  return sdk::Status::Ok();
}

namespace {

sdk::Result<Checkpoint> load_folder(const fs::path& path, const LoadOptions& o) {
  Checkpoint ck;
  ck.layout = Layout::diffusers_folder;
  ck.path = path;
  for (const auto& name : kComponents) {
    if (!wanted(o, name)) continue;
    if (!fs::is_directory(path / name)) {
      if (!o.components.empty()) return sdk::not_found(path.string() + ": no " + name + "/ folder");
      continue;
    }
    ComponentWeights cw;
    auto st = load_folder_component(path / name, name, o, &cw);
    if (!st.ok()) return st;
    ck.components.emplace(name, std::move(cw));
  }
  if (ck.components.empty())
    return sdk::invalid_argument(path.string() + ": not a diffusers SDXL folder (no unet/, vae/, text_encoder/ or text_encoder_2/)");
  return ck;
}

at::Tensor apply_transform(const at::Tensor& t, const MappedTensor& m) {
  switch (m.how) {
    case Transform::identity: return t;
    case Transform::qkv_rows: return t.narrow(0, m.part * m.shape[0], m.shape[0]);  // rows q, k, v
    case Transform::transpose: return t.t();
    case Transform::linear_to_conv1x1: return t.reshape({t.size(0), t.size(1)});
  }
  return t;
}

// Config of one single-file component: --model-config's file when present, else inferred.
sdk::Status single_file_config(ComponentWeights* cw, const LoadOptions& o, std::int64_t pooled_dim) {
  const ShapeMap shapes = shapes_of(cw->tensors);
  sdk::Result<nlohmann::json> inferred = sdk::internal_error("unreachable");
  if (cw->name == "unet") inferred = infer_unet_config(shapes, pooled_dim, cw->source);
  else if (cw->name == "vae") inferred = infer_vae_config(shapes, cw->source);
  else inferred = infer_text_encoder_config(shapes, cw->name == "text_encoder_2", cw->source);
  const fs::path file = o.model_config / cw->name / "config.json";
  if (!o.model_config.empty() && fs::exists(file)) {
    auto cfg = util::read_json_file(file);
    if (!cfg.ok()) return cfg.status();
    if (cw->name == "unet") {
      if (!inferred.ok()) return inferred.status();
      auto st = validate_unet_config(*cfg, *inferred, file.string(), cw->source);
      if (!st.ok()) return st;
    }
    cw->config = std::move(cfg.value());
    cw->config_source = file.string();
    return sdk::Status::Ok();
  }
  if (!inferred.ok()) return inferred.status();
  if (cw->name == "unet" && inferred->at("addition_time_embed_dim").is_null())
    return sdk::invalid_argument(cw->source + ": cannot split the UNet's add_embedding input width " +
                                 inferred->at("projection_class_embeddings_input_dim").dump() +
                                 " into pooled text embedding + time ids; pass --model-config");
  cw->config = std::move(inferred.value());
  cw->config_source = "inferred from weights (SDXL conventions: 64-channel heads)";
  return sdk::Status::Ok();
}

sdk::Result<Checkpoint> load_single_file(const fs::path& path, const LoadOptions& o) {
  if (!o.model_config.empty() && !fs::is_directory(o.model_config))
    return sdk::not_found("--model-config " + o.model_config.string() + ": not a folder");
  auto file = io::SafetensorsFile::open(path);
  if (!file.ok()) return file.status();
  const auto& f = *file.value();
  auto mapping = map_single_file(f.entries(), path.string());
  if (!mapping.ok()) return mapping.status();

  Checkpoint ck;
  ck.layout = Layout::single_file;
  ck.path = path;
  ck.ignored = mapping->ignored;
  std::map<std::string, std::set<std::string>> counted;  // sources already added to bytes
  for (const auto& m : mapping->tensors) {
    if (!wanted(o, m.component)) continue;
    auto t = f.tensor(m.source);
    if (!t.ok()) return t.status();
    auto& cw = ck.components[m.component];
    cw.name = m.component;
    cw.source = path.string();
    cw.tensors.emplace(m.key, apply_transform(t.value(), m));
    if (counted[m.component].insert(m.source).second) cw.bytes += entry_bytes(*f.find(m.source));
  }
  for (const auto& name : o.components)
    if (!ck.components.count(name))
      return sdk::not_found(path.string() + ": the checkpoint has no " + name + " weights");
  if (ck.components.empty()) return sdk::invalid_argument(path.string() + ": no SDXL component found");

  // The pooled width (TE2 projection) helps split the UNet's add_embedding input, even when the
  // text encoders themselves are not requested.
  std::int64_t pooled = 0;
  for (const auto& m : mapping->tensors)
    if (m.component == "text_encoder_2" && m.key == "text_projection.weight" && m.shape.size() == 2) pooled = m.shape[0];
  for (auto& [name, cw] : ck.components) {
    auto st = single_file_config(&cw, o, pooled);
    if (!st.ok()) return st;
  }
  return ck;
}

}  // namespace

sdk::Result<const ComponentWeights*> Checkpoint::component(const std::string& name) const {
  auto it = components.find(name);
  if (it == components.end()) return sdk::not_found(path.string() + ": no " + name + " in this checkpoint");
  return &it->second;
}

std::map<std::string, std::uint64_t> Checkpoint::bytes_per_component() const {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [name, cw] : components) out[name] = cw.bytes;
  return out;
}

sdk::Result<Checkpoint> load_checkpoint(const fs::path& path, const LoadOptions& options) {
  return sdk::guard("load_checkpoint", [&]() -> sdk::Result<Checkpoint> {
    std::error_code ec;
    if (!fs::exists(path, ec)) return sdk::not_found(path.string() + ": no such file or folder");
    for (const auto& c : options.components)
      if (std::find(kComponents.begin(), kComponents.end(), c) == kComponents.end())
        return sdk::invalid_argument("unknown checkpoint component '" + c + "'");
    if (fs::is_directory(path, ec)) return load_folder(path, options);
    return load_single_file(path, options);
  });
}

}  // namespace sdxl::models::loader
