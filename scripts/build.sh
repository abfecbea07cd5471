#!/usr/bin/env bash
# Configures and builds into build/ (bin/sdxl, lib/sdxl/plugins/). Installs dependencies first.
# Extra arguments go to CMake's configure step, e.g. scripts/build.sh -DSDXL_WITH_OPENCV=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=${SDXL_BUILD_JOBS:-$(nproc)}
cmake --preset default "$@" >/dev/null
cmake --build build -j "$jobs"
