// The UNet golden case on another device and precision (issue 10: "on CUDA, the tiny-model
// goldens pass in fp32 within the CPU tolerances, with TF32 off, and in fp16/bf16 within
// documented looser tolerances"). Prints one line per precision and exits non-zero on a failure.
//
//   golden_gpu --golden DIR [--device cuda] [--dtypes f32,bf16,f16] [--channels-last 0|1]
//              [--fused-qkv 0|1]
//   DIR: the golden models folder (tiny-sdxl/ and cases/unet.safetensors + unet.json); the GPU
//   machine does not see ../shared, so scripts/gpu-prepare-extra.sh copies just those files.
//
// float32 is compared with the manifest's tolerances (the CPU ones); bfloat16/float16 by relative
// RMS error against the bounds of golden/precision_compare.h, like `sdxl golden check --dtype`.
// --channels-last 1: the UNet computes in NHWC memory order (its convolutions, and on CUDA the
// host's GroupNorm kernels, gpu/group_norm_nhwc.h), against the same bounds.
// --fused-qkv 1: each self-attention's q, k and v in one product ([gpu] fused_qkv).
// This program needs none of toml++/OpenCV, so it runs even where the full host does not build.
#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>

#include "golden/case_files.h"
#include "golden/precision_compare.h"
#include "models/unet/unet_golden.h"

namespace fs = std::filesystem;
using namespace sdxl;

namespace {

c10::ScalarType dtype_of(const std::string& name) {
  return name == "f16" ? at::kHalf : name == "bf16" ? at::kBFloat16 : at::kFloat;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  fs::path dir;
  std::string device = "cuda", dtypes = "f32,bf16,f16";
  bool channels_last = false, fused_qkv = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--golden") dir = v;
    else if (a == "--device") device = v;
    else if (a == "--dtypes") dtypes = v;
    else if (a == "--channels-last") channels_last = v == "1";
    else if (a == "--fused-qkv") fused_qkv = v == "1";
    else return std::cerr << "unknown option " << a << "\n", 2;
  }
  if (dir.empty()) return std::cerr << "--golden DIR is required\n", 2;
  auto full = golden::load_case(dir / "cases" / "unet.safetensors");
  if (!full.ok()) return std::cerr << full.status().message() << "\n", 1;
  // TF32 would change float32 matmuls and convolutions to 10-bit mantissas: off for the check.
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);

  int failures = 0;
  std::stringstream list(dtypes);
  for (std::string name; std::getline(list, name, ',');) {
    golden::GoldenOptions opts;
    opts.model = (dir / "tiny-sdxl").string();
    opts.device = c10::Device(device);
    opts.dtype = dtype_of(name);
    opts.channels_last = channels_last;
    opts.fused_qkv = fused_qkv;
    try {
      auto produced = models::replay_unet_case(full.value(), opts);
      if (!produced.ok()) {
        std::printf("unet %s %s: ERROR %s\n", device.c_str(), name.c_str(), produced.status().message().c_str());
        ++failures;
        continue;
      }
      const bool f32 = opts.dtype == at::kFloat;
      const auto report = f32 ? models::compare_unet_case(full.value(), produced.value())
                              : golden::compare_relative_rms(full.value(), produced.value(), opts.dtype,
                                                             golden::manifest_tensors_with_role(full.value().manifest, "output"));
      std::printf("unet %s %s%s%s%s: %s %s\n", device.c_str(), name.c_str(), channels_last ? " channels-last" : "",
                  fused_qkv ? " fused-qkv" : "", f32 ? " (TF32 off, CPU tolerances)" : "",
                  report.passed ? "PASS" : "FAIL", report.summary.c_str());
      failures += report.passed ? 0 : 1;
    } catch (const std::exception& e) {
      std::printf("unet %s %s: ERROR %s\n", device.c_str(), name.c_str(), e.what());
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
