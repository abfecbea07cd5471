#include "pipeline/vae_file.h"

#include <algorithm>

#include "io/safetensors.h"
#include "models/loader/checkpoint.h"

namespace sdxl::pipeline {
namespace fs = std::filesystem;
namespace loader = models::loader;

namespace {

// diffusers' AutoencoderTiny keeps its layers in two nn.Sequential: encoder.layers.N, decoder.layers.N.
bool taesd_name(const std::string& n) { return n.rfind("decoder.layers.", 0) == 0 || n.rfind("encoder.layers.", 0) == 0; }

sdk::Result<loader::ComponentWeights> vae_of_checkpoint(const fs::path& path) {
  loader::LoadOptions o;
  o.components = {"vae"};
  auto ck = loader::load_checkpoint(path, o);
  if (!ck.ok()) return ck.status();
  return std::move(ck.value().components.at("vae"));
}

}  // namespace

sdk::Result<VaeWeights> read_vae_weights(const fs::path& path) {
  return sdk::guard("read_vae_weights", [&]() -> sdk::Result<VaeWeights> {
    std::error_code ec;
    if (!fs::exists(path, ec)) return sdk::not_found(path.string() + ": no such VAE file or folder");
    VaeWeights out;
    out.source = path.string();
    loader::ComponentWeights vae;
    if (fs::is_directory(path, ec)) {
      if (fs::is_regular_file(path / "config.json", ec)) {  // the VAE's own folder
        if (auto st = loader::load_folder_component(path, "vae", {}, &vae); !st.ok()) return st;
      } else {  // a pipeline folder: its vae/
        auto v = vae_of_checkpoint(path);
        if (!v.ok()) return v.status();
        vae = std::move(v).value();
      }
    } else {
      auto file = io::SafetensorsFile::open(path);
      if (!file.ok()) return file.status();
      const auto& entries = file.value()->entries();
      // TAESD is only published with diffusers names: taken as they are, no key mapping.
      if (std::any_of(entries.begin(), entries.end(), [](const io::TensorEntry& e) { return taesd_name(e.name); })) {
        auto tensors = file.value()->all_tensors();
        if (!tensors.ok()) return tensors.status();
        out.feature = "taesd";
        out.tensors = std::move(tensors).value();
        for (const auto& e : entries) out.bytes += e.end - e.begin;
        return out;
      }
      auto v = vae_of_checkpoint(path);
      if (!v.ok()) return v.status();
      vae = std::move(v).value();
    }
    const std::string cls = vae.config.is_object() ? vae.config.value("_class_name", std::string()) : std::string();
    auto tiny_names = [&] {
      return std::any_of(vae.tensors.begin(), vae.tensors.end(), [](const auto& kv) { return taesd_name(kv.first); });
    };
    if (cls == "AutoencoderTiny" || (cls.empty() && tiny_names())) out.feature = "taesd";
    else if (cls.empty() || cls == "AutoencoderKL") out.feature = "kl";
    else
      return sdk::invalid_argument(vae.config_source + ": _class_name '" + cls +
                                   "' is not a VAE this worker runs (AutoencoderKL or AutoencoderTiny)");
    VaeWeights w = vae_weights_of(std::move(vae), out.feature);
    w.source = out.source;  // the path given, not the file inside it
    return w;
  });
}

VaeWeights vae_weights_of(loader::ComponentWeights component, std::string feature) {
  VaeWeights w;
  w.feature = std::move(feature);
  w.tensors = std::move(component.tensors);
  w.config_json = component.config.is_null() ? std::string() : component.config.dump();
  w.source = std::move(component.source);
  w.bytes = component.bytes;
  return w;
}

std::string vae_display_name(const fs::path& path) {
  fs::path name = path.lexically_normal();
  if (name.filename().empty()) name = name.parent_path();  // "folder/"
  return name.filename().string();
}

}  // namespace sdxl::pipeline
