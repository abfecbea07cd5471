#!/usr/bin/env bash
# On the GPU machine (see ../shared/docs/gpu-machine.md), in one call of at most 10 minutes:
#
#   1. builds bench/gpu (the model code only: needs none of toml++/OpenCV/Catch2) and, at the same
#      time, the full host (bin/sdxl and its plugins; OpenCV plugins, server and tests off; toml++,
#      and libpng/zlib where the system lacks them, from gpu-extra/);
#   2. checks the UNet golden on CUDA (golden_gpu: float32 with TF32 off, bfloat16, float16);
#   3. pauses the host build (SIGSTOP) and measures, on a quiet machine: the full-size UNet at
#      1024²/512² batch 2 and 1024² batch 8 (channels-last, the host's default; batch 2 also
#      replayed from a CUDA graph), 30-step generations CUDA-graph replayed, the VAE decode, and
#      the fp16 single-file load; then the levers side by side (NCHW, eager, our kernels off,
#      cuDNN autotuning, flash vs cuDNN attention, cross-attention keys/values per job, q/k/v in one
#      product, the residual LayerNorm kernel, VAE layouts); some calls also run under the Kineto profiler (--profile:
#      GPU time per kernel and per kind of work);
#   4. resumes the host build and, if it finishes in time, runs `sdxl golden check` of the model
#      cases and schedulers on CUDA in float32/bfloat16/float16 (a check that crashes is rerun
#      case by case, and the first crashing case once more with each suspect switched off: our
#      kernels, channels-last, the staged upload, the fused attention kernels) and `sdxl bench` (UNet, VAE, and a 30-step generation from a random fp16
#      single file: load and start → first step).
#
# Every step gets what is left of DEADLINE seconds (default 560), so a slow build skips the last
# steps instead of overrunning the call. The device tool brings back at most 8 files from $OUT, so
# every step writes into a working folder ($W) and, on exit, $OUT receives three: results.json
# (the figures), log.txt (what was printed) and results.tar.gz (every step's output, the build logs,
# gpu_memory.csv and the --profile kernel tables and traces).
#
#   scripts/gpu-prepare-extra.sh                         # on the CPU machine, once
#   run(command="OUT=$OUT scripts/gpu-build-and-bench.sh", carry=["gpu-extra"], timeout_s=590)
#
# QUICK=1: one UNet measurement only. HOST=0: no host build. BENCH=0: host build and checks only.
# ONLY=REGEX: only the measurements whose step name matches (e.g. ONLY='nhwc|libtorch' for the
# levers in a second call).
# The host build (about 165 translation units) may not finish inside the first call; call again
# at once with BENCH=0 while the machine is still warm: ninja resumes in the same $HBUILD.
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
DEADLINE=${DEADLINE:-560}
left() { echo $(( DEADLINE - ($(date +%s) - START) )); }
OUT=${OUT:-$PWD/gpu-out}
W=${W:-/tmp/sdxl-gpu-results}
rm -rf "$W"; mkdir -p "$OUT" "$W"
pack() {  # what comes back: three files in $OUT
  [ -f "$W/results.json" ] && cp "$W/results.json" "$OUT/"
  tar -czf "$OUT/results.tar.gz" -C "$W" . 2>/dev/null
  cp "$W/log.txt" "$OUT/log.txt" 2>/dev/null
}
trap pack EXIT
exec > >(tee "$W/log.txt") 2>&1
X=$PWD/gpu-extra
G=$X/golden
echo "== machine"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
[ -d "$G" ] || echo "gpu-extra/golden missing: run scripts/gpu-prepare-extra.sh here first"
BUILD=${BUILD:-/tmp/sdxl-gpu-build}
HBUILD=${HBUILD:-/tmp/sdxl-host-build}
JOBS=$(nproc)

