// The benchmarks' random single-file checkpoint (host/bench/random_checkpoint.h): every tensor of
// the layout with its dtype and shape, values of standard deviation 0.02 that differ from tensor
// to tensor, integer buffers counting up, and a file the loader's safetensors reader opens.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "bench/random_checkpoint.h"
#include "io/safetensors.h"
#include "test_paths.h"

using namespace sdxl;

TEST_CASE("random single file: layout, dtypes and a 0.02 spread", "[io]") {
  const nlohmann::json model = {{"single_file",
                                 {{"tensors",
                                   {{"a.weight", {{"dtype", "F16"}, {"shape", {300, 257}}}},
                                    {"b.weight", {{"dtype", "F16"}, {"shape", {300, 257}}}},
                                    {"c.bias", {{"dtype", "BF16"}, {"shape", {4099}}}},
                                    {"d.weight", {{"dtype", "F32"}, {"shape", {64, 65}}}},
                                    {"ids", {{"dtype", "I64"}, {"shape", {1, 77}}}}}}}}};
  const auto file = test_paths::scratch_dir() / "random_single_file.safetensors";
  std::uint64_t bytes = 0;
  REQUIRE(bench::write_random_single_file(file, model, &bytes).ok());
  CHECK(bytes == std::filesystem::file_size(file));
  auto f = io::SafetensorsFile::open(file);
  REQUIRE(f.ok());
  const auto a = f.value()->tensor("a.weight").value(), b = f.value()->tensor("b.weight").value();
  CHECK(a.scalar_type() == at::kHalf);
  CHECK(a.sizes() == at::IntArrayRef{300, 257});
  CHECK(f.value()->tensor("c.bias").value().scalar_type() == at::kBFloat16);
  CHECK(f.value()->tensor("d.weight").value().scalar_type() == at::kFloat);
  for (const auto& t : {a, f.value()->tensor("c.bias").value(), f.value()->tensor("d.weight").value()}) {
    const at::Tensor v = t.to(at::kFloat);
    CHECK(v.std().item<double>() == Approx(0.02).epsilon(0.05));
    CHECK(std::abs(v.mean().item<double>()) < 0.002);
    CHECK(v.abs().max().item<double>() <= 0.0347);
  }
  CHECK_FALSE(at::equal(a, b));  // each tensor its own values
  CHECK(at::equal(f.value()->tensor("ids").value(), at::arange(77, at::kLong).reshape({1, 77})));
  std::filesystem::remove(file);
}
