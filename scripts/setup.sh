#!/usr/bin/env bash
# Sets up a Debian machine for nvc: system packages, LibTorch (pip wheel torch==2.11.0 in a virtual environment
# kept outside the clone and reused), then configures and builds. With no arguments it also runs the demo.
#   bash scripts/setup.sh            install + build + demo
#   bash scripts/setup.sh --no-demo  install + build
# Environment: NVC_VENV (default ~/.cache/nvc/venv), NVC_BUILD_DIR (default ./build), NVC_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DEMO=1
[ "${1:-}" = "--no-demo" ] && RUN_DEMO=0

VENV=${NVC_VENV:-$HOME/.cache/nvc/venv}
BUILD=${NVC_BUILD_DIR:-$ROOT/build}
JOBS=${NVC_JOBS:-$(nproc)}
TORCH_VERSION=2.11.0
APT_PACKAGES=(build-essential cmake ninja-build pkg-config python3 python3-venv libzstd-dev zlib1g-dev libcli11-dev
              catch2 libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg)

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# ---- system packages (only what is missing) ----------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- LibTorch from the pip wheel, in a venv outside the clone -----------------------------------------------------
have_torch() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import torch,sys; sys.exit(0 if torch.__version__.split('+')[0]=='$TORCH_VERSION' else 1)" 2>/dev/null; }
if ! have_torch; then
  log "installing torch==$TORCH_VERSION into $VENV (once; reused afterwards)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION"
fi
TORCH_PREFIX=$("$VENV/bin/python" -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>/dev/null)

# ---- configure + build ------------------------------------------------------------------------------------------
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  log "configuring in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
        -DPython3_EXECUTABLE="$VENV/bin/python" >/dev/null
fi
log "building ($JOBS jobs)"
cmake --build "$BUILD" -j "$JOBS"

[ "$RUN_DEMO" = 1 ] && exec bash "$ROOT/scripts/demo.sh"
exit 0
