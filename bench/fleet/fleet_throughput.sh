#!/usr/bin/env bash
# Fleet throughput: jobs per second with 1, 2 and 4 local `sdxl worker` processes on the tiny
# demo model, behind a throw-away redis-server on a free loopback port.
#
#   bench/fleet/fleet_throughput.sh [BUILD_DIR] [JOBS] [WORKER_COUNTS…]
#   e.g. bench/fleet/fleet_throughput.sh build 24 1 2 4
#
# Each round starts N workers, warms them up (every worker loads the model with its first job, not
# timed), then times JOBS jobs (64x64, 2 steps) from submission to the last stored result. On a
# machine with few cores the workers compete for the same CPUs: the figure measures the fleet's
# overhead (Redis round trips, result storage, claims), not a speed-up.
set -euo pipefail
BUILD=${1:-build}
JOBS=${2:-24}
shift $(( $# > 2 ? 2 : $# )) || true
COUNTS=${*:-1 2 4}
SDXL=$(cd "$BUILD" && pwd)/bin/sdxl
[ -x "$SDXL" ] || { echo "no $SDXL: build the sdxl target first" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 2; }

WORK=$(mktemp -d /tmp/sdxl-fleet-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${REDIS_PID:-}" ] && kill -9 "$REDIS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
CLI=(redis-cli -p "$PORT")
for _ in $(seq 100); do "${CLI[@]}" ping >/dev/null 2>&1 && break; sleep 0.05; done

job() { printf '{"prompt": "bench %s", "width": 64, "height": 64, "steps": 2, "seed": %s}' "$1" "$1"; }
# Submits ids PREFIX-1..N and waits until all of them have a result.
run_jobs() {
  local prefix=$1 n=$2
  for i in $(seq "$n"); do
    "${CLI[@]}" XADD sdxl:jobs '*' id "$prefix-$i" job "$(job "$i")" >/dev/null
  done
  while :; do
    local done=0
    for i in $(seq "$n"); do done=$((done + $("${CLI[@]}" EXISTS "sdxl:jobs:result:$prefix-$i"))); done
    [ "$done" -ge "$n" ] && break
    sleep 0.05
  done
}

echo "workers jobs seconds jobs_per_s   (tiny demo model, 64x64, 2 steps; $(nproc) CPU cores)"
for N in $COUNTS; do
  "${CLI[@]}" FLUSHALL >/dev/null
  PIDS=()
  for w in $(seq "$N"); do
    # Cores split between workers (THREADS=k overrides). Oversubscribing OpenMP threads on a busy
    # machine slows torch down by orders of magnitude (spinning threads): keep N·threads ≤ cores.
    OMP_NUM_THREADS=${THREADS:-$(( $(nproc) / N > 0 ? $(nproc) / N : 1 ))} \
      "$SDXL" --log-level warn worker --redis "redis://127.0.0.1:$PORT" --consumer "b$N-$w" \
      --heartbeat-ms 200 --block-ms 100 >"$WORK/worker-$N-$w.log" 2>&1 &
    PIDS+=($!)
  done
  # Warm-up: until every worker has finished a job (its model is loaded).
  WARM=0
  while :; do
    WARM=$((WARM + 1))
    run_jobs "warm$N-$WARM" "$N"
    ready=$("${CLI[@]}" --raw EVAL "local n=0 for _,k in ipairs(redis.call('KEYS','sdxl:jobs:worker:*')) do if tonumber(redis.call('HGET',k,'jobs_done') or 0) > 0 then n=n+1 end end return n" 0)
    [ "$ready" -ge "$N" ] && break
    [ "$WARM" -ge 20 ] && { echo "workers did not warm up; see $WORK" >&2; exit 1; }
  done
  START=$(date +%s.%N)
  run_jobs "bench$N" "$JOBS"
  END=$(date +%s.%N)
  python3 -c "t=$END-$START; print(f'{$N:>7} {$JOBS:>4} {t:7.2f} {$JOBS/t:10.2f}')"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
done
