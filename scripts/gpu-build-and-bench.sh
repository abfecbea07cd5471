#!/usr/bin/env bash
# On the GPU machine (see ../shared/docs/gpu-machine.md), in one call: build the model code against
# the torch wheel's libtorch (bench/gpu: no toml++/OpenCV/Catch2 needed), check the UNet golden on
# CUDA, and measure the full-size SDXL UNet, VAE, a 30-step 1024² generation (eager and CUDA-graph
# replay) and the fp16 single-file load. Writes $OUT/results.json, $OUT/log.txt, one
# $OUT/<case>.txt per measurement and $OUT/gpu_memory.csv. Designed to finish in about 8 minutes.
#
#   scripts/gpu-prepare-extra.sh                         # on the CPU machine, once
#   run(command="OUT=$OUT scripts/gpu-build-and-bench.sh", carry=["gpu-extra"], timeout_s=590)
#
# QUICK=1 runs only the build, the golden check and one UNet case (a first smoke test).
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
grep -E "SDXL_HAVE_CUDA_GRAPH" "$OUT/cmake.txt"
# -k 0: a target that fails (e.g. the CUDA-graph one against an unexpected torch) leaves the others.
ninja -C "$BUILD" -k 0 -j"$(nproc)" bench_unet golden_gpu bench_generate bench_generate_graph bench_vae_gpu \
  >"$OUT/ninja.txt" 2>&1 || grep -E "error|FAILED" -A3 "$OUT/ninja.txt" | head -40
echo "build seconds: $(( $(date +%s) - start ))"
[ -x "$BUILD/bench_unet" ] || { echo "bench_unet did not build"; exit 1; }

echo "== golden: the tiny UNet on CUDA"
if [ -x "$BUILD/golden_gpu" ] && [ -d gpu-extra/golden ]; then
  timeout 120 "$BUILD/golden_gpu" --golden gpu-extra/golden --device cuda --dtypes f32,bf16,f16 2>&1 | tee "$OUT/golden.txt"
else
  echo "skipped (golden_gpu not built or gpu-extra/golden missing: run scripts/gpu-prepare-extra.sh)"
fi

nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 200 >"$OUT/gpu_memory.csv" 2>/dev/null &
SMI=$!
run() {  # name, seconds, binary, then its arguments
  local name=$1 limit=$2 bin=$3; shift 3
  [ -x "$BUILD/$bin" ] || { echo "== $name: $bin not built"; return; }
  echo "== $name: $bin $*"
  timeout "$limit" "$BUILD/$bin" "$@" 2>&1 | tee "$OUT/$name.txt"
}
run unet_f16_1024_b2 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 2 --iters 10
if [ "${QUICK:-0}" != 1 ]; then
  run unet_f16_512_b2 60 bench_unet --full --device cuda --dtype f16 --size 512 --batch 2 --iters 10
  run unet_f16_1024_b8 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 8 --iters 5
  run generate_f16_1024_30 90 bench_generate --device cuda --dtype f16 --size 1024 --steps 30 --runs 3
  run generate_graph_f16_1024_30 90 bench_generate_graph --device cuda --dtype f16 --size 1024 --steps 30 --runs 3 --graph
  run generate_graph_f16_512_30 60 bench_generate_graph --device cuda --dtype f16 --size 512 --steps 30 --runs 3 --graph
  run vae_bf16 60 bench_vae_gpu --dtype bf16 --size 1024 --iters 5
  run load_f16_checkpoint 120 bench_unet --checkpoint --device cuda --dtype f16 --layouts gpu-extra/golden/sdxl_full_layouts.json
fi
kill $SMI 2>/dev/null

python3 - "$OUT" <<'PY'
import json, re, sys, pathlib, statistics
out = pathlib.Path(sys.argv[1]); results = {}
for f in sorted(out.glob("*.txt")):
    if f.stem in ("log", "cmake", "ninja"): continue
    text = f.read_text()
    lines = [l for l in text.splitlines() if "warm-up" not in l]
    ms = [float(m.group(1)) for l in lines for m in [re.search(r": ([0-9.]+) ms (wall|total)", l)] if m]
    entry = {"lines": [l for l in lines if "ms" in l or "PASS" in l or "FAIL" in l][-6:]}
    if ms: entry.update(ms_median=statistics.median(ms), ms_min=min(ms), runs=len(ms))
    results[f.stem] = entry
mem = [int(l.split(",")[1]) for l in (out / "gpu_memory.csv").read_text().splitlines() if "," in l] \
      if (out / "gpu_memory.csv").exists() else []
results["peak_gpu_memory_mib_any_run"] = max(mem) if mem else None
(out / "results.json").write_text(json.dumps(results, indent=2))
print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "lines"} if isinstance(v, dict) else v
                  for k, v in results.items()}, indent=2))
PY
