#!/usr/bin/env bash
# Builds everything and runs every test (unit tests, golden checks, plugin conformance).
# Golden tests read ../shared/golden (CMake setting SDXL_GOLDEN_DIR) and skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh "$@"
jobs=${SDXL_TEST_JOBS:-$(nproc)}
ctest --test-dir build --output-on-failure -j "$jobs"
