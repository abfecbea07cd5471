// The kl VAE uses the host's faster operations (HostServices::ops, SDK 1.1) for every
// GroupNorm + SiLU, and libtorch wherever the host answers "nothing faster".
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <atomic>

#include "kl_vae.h"
#include "vae_test_support.h"

using namespace vae_test;
using sdxl::vae_kl::KlVae;

namespace {

// Counts the calls; answers either "nothing faster" or a result of its own (zeros), so that a
// use of its answer shows in the picture.
class RecordingOps final : public sdxl::sdk::DeviceOps {
 public:
  explicit RecordingOps(bool answer) : answer_(answer) {}
  at::Tensor group_norm(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight, const at::Tensor&,
                        double, bool silu) const override {
    ++calls;
    if (silu) ++with_silu;
    if (x.size(1) % groups != 0 || weight.numel() != x.size(1)) ++malformed;
    return answer_ ? at::zeros_like(x) : at::Tensor();
  }
  mutable std::atomic<int> calls{0}, with_silu{0}, malformed{0};

 private:
  bool answer_;
};

at::Tensor decode_with(const LoadedWeights& w, const sdxl::sdk::DeviceOps* ops, const at::Tensor& z) {
  sdxl::sdk::HostServices services;
  services.ops = ops;
  KlVae vae({}, services);
  REQUIRE(vae.load(w.set()).ok());
  auto img = vae.decode(z, nullptr);
  REQUIRE(img.ok());
  return img.value();
}

}  // namespace

TEST_CASE("kl decode asks the host's DeviceOps for each GroupNorm + SiLU", "[vae][kl]") {
  if (!have_goldens()) {
    WARN("goldens not found; skipping");
    return;
  }
  const auto w = load_folder(models_dir() / "tiny-sdxl" / "vae");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor z = at::normal(0.0, 1.0, {1, 4, 8, 8}, gen);
  const at::Tensor plain = decode_with(w, nullptr, z);

  RecordingOps declines(false);
  const at::Tensor fallback = decode_with(w, &declines, z);
  CHECK(declines.calls.load() > 0);
  CHECK(declines.with_silu.load() == declines.calls.load());  // the norm + SiLU pairs
  CHECK(declines.malformed.load() == 0);
  CHECK(fallback.equal(plain));  // "nothing faster": libtorch, bit for bit

  RecordingOps answers(true);
  const at::Tensor answered = decode_with(w, &answers, z);
  CHECK(answers.calls.load() == declines.calls.load());
  CHECK_FALSE(answered.equal(plain));  // its answer is what the decoder used
}
