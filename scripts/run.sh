#!/usr/bin/env bash
# Builds (if needed) and runs the main job: `scripts/run.sh [sdxl arguments]`.
# With no arguments it generates one image (the built-in demo model when no model is configured).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >&2
if [ $# -eq 0 ]; then set -- generate --prompt "a lighthouse on a cliff at sunset" --out sdxl-demo.png; fi
exec build/bin/sdxl "$@"
