// Golden comparison outside float32: relative RMS error, the per-dtype bounds, and the runner's
// choice between a handler's float32 tolerances and the relative RMS comparison.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "golden/case_files.h"
#include "golden/precision_compare.h"
#include "golden/runner.h"

using namespace sdxl;

namespace {

// A case file holding one float output "out" and one integer output "ids".
golden::GoldenCase write_case(const std::filesystem::path& dir, const at::Tensor& out) {
  REQUIRE(io::write_safetensors(dir / "toy.safetensors", {{"out", out}, {"ids", at::arange(4)}},
                                {{"manifest", nlohmann::json{{"name", "toy"}}.dump()}})
              .ok());
  auto c = golden::load_case(dir / "toy.safetensors");
  REQUIRE(c.ok());
  return c.value();
}

// Produces `out` scaled by a fixed factor; its own float32 comparison always fails, so a pass
// can only come from the relative RMS comparison.
class ScaledHandler : public golden::GoldenHandler {
 public:
  ScaledHandler(double factor, bool in_dtype) : factor_(factor), in_dtype_(in_dtype) {}
  std::string name() const override { return "scaled"; }
  bool accepts(const golden::GoldenCase&) const override { return true; }
  std::set<std::string> allowed_manifest_keys(const golden::GoldenCase&) const override { return {"name"}; }
  std::set<std::string> allowed_tensors(const golden::GoldenCase&) const override { return {}; }
  bool runs_in_dtype() const override { return in_dtype_; }
  sdk::Result<golden::TensorList> replay(const golden::GoldenCase&, const golden::GoldenOptions&,
                                         nlohmann::json*) const override {
    return golden::TensorList{{"out", want_ * factor_}};
  }
  golden::CompareReport compare(const golden::GoldenCase&, const golden::TensorList&,
                                const nlohmann::json&) const override {
    return {false, "float32 tolerances"};
  }
  at::Tensor want_;

 private:
  double factor_;
  bool in_dtype_;
};

}  // namespace

TEST_CASE("relative_rms_error is rms(got - want) / rms(want)", "[golden]") {
  const auto want = at::tensor({3.0, 4.0});
  // diff {0.3, 0.4}: rms sqrt(0.125); want rms sqrt(12.5); ratio 0.1.
  CHECK(golden::relative_rms_error(want * 1.1, want) == Approx(0.1).epsilon(1e-9));
  CHECK(golden::relative_rms_error(want, want) == 0.0);
  CHECK(std::isnan(golden::relative_rms_error(at::zeros({3}), want)));  // shapes differ
  CHECK(std::isnan(golden::relative_rms_error(at::ones({2}), at::zeros({2}))));
  CHECK(golden::relative_rms_error(at::zeros({2}), at::zeros({2})) == 0.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isinf(golden::relative_rms_error(at::tensor({nan, 4.0}), want)));
}

TEST_CASE("relative RMS bounds: bfloat16 looser than float16, none for float32", "[golden]") {
  CHECK(golden::relative_rms_bound(at::kBFloat16) > golden::relative_rms_bound(at::kHalf));
  CHECK(golden::relative_rms_bound(at::kHalf) > 0.0);
  CHECK(golden::relative_rms_bound(at::kFloat) == 0.0);
}

TEST_CASE("compare_relative_rms checks the case's float outputs against the dtype's bound", "[golden]") {
  golden::TempDir dir;
  const auto want = at::randn({64}, at::TensorOptions().dtype(at::kFloat));
  const auto c = write_case(dir.path(), want);
  // A 5 % relative error: inside the bfloat16 bound, outside the float16 one.
  const golden::TensorList five_percent = {{"out", want * 1.05}, {"not_in_case", at::zeros({2})}, {"ids", at::arange(4) + 1}};
  CHECK(golden::compare_relative_rms(c, five_percent, at::kBFloat16).passed);
  const auto f16 = golden::compare_relative_rms(c, five_percent, at::kHalf);
  CHECK_FALSE(f16.passed);
  CHECK(f16.summary.find("out") != std::string::npos);
  CHECK(golden::compare_relative_rms(c, five_percent, at::kHalf, {}, 2.0).passed);  // slack doubles the bound
  // Integer outputs and tensors the case does not record are not compared: nothing left fails.
  CHECK_FALSE(golden::compare_relative_rms(c, {{"ids", at::arange(4)}}, at::kBFloat16).passed);
  CHECK_FALSE(golden::compare_relative_rms(c, {{"out", at::zeros({3})}}, at::kBFloat16).passed);  // wrong shape
  // A required output that was not produced fails, however close the rest is.
  const auto missing = golden::compare_relative_rms(c, {{"out", want}}, at::kBFloat16, {"out", "eps"});
  CHECK_FALSE(missing.passed);
  CHECK_THAT(missing.summary, Catch::Contains("eps"));
}

TEST_CASE("run_case compares by relative RMS only outside float32 and only for handlers that run in the dtype",
          "[golden]") {
  golden::TempDir dir;
  const auto want = at::randn({64}, at::TensorOptions().dtype(at::kFloat));
  const auto c = write_case(dir.path(), want);
  golden::GoldenOptions bf16;
  bf16.dtype = at::kBFloat16;

  ScaledHandler in_dtype(1.05, true);
  in_dtype.want_ = want;
  CHECK(golden::run_case(c, in_dtype, bf16, false).passed);
  CHECK_FALSE(golden::run_case(c, in_dtype, golden::GoldenOptions{}, false).passed);  // float32: its own tolerances

  ScaledHandler float32_only(1.05, false);
  float32_only.want_ = want;
  CHECK_FALSE(golden::run_case(c, float32_only, bf16, false).passed);

  ScaledHandler far_off(1.5, true);
  far_off.want_ = want;
  CHECK_FALSE(golden::run_case(c, far_off, bf16, false).passed);
}
