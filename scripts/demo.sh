#!/usr/bin/env bash
# Demo: encode and decode a real camera clip and print bpp, PSNR and time.
# The clip is the small movie shipped in Debian's python3-hug-doc (MIT; a Lego model, 560x320, 30 fps), fetched
# with apt-get download + dpkg-deb -x into a cache folder (no root needed for this step).
# On a CPU the demo is kept to a few minutes (16 frames, fast preset: 60 epochs); with a CUDA GPU it encodes
# the whole clip with the medium preset.
# Environment: NVC_BUILD_DIR, NVC_DEMO_BPP (default 0.05), NVC_DEMO_FRAMES, NVC_DEMO_PRESET, NVC_DEMO_EPOCHS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${NVC_BUILD_DIR:-$ROOT/build}
CACHE=${NVC_CACHE:-$HOME/.cache/nvc}
OUT=${NVC_DEMO_OUT:-$ROOT/out/demo}
BPP=${NVC_DEMO_BPP:-0.05}
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  FRAMES=${NVC_DEMO_FRAMES:-1000000}; PRESET=${NVC_DEMO_PRESET:-medium}; EPOCHS=${NVC_DEMO_EPOCHS:-}
else
  FRAMES=${NVC_DEMO_FRAMES:-16}; PRESET=${NVC_DEMO_PRESET:-fast}; EPOCHS=${NVC_DEMO_EPOCHS:-}
fi
EXTRA=()
[ -n "$EPOCHS" ] && EXTRA=(--epochs "$EPOCHS")
mkdir -p "$CACHE/clips" "$OUT"

find_clip() { { find "$CACHE/clips/hug-doc" -name movie.mp4 -path '*streaming_movie_server*' 2>/dev/null || true; } | head -n 1; }
CLIP=$(find_clip)
if [ -z "$CLIP" ]; then
  echo "== fetching the demo clip (Debian package python3-hug-doc)" >&2
  tmp=$(mktemp -d)
  chmod 777 "$tmp"  # apt-get download drops privileges to _apt when run as root
  (cd "$tmp" && apt-get download python3-hug-doc >/dev/null)
  dpkg-deb -x "$tmp"/python3-hug-doc_*.deb "$CACHE/clips/hug-doc"
  rm -rf "$tmp"
  CLIP=$(find_clip)
fi
[ -n "$CLIP" ] && [ -f "$CLIP" ] || { echo "demo: movie.mp4 not found in python3-hug-doc" >&2; exit 1; }

echo "== nvenc: $(basename "$CLIP") (up to $FRAMES frames) at $BPP bpp, preset $PRESET ${EPOCHS:+, $EPOCHS epochs}" >&2
start=$(date +%s.%N)
"$BUILD/apps/nvenc" "$CLIP" -o "$OUT/demo.nvc" --bpp "$BPP" --frames "$FRAMES" --preset "$PRESET" "${EXTRA[@]}" \
  --stats "$OUT/demo.json"
mid=$(date +%s.%N)
echo "== nvdec: decoding to $OUT/demo.y4m and measuring against the source" >&2
"$BUILD/apps/nvdec" "$OUT/demo.nvc" -o "$OUT/demo.y4m" --ref "$CLIP"
end=$(date +%s.%N)
"$BUILD/apps/nvdec" "$OUT/demo.nvc" --info
awk -v a="$start" -v b="$mid" -v c="$end" 'BEGIN { printf "time: encode %.1f s, decode %.1f s\n", b - a, c - b }'
echo "play it: $BUILD/apps/nvdec $OUT/demo.nvc -o - | ffplay -"
