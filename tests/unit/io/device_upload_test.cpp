// The staged weight upload (io/device_upload.h), run on the CPU with force_staging: the same
// chunking, splitting, ordering and conversion as a GPU upload, with ordinary buffers and
// synchronous copies. What only a GPU shows (pinned buffers, events, the speed) is measured by
// bench_unet --checkpoint on the GPU machine.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "io/device_upload.h"
#include "io/safetensors.h"
#include "test_paths.h"

namespace {

using sdxl::io::UploadOptions;
using sdxl::io::UploadStats;
using sdxl::io::upload_tensors;

std::map<std::string, at::Tensor> mixed_tensors() {
  at::manual_seed(7);
  std::map<std::string, at::Tensor> m;
  m["a.f32"] = at::randn({37, 5});
  m["b.f16.split_over_buffers"] = at::randn({3000}).to(at::kHalf);  // 6000 bytes: several buffers
  m["c.bf16.scalar"] = at::randn({}).to(at::kBFloat16);
  m["d.i64"] = at::arange(7, at::kLong);                          // not floating: keeps its dtype
  m["e.transposed"] = at::randn({6, 9}).t();                     // a view, not contiguous
  m["f.empty"] = at::zeros({0, 4});
  m["g.row_of_a_fused_matrix"] = at::randn({3, 40}).narrow(0, 1, 1);  // offset into its storage
  return m;
}

// The staging path on the CPU (what a GPU upload runs, with ordinary buffers).
UploadOptions forced_staging() {
  UploadOptions o;
  o.force_staging = true;
  return o;
}

UploadOptions tiny_buffers(int threads) {
  UploadOptions o = forced_staging();
  o.staging_bytes = 1000;
  o.staging_buffers = 2;
  o.copy_threads = threads;
  return o;
}

}  // namespace

TEST_CASE("staged upload converts every floating tensor exactly as .to() does", "[io][upload]") {
  const auto in = mixed_tensors();
  std::uint64_t total = 0;
  for (const auto& [_, t] : in) total += t.nbytes();
  for (int threads : {1, 3}) {
    UploadStats stats;
    auto out = upload_tensors(in, c10::Device(c10::kCPU), at::kBFloat16, "mixed", tiny_buffers(threads), &stats);
    REQUIRE(out.ok());
    REQUIRE(out->size() == in.size());
    for (const auto& [name, t] : in) {
      INFO(name << " with " << threads << " threads");
      const at::Tensor& got = out->at(name);
      const auto want_dtype = at::isFloatingType(t.scalar_type()) ? at::kBFloat16 : t.scalar_type();
      CHECK(got.scalar_type() == want_dtype);
      CHECK(got.sizes() == t.sizes());
      CHECK(at::equal(got, t.to(want_dtype)));
    }
    CHECK(stats.staged);
    CHECK(stats.bytes == total);
    CHECK(stats.chunks >= (total + 999) / 1000);  // every byte passed through a 1000-byte buffer
    CHECK(stats.staging_bytes == 2000);           // both buffers, each allocated once
  }
}

TEST_CASE("staged upload without a dtype keeps every tensor's bytes and dtype", "[io][upload]") {
  const auto in = mixed_tensors();
  auto out = upload_tensors(in, c10::Device(c10::kCPU), std::nullopt, "mixed", tiny_buffers(2));
  REQUIRE(out.ok());
  for (const auto& [name, t] : in) {
    INFO(name);
    CHECK(out->at(name).scalar_type() == t.scalar_type());
    CHECK(at::equal(out->at(name), t));
    if (t.numel() > 0) CHECK(out->at(name).data_ptr() != t.data_ptr());  // a copy, not the source
  }
}

TEST_CASE("staged upload splits a large buffer between copy threads", "[io][upload]") {
  // 20 MiB in one 64 MiB buffer: the fill is shared by 4 threads (one per 4 MiB, at most 4).
  at::manual_seed(3);
  std::map<std::string, at::Tensor> in{{"big", at::randn({5 << 20})}, {"small", at::randn({3})}};
  UploadOptions o = forced_staging();
  o.copy_threads = 4;
  UploadStats stats;
  auto out = upload_tensors(in, c10::Device(c10::kCPU), std::nullopt, "big", o, &stats);
  REQUIRE(out.ok());
  CHECK(at::equal(out->at("big"), in.at("big")));
  CHECK(at::equal(out->at("small"), in.at("small")));
  CHECK(stats.chunks == 1);
}

