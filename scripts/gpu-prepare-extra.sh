#!/usr/bin/env bash
# Fills gpu-extra/ (git-ignored) with what the GPU machine lacks, so `run` can carry it
# (carry: ["gpu-extra"], 64 MiB at most):
#   include/   header-only libraries from this machine's Debian packages (nlohmann, toml++)
#   golden/    the golden files the GPU checks read (the GPU machine does not see ../shared):
#              tiny-sdxl/unet (+ model_index.json), cases/unet.{json,safetensors},
#              sdxl_full_layouts.json (for the full-size checkpoint load timing)
set -euo pipefail
cd "$(dirname "$0")/.."
GOLDEN=${SDXL_GOLDEN_DIR:-../shared/golden}/models
mkdir -p gpu-extra/include gpu-extra/golden/tiny-sdxl gpu-extra/golden/cases
cp -r /usr/include/nlohmann gpu-extra/include/
cp -r /usr/include/toml++ gpu-extra/include/ 2>/dev/null || true
cp -r "$GOLDEN/tiny-sdxl/unet" "$GOLDEN/tiny-sdxl/model_index.json" gpu-extra/golden/tiny-sdxl/
cp "$GOLDEN/cases/unet.json" "$GOLDEN/cases/unet.safetensors" gpu-extra/golden/cases/
cp "$GOLDEN/sdxl_full_layouts.json" gpu-extra/golden/
du -sh gpu-extra