# ---- 1. builds ---------------------------------------------------------------------------------
HOST_PID=
if [ "${HOST:-1}" = 1 ]; then
  png_args=()
  [ -f /usr/include/png.h ] || png_args+=(-DPNG_PNG_INCLUDE_DIR="$X/png/include" -DPNG_LIBRARY="$X/png/lib/libpng16.so.16")
  [ -f /usr/include/zlib.h ] || png_args+=(-DZLIB_INCLUDE_DIR="$X/png/include" -DZLIB_LIBRARY="$X/png/lib/libz.so.1")
  # The torch wheel ships fmt 12 headers in its include folder, which is searched before
  # /usr/include; the system spdlog (1.12, built with the system fmt 9) does not compile against
  # them. A folder holding only a link to the system fmt, searched first (-I before -isystem),
  # gives the host the fmt its spdlog was built with (torch's fmt users are profiler headers the
  # host does not include).
  FMT_FIRST=$HBUILD-fmt-first
  mkdir -p "$FMT_FIRST"; [ -d /usr/include/fmt ] && ln -sfn /usr/include/fmt "$FMT_FIRST/fmt"
  echo "== host build (background; libpng/zlib carried: ${#png_args[@]} settings)"
  # setsid: its own process group, so the whole build can be paused and resumed. nice: the
  # bench/gpu build, which the measurements wait for, goes first.
  # A configure that fails (say, over our CUDA kernels) is tried once more without them.
  host_cmake="cmake -G Ninja -S . -B '$HBUILD' -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH='$TORCH_PREFIX' \
      -DSDXL_WITH_OPENCV=OFF -DSDXL_WITH_SERVER=OFF -DSDXL_BUILD_TESTS=OFF -DSDXL_BUILD_BENCH=OFF \
      -DSDXL_TOMLPP_INCLUDE_DIR='$X/include' -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CXX_FLAGS='-I$FMT_FIRST -g1' ${png_args[*]}"
  setsid bash -c "{ $host_cmake || $host_cmake -DSDXL_WITH_CUDA_KERNELS=OFF; } && \
    nice -n 10 ninja -C '$HBUILD' -k 0 -j$JOBS" >"$W/host_build.txt" 2>&1 &
  HOST_PID=$!
fi
host_state() { [ -n "$HOST_PID" ] && kill -0 "$HOST_PID" 2>/dev/null && echo running || echo finished; }

