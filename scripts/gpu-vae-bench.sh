#!/usr/bin/env bash
# On the GPU machine: the full SDXL VAE decode at 1024² (bf16 and fp16, untiled and tiled 64/16)
# through the kl plugin's code. Writes $OUT/vae_*.txt and $OUT/vae_gpu_memory.csv.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
BUILD=${BUILD:-/tmp/sdxl-gpu-build}
cmake -G Ninja -S bench/gpu -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
      -DSDXL_EXTRA_INCLUDE="$PWD/gpu-extra/include" >"$OUT/cmake.txt" 2>&1 || { tail -30 "$OUT/cmake.txt"; exit 1; }
ninja -C "$BUILD" -j"$(nproc)" bench_vae_gpu 2>&1 | tail -5
for dt in bf16 f16; do
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 >"$OUT/vae_gpu_memory_$dt.csv" 2>/dev/null &
  SMI=$!
  timeout 200 "$BUILD/bench_vae_gpu" --dtype $dt --size 1024 --iters 5 2>&1 | tee "$OUT/vae_$dt.txt"
  kill $SMI 2>/dev/null
  echo "peak GPU MiB (whole process, both modes): $(sort -n "$OUT/vae_gpu_memory_$dt.csv" | tail -1)"
done
