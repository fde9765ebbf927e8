#!/usr/bin/env bash
# Build, test and benchmark nvc on a lent GPU machine (the device tool), which has nvcc, CMake, ninja and python3 with
# torch 2.11.0 but no package registry, no pkg-config, no FFmpeg and no ../shared.
#
#   bash scripts/device.sh prepare     here: .deps/ (Debian packages to unpack there) and .clips/ (y4m test clips)
#   bash scripts/device.sh run [what]  there, with carry [".deps", ".clips"]: unpack into .deps/prefix, configure
#                                      (FFmpeg off), build, then `what` (default "test perf"):
#                                        test  the [cuda] tests and the fast-path and NVP tests of test_codec
#                                        perf  python3 bench/perf.py on the GPU, results copied to $OUT/perf
#                                        all   the whole CTest suite
#                                        ttq-start  NVP time to quality (bench/time_to_quality.py, NVP-S on the
#                                              tears clip resized to 1920x1080, 1, 5 and 10 minutes of fitting) in
#                                              the background: 16+ minutes, more than one device call may run
#                                        ttq-wait   wait (up to 9 minutes) for it; copies what is done to $OUT/ttq
#                                              (call again while it is still running)
#
# Example (device tool): command "bash scripts/device.sh run test perf", carry [".deps", ".clips"].
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEPS=$ROOT/.deps
CLIPS=$ROOT/.clips
PACKAGES=(libcli11-dev catch2 libzstd-dev libzstd1 zlib1g-dev zlib1g)

log() { printf '== %s\n' "$*" >&2; }

prepare() {
  mkdir -p "$DEPS" "$CLIPS"
  log "downloading ${PACKAGES[*]} into $DEPS"
  (cd "$DEPS" && apt-get download "${PACKAGES[@]}" 2>/dev/null)
  local data=${NVC_DATA:-$ROOT/../shared/data}
  log "clips from $data into $CLIPS"
  cp "$data/vtest_192x144_10fps_30f.y4m" "$CLIPS/"
  # 48 frames of a 640x360 live-action clip (~16 MB as y4m), resized on the device for the paper-size fit.
  ffmpeg -v error -y -i "$data/tears_of_steel.mp4" -frames:v 48 -pix_fmt yuv420p -f yuv4mpegpipe \
    "$CLIPS/tears_640x360_48f.y4m"
  du -sh "$DEPS" "$CLIPS" >&2
}

run() {
  local what=("$@")
  [ ${#what[@]} -eq 0 ] && what=(test perf)
  local prefix=$DEPS/prefix
  mkdir -p "$prefix"
  for deb in "$DEPS"/*.deb; do dpkg -x "$deb" "$prefix"; done
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:$prefix/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  local torch_prefix
  torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  local build=$ROOT/build-gpu
  log "configure ($build)"
  cmake -S "$ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNVC_WITH_FFMPEG=OFF \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr;$prefix/usr/lib/x86_64-linux-gnu/cmake" \
    -DCMAKE_INCLUDE_PATH="$prefix/usr/include" \
    -DCMAKE_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu;$prefix/lib/x86_64-linux-gnu" \
    -DPython3_EXECUTABLE="$(command -v python3)" >/dev/null
  log "build"
  cmake --build "$build" -j "$(nproc)"
  nvidia-smi -L || true
  for w in "${what[@]}"; do
    case "$w" in
      test)
        "$build/tests/codec/test_codec" "[cuda],[fit_speed],[decode_speed],[flow_tail],[nvp],[nvp_lookup]" ;;
      all)
        (cd "$build" && ctest -j "$(nproc)" --output-on-failure) ;;
      perf)
        python3 bench/perf.py --device cuda --build "$build" --out "$build/perf" \
          --fit-clip "$CLIPS/vtest_192x144_10fps_30f.y4m" --paper-clip "$CLIPS/tears_640x360_48f.y4m" \
          ${NVC_PERF_ARGS:-}
        if [ -n "${OUT:-}" ]; then mkdir -p "$OUT/perf" && cp "$build"/perf/*.md "$build"/perf/*.json \
          "$build"/perf/commands.log "$OUT/perf/"; fi ;;
      ttq-start)
        mkdir -p "$build/ttq"
        nohup python3 bench/time_to_quality.py --clip "$CLIPS/tears_640x360_48f.y4m" --res 1920x1080 \
          --config nvp-s --bpp "${NVC_TTQ_BPP:-1.0}" --minutes "${NVC_TTQ_MINUTES:-1,5,10}" --device cuda \
          --build "$build" --out "$build/ttq" >"$build/ttq/run.log" 2>&1 &
        echo $! >"$build/ttq/pid"
        log "time to quality running in the background (pid $(cat "$build/ttq/pid")); follow with: run ttq-wait" ;;
      ttq-wait)
        local pid
        pid=$(cat "$build/ttq/pid")
        for _ in $(seq 1 540); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        if kill -0 "$pid" 2>/dev/null; then log "still running"; else log "done"; fi
        tail -20 "$build/ttq/run.log" >&2
        if [ -n "${OUT:-}" ]; then mkdir -p "$OUT/ttq" && cp "$build"/ttq/*.md "$build"/ttq/*.json "$build"/ttq/*.log \
          "$OUT/ttq/" 2>/dev/null || true; fi ;;
      *) echo "device.sh: unknown step '$w' (test, all, perf, ttq-start, ttq-wait)" >&2; exit 2 ;;
    esac
  done
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: bash scripts/device.sh prepare | run [test] [perf] [all] [ttq-start] [ttq-wait]" >&2; exit 2 ;;
esac
