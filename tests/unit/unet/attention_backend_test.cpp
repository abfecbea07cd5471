// [gpu] attention: names parse both ways, a choice sets libtorch's switches (on libtorch 2.x) and
// the attention still computes the formula through whichever kernel the switches leave; on
// libtorch 1.x every choice but "auto" is refused naming the version it needs.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <torch/csrc/api/include/torch/version.h>

#include <string>

#include "models/common/attention.h"
#include "models/common/attention_backend.h"

using namespace sdxl;
using models::AttentionBackend;

namespace {

constexpr AttentionBackend kAll[] = {AttentionBackend::automatic, AttentionBackend::flash, AttentionBackend::cudnn,
                                     AttentionBackend::efficient, AttentionBackend::math};

// Restores libtorch's switches whatever a test case leaves (they are process-wide).
struct RestoreAutomatic {
  ~RestoreAutomatic() { (void)models::set_attention_backend(AttentionBackend::automatic); }
};

}  // namespace

TEST_CASE("attention backend names round-trip; an unknown one lists the accepted names", "[unet]") {
  for (AttentionBackend b : kAll) {
    auto parsed = models::parse_attention_backend(models::attention_backend_name(b));
    REQUIRE(parsed.ok());
    CHECK(parsed.value() == b);
  }
  auto bad = models::parse_attention_backend("fastest");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("'fastest'") != std::string::npos);
  CHECK(bad.status().message().find("auto, flash, cudnn, efficient or math") != std::string::npos);
  CHECK_FALSE(models::parse_attention_backend("Flash").ok());  // names are exact, as in the TOML schema
}

TEST_CASE("attention backend: a choice sets the switches, or is refused where libtorch has none", "[unet]") {
  RestoreAutomatic restore;
  REQUIRE(models::set_attention_backend(AttentionBackend::automatic).ok());
  CHECK(models::current_attention_backend() == AttentionBackend::automatic);
  at::manual_seed(11);
  auto q = at::randn({2, 9, 16}), k = at::randn({2, 5, 16}), v = at::randn({2, 5, 16});
  const at::Tensor want = models::multi_head_attention_explicit(q, k, v, 2, 1ll << 30);
  for (AttentionBackend b : kAll) {
    CAPTURE(models::attention_backend_name(b));
    const std::string why = models::attention_backend_unsupported(b);
    const auto st = models::set_attention_backend(b);
#if TORCH_VERSION_MAJOR >= 2
    const bool has_cudnn_switch = TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4;
    CHECK(why.empty() == (b != AttentionBackend::cudnn || has_cudnn_switch));
#else
    CHECK(why.empty() == (b == AttentionBackend::automatic));
    if (b != AttentionBackend::automatic) CHECK(why.find("needs libtorch 2.0") != std::string::npos);
#endif
    CHECK(st.ok() == why.empty());
    if (!st.ok()) {
      CHECK(st.message() == why);
      continue;
    }
    CHECK(models::current_attention_backend() == b);
    // Whatever the switches leave on (on the CPU: flash or the math fallback), the same result.
    CHECK(at::allclose(models::multi_head_attention(q, k, v, 2), want, 1e-5, 1e-5));
  }
}
