#!/usr/bin/env bash
# The host against libtorch 2.x on the CPU, without a GPU: builds it in a Debian sid root (whose
# libtorch-dev is a 2.x CPU build, with a newer g++ and CMake than Debian 12's) and replays the
# goldens there in float32 and bfloat16. Code behind `TORCH_VERSION_MAJOR >= 2` (the SDPA paths of
# the text encoders and the UNet) otherwise runs only on the GPU machine; this checks it, and the
# newer toolchain's errors and warnings, on this machine. A development check, not part of CI.
#
#   sudo scripts/torch2-cpu-check.sh            # root: debootstrap, chroot and mounts need it
#
# SID_ROOT   where the sid root lives (default /var/tmp/sdxl-sid; made once, about 1.5 GB with the
#            packages, and reused)
# SDXL_GOLDEN_DIR, SDXL_CLIP_VOCAB   as for the tests (default ../shared/golden and its vocabulary)
# DTYPES     default "float32 bfloat16"
# Exit status: 0 when the host builds and every golden case passes.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SID_ROOT=${SID_ROOT:-/var/tmp/sdxl-sid}
GOLDEN=$(realpath "${SDXL_GOLDEN_DIR:-../shared/golden}")
VOCAB=$(realpath "${SDXL_CLIP_VOCAB:-$GOLDEN/../data/clip/bpe_simple_vocab_16e6.txt.gz}")
[ "$(id -u)" = 0 ] || { echo "torch2-cpu-check: run as root (debootstrap, chroot, mount)" >&2; exit 2; }
[ -d "$GOLDEN/models/cases" ] || { echo "torch2-cpu-check: no goldens at $GOLDEN" >&2; exit 2; }

# Sid's Release file may be older than apt's validity window on a mirror snapshot.
APT="apt-get -q -o Acquire::Check-Valid-Until=false"
if [ ! -x "$SID_ROOT/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  debootstrap --variant=minbase sid "$SID_ROOT" http://deb.debian.org/debian
fi
cp /etc/resolv.conf "$SID_ROOT/etc/resolv.conf"

# The repository and the goldens at the same paths inside the root, so paths need no translation.
mounts=()
unmount() { for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[$i]}" 2>/dev/null || true; done; }
trap unmount EXIT
bind() {  # a folder of this machine at the same path under the root
  mkdir -p "$SID_ROOT$1"
  mountpoint -q "$SID_ROOT$1" || { mount --bind "$1" "$SID_ROOT$1"; mounts+=("$SID_ROOT$1"); }
}
mountpoint -q "$SID_ROOT/proc" || { mount -t proc proc "$SID_ROOT/proc"; mounts+=("$SID_ROOT/proc"); }
bind "$REPO"
bind "$GOLDEN"
bind "$(dirname "$VOCAB")"

chroot "$SID_ROOT" bash -c "$APT update && DEBIAN_FRONTEND=noninteractive $APT install -y --no-install-recommends \
  g++ cmake ninja-build ccache libtorch-dev libboost-dev libtomlplusplus-dev libspdlog-dev nlohmann-json3-dev \
  libpng-dev zlib1g-dev pkg-config" >"$SID_ROOT/apt.log" 2>&1 || { tail -20 "$SID_ROOT/apt.log"; exit 1; }
chroot "$SID_ROOT" bash -c 'echo "libtorch $(dpkg-query -W -f="\${Version}" libtorch-dev), $(g++ --version | head -1)"'

# OpenCV, the server and the tests are left out, as on the GPU machine (sid's Catch2 is v3).
chroot "$SID_ROOT" bash -c "cd '$REPO' && export CCACHE_DIR=/ccache CCACHE_BASEDIR='$REPO' && \
  cmake -G Ninja -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DSDXL_WITH_OPENCV=OFF -DSDXL_WITH_SERVER=OFF -DSDXL_BUILD_TESTS=OFF -DSDXL_BUILD_BENCH=OFF >/build-cmake.log 2>&1 \
  || { tail -30 /build-cmake.log; exit 1; }; ninja -C /build -j$(nproc) >/build.log 2>&1 \
  || { grep -E 'error|FAILED' -A3 /build.log | head -60; exit 1; }; grep -c 'warning:' /build.log | sed 's/^/warnings: /'"

status=0
for dtype in ${DTYPES:-float32 bfloat16}; do
  echo "== sdxl golden check, $dtype"
  chroot "$SID_ROOT" /build/bin/sdxl golden check "$GOLDEN/models/cases" "$GOLDEN/schedulers" \
    --model "$GOLDEN/models/tiny-sdxl" --clip-vocab "$VOCAB" --dtype "$dtype" | grep -vE "^PASS" || status=1
done
exit $status