if [ "${BENCH:-1}" = 1 ]; then
  echo "== bench/gpu build"
  t=$(date +%s)
  bench_cmake() {
    cmake -G Ninja -S bench/gpu -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
          -DSDXL_EXTRA_INCLUDE="$X/include" -DCMAKE_CUDA_ARCHITECTURES=90 "$@" >>"$W/cmake.txt" 2>&1
  }
  bench_cmake || { echo "configure failed; again without our CUDA kernels"; tail -20 "$W/cmake.txt";
                   bench_cmake -DSDXL_WITH_CUDA_KERNELS=OFF; } || { tail -40 "$W/cmake.txt"; exit 1; }
  grep -E "SDXL_HAVE_|sdxl: " "$W/cmake.txt"
  # All targets (naming one that a failed configure check left out would stop ninja before it
  # starts); -k 0: a target that fails to build (e.g. the CUDA-graph one) leaves the others.
  timeout "$(left)" ninja -C "$BUILD" -k 0 -j"$JOBS" >"$W/ninja.txt" 2>&1 \
    || grep -E "error|FAILED" -A3 "$W/ninja.txt" | head -40
  echo "bench/gpu build seconds: $(( $(date +%s) - t ))"

  echo "== golden: the tiny UNet on CUDA"
  if [ -x "$BUILD/golden_gpu" ]; then
    timeout 120 "$BUILD/golden_gpu" --golden "$G/models" --device cuda --dtypes f32,bf16,f16 2>&1 | tee "$W/golden.txt"
    # Channels-last: the UNet's NHWC path with the host's GroupNorm kernels (gpu/group_norm_nhwc.h;
    # a failed self-check prints its reason here and falls back to libtorch).
    timeout 90 "$BUILD/golden_gpu" --golden "$G/models" --device cuda --dtypes f32,bf16,f16 --channels-last 1 2>&1 \
      | tee "$W/golden_channels_last.txt"
    # [gpu] fused_qkv: each self-attention's q/k/v in one product (stacked weights), channels-last.
    timeout 90 "$BUILD/golden_gpu" --golden "$G/models" --device cuda --dtypes f32,bf16,f16 --channels-last 1 \
      --fused-qkv 1 2>&1 | tee "$W/golden_fused_qkv.txt"
  else
    echo "skipped (golden_gpu not built)"
  fi

  [ "$(host_state)" = running ] && { echo "== host build paused for the measurements"; kill -STOP -- "-$HOST_PID"; }
  nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 200 >"$W/gpu_memory.csv" 2>/dev/null &
  SMI=$!
  run() {  # name, seconds, binary, then its arguments
    local name=$1 limit=$2 bin=$3; shift 3
    [ -z "${ONLY:-}" ] || [[ $name =~ $ONLY ]] || return 0
    [ -x "$BUILD/$bin" ] || { echo "== $name: $bin not built"; return; }
    local budget=$(( $(left) - 220 ))  # keep time for the host: build rest, goldens (reruns too), sdxl bench
    [ "$budget" -gt 20 ] || { echo "== $name: skipped, out of time"; return; }
    [ "$limit" -le "$budget" ] || limit=$budget
    echo "== $name: ${RUN_ENV:-}${RUN_ENV:+ }$bin $*"
    timeout "$limit" env ${RUN_ENV:-} "$BUILD/$bin" "$@" 2>&1 | tee "$W/$name.txt"
  }
  # First the issues' target figures, then the levers side by side: when time runs short
  # (run() keeps 220 s for the host), the levers are what is skipped.
  # Channels-last is the host's default ([gpu] channels_last), so the target figures use it.
  run unet_f16_1024_b2_nhwc 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 2 --iters 10 \
    --channels-last --profile "$W/profile_unet_f16_1024_b2_nhwc"
  if [ "${QUICK:-0}" != 1 ]; then
    # One UNet call replayed from a CUDA graph (launch overhead gone; diffusers' "CUDA-graph replay"),
    # as a job's steps run it: the cross-attentions' keys and values made once, read from the
    # graph's buffers (gpu/unet_graph_inputs.h; the lever ..._graph_kv_per_call below is without).
    run unet_f16_1024_b2_nhwc_graph 60 bench_unet_graph --full --device cuda --dtype f16 --size 1024 --batch 2 \
      --iters 10 --channels-last --graph --context-kv
    run unet_f16_512_b2_nhwc 60 bench_unet --full --device cuda --dtype f16 --size 512 --batch 2 --iters 10 \
      --channels-last --profile "$W/profile_unet_f16_512_b2_nhwc"
    run unet_f16_512_b2_nhwc_graph 60 bench_unet_graph --full --device cuda --dtype f16 --size 512 --batch 2 \
      --iters 10 --channels-last --graph --context-kv
    run unet_f16_1024_b8_nhwc 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 8 --iters 5 \
      --channels-last
    run generate_graph_f16_1024_30_nhwc 90 bench_generate_graph --device cuda --dtype f16 --size 1024 --steps 30 \
      --runs 3 --graph --channels-last --context-kv
    run generate_graph_f16_512_30_nhwc 60 bench_generate_graph --device cuda --dtype f16 --size 512 --steps 30 \
      --runs 3 --graph --channels-last --context-kv
    run vae_bf16 90 bench_vae_gpu --dtype bf16 --size 1024 --iters 5 --tiles 0,64,96,72x128 --profile "$W/profile_vae_bf16"
    run load_f16_checkpoint 120 bench_unet --checkpoint --device cuda --dtype f16 --layouts "$G/models/sdxl_full_layouts.json"
    # Levers. q/k/v in one product ([gpu] fused_qkv): each call times the UNet as it is, then
    # again with the self-attentions' weights stacked, side by side in one process (replayed from a
    # graph, so launches do not hide the GEMM change; and eager at 1024², as a job runs by default).
    run unet_f16_1024_b2_nhwc_graph_fused_qkv 90 bench_unet_graph --full --device cuda --dtype f16 --size 1024 \
      --batch 2 --iters 10 --channels-last --graph --fused-qkv
    run unet_f16_512_b2_nhwc_graph_fused_qkv 60 bench_unet_graph --full --device cuda --dtype f16 --size 512 \
      --batch 2 --iters 10 --channels-last --graph --fused-qkv
    run unet_f16_1024_b2_nhwc_fused_qkv 90 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 2 \
      --iters 10 --channels-last --fused-qkv
    # The residual add + LayerNorm kernel (gpu/residual_layer_norm.h, on in the figures above):
    # the same call without it, to set against unet_f16_1024_b2_nhwc.
    RUN_ENV=SDXL_CUDA_KERNELS_OFF=residual_layer_norm run unet_f16_1024_b2_nhwc_no_residual_norm 60 bench_unet \
      --full --device cuda --dtype f16 --size 1024 --batch 2 --iters 10 --channels-last
    # The attention kernel ([gpu] attention; the figures above are libtorch's own choice,
    # which its profile names): flash and cuDNN side by side, replayed from a graph.
    for attn in flash cudnn; do
      run unet_f16_1024_b2_nhwc_graph_attn_$attn 60 bench_unet_graph --full --device cuda --dtype f16 --size 1024 \
        --batch 2 --iters 10 --channels-last --graph --attention $attn
      run unet_f16_512_b2_nhwc_graph_attn_$attn 60 bench_unet_graph --full --device cuda --dtype f16 --size 512 \
        --batch 2 --iters 10 --channels-last --graph --attention $attn
    done
    # The cross-attentions' keys and values once per job instead of per step (eager: a graph
    # replays them with the rest of the call), the way a job's steps run:
    run unet_f16_1024_b2_nhwc_context_kv 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 2 \
      --iters 10 --channels-last --context-kv
    run unet_f16_512_b2_nhwc_context_kv 60 bench_unet --full --device cuda --dtype f16 --size 512 --batch 2 \
      --iters 10 --channels-last --context-kv
    # ... and replayed with the products inside the graph (as before 2026-11-28), to set against
    # unet_f16_*_nhwc_graph:
    run unet_f16_512_b2_nhwc_graph_kv_per_call 60 bench_unet_graph --full --device cuda --dtype f16 --size 512 \
      --batch 2 --iters 10 --channels-last --graph
    run unet_f16_1024_b2_nhwc_graph_kv_per_call 60 bench_unet_graph --full --device cuda --dtype f16 --size 1024 \
      --batch 2 --iters 10 --channels-last --graph
    # NCHW (channels-last off), eager and with CUDA graphs:
    run unet_f16_1024_b2 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 2 --iters 10 \
      --profile "$W/profile_unet_f16_1024_b2"
    run unet_f16_1024_b8 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 8 --iters 5
    run generate_f16_1024_30_nhwc 90 bench_generate --device cuda --dtype f16 --size 1024 --steps 30 --runs 3 \
      --channels-last
    run generate_graph_f16_1024_30 90 bench_generate_graph --device cuda --dtype f16 --size 1024 --steps 30 --runs 3 --graph
    # Our CUDA kernels off (libtorch's operators only: the fused GEGLU's and NHWC GroupNorm's effect):
    RUN_ENV=SDXL_CUDA_KERNELS=0 run unet_f16_1024_b2_nhwc_libtorch_ops 60 bench_unet --full --device cuda --dtype f16 \
      --size 1024 --batch 2 --iters 10 --channels-last
    run unet_f16_1024_b2_nhwc_cudnn_benchmark 60 bench_unet --full --device cuda --dtype f16 --size 1024 --batch 2 \
      --iters 10 --channels-last --cudnn-benchmark
    run vae_bf16_nhwc 60 bench_vae_gpu --dtype bf16 --size 1024 --iters 5 --tiles 0,96 --channels-last 1 \
      --profile "$W/profile_vae_bf16_nhwc"
    run vae_bf16_nhwc_cudnn_benchmark 60 bench_vae_gpu --dtype bf16 --size 1024 --iters 5 --tiles 0 --channels-last 1 --cudnn-benchmark 1
    run vae_bf16_cudnn_benchmark 60 bench_vae_gpu --dtype bf16 --size 1024 --iters 5 --tiles 0 --cudnn-benchmark 1
    run vae_bf16_nearest 60 bench_vae_gpu --dtype bf16 --size 1024 --iters 5 --tiles 0 --upsample nearest
  fi
  kill $SMI 2>/dev/null
