// CpuTorchNoise must reproduce PyTorch's CPU generator exactly: the goldens were made with
// torch.randn(shape, generator=torch.Generator().manual_seed(seed)), and their recorded draws come
// in order from one generator seeded with seeds.step_generator.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "golden/case_files.h"
#include "noise/cpu_torch_noise.h"
#include "noise/replay_noise.h"
#include "scheduler_test_support.h"

using namespace sdxl;

TEST_CASE("CpuTorchNoise equals torch.randn of the golden seeds", "[schedulers][noise]") {
  const auto file = test::scheduler_golden_dir() / "dpm2_a_8.safetensors";
  if (!std::filesystem::exists(file)) {
    WARN("SKIP: " << file << " not found");
    return;
  }
  auto c = golden::load_case(file);
  REQUIRE(c.ok());
  const auto& m = c.value().manifest;
  const auto shape = m["latent_shape"].get<std::vector<std::int64_t>>();

  noise::CpuTorchNoise init(m["seeds"]["noise_init"].get<std::uint64_t>());
  auto n = init.randn(shape, at::kFloat, at::kCPU);
  CHECK(at::equal(n, c.value().tensors->tensor("noise_init").value()));

  noise::CpuTorchNoise steps(m["seeds"]["step_generator"].get<std::uint64_t>());
  const auto draws = m["num_draws"].get<int>();
  REQUIRE(draws == 15);
  for (int k = 0; k < draws; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "draw_%03d", k);
    CHECK(at::equal(steps.randn(shape, at::kFloat, at::kCPU), c.value().tensors->tensor(name).value()));
  }
}

TEST_CASE("CpuTorchNoise gives the same stream for the same seed and another for another seed", "[schedulers][noise]") {
  noise::CpuTorchNoise a(7), b(7), other(8);
  auto x = a.randn({2, 3}, at::kFloat, at::kCPU);
  CHECK(at::equal(x, b.randn({2, 3}, at::kFloat, at::kCPU)));
  CHECK_FALSE(at::equal(x, other.randn({2, 3}, at::kFloat, at::kCPU)));
  CHECK(a.randn({4}, at::kDouble, at::kCPU).scalar_type() == at::kDouble);
}

TEST_CASE("ReplayNoise serves draws per call and reports extra requests", "[schedulers][noise]") {
  auto d0 = at::ones({2}), d1 = at::full({2}, 2.0f);
  noise::ReplayNoise r({{d0}, {}, {d1}});
  r.begin_call(0);
  CHECK(at::equal(r.randn({2}, at::kFloat, at::kCPU), d0));
  r.begin_call(2);
  CHECK(at::equal(r.randn({2}, at::kFloat, at::kCPU), d1));
  CHECK(r.error().empty());
  r.begin_call(1);
  CHECK(at::equal(r.randn({2}, at::kFloat, at::kCPU), at::zeros({2})));
  CHECK_FALSE(r.error().empty());
}
