#!/usr/bin/env bash
# Builds (if needed) and runs the main job: `scripts/run.sh [sdxl arguments]`.
# With no arguments it lists the installed plugins (image generation comes with the pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >&2
if [ $# -eq 0 ]; then set -- plugins; fi
exec build/bin/sdxl "$@"
