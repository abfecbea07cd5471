#!/usr/bin/env bash
# Fills gpu-extra/ (git-ignored) with what the GPU machine lacks, so `run` can carry it
# (carry: ["gpu-extra"], 64 MiB at most; this comes to about 50):
#   include/   header-only libraries from this machine's Debian packages (nlohmann, toml++)
#   png/       libpng and zlib headers and shared libraries, used by the host build there only
#              when the system has no libpng headers (Debian 12's libraries need glibc ≥ 2.34;
#              the GPU machine runs Ubuntu 24.04 with 2.39)
#   data/      the CLIP vocabulary (third-party data from ../shared/data: carried, never committed)
#              for `sdxl bench`'s single-file checkpoint
#   golden/    the golden files the GPU checks read (the GPU machine does not see ../shared), in
#              ../shared/golden's layout:
#              models/tiny-sdxl/, models/sdxl_full_layouts.json (the full-size load timing),
#              models/cases/ (unet, text encoders, tokenizer, vae, txt2img: the cases issue 10
#              names; ControlNet and TAESD stay behind to keep inside the carry limit),
#              schedulers/*_8.* (every scheduler, the 8-step trajectories)
set -euo pipefail
cd "$(dirname "$0")/.."
GOLDEN=${SDXL_GOLDEN_DIR:-../shared/golden}
X=gpu-extra
rm -rf "$X"
mkdir -p "$X/include" "$X/png/include" "$X/png/lib" "$X/data" "$X/golden/models/cases" "$X/golden/schedulers"
cp -r /usr/include/nlohmann "$X/include/"
cp -r /usr/include/toml++ "$X/include/"
cp -L /usr/include/png.h /usr/include/pngconf.h /usr/include/pnglibconf.h /usr/include/zlib.h /usr/include/zconf.h \
   "$X/png/include/"
lib=/usr/lib/$(gcc -print-multiarch)
cp -L "$lib/libpng16.so.16" "$lib/libz.so.1" "$X/png/lib/"

cp "${SDXL_CLIP_VOCAB:-$GOLDEN/../data/clip/bpe_simple_vocab_16e6.txt.gz}" "$X/data/"
cp -r "$GOLDEN/models/tiny-sdxl" "$X/golden/models/"
cp "$GOLDEN/models/sdxl_full_layouts.json" "$X/golden/models/"
for c in unet text_encoders vae txt2img; do
  cp "$GOLDEN/models/cases/$c.safetensors" "$X/golden/models/cases/"
  [ -f "$GOLDEN/models/cases/$c.json" ] && cp "$GOLDEN/models/cases/$c.json" "$X/golden/models/cases/"
done
cp "$GOLDEN/models/cases/tokenizer.json" "$X/golden/models/cases/"
cp "$GOLDEN"/schedulers/*_8.json "$GOLDEN"/schedulers/*_8.safetensors "$X/golden/schedulers/"
du -sh "$X"
