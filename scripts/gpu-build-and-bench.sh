#!/usr/bin/env bash
# On the GPU machine (see ../shared/docs/gpu-machine.md): build the model code against the torch
# wheel's libtorch and measure the full-size SDXL UNet (random weights) in fp16/bf16 on CUDA.
# Writes $OUT/results.json, $OUT/log.txt and $OUT/gpu_memory.csv. Finishes in a few minutes.
#
#   OUT=/tmp/out scripts/gpu-build-and-bench.sh
#
# Headers the machine lacks (nlohmann) travel in gpu-extra/include (ignored by git; filled by
# scripts/gpu-prepare-extra.sh on the CPU machine).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
echo "== machine"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
BUILD=${BUILD:-/tmp/sdxl-gpu-build}
echo "== build"
start=$(date +%s)
cmake -G Ninja -S bench/gpu -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
      -DSDXL_EXTRA_INCLUDE="$PWD/gpu-extra/include" -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/cmake.txt" 2>&1 \
  || { tail -40 "$OUT/cmake.txt"; exit 1; }
ninja -C "$BUILD" -j"$(nproc)" bench_unet 2>&1 | tail -30
[ -x "$BUILD/bench_unet" ] || { echo "build failed"; exit 1; }
echo "build seconds: $(( $(date +%s) - start ))"

nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 200 >"$OUT/gpu_memory.csv" 2>/dev/null &
SMI=$!
run() {  # name, then bench arguments
  local name=$1; shift
  echo "== $name: $*"
  timeout 240 "$BUILD/bench_unet" "$@" 2>&1 | tee "$OUT/$name.txt"
}
run unet_f16_1024_b2 --full --device cuda --dtype f16 --size 1024 --batch 2 --iters 10
run unet_f16_512_b2 --full --device cuda --dtype f16 --size 512 --batch 2 --iters 10
run unet_f16_1024_b8 --full --device cuda --dtype f16 --size 1024 --batch 8 --iters 5
run unet_bf16_1024_b2 --full --device cuda --dtype bf16 --size 1024 --batch 2 --iters 10
kill $SMI 2>/dev/null

python3 - "$OUT" <<'PY'
import json, re, sys, pathlib, statistics
out = pathlib.Path(sys.argv[1]); results = {}
for f in sorted(out.glob("unet_*.txt")):
    ms = [float(m.group(1)) for m in re.finditer(r": ([0-9.]+) ms$", f.read_text(), re.M)
          if "warm-up" not in m.group(0)]
    lines = [l for l in f.read_text().splitlines() if " ms" in l and "warm-up" not in l]
    ms = [float(re.search(r": ([0-9.]+) ms", l).group(1)) for l in lines if re.search(r": ([0-9.]+) ms", l)]
    if ms: results[f.stem] = {"ms_median": statistics.median(ms), "ms_min": min(ms), "runs": len(ms)}
mem = [int(l.split(",")[1]) for l in (out / "gpu_memory.csv").read_text().splitlines() if "," in l] \
      if (out / "gpu_memory.csv").exists() else []
results["peak_gpu_memory_mib_any_run"] = max(mem) if mem else None
(out / "results.json").write_text(json.dumps(results, indent=2))
print(json.dumps(results, indent=2))
PY