TEST_CASE("staged upload reads views of a mapped checkpoint in file order", "[io][upload]") {
  const auto path = sdxl::test_paths::scratch_dir() / "sdxl_upload_test.safetensors";
  at::manual_seed(5);
  // Written in an order unlike the names' order, so sorting by address is exercised.
  std::vector<std::pair<std::string, at::Tensor>> written{{"z.first", at::randn({300}).to(at::kHalf)},
                                                          {"a.second", at::randn({17, 3})},
                                                          {"m.third", at::randn({1000}).to(at::kBFloat16)}};
  REQUIRE(sdxl::io::write_safetensors(path, written).ok());
  auto file = sdxl::io::SafetensorsFile::open(path);
  REQUIRE(file.ok());
  auto mapped = (*file)->all_tensors();
  REQUIRE(mapped.ok());
  auto out = upload_tensors(*mapped, c10::Device(c10::kCPU), at::kFloat, "file", tiny_buffers(2));
  REQUIRE(out.ok());
  for (const auto& [name, t] : written) {
    INFO(name);
    CHECK(at::equal(out->at(name), t.to(at::kFloat)));
  }
  std::filesystem::remove(path);
}

TEST_CASE("upload to the CPU without staging keeps mapped weights zero-copy", "[io][upload]") {
  std::map<std::string, at::Tensor> in{{"w", at::randn({4, 4})}};
  UploadStats stats;
  auto same = upload_tensors(in, c10::Device(c10::kCPU), at::kFloat, "w", {}, &stats);
  REQUIRE(same.ok());
  CHECK(same->at("w").data_ptr() == in.at("w").data_ptr());
  CHECK_FALSE(stats.staged);
  auto converted = upload_tensors(in, c10::Device(c10::kCPU), at::kBFloat16, "w");
  REQUIRE(converted.ok());
  CHECK(at::equal(converted->at("w"), in.at("w").to(at::kBFloat16)));
}

TEST_CASE("a tensor that cannot be staged makes the upload fall back to plain copies and say why", "[io][upload]") {
  auto in = mixed_tensors();
  // 2^60 floats that share one element: staging needs them contiguous, which no allocator grants;
  // the plain path hands the view on (CPU to CPU, same dtype: no copy).
  in["huge.broadcast"] = at::zeros({1}).expand({std::int64_t(1) << 60});
  UploadStats stats;
  auto out = upload_tensors(in, c10::Device(c10::kCPU), std::nullopt, "mixed", forced_staging(), &stats);
  REQUIRE(out.ok());
  CHECK_FALSE(stats.staged);
  CHECK(stats.fallback.find("staging failed") != std::string::npos);
  CHECK(stats.fallback.find('\n') == std::string::npos);  // one line for the log, not a backtrace
  CHECK(out->at("huge.broadcast").sizes() == in.at("huge.broadcast").sizes());
  for (const auto& [name, t] : mixed_tensors()) {
    INFO(name);
    CHECK(at::equal(out->at(name), t));
  }
}

TEST_CASE("a small upload gets buffers no larger than itself", "[io][upload]") {
  // Pinned memory is precious: 16 bytes to upload must not take two 64 MiB buffers. The staged
  // copy still happens (a fresh tensor), in a single buffer.
  std::map<std::string, at::Tensor> in{{"w", at::arange(4, at::kFloat)}};
  UploadStats stats;
  auto out = upload_tensors(in, c10::Device(c10::kCPU), std::nullopt, "w", forced_staging(), &stats);
  REQUIRE(out.ok());
  CHECK(stats.staged);
  CHECK(stats.chunks == 1);
  CHECK(stats.staging_bytes == 16);
  CHECK(at::equal(out->at("w"), in.at("w")));
  CHECK(out->at("w").data_ptr() != in.at("w").data_ptr());
}
