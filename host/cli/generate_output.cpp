#include "cli/generate_output.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "image/png.h"
#include "pipeline/infotext.h"
#include "util/logging.h"

namespace sdxl::cli {

std::pair<std::string, std::string> a1111_sampler_names(const std::string& feature) {
  return pipeline::a1111_sampler_names(feature);  // one table for PNGs, the server and /samplers
}

GenerateOutput::GenerateOutput(const pipeline::JobSettings& s, std::string model_name, const pipeline::ModelSpec& spec,
                               bool demo, bool json)
    : s_(s), model_name_(std::move(model_name)), device_(spec.device.str() + " " + pipeline::dtype_name(spec.dtype)),
      demo_(demo), json_(json) {}

std::string GenerateOutput::file_name(std::int64_t index, std::int64_t seed) const {
  std::string name = s_.out;
  bool templated = false;
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"{n}", std::to_string(index)},
                                   {"{seed}", std::to_string(seed)}}) {
    for (auto pos = name.find(key); pos != std::string::npos; pos = name.find(key)) {
      name.replace(pos, key.size(), value);
      templated = true;
    }
  }
  const std::int64_t total = s_.batch_size * s_.batch_count;
  if (!templated && total > 1) {  // several images, one name: number them
    std::filesystem::path p(name);
    name = (p.parent_path() / (p.stem().string() + "-" + std::to_string(index) + p.extension().string())).string();
  }
  return name;
}

sdk::Status GenerateOutput::write_batch(const pipeline::GenerateResult& r, std::int64_t first_seed) {
  sampler_ = r.sampler;
  at::Tensor pixels = pipeline::to_uint8_images(r.images);
  for (std::int64_t i = 0; i < pixels.size(0); ++i) {
    const std::int64_t seed = first_seed + i;
    pipeline::ImageParameters p = pipeline::job_image_parameters(s_, seed);
    p.sampler_feature = r.sampler;
    p.model_name = model_name_;
    p.model_hash = model_hash_;
    p.demo_model = demo_;
    p.loras = pipeline::lora_list_text(loras_);
    p.extra = extra_fields_;
    p.device = device_;
    const pipeline::InfoText info = pipeline::image_infotext(p);
    const std::string path = file_name(written_, seed);
    if (auto st = image::write_png(path, pixels[i], {{"parameters", info.render()}}); !st.ok()) return st;
    util::log_info("wrote " + path);
    images_.push_back({{"path", path}, {"seed", seed}, {"width", s_.width}, {"height", s_.height}});
    ++written_;
  }
  return {};
}

void GenerateOutput::print_json_if_requested() {
  if (!json_) return;
  nlohmann::json j = {{"images", images_}, {"sampler", sampler_}, {"steps", s_.steps}, {"cfg", s_.cfg},
                      {"model", demo_ ? "demo" : model_name_}, {"device", device_}};
  std::cout << j.dump(2) << "\n";
}

void GenerateOutput::finish(double seconds) {
  util::log_info("done: " + std::to_string(written_) + " image(s) in " + std::to_string(seconds) + " s");
  if (json_) {
    nlohmann::json j = {{"images", images_}, {"sampler", sampler_}, {"steps", s_.steps}, {"cfg", s_.cfg},
                        {"model", demo_ ? "demo" : model_name_}, {"device", device_}, {"seconds", seconds}};
    std::cout << j.dump(2) << "\n";
  }
}

void ProgressBar::update(std::int64_t batch, std::int64_t batches, std::int64_t done, std::int64_t total) {
  const std::string prefix = batches > 1 ? "batch " + std::to_string(batch + 1) + "/" + std::to_string(batches) + " " : "";
  if (!tty_) {
    std::cerr << prefix << "step " << done << "/" << total << "\n";
    return;
  }
  const int width = 30;
  const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  std::cerr << "\r" << prefix << "[" << std::string(filled, '#') << std::string(width - filled, '-') << "] " << done
            << "/" << total << std::flush;
  open_ = true;
}

void ProgressBar::finish() {
  if (open_) std::cerr << "\n";
  open_ = false;
}

}  // namespace sdxl::cli
