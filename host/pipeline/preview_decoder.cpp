#include "pipeline/preview_decoder.h"

#include <fstream>
#include <sstream>

#include "io/safetensors.h"

namespace sdxl::pipeline {
namespace fs = std::filesystem;

sdk::Result<std::unique_ptr<sdk::VaeVariant>> load_preview_decoder(const fs::path& taesd,
                                                                   const plugins::PluginRegistry& registry,
                                                                   const plugins::Placement* placement) {
  std::error_code ec;
  const bool folder = fs::is_directory(taesd, ec);
  const fs::path weights = folder ? taesd / "diffusion_pytorch_model.safetensors" : taesd;
  auto file = io::SafetensorsFile::open(weights);
  if (!file.ok()) return sdk::Status(file.status().code(), "preview decoder: " + file.status().message());
  auto tensors = file.value()->all_tensors();  // views keep the mapping alive
  if (!tensors.ok()) return tensors.status();
  std::string config;
  if (folder && fs::is_regular_file(taesd / "config.json", ec)) {
    std::ifstream in(taesd / "config.json");
    std::ostringstream text;
    text << in.rdbuf();
    config = text.str();
  }
  auto vae = registry.create_vae_variant("taesd", nullptr, placement);
  if (!vae.ok()) return vae.status();
  sdk::WeightSet set{taesd.string(), &tensors.value(), config};
  if (auto st = vae.value()->load(set); !st.ok())
    return sdk::Status(st.code(), "preview decoder " + taesd.string() + ": " + st.message());
  return std::move(vae).value();
}

}  // namespace sdxl::pipeline
