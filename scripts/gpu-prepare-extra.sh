#!/usr/bin/env bash
# Copies the header-only libraries the GPU machine lacks into gpu-extra/include (git-ignored),
# from this machine's Debian packages, so `run` can carry them.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p gpu-extra/include
cp -r /usr/include/nlohmann gpu-extra/include/
cp -r /usr/include/toml++ gpu-extra/include/ 2>/dev/null || true
du -sh gpu-extra
