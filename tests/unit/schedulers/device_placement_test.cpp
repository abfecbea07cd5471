// Schedulers compute on whatever device the latents live on (the GPU pipeline keeps them there,
// and `sdxl golden check --device cuda` replays the trajectories there). A scheduler that mixes a
// CPU tensor into that arithmetic only fails on a GPU machine; here the latents live on the
// `meta` device instead, which refuses the same mixing (a CPU tensor with more than one element
// beside a non-CPU one) without needing CUDA. Values on `meta` do not exist, so this checks
// placement only; the goldens check the numbers.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "scheduler_test_support.h"
#include "schedulers/sampling_params.h"

using namespace sdxl;

namespace {

// Draws "noise" on the device asked for (meta: shape only).
class DeviceNoise : public sdk::NoiseSource {
 public:
  at::Tensor randn(at::IntArrayRef shape, c10::ScalarType dtype, c10::Device device) override {
    return at::empty(shape, at::TensorOptions().dtype(dtype).device(device));
  }
};

// The whole loop on `device`; returns the device of the final sample, or the error.
std::string run_on(const std::string& feature, std::int64_t steps, c10::Device device, bool img2img) {
  auto created = test::create_scheduler(feature);
  REQUIRE(created.ok());
  auto& s = *created.value();
  REQUIRE(s.set_timesteps(steps).ok());
  const auto opts = at::TensorOptions().dtype(at::kFloat).device(device);
  DeviceNoise noise;
  try {
    at::Tensor x;
    if (img2img) {
      REQUIRE(schedulers::apply_img2img_strength(s, steps, 0.6).ok());
      auto n = s.add_noise(at::empty({1, 4, 6, 8}, opts), at::empty({1, 4, 6, 8}, opts), 0);
      if (!n.ok()) return n.status().message();
      x = n.value();
    } else {
      x = at::empty({1, 4, 6, 8}, opts) * static_cast<float>(s.init_noise_sigma());
    }
    for (std::int64_t i = 0; i < s.timesteps().size(0); ++i) {
      auto x_in = s.scale_model_input(x, i);
      if (!x_in.ok()) return x_in.status().message();
      auto r = s.step(x_in.value() * 0.5, i, x, noise);
      if (!r.ok()) return r.status().message();
      x = r.value().prev_sample;
      if (r.value().denoised.defined() && r.value().denoised.device() != device)
        return "denoised estimate on " + r.value().denoised.device().str();
    }
    return x.device().str();
  } catch (const std::exception& e) {
    return std::string("threw: ") + e.what();
  }
}

}  // namespace

TEST_CASE("every scheduler keeps its arithmetic on the latents' device", "[schedulers][device]") {
  const c10::Device meta(c10::kMeta);
  // What makes the check worth running: meta refuses a CPU tensor beside it, as CUDA does (a
  // 0-dim CPU tensor is a scalar to both).
  CHECK_THROWS(at::empty({1, 4, 6, 8}, at::TensorOptions().device(meta)) * at::ones({1, 4, 1, 1}));
  CHECK_NOTHROW(at::empty({1, 4, 6, 8}, at::TensorOptions().device(meta)) * at::ones({}));
  for (auto& p : test::scheduler_plugins()) {
    for (const auto& f : p->info().features) {
      const std::int64_t steps = (f.name == "lcm" || f.name == "tcd") ? 4 : 8;
      INFO(f.name);
      CHECK(run_on(f.name, steps, meta, false) == "meta");
      CHECK(run_on(f.name, steps, meta, true) == "meta");
    }
  }
}
