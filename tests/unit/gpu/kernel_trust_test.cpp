// The safety net of our CUDA kernels (host/gpu/kernel_trust.h): a kernel is used for a dtype
// only after its self-check passed, the check runs once per dtype, and a failure (or an
// exception) is reported once, with its reason, and remembered.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "gpu/kernel_trust.h"

using namespace sdxl::gpu;

namespace {

std::vector<std::string>& reports() {
  static std::vector<std::string> r;
  return r;
}
void record(const std::string& message) { reports().push_back(message); }

}  // namespace

TEST_CASE("kernel trust: one self-check per dtype, remembered") {
  reports().clear();
  set_kernel_log(&record);
  KernelTrust trust;
  int checks = 0;
  auto passes = [&](std::string&) { ++checks; return true; };
  auto fails = [&](std::string& why) { ++checks; why = "kernel X disagrees"; return false; };
  CHECK(trust.trusted(at::kHalf, passes));
  CHECK(trust.trusted(at::kHalf, fails));  // already checked: the first answer stands
  CHECK(checks == 1);
  CHECK_FALSE(trust.trusted(at::kBFloat16, fails));
  CHECK_FALSE(trust.trusted(at::kBFloat16, passes));
  CHECK(checks == 2);
  REQUIRE(reports().size() == 1);  // reported once, with the reason and what happens instead
  CHECK(reports()[0] == "kernel X disagrees; using libtorch instead");
  CHECK_FALSE(trust.trusted(at::kDouble, passes));  // not a kernel dtype: never checked
  CHECK(checks == 2);
  set_kernel_log(nullptr);
}

TEST_CASE("kernel trust: SDXL_CUDA_KERNELS_OFF names kernels by id") {
  CHECK(kernel_listed("geglu", "geglu"));
  CHECK(kernel_listed("group_norm_nhwc, geglu ,residual_layer_norm", "geglu"));
  CHECK(kernel_listed("group_norm_nhwc,residual_layer_norm", "residual_layer_norm"));
  CHECK_FALSE(kernel_listed("geglu_x,xgeglu", "geglu"));  // whole ids only
  CHECK_FALSE(kernel_listed("", "geglu"));
  CHECK_FALSE(kernel_listed(nullptr, "geglu"));
  // A kernel whose id is listed is never trusted, and its self-check never runs.
  ::setenv("SDXL_CUDA_KERNELS_OFF", "other,test_kernel", 1);
  KernelTrust listed("test_kernel"), unlisted("another_kernel");
  int checks = 0;
  auto passes = [&](std::string&) { ++checks; return true; };
  CHECK_FALSE(listed.trusted(at::kHalf, passes));
  CHECK(checks == 0);
  CHECK(unlisted.trusted(at::kHalf, passes));
  CHECK(checks == 1);
  ::unsetenv("SDXL_CUDA_KERNELS_OFF");
}

TEST_CASE("kernel inputs: vector alignment is 8 elements from the data's start") {
  const at::Tensor half = at::zeros({64}, at::kHalf), whole = at::zeros({64});
  CHECK(vector_aligned(half));  // fresh allocations are aligned far beyond 16 bytes
  CHECK(vector_aligned(half.narrow(0, 8, 8)));  // 16 bytes in
  CHECK_FALSE(vector_aligned(half.narrow(0, 4, 8)));  // 8 bytes in
  CHECK(vector_aligned(whole.narrow(0, 8, 8)));  // float32: 32 bytes in
  CHECK_FALSE(vector_aligned(whole.narrow(0, 4, 8)));  // 16 bytes in: half a float vector
}

TEST_CASE("kernel trust: a self-check that throws counts as failed") {
  reports().clear();
  set_kernel_log(&record);
  KernelTrust trust;
  CHECK_FALSE(trust.trusted(at::kFloat, [](std::string&) -> bool { throw std::runtime_error("no device"); }));
  REQUIRE(reports().size() == 1);
  CHECK(reports()[0].find("no device") != std::string::npos);
  set_kernel_log(nullptr);
}

TEST_CASE("kernel self-check comparison names the kernel, dtype and difference") {
  const at::Tensor want = at::linspace(-3, 3, 64);
  CHECK(compare_with_reference(want.to(at::kBFloat16), want, "k").empty());  // bf16 rounding is allowed
  const std::string off = compare_with_reference(want + 0.5, want, "kernel Y");
  CHECK(off.find("kernel Y (Float): max difference 0.5") == 0);
  // Larger values: rounding to the dtype is allowed at any magnitude (a GEGLU's products reach
  // tens: bfloat16 rounds 20.06 to 20.0), a real error is not.
  const at::Tensor large = at::linspace(-60, 60, 257) + 0.06;
  CHECK(compare_with_reference(large.to(at::kBFloat16), large, "k").empty());
  CHECK(compare_with_reference(large.to(at::kHalf), large, "k").empty());
  CHECK_FALSE(compare_with_reference((large * 1.05).to(at::kBFloat16), large, "k").empty());
  CHECK_FALSE(compare_with_reference((large + 0.3).to(at::kHalf), large, "k").empty());
}

TEST_CASE("kernel trust: run launches only trusted kernels and reports launch failures") {
  reports().clear();
  set_kernel_log(&record);
  KernelTrust trust;
  int launches = 0;
  auto pass = [](std::string&) { return true; };
  auto fine = [&](int&) { ++launches; return at::ones({2}); };
  CHECK(trust.run("k", at::kHalf, pass, fine).defined());
  CHECK(launches == 1);
  // A failed launch: reported with the CUDA error, and libtorch is asked to do it instead.
  CHECK_FALSE(trust.run("k", at::kHalf, pass, [](int& e) { e = 700; return at::Tensor(); }).defined());
  // An exception inside the launch stays inside.
  CHECK_FALSE(trust.run("k", at::kHalf, pass, [](int&) -> at::Tensor { throw std::runtime_error("boom"); }).defined());
  // A dtype whose check failed is never launched.
  CHECK_FALSE(trust.run("k", at::kBFloat16, [](std::string& w) { return w = "bad", false; }, fine).defined());
  CHECK(launches == 1);
  REQUIRE(reports().size() == 3);
  CHECK(reports()[0] == "k: CUDA error 700 at launch");
  CHECK(reports()[1] == "k: boom");
  CHECK(reports()[2] == "bad; using libtorch instead");
  set_kernel_log(nullptr);
}
