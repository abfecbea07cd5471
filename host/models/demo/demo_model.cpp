#include "models/demo/demo_model.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "io/safetensors.h"
#include "models/demo/demo_shapes.h"
#include "models/unet/unet_model.h"
#include "pipeline/sdxl_model.h"
#include "tokenizer/bpe_vocabulary.h"

namespace sdxl::models::demo {
namespace fs = std::filesystem;

fs::path default_cache_dir() {
  if (const char* d = std::getenv("SDXL_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "sdxl-worker";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "sdxl-worker";
  return fs::temp_directory_path() / "sdxl-worker";
}

namespace {

sdk::Status write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  return out ? sdk::Status() : sdk::internal_error(p.string() + ": cannot write");
}

// Weights ~ N(0, 1/fan_in) keep activations O(1) through the random network; norm scales 1,
// biases 0 (as freshly initialised layers).
sdk::Status write_weights(const fs::path& file, const ShapeList& shapes, at::Generator& gen) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, shape] : shapes) {
    at::Tensor t;
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool is_norm = name.find("norm") != std::string::npos;
    if (shape.size() == 1) {
      t = is_norm && !is_bias ? at::ones(shape) : at::zeros(shape);
    } else {
      std::int64_t fan_in = 1;
      for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      t = at::randn(shape, gen) / std::sqrt(static_cast<double>(fan_in));
      if (name.find("embedding") != std::string::npos) t = at::randn(shape, gen) * 0.02;
    }
    tensors.emplace_back(name, t);
  }
  return io::write_safetensors(file, tensors, {{"format", "pt"}});
}

// A byte-level CLIP vocabulary: every byte symbol alone and with "</w>", then the special tokens
// at CLIP's ids so the 77-token framing and EOS pooling work as with the real vocabulary.
std::string byte_vocab_json() {
  nlohmann::json v = nlohmann::json::object();
  std::int32_t id = 0;
  auto utf8 = [](char32_t c) {
    std::string s;
    if (c < 0x80) s.push_back(static_cast<char>(c));
    else {
      s.push_back(static_cast<char>(0xC0 | (c >> 6)));
      s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
    return s;
  };
  // CLIP's order: the printable bytes '!'..'~', '¡'..'¬', '®'..'ÿ' first, then the rest, so "!" is
  // id 0 as in the real vocabulary (SDXL's tokenizer_2 pads with it).
  std::vector<int> order;
  for (int b = 0; b < 256; ++b)
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) order.push_back(b);
  for (int b = 0; b < 256; ++b)
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) order.push_back(b);
  for (int b : order) v[utf8(tokenizer::byte_symbol(static_cast<std::uint8_t>(b)))] = id++;
  for (int b : order) v[utf8(tokenizer::byte_symbol(static_cast<std::uint8_t>(b))) + "</w>"] = id++;
  v["<|startoftext|>"] = 49406;
  v["<|endoftext|>"] = 49407;
  return v.dump();
}

sdk::Status write_tokenizer(const fs::path& dir, const std::string& pad) {
  fs::create_directories(dir);
  if (auto st = write_text(dir / "vocab.json", byte_vocab_json()); !st.ok()) return st;
  if (auto st = write_text(dir / "merges.txt", "#version: 0.2\n"); !st.ok()) return st;
  nlohmann::json special = {{"bos_token", "<|startoftext|>"}, {"eos_token", "<|endoftext|>"},
                            {"unk_token", "<|endoftext|>"}, {"pad_token", pad}};
  return write_text(dir / "special_tokens_map.json", special.dump(1));
}

sdk::Status build(const fs::path& dir) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(20240607);
  const auto& cfg = demo_configs();
  nlohmann::json index = {{"_class_name", "StableDiffusionXLPipeline"}, {"force_zeros_for_empty_prompt", true},
                          {"_sdxl_worker_demo", kDemoModelVersion}};
  if (auto st = write_text(dir / "model_index.json", index.dump(1)); !st.ok()) return st;
  fs::create_directories(dir / "scheduler");
  if (auto st = write_text(dir / "scheduler" / "scheduler_config.json", pipeline::sdxl_base_scheduler_config().dump(1)); !st.ok())
    return st;
  struct Component {
    const char* name;
    const char* file;
    const nlohmann::json* config;
  };
  const Component parts[] = {{"unet", "diffusion_pytorch_model.safetensors", &cfg.unet},
                             {"vae", "diffusion_pytorch_model.safetensors", &cfg.vae},
                             {"text_encoder", "model.safetensors", &cfg.text_encoder},
                             {"text_encoder_2", "model.safetensors", &cfg.text_encoder_2}};
  for (const auto& c : parts) {
    fs::create_directories(dir / c.name);
    if (auto st = write_text(dir / c.name / "config.json", c.config->dump(1)); !st.ok()) return st;
    auto shapes = component_shapes(c.name);
    if (!shapes.ok()) return shapes.status();
    if (auto st = write_weights(dir / c.name / c.file, shapes.value(), gen); !st.ok()) return st;
  }
  if (auto st = write_tokenizer(dir / "tokenizer", "<|endoftext|>"); !st.ok()) return st;
  return write_tokenizer(dir / "tokenizer_2", "!");
}

}  // namespace

sdk::Result<fs::path> ensure_demo_model(const fs::path& cache_dir) {
  const fs::path dir = cache_dir / ("demo-tiny-sdxl-v" + std::to_string(kDemoModelVersion));
  std::error_code ec;
  if (fs::is_regular_file(dir / "model_index.json", ec)) return dir;
  fs::create_directories(cache_dir, ec);
  if (ec) return sdk::invalid_argument(cache_dir.string() + ": cannot create the cache folder (" + ec.message() + ")");
  const fs::path tmp = cache_dir / (".building-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (auto st = build(tmp); !st.ok()) {
    fs::remove_all(tmp, ec);
    return st;
  }
  fs::rename(tmp, dir, ec);
  if (ec) {  // another process may have finished first: use its copy
    fs::remove_all(tmp, ec);
    if (!fs::is_regular_file(dir / "model_index.json", ec)) return sdk::internal_error(dir.string() + ": could not be created");
  }
  return dir;
}

}  // namespace sdxl::models::demo
