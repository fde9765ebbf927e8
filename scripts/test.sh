#!/usr/bin/env bash
# Runs the whole test suite: installs/builds what is missing (scripts/setup.sh --no-demo), runs CTest on the main
# build, then builds the pure C++ layers (entropy/, bitstream/) with AddressSanitizer + UBSan and runs their tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${NVC_BUILD_DIR:-$ROOT/build}
ASAN_BUILD=${NVC_ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=${NVC_JOBS:-$(nproc)}

bash "$ROOT/scripts/setup.sh" --no-demo

echo "== tests (main build)" >&2
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS"

echo "== tests of entropy/ and bitstream/ under AddressSanitizer + UBSan" >&2
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f "$ASAN_BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$ASAN_BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNVC_WITH_TORCH=OFF \
        -DNVC_WITH_FFMPEG=OFF -DNVC_SANITIZE=ON -DNVC_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$ASAN_BUILD" -j "$JOBS" --target test_entropy test_bitstream
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$ASAN_BUILD" --output-on-failure -j "$JOBS" -R '^test_(entropy|bitstream):'