fi

# ---- 4. the host: goldens on CUDA through `sdxl golden check`, then `sdxl bench` -----------------
if [ -n "$HOST_PID" ]; then
  kill -CONT -- "-$HOST_PID" 2>/dev/null
  echo "== waiting for the host build ($(left) s left)"
  while [ "$(host_state)" = running ] && [ "$(left)" -gt 60 ]; do sleep 2; done
  if [ "$(host_state)" = running ]; then
    echo "host build: not finished in time; stopped"; kill -- "-$HOST_PID" 2>/dev/null
  fi
  echo "host build: $(grep -cE '^FAILED' "$W/host_build.txt") failed targets; last lines:"; tail -3 "$W/host_build.txt"
  grep -E "error|FAILED" -A3 "$W/host_build.txt" | head -60 >"$W/host_build_errors.txt"
  SDXL=$HBUILD/bin/sdxl
  if [ -x "$SDXL" ]; then
    name_frames() {  # FILE: a crash report's (util/crash_report.h) frames in it not yet named
      # Frames come as FILE(+0xOFFSET) for the executable and the plugins: name their functions
      # and lines (-g1 above). Each report is named once: only frames after the last naming.
      local from; from=$(grep -n "^== named frames" "$1" | tail -1 | cut -d: -f1)
      local frames; frames=$(tail -n +"$(( ${from:-0} + 1 ))" "$1" | grep -oE "^[^ (]*$HBUILD[^ (]*\(\+0x[0-9a-f]+\)")
      [ -n "$frames" ] || return 0
      echo "== named frames" >>"$1"
      sed -E 's/\(\+(0x[0-9a-f]+)\)$/ \1/' <<<"$frames" \
        | while read -r file offset; do echo "$file $offset:"; addr2line -C -f -i -e "$file" "$offset"; done \
        | tee -a "$1" | head -80
    }
    suspects() {  # name, case, replay|check, then options: rerun a crashing case with one suspect off
      # at a time (our CUDA kernels, channels-last, the staged upload, the fused attention kernels),
      # so that one call says which switch the crash follows, not only where it happened.
      local name=$1 a=$2 how=$3; shift 3
      local suspect env line cfg status
      while IFS='|' read -r suspect env line; do
        local budget=$(( $(left) - 5 )); [ "$budget" -gt 10 ] || break
        cfg=""
        if [ -n "$line" ]; then cfg="$W/suspect_$suspect.toml"; printf '[gpu]\n%s\n' "$line" >"$cfg"; fi
        echo "-- $name, $(basename "$a") with $suspect (${env:-$line})" | tee -a "$W/$name.txt"
        # $env unquoted: empty, or one VAR=value word.
        timeout "$budget" env LIBC_FATAL_STDERR_=1 CUDA_LAUNCH_BLOCKING=1 $env "$SDXL" ${cfg:+--config "$cfg"} \
          golden "$how" "$a" "$@" 2>&1 | tail -8 | tee -a "$W/$name.txt" | grep -vE "^(PASS|run) "
        status=${PIPESTATUS[0]}
        echo "exit status $status ($suspect)" | tee -a "$W/$name.txt"
      done <<'SUSPECTS'
no_cuda_kernels|SDXL_CUDA_KERNELS=0|
nchw||channels_last = false
plain_upload||staged_upload = false
math_attention||attention = "math"
SUSPECTS
    }
    check() {  # name, then `sdxl golden check` arguments
      local name=$1; shift
      local budget=$(( $(left) - 5 ))
      [ "$budget" -gt 10 ] || { echo "== $name: skipped, out of time"; return; }
      echo "== $name"
      # --verbose: each case is named before it runs, so a crash names the case it died in.
      # LIBC_FATAL_STDERR_: glibc's own fatal messages (heap corruption) to stderr, not the tty.
      timeout "$budget" env LIBC_FATAL_STDERR_=1 "$SDXL" golden check "$@" --verbose 2>&1 | tee "$W/$name.txt" | grep -vE "^(PASS|run) "
      local status=${PIPESTATUS[0]}
      echo "exit status $status" | tee -a "$W/$name.txt"
      name_frames "$W/$name.txt"
      # A crash or a timeout hides every case after the one it hit: run each model case in a
      # process of its own (`golden replay`; the schedulers, quick and many, as one folder),
      # kernels launched synchronously so that a CUDA fault is reported by the operation that
      # caused it.
      if [ "$status" -ge 124 ]; then
        local options=() runs=() a suspected=0
        for a in "$@"; do  # the folders come first, then the options
          if [ -d "$a" ] && [ ${#options[@]} -eq 0 ]; then
            if [ "$(basename "$a")" = cases ]; then runs+=("$a"/*.safetensors "$a"/tokenizer.json); else runs+=("$a"); fi
          else options+=("$a"); fi
        done
        for a in "${runs[@]}"; do
          [ -e "$a" ] || continue
          budget=$(( $(left) - 5 )); [ "$budget" -gt 10 ] || break
          echo "-- $name, alone: $(basename "$a")" | tee -a "$W/$name.txt"
          local how=replay; [ -d "$a" ] && how=check
          timeout "$budget" env LIBC_FATAL_STDERR_=1 CUDA_LAUNCH_BLOCKING=1 "$SDXL" golden $how "$a" "${options[@]}" \
            2>&1 | tail -40 | tee -a "$W/$name.txt" | grep -vE "^(PASS|run) "
          local alone=${PIPESTATUS[0]}
          echo "exit status $alone" | tee -a "$W/$name.txt"
          name_frames "$W/$name.txt"
          # The first crashing case only: the others most likely share its cause, and time is short.
          if [ "$alone" -ge 124 ] && [ "$suspected" = 0 ]; then suspected=1; suspects "$name" "$a" "$how" "${options[@]}"; fi
        done
      fi
    }
    check host_golden_f32 "$G/models/cases" "$G/schedulers" --model "$G/models/tiny-sdxl" \
      --clip-vocab "$X/data/bpe_simple_vocab_16e6.txt.gz" --device cuda --dtype float32
    check host_golden_bf16 "$G/models/cases" --model "$G/models/tiny-sdxl" \
      --clip-vocab "$X/data/bpe_simple_vocab_16e6.txt.gz" --device cuda --dtype bfloat16
    check host_golden_f16 "$G/models/cases" --model "$G/models/tiny-sdxl" \
      --clip-vocab "$X/data/bpe_simple_vocab_16e6.txt.gz" --device cuda --dtype float16
    budget=$(( $(left) - 5 ))
    if [ "$budget" -gt 30 ]; then
      echo "== host_bench: sdxl bench (unet, vae, generate from a random fp16 single file) on CUDA fp16"
      # The generation's decode runs under a 2 GiB cap (issue 8): its log names the tile chosen.
      timeout "$budget" "$SDXL" --config bench/gpu/vae-cap-2gib.toml bench --device cuda --dtype f16 \
        --parts unet,vae,generate --iters 10 \
        --layouts "$G/models/sdxl_full_layouts.json" --clip-vocab "$X/data/bpe_simple_vocab_16e6.txt.gz" \
        >"$W/host_bench.json" 2>"$W/host_bench_log.txt"; cat "$W/host_bench.json"
    fi
  else
    echo "bin/sdxl not built: see host_build_errors.txt"
  fi
fi

python3 - "$W" <<'PY'
import json, re, sys, pathlib, statistics
out = pathlib.Path(sys.argv[1]); results = {}
for f in sorted(out.glob("*.txt")):
    if f.stem in ("log", "cmake", "ninja", "host_build", "host_build_errors", "host_bench_log"): continue
    text = f.read_text()
    lines = [l for l in text.splitlines() if "warm-up" not in l]
    def times(ls): return [float(m.group(1)) for l in ls for m in [re.search(r": ([0-9.]+) ms (wall|total)", l)] if m]
    # bench_unet --fused-qkv times the same calls again with q/k/v in one product: its own median.
    fused = times([l for l in lines if "(fused q/k/v)" in l])
    ms = times([l for l in lines if "(fused q/k/v)" not in l])
    profile = [l for l in lines if l.startswith("profile ")]
    lines = [l for l in lines if not l.startswith("profile ")]
    entry = {"lines": [l for l in lines if "ms" in l or "PASS" in l or "FAIL" in l or "passed" in l][-6:]}
    if profile: entry["profile"] = profile
    if ms: entry.update(ms_median=statistics.median(ms), ms_min=min(ms), runs=len(ms))
    if fused and ms:
        entry.update(fused_qkv_ms_median=statistics.median(fused), fused_qkv_ms_min=min(fused),
                     fused_qkv_ratio=statistics.median(fused) / statistics.median(ms))
    results[f.stem] = entry
bench = out / "host_bench.json"
if bench.exists() and bench.read_text().strip():
    try: results["host_bench"] = json.loads(bench.read_text())
    except ValueError: results["host_bench"] = {"unparsed": bench.read_text()[-2000:]}
mem = []
for l in ((out / "gpu_memory.csv").read_text().splitlines() if (out / "gpu_memory.csv").exists() else []):
    try: mem.append(int(l.split(",")[1]))
    except (IndexError, ValueError): pass  # a partial line where nvidia-smi was stopped
results["peak_gpu_memory_mib_any_run"] = max(mem) if mem else None
(out / "results.json").write_text(json.dumps(results, indent=2))
print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("lines", "profile")} if isinstance(v, dict) else v
                  for k, v in results.items()}, indent=2))
PY
echo "total seconds: $(( $(date +%s) - START ))"
