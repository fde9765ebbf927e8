#!/usr/bin/env python3
"""Rate-distortion harness: nvc against x264, x265 and SVT-AV1 on the same frames, measured by one tool.

    python3 bench/rd.py --clip CLIP [--frames N] [--bpp 0.05,0.1,0.2] [--codecs nvc,x264,x265,x265-medium,svtav1]
                        [--nvc-args "--preset fast --device cpu"] [--out DIR] [--jobs N]
                        [--nvc-curves "ptq=--stages ptq;+ec=--stages all"] [--tensor-table]
    python3 bench/rd.py --ablation --clip CLIP --bpp 0.2 [--nvc-args "..."]

Protocol (bench/README.md has the details):
  * The clip's first N frames (after --seek) become REF = OUT/ref.y4m (yuv420p, cropped to an even size); every codec
    encodes REF and every decoded result is measured against REF with build/bench/nvc_video_compare, the metrics
    code of nvenc --stats and nvdec --ref (PSNR per plane, PSNR-YUV 6:1:1, PSNR-RGB, MS-SSIM on Y; per-frame means).
  * nvc: nvenc REF --bpp B per target, nvdec, measure; bytes = the whole .nvc file. --nvc-curves "NAME=ARGS;..."
    makes several nvc curves ("nvc NAME": --nvc-args plus ARGS), e.g. one per compression stage.
  * x264 / x265 / SVT-AV1 through the ffmpeg CLI, CRF sweeps placed to bracket the nvc targets; bytes = the coded
    video of the elementary stream (SEI / AUD / filler NAL units, AV1 temporal delimiters / metadata / padding OBUs
    and IVF framing left out; --whole-files counts the files instead).
  * rd.csv, rd.md (table + Bjontegaard deltas against x265 veryslow), rd.png, commands.log, logs/; with
    --tensor-table also tensors.md (build/bench/nvc_tensor_bench on the .nvc files of each nvc curve).

The plot needs matplotlib: without it the script re-runs itself in a venv of its own (NVC_BENCH_VENV, default
~/.cache/nvc/bench-venv, created with numpy + matplotlib from PyPI on first use). If that is impossible the CSV,
markdown and BD numbers (bench/bd.py is pure Python) are still written and only the plot is skipped.
"""
import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import bd  # noqa: E402  (bench/bd.py, next to this file)

ANCHOR = "x265"  # BD metrics are taken against x265 veryslow, the papers' reference

# The classic codecs: ffmpeg encoder arguments for one CRF, raw output format, CRF range, a first CRF to try and the
# CRF step that roughly halves the rate (x264/x265: +6 CRF = half the bits; SVT-AV1's 0..63 scale is coarser).
CLASSIC = {
    "x264": dict(label="x264 veryslow", fmt="h264", ext="264", lo=0, hi=51, start=30, halving=6,
                 args=lambda c: ["-c:v", "libx264", "-preset", "veryslow", "-crf", str(c)]),
    "x265": dict(label="x265 veryslow bframes=0", fmt="hevc", ext="hevc", lo=0, hi=51, start=32, halving=6,
                 args=lambda c: ["-c:v", "libx265", "-preset", "veryslow", "-crf", str(c),
                                 "-x265-params", "bframes=0"]),
    "x265-medium": dict(label="x265 medium", fmt="hevc", ext="hevc", lo=0, hi=51, start=32, halving=6,
                        args=lambda c: ["-c:v", "libx265", "-preset", "medium", "-crf", str(c)]),
    "svtav1": dict(label="SVT-AV1 preset 6", fmt="ivf", ext="ivf", lo=1, hi=63, start=40, halving=8,
                   args=lambda c: ["-c:v", "libsvtav1", "-preset", "6", "-crf", str(c)]),
}
ALL_CODECS = ["nvc"] + list(CLASSIC)
LABELS = dict({"nvc": "nvc"}, **{k: v["label"] for k, v in CLASSIC.items()})


def label(codec):
    return LABELS.get(codec, codec)  # nvc curves of --nvc-curves are labelled by their codec name, "nvc NAME"


def is_nvc(codec):
    return codec == "nvc" or codec.startswith("nvc ")

# nvenc variants of the ablation mode: (name, extra nvenc arguments).
ABLATIONS = [("baseline", [])] + [(v, ["--ablation", v]) for v in ("E1", "E2", "E3", "E4", "E5", "D1", "D2", "D3")] \
    + [("compact", ["--block", "compact"])]

CSV_FIELDS = ["codec", "clip", "frames", "width", "height", "target_bpp", "crf", "bytes", "bpp", "psnr_y", "psnr_u",
              "psnr_v", "psnr_yuv", "psnr_rgb", "ms_ssim", "encode_seconds", "file_bytes", "point", "status", "error",
              "stats_psnr_yuv", "stats_ms_ssim", "params"]
ABLATION_FIELDS = ["variant", "nvenc_args", "target_bpp", "status", "bytes", "bpp", "params", "psnr_y", "psnr_yuv",
                   "psnr_rgb", "ms_ssim", "d_psnr_yuv", "d_psnr_rgb", "d_ms_ssim", "encode_seconds", "decode_check",
                   "error"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- the plotting environment --------------------------------------------------------------------------------------

def have_matplotlib():
    try:
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
        return True
    except ImportError:
        return False


def reexec_in_venv():
    """Returns if matplotlib is importable here; otherwise re-runs this script inside the bench venv (creating it
    on first use) and does not return. Returns a reason string when the venv cannot be had."""
    if have_matplotlib():
        return None
    if os.environ.get("NVC_BENCH_IN_VENV"):
        return "matplotlib is not importable inside the bench venv"
    venv = Path(os.environ.get("NVC_BENCH_VENV", "~/.cache/nvc/bench-venv")).expanduser()
    py = venv / "bin" / "python"
    check = [str(py), "-c", "import numpy, matplotlib"]
    if not py.exists() or subprocess.run(check, capture_output=True).returncode != 0:
        log("[rd] setting up %s (numpy, matplotlib from PyPI) for the plot..." % venv)
        try:
            if not py.exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
            r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy",
                                "matplotlib"], capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                last = (r.stderr.strip().splitlines() or ["pip failed"])[-1]
                return "pip install numpy matplotlib into %s failed (%s)" % (venv, last)
        except (subprocess.SubprocessError, OSError) as e:
            detail = getattr(e, "stderr", None) or str(e)
            return "cannot create the venv %s (%s)" % (venv, str(detail).strip().splitlines()[-1:])
    os.environ["NVC_BENCH_IN_VENV"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(str(py), [str(py), str(Path(__file__).resolve())] + sys.argv[1:])


# ---- byte counting -------------------------------------------------------------------------------------------------

# NAL unit types that carry no picture data: H.264 SEI 6, AUD 9, filler 12; HEVC AUD 35, filler 38, SEI 39/40.
# x264 and x265 put their version and full option string in an SEI of the first frame (0.7 and 2.3 kB), which at
# 0.05 bpp on a small clip would be a large share of the rate.
_NON_VCL = {"h264": {6, 9, 12}, "hevc": {35, 38, 39, 40}}
# AV1 OBU types left out: temporal delimiter 2 (the container's job), metadata 5, padding 15.
_AV1_SKIP = {2, 5, 15}


def annexb_coded_bytes(data, fmt):
    """Bytes of the NAL units (with their start codes) of an Annex-B stream, without SEI / AUD / filler."""
    starts = []
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        starts.append(pos)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    if not starts:
        raise ValueError("no start code")
    total = starts[0]  # anything before the first start code (normally nothing)
    for i, s in enumerate(starts):
        begin = s - 1 if s > 0 and data[s - 1] == 0 else s  # 4-byte start codes own their leading zero
        end = len(data) if i + 1 == len(starts) else (starts[i + 1] - 1 if data[starts[i + 1] - 1] == 0
                                                      else starts[i + 1])
        if s + 3 >= len(data):
            continue
        h = data[s + 3]
        nal_type = h & 0x1F if fmt == "h264" else (h >> 1) & 0x3F
        if nal_type not in _NON_VCL[fmt]:
            total += end - begin
    return total


def _leb128(buf, i):
    value, n = 0, 0
    while True:
        if i + n >= len(buf) or n >= 8:
            raise ValueError("bad leb128")
        b = buf[i + n]
        value |= (b & 0x7F) << (7 * n)
        n += 1
        if not b & 0x80:
            return value, n


def ivf_coded_bytes(data):
    """Bytes of the AV1 OBUs in an IVF file: IVF headers (32 + 12 per frame) and temporal delimiters / metadata /
    padding OBUs left out."""
    if data[:4] != b"DKIF":
        raise ValueError("not an IVF file")
    pos = int.from_bytes(data[6:8], "little")
    total = 0
    while pos + 12 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "little")
        pos += 12
        tu = data[pos:pos + size]
        pos += size
        i = 0
        while i < len(tu):
            h = tu[i]
            hl = 1 + ((h >> 2) & 1)
            if (h >> 1) & 1:
                size_, n = _leb128(tu, i + hl)
                obu = hl + n + size_
            else:
                obu = len(tu) - i
            if i + obu > len(tu):
                raise ValueError("OBU runs past its frame")
            if (h >> 3) & 0xF not in _AV1_SKIP:
                total += obu
            i += obu
    return total


def coded_bytes(path, fmt, whole_files):
    data = Path(path).read_bytes()
    if whole_files:
        return len(data)
    return ivf_coded_bytes(data) if fmt == "ivf" else annexb_coded_bytes(data, fmt)


# ---- helpers -------------------------------------------------------------------------------------------------------

class RunError(Exception):
    pass


def y4m_info(path):
    """(width, height, fps string, frames) of a y4m written by ffmpeg (plain 'FRAME\\n' markers)."""
    with open(path, "rb") as f:
        header = f.readline().decode("ascii", "replace").split()
    w = int(next(t[1:] for t in header if t[0] == "W"))
    h = int(next(t[1:] for t in header if t[0] == "H"))
    fps = next((t[1:].replace(":", "/") for t in header if t[0] == "F"), "25/1")
    header_len = len(" ".join(header)) + 1
    frame = 6 + w * h + 2 * (w // 2) * (h // 2)
    size = os.path.getsize(path)
    if (size - header_len) % frame:
        raise RunError("%s: unexpected y4m layout (size %d)" % (path, size))
    return w, h, fps, (size - header_len) // frame


def fmt_num(v, spec):
    return "" if v is None or v == "" else format(v, spec)


def git_describe():
    try:
        sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def ffmpeg_version():
    try:
        return subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


class Harness:
    """One clip: the reference, the runs, the logs."""

    def __init__(self, args, clip, out, mode):
        self.args, self.clip, self.out, self.mode = args, Path(clip), Path(out), mode
        self.out.mkdir(parents=True, exist_ok=True)
        # Per-run tool output; the logs of an earlier run into the same directory are removed (they are appended to).
        self.logdir = self.out / ("logs" if mode == "rd" else "ablation/logs")
        self.logdir.mkdir(parents=True, exist_ok=True)
        for old in self.logdir.glob("*.log"):
            old.unlink()
        self.lock = threading.Lock()
        self.cmdlog = self.out / ("commands.log" if mode == "rd" else "ablation_commands.log")
        with open(self.cmdlog, "w") as f:
            f.write("# %s %s\n# cwd %s\n" % (datetime.datetime.now().isoformat(timespec="seconds"),
                                            shlex.join([sys.executable] + sys.argv), os.getcwd()))
        self.versions = {}

    # Runs cmd, logging the command line to the command log and its output to logs/NAME.log. Returns (stdout,
    # seconds); raises RunError with the last line the tool printed on stderr when it fails.
    def run(self, name, cmd, timeout=None, cwd=None):
        with self.lock, open(self.cmdlog, "a") as f:
            f.write("%s: %s%s\n" % (name, "cd %s && " % shlex.quote(str(cwd)) if cwd else "",
                                    shlex.join(str(c) for c in cmd)))
        t0 = time.monotonic()
        try:
            r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, errors="replace",
                               timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)
        except FileNotFoundError:
            raise RunError("%s: not found" % cmd[0])
        except subprocess.TimeoutExpired:
            raise RunError("%s: timed out after %s s" % (Path(str(cmd[0])).name, timeout))
        seconds = time.monotonic() - t0
        with open(self.logdir / (name + ".log"), "a") as f:
            f.write("$ %s\n%s%s\n[exit %d, %.2f s]\n\n" % (shlex.join(str(c) for c in cmd), r.stdout, r.stderr,
                                                          r.returncode, seconds))
        if r.returncode != 0:
            lines = [l for l in (r.stderr or r.stdout).splitlines() if l.strip()]
            raise RunError(lines[-1].strip() if lines else "%s exited with %d" % (cmd[0], r.returncode))
        return r.stdout, seconds

    def prepare_reference(self):
        a = self.args
        self.ref = self.out / "ref.y4m"
        vf = []
        if a.seek:
            vf.append("trim=start_frame=%d,setpts=PTS-STARTPTS" % a.seek)
        vf.append("crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0")  # drop the last row/column of odd sizes, as nvenc does
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", self.clip, "-map", "0:v:0",
               "-vf", ",".join(vf)]
        if a.frames:
            cmd += ["-frames:v", str(a.frames)]
        cmd += ["-pix_fmt", "yuv420p", "-fps_mode", "passthrough", "-f", "yuv4mpegpipe", self.ref]
        self.run("ref", cmd)
        self.width, self.height, self.fps, self.frames = y4m_info(self.ref)
        if a.frames and self.frames < a.frames:
            log("[rd] note: %s has only %d frames after --seek %d" % (self.clip, self.frames, a.seek))
        self.pixels = self.width * self.height * self.frames
        log("[rd] reference %s: %dx%d, %d frames, %s fps" % (self.ref, self.width, self.height, self.frames, self.fps))

    def measure(self, name, decoded):
        stdout, _ = self.run(name, [self.args.compare, self.ref, decoded, "--json"])
        return json.loads(stdout.strip().splitlines()[-1])

    def base_row(self, codec):
        return dict(codec=codec, clip=self.clip.name, frames=self.frames, width=self.width, height=self.height)

    def fill_quality(self, row, m):
        for k in ("psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "psnr_rgb", "ms_ssim"):
            row[k] = m[k]
        if m.get("frames") != self.frames:
            raise RunError("measured %s frames, the reference has %d" % (m.get("frames"), self.frames))

    # ---- nvc -------------------------------------------------------------------------------------------------------

    def run_nvc(self, target, extra=(), tag=None, codec="nvc"):
        """nvenc + nvdec + nvc_video_compare at one target bpp. Returns a row (status 'ok' or 'failed'); tag (an
        ablation variant, an nvc curve) keeps the file names of different runs at the same target apart."""
        a = self.args
        d = self.out / ("nvc" if self.mode == "rd" else "ablation")
        d.mkdir(exist_ok=True)
        name = "nvc_bpp%g" % target + ("_" + tag if tag else "")
        nvc, stats, dec = d / (name + ".nvc"), d / (name + ".json"), d / (name + ".y4m")
        row = dict(self.base_row(codec), target_bpp=target, point="curve", status="failed", nvc_file=nvc)
        for p in (nvc, stats):
            p.unlink(missing_ok=True)  # a failed run must not report an old file
        try:
            _, secs = self.run(name, [a.nvenc, self.ref, "-o", nvc, "--bpp", "%g" % target, "--stats", stats]
                               + shlex.split(a.nvc_args) + list(extra))
            row["encode_seconds"] = secs
            st = json.loads(stats.read_text())
            row.update(file_bytes=nvc.stat().st_size, bytes=nvc.stat().st_size, params=st.get("params"),
                       stats_psnr_yuv=st.get("psnr_yuv"), stats_ms_ssim=st.get("ms_ssim"))
            row["bpp"] = 8.0 * row["bytes"] / self.pixels
            for k in ("psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "psnr_rgb", "ms_ssim"):
                row["stats_" + k] = st.get(k)
            try:
                self.run(name, [a.nvdec, nvc, "-o", dec])
                self.fill_quality(row, self.measure(name, dec))
                row["decode_check"] = self.check_stats(row, st)
            finally:
                if not a.keep_decoded:
                    dec.unlink(missing_ok=True)
            row["status"] = "ok"
        except (RunError, OSError, ValueError, KeyError) as e:
            row["error"] = str(e)
            if "stats_psnr_yuv" in row and "psnr_yuv" not in row:
                # nvenc worked but the decode check failed: keep nvenc's own numbers, flag the row
                for k in ("psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "psnr_rgb", "ms_ssim"):
                    row[k] = row.get("stats_" + k)
                row["decode_check"] = "failed: " + str(e)
        return row

    @staticmethod
    def check_stats(row, st):
        """nvenc measures what nvdec will output: its stats must agree with the decoded file."""
        problems = []
        if st.get("bytes") is not None and int(st["bytes"]) != row["bytes"]:
            problems.append("stats bytes %s != file %d" % (st["bytes"], row["bytes"]))
        for k, tol in (("psnr_yuv", 0.01), ("psnr_rgb", 0.01), ("ms_ssim", 1e-4)):
            if st.get(k) is not None and abs(st[k] - row[k]) > tol:
                problems.append("%s stats %.4f vs decoded %.4f" % (k, st[k], row[k]))
        if problems:
            log("[rd] WARNING %s bpp %g: %s" % (row["codec"], row["target_bpp"], "; ".join(problems)))
            return "mismatch: " + "; ".join(problems)
        return "ok"

    # ---- classic codecs --------------------------------------------------------------------------------------------

    def run_classic(self, codec, crf):
        a, spec = self.args, CLASSIC[codec]
        d = self.out / codec
        d.mkdir(exist_ok=True)
        name = "%s_crf%d" % (codec, crf)
        stream, dec = d / ("%s.%s" % (name, spec["ext"])), d / (name + ".y4m")
        row = dict(self.base_row(codec), crf=crf, status="failed")
        try:
            stream.unlink(missing_ok=True)
            _, secs = self.run(name, ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i",
                                      self.ref, "-map", "0:v:0"] + spec["args"](crf) + ["-f", spec["fmt"], stream])
            self.note_version(codec, stream, name)
            row["encode_seconds"] = secs
            row["file_bytes"] = stream.stat().st_size
            row["bytes"] = coded_bytes(stream, spec["fmt"], a.whole_files)
            row["bpp"] = 8.0 * row["bytes"] / self.pixels
            try:
                self.run(name, ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", spec["fmt"],
                                "-i", stream, "-pix_fmt", "yuv420p", "-fps_mode", "passthrough",
                                "-f", "yuv4mpegpipe", dec])
                self.fill_quality(row, self.measure(name, dec))
            finally:
                if not a.keep_decoded:
                    dec.unlink(missing_ok=True)
            row["status"] = "ok"
        except (RunError, OSError, ValueError) as e:
            row["error"] = str(e)
        return row

    def note_version(self, codec, stream, name):
        """Encoder versions for rd.md, from the stream's info SEI (x264/x265) or the encoder's log (SVT-AV1)."""
        if codec in self.versions:
            return
        text = stream.read_bytes()[:8192].decode("latin-1")
        m = re.search(r"x264 - core \d+(?: r\d+ \w+)?|x265 \(build \d+\) - [\w.+-]+", text)
        if not m:
            try:
                m = re.search(r"SVT-AV1 Encoder Lib v?[\w.-]+", (self.logdir / (name + ".log")).read_text())
            except OSError:
                m = None
        if m:
            self.versions[codec] = m.group(0)

    def sweep(self, codec, lo_target, hi_target):
        """CRF sweep of one classic codec whose rates bracket [lo_target, hi_target] bpp: first walk CRFs (jumping
        by the CRF distance that halves the rate) until one point is at or above hi_target and one at or below
        lo_target, then take --points evenly spaced CRFs from the one to the other. Those are the curve; the walk's
        other points stay in the CSV as 'probe' rows."""
        spec, a = CLASSIC[codec], self.args
        rows = {}

        def probe(crf):
            crf = max(spec["lo"], min(spec["hi"], int(round(crf))))
            if crf not in rows:
                r = rows[crf] = self.run_classic(codec, crf)
                self.progress(r)
            return rows[crf]

        def ok():
            return {c: r for c, r in rows.items() if r["status"] == "ok"}

        if a.crf.get(codec):
            for c in a.crf[codec]:
                probe(c)
            for r in rows.values():
                r["point"] = "curve"
            return [rows[c] for c in sorted(rows)]

        def halving(good, c, toward):
            """CRF step that halves the rate near c: measured from c's neighbour when there is one."""
            side = [x for x in good if (x > c if toward > 0 else x < c)]
            if side:
                n = min(side) if toward > 0 else max(side)
                octaves = abs(math.log2(good[c]["bpp"] / good[n]["bpp"]))
                if octaves > 0.05:
                    return max(2.0, min(24.0, abs(n - c) / octaves))
            return spec["halving"]

        if probe(spec["start"])["status"] != "ok":
            return list(rows.values())  # the encoder does not work at all: one failure row is enough
        # Walk out to both ends, jumping by the estimated CRF distance (+1 to land just past the target).
        for _ in range(12):  # high-rate end: lower CRF until bpp >= hi_target
            good = ok()
            c = min(good)
            if good[c]["bpp"] >= hi_target or c <= spec["lo"]:
                break
            step = halving(good, c, +1) * math.log2(hi_target / good[c]["bpp"]) + 1
            probe(c - max(1, min(16, round(step))))
        for _ in range(12):  # low-rate end: higher CRF until bpp <= lo_target
            good = ok()
            c = max(good)
            if good[c]["bpp"] <= lo_target or c >= spec["hi"]:
                break
            step = halving(good, c, -1) * math.log2(good[c]["bpp"] / lo_target) + 1
            probe(c + max(1, min(16, round(step))))
        good = ok()
        above = [c for c, r in good.items() if r["bpp"] >= hi_target]
        below = [c for c, r in good.items() if r["bpp"] <= lo_target]
        c_hi_rate = max(above) if above else min(good)
        c_lo_rate = min(below) if below else max(good)
        if not above:
            log("[rd] note: %s reaches only %.4f bpp at crf %d (wanted >= %.4f)" %
                (codec, good[c_hi_rate]["bpp"], c_hi_rate, hi_target))
        if not below:
            log("[rd] note: %s does not go below %.4f bpp at crf %d (wanted <= %.4f)" %
                (codec, good[c_lo_rate]["bpp"], c_lo_rate, lo_target))
        n = max(2, a.points)
        span = c_lo_rate - c_hi_rate
        wanted = sorted({round(c_hi_rate + span * i / (n - 1)) for i in range(n)}) if span > 0 else [c_hi_rate]
        for c in wanted:
            probe(c)
        for c, r in rows.items():  # the curve: evenly spaced CRFs only, so no rate range weighs more in the fits
            r["point"] = "curve" if c in wanted else "probe"
        return [rows[c] for c in sorted(rows)]

    def progress(self, r):
        what = "%s crf %s" % (r["codec"], r["crf"]) if r.get("crf") is not None else \
            "%s bpp %g%s" % (r["codec"], r["target_bpp"], " " + r["variant"] if r.get("variant") else "")
        if r["status"] != "ok":
            log("[rd %s] %s: FAILED: %s" % (self.clip.stem, what, r.get("error")))
        else:
            log("[rd %s] %s: %d B = %.4f bpp, PSNR-YUV %.2f dB, PSNR-RGB %.2f dB, MS-SSIM %.4f, encode %.1f s" %
                (self.clip.stem, what, r["bytes"], r["bpp"], r["psnr_yuv"], r["psnr_rgb"], r["ms_ssim"],
                 r["encode_seconds"]))

    # ---- the RD comparison -----------------------------------------------------------------------------------------

    def rd(self):
        a = self.args
        targets = a.bpp
        lo_t, hi_t = min(targets) / a.margin, max(targets) * a.margin
        tasks = []
        with ThreadPoolExecutor(max_workers=a.jobs) as pool:  # the runs of all nvc curves and codecs in one pool
            for codec in a.codecs:
                if codec == "nvc":
                    for curve in a.nvc_curves:
                        for t in targets:
                            tasks.append(pool.submit(self.nvc_point, t, curve))
                else:
                    tasks.append(pool.submit(self.sweep, codec, lo_t, hi_t))
            rows = [r for t in tasks for r in t.result()]
        order = {c: i for i, c in enumerate(self.codec_order())}
        rows.sort(key=lambda r: (order[r["codec"]], r.get("target_bpp") or 0, r.get("crf") or 0))
        self.write_csv(self.out / "rd.csv", CSV_FIELDS, rows)
        curves = {}
        for r in rows:
            if r["status"] == "ok" and r.get("point") == "curve":
                curves.setdefault(r["codec"], []).append(r)
        bd_rows = self.bd_table(curves)
        plot_note = self.plot(curves, self.out / "rd.png")
        self.write_rd_md(rows, curves, bd_rows, plot_note)
        if a.tensor_table and "nvc" in a.codecs:
            self.tensor_table(rows)
        return rows

    def codec_order(self):
        """Codecs in the order of the tables and the plot: the nvc curves (as given), then the classic codecs."""
        return [c["codec"] for c in self.args.nvc_curves] + list(CLASSIC)

    def nvc_point(self, target, curve):
        r = self.run_nvc(target, shlex.split(curve["args"]), curve["tag"], curve["codec"])
        self.progress(r)
        return [r]

    def tensor_table(self, rows):
        """tensors.md: nvc_tensor_bench (next to nvenc: BUILD/bench/) on the .nvc files of each nvc curve."""
        a = self.args
        tool = Path(a.nvenc).resolve().parent.parent / "bench" / "nvc_tensor_bench"
        L = ["# Tensor classes of the .nvc files: %s" % self.clip.name, "",
             "`%s` on the .nvc files of each nvc curve (in `nvc/`): coded size of each tensor class with nvc's "
             "coder vs zstd -19 on the same symbols vs their order-0 entropy." % tool, ""]
        for curve in a.nvc_curves:
            files = [r["nvc_file"] for r in rows if r["codec"] == curve["codec"] and r.get("nvc_file")
                     and Path(r["nvc_file"]).is_file()]
            L += ["## %s" % curve["codec"], "",
                  "nvenc arguments: `%s`" % (" ".join(x for x in (a.nvc_args, curve["args"]) if x) or "-"), ""]
            if not files:
                L += ["no .nvc file: every nvenc run of this curve failed.", ""]
                continue
            if not os.access(tool, os.X_OK):
                L += ["n/a: %s not found (cmake --build BUILD --target nvc_tensor_bench)." % tool, ""]
                continue
            try:
                stdout, _ = self.run("tensors" + ("_" + curve["tag"] if curve["tag"] else ""),
                                     [tool] + [Path(f).name for f in files], cwd=Path(files[0]).parent)
                L += [stdout.rstrip("\n"), ""]
            except RunError as e:
                L += ["failed: %s" % e, ""]
        if not os.access(tool, os.X_OK):
            log("[rd] warning: %s not found: tensors.md without tables" % tool)
        (self.out / "tensors.md").write_text("\n".join(L))
        log("[rd %s] tensor classes of the .nvc files in %s" % (self.clip.stem, self.out / "tensors.md"))

    def bd_table(self, curves):
        """BD-rate / BD-PSNR (PSNR-YUV) of every codec against x265 veryslow, both interpolations."""
        out = []
        if ANCHOR not in curves:
            return out
        anchor = curves[ANCHOR]
        for codec, pts in curves.items():
            row = dict(codec=codec, points=len(pts))
            for m in bd.METHODS:
                for key, fn in (("rate", bd.bd_rate), ("psnr", bd.bd_psnr)):
                    try:
                        row["%s_%s" % (key, m)] = fn([p["bpp"] for p in anchor], [p["psnr_yuv"] for p in anchor],
                                                     [p["bpp"] for p in pts], [p["psnr_yuv"] for p in pts], m)
                    except bd.NotApplicable as e:
                        row["%s_%s" % (key, m)] = None
                        row.setdefault("why", str(e))
            out.append(row)
        return out

    def plot(self, curves, path):
        if self.args.no_plot:
            return "plot skipped (--no-plot)"
        if not have_matplotlib():
            return "plot skipped: %s" % (self.args.plot_unavailable or "matplotlib is not available")
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
        for codec in self.codec_order():
            pts = sorted(curves.get(codec, []), key=lambda p: p["bpp"])
            if not pts:
                continue
            x = [p["bpp"] for p in pts]
            style = dict(marker="o", linewidth=2.2, markersize=6) if is_nvc(codec) else dict(marker=".",
                                                                                              linewidth=1.3)
            axes[0].plot(x, [p["psnr_yuv"] for p in pts], label=label(codec), **style)
            axes[1].plot(x, [p["ms_ssim"] for p in pts], label=label(codec), **style)
        lo, hi = min(self.args.bpp) / self.args.margin, max(self.args.bpp) * self.args.margin
        for ax, ylabel in zip(axes, ("PSNR-YUV, 6:1:1 (dB)", "MS-SSIM on Y")):
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            ax.set_xlim(0, hi * 1.15)
            ax.axvspan(lo, hi, color="0.93", zorder=0)  # the range the sweeps were asked to cover
        axes[0].legend(loc="lower right", fontsize=9)
        fig.suptitle("%s, %dx%d, %d frames" % (self.clip.name, self.width, self.height, self.frames))
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return None

    def write_csv(self, path, fields, rows):
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: (("%.6g" % v) if isinstance(v, float) else v) for k, v in r.items()})

    def header_md(self, title):
        a = self.args
        lines = ["# %s: %s" % (title, self.clip.name), "",
                 "- clip: `%s`, frames %d..%d (%d frames), %dx%d, %s fps; reference `%s`" %
                 (self.clip, a.seek, a.seek + self.frames - 1, self.frames, self.width, self.height, self.fps,
                  self.ref.name),
                 "- date: %s; commit %s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), git_describe()),
                 "- machine: %s, %d cores (%s)" % (cpu_name(), os.cpu_count() or 0, platform.platform()),
                 "- tools: %s%s" % (ffmpeg_version(), "".join("; " + v for v in sorted(set(self.versions.values())))),
                 "- command: `%s`" % shlex.join(["python3", "bench/rd.py"] + sys.argv[1:]),
                 "- measured with `nvc_video_compare` (per-frame means; identical frames count as 100 dB)"]
        if a.jobs > 1:
            lines.append("- %d runs in parallel: encode times are not comparable to single runs" % a.jobs)
        return lines

    def write_rd_md(self, rows, curves, bd_rows, plot_note):
        a = self.args
        L = self.header_md("RD comparison")
        if "nvc" in a.codecs:
            for curve in a.nvc_curves:
                L.append("- %s: `nvenc REF -o X.nvc --bpp B --stats X.json %s`, bytes = the whole .nvc file" % (
                    curve["codec"], " ".join(x for x in (a.nvc_args, curve["args"]) if x)))
        L.append("- classic codecs: bytes = %s" % (
            "the whole output files" if a.whole_files else
            "coded video only (elementary stream without SEI/AUD/filler NAL units; AV1 OBUs without temporal "
            "delimiters/metadata/padding and without IVF framing); `file_bytes` in rd.csv is the file size"))
        L += ["", "| codec | setting | bytes | bpp | PSNR-Y | PSNR-U | PSNR-V | PSNR-YUV | PSNR-RGB | MS-SSIM | encode s |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            if r["status"] != "ok" or r.get("point") != "curve":
                continue
            setting = "bpp %g" % r["target_bpp"] if is_nvc(r["codec"]) else "crf %d" % r["crf"]
            L.append("| %s | %s | %d | %.4f | %.2f | %.2f | %.2f | %.2f | %.2f | %.4f | %.1f |" % (
                label(r["codec"]), setting, r["bytes"], r["bpp"], r["psnr_y"], r["psnr_u"], r["psnr_v"],
                r["psnr_yuv"], r["psnr_rgb"], r["ms_ssim"], r["encode_seconds"]))
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            L += ["", "Failed runs:", ""]
            for r in failed:
                setting = "bpp %g" % r["target_bpp"] if is_nvc(r["codec"]) else "crf %s" % r.get("crf")
                L.append("- %s %s: %s" % (label(r["codec"]), setting, r.get("error")))
        checked = [r for r in rows if is_nvc(r["codec"]) and r.get("decode_check")]
        mism = [r for r in checked if r["decode_check"] != "ok"]
        for r in mism:
            L.append("- %s bpp %g: nvenc --stats vs decoded file: %s" % (r["codec"], r["target_bpp"],
                                                                        r["decode_check"]))
        if checked and not mism:
            L += ["", "nvenc's --stats agree with the measured decoded files (bytes; PSNR within 0.01 dB) for all "
                  "%d nvc runs." % len(checked)]
        L += ["", "## Bjontegaard deltas against %s (PSNR-YUV, rate in bpp)" % LABELS[ANCHOR], ""]
        if not bd_rows:
            L.append("n/a: no %s curve in this run." % LABELS[ANCHOR])
        else:
            L += ["cubic = least-squares cubic in log-rate (VCEG-M33, needs >= 4 points per curve); pchip = piecewise "
                  "cubic Hermite (JCT-VC/JVET CTC sheets); both integrate over the overlapping range only. Negative "
                  "BD-rate = fewer bits than x265 veryslow for the same PSNR-YUV.", "",
                  "| codec | points | BD-rate cubic | BD-PSNR cubic | BD-rate pchip | BD-PSNR pchip | note |",
                  "|---|---:|---:|---:|---:|---:|---|"]
            pct = lambda v: "n/a" if v is None else "%+.1f %%" % v
            db = lambda v: "n/a" if v is None else "%+.2f dB" % v
            for b in bd_rows:
                L.append("| %s | %d | %s | %s | %s | %s | %s |" % (
                    label(b["codec"]), b["points"], pct(b["rate_cubic"]), db(b["psnr_cubic"]),
                    pct(b["rate_pchip"]), db(b["psnr_pchip"]), b.get("why", "")))
        L += ["", "![RD curves](rd.png)" if plot_note is None else "(%s)" % plot_note, "",
              "Files: rd.csv (every run, also the sweep's probe points and failures), commands.log (every command "
              "line), logs/ (each tool's output)%s." % (
                  ", tensors.md (tensor classes of the .nvc files)" if a.tensor_table and "nvc" in a.codecs else ""),
              ""]
        (self.out / "rd.md").write_text("\n".join(L))
        # The BD table on stderr too: it is the headline.
        for b in bd_rows:
            log("[rd %s] BD vs %s: %-24s cubic %s / %s, pchip %s / %s" % (
                self.clip.stem, ANCHOR, label(b["codec"]),
                "n/a" if b["rate_cubic"] is None else "%+.1f%%" % b["rate_cubic"],
                "n/a" if b["psnr_cubic"] is None else "%+.2f dB" % b["psnr_cubic"],
                "n/a" if b["rate_pchip"] is None else "%+.1f%%" % b["rate_pchip"],
                "n/a" if b["psnr_pchip"] is None else "%+.2f dB" % b["psnr_pchip"]))

    # ---- ablation --------------------------------------------------------------------------------------------------

    def ablation(self):
        a = self.args
        variants = [v for v in ABLATIONS if v[0] in a.variants]
        jobs = []
        with ThreadPoolExecutor(max_workers=a.jobs) as pool:
            for t in a.bpp:
                for vname, flags in variants:
                    jobs.append((t, vname, flags, pool.submit(self.run_nvc, t, flags, vname)))
            rows = []
            for t, vname, flags, fut in jobs:
                r = fut.result()
                r.update(variant=vname, nvenc_args=" ".join(flags))
                self.progress(r)
                rows.append(r)
        for t in a.bpp:
            base = next((r for r in rows if r["target_bpp"] == t and r["variant"] == "baseline"
                         and r["status"] == "ok"), None)
            for r in rows:
                if r["target_bpp"] == t and base and r["status"] == "ok":
                    r["d_psnr_yuv"] = r["psnr_yuv"] - base["psnr_yuv"]
                    r["d_psnr_rgb"] = r["psnr_rgb"] - base["psnr_rgb"]
                    r["d_ms_ssim"] = r["ms_ssim"] - base["ms_ssim"]
        self.write_csv(self.out / "ablation.csv", ABLATION_FIELDS, rows)
        L = self.header_md("Ablation")
        L += ["- every variant: `nvenc REF -o X.nvc --bpp B --stats X.json %s <variant flags>`; quality from the "
              "decoded file (nvdec + nvc_video_compare), delta against the baseline at the same bpp" % a.nvc_args,
              "", "| variant | nvenc flags | target bpp | bytes | bpp | params | PSNR-YUV | PSNR-RGB | MS-SSIM | "
              "d PSNR-YUV | d PSNR-RGB | d MS-SSIM | encode s | decode check |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            if r["status"] != "ok":
                L.append("| %s | %s | %g | failed: %s | | | | | | | | | | |" % (
                    r["variant"], r["nvenc_args"] or "-", r["target_bpp"],
                    str(r.get("error")).replace("|", "\\|")))
                continue
            L.append("| %s | %s | %g | %d | %.4f | %s | %.2f | %.2f | %.4f | %s | %s | %s | %.1f | %s |" % (
                r["variant"], r["nvenc_args"] or "-", r["target_bpp"], r["bytes"], r["bpp"],
                r.get("params") if r.get("params") is not None else "?", r["psnr_yuv"], r["psnr_rgb"], r["ms_ssim"],
                fmt_num(r.get("d_psnr_yuv"), "+.2f"), fmt_num(r.get("d_psnr_rgb"), "+.2f"),
                fmt_num(r.get("d_ms_ssim"), "+.4f"), r["encode_seconds"], r.get("decode_check", "")))
        L.append("")
        text = "\n".join(L)
        (self.out / "ablation.md").write_text(text)
        print(text)
        return rows


# ---- command line --------------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="RD comparison of nvc against x264 / x265 / SVT-AV1 (or an nvenc ablation) on one or more clips.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--clip", action="append", required=True, help="input clip (repeatable); anything ffmpeg reads")
    p.add_argument("--frames", type=int, default=0, help="use the first N frames after --seek (0 = all)")
    p.add_argument("--seek", type=int, default=0, help="skip the first N frames of the clip")
    p.add_argument("--bpp", default=None,
                   help="nvc target bits per pixel, comma-separated; the classic sweeps cover the same range "
                        "(default 0.05,0.1,0.2; 0.2 with --ablation)")
    p.add_argument("--codecs", default=",".join(ALL_CODECS), help="comma-separated subset of " + ",".join(ALL_CODECS))
    p.add_argument("--nvenc", default=str(REPO / "build/apps/nvenc"))
    p.add_argument("--nvdec", default=str(REPO / "build/apps/nvdec"))
    p.add_argument("--compare", default=str(REPO / "build/bench/nvc_video_compare"))
    p.add_argument("--nvc-args", default="", help='extra nvenc arguments, e.g. "--preset fast --device cpu"')
    p.add_argument("--nvc-curves", default=None, metavar="NAME=ARGS;...",
                   help='several nvc curves instead of one, each a codec "nvc NAME" run at every --bpp with '
                        '--nvc-args plus its ARGS, e.g. "ptq=--stages ptq;+prune=--stages prune;+ec=--stages all"')
    p.add_argument("--tensor-table", action="store_true",
                   help="after the run, tensors.md: nvc_tensor_bench (BUILD/bench/, next to nvenc's BUILD/apps/) "
                        "on the .nvc files of each nvc curve")
    p.add_argument("--out", default=None, help="output directory (default build/rd/<clip name>; with several "
                                                "clips, one sub-directory per clip)")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (encode times are then not comparable)")
    p.add_argument("--points", type=int, default=7, help="CRF values per classic curve")
    p.add_argument("--margin", type=float, default=1.25,
                   help="the classic sweeps reach from min(bpp)/margin to max(bpp)*margin")
    p.add_argument("--crf", action="append", default=[], metavar="CODEC=C1,C2,...",
                   help="fixed CRF list for one classic codec instead of the adaptive sweep (repeatable)")
    p.add_argument("--whole-files", action="store_true",
                   help="count the classic codecs' whole output files (info SEI, IVF headers) instead of coded video")
    p.add_argument("--keep-decoded", action="store_true", help="keep the decoded .y4m of every run")
    p.add_argument("--no-plot", action="store_true", help="no rd.png, and no venv set-up for matplotlib")
    p.add_argument("--ablation", action="store_true", help="nvenc ablation at equal file size instead of the RD run")
    p.add_argument("--variants", default=",".join(v for v, _ in ABLATIONS),
                   help="with --ablation: the variants to run")
    a = p.parse_args(argv)

    def fail(msg):
        p.error(msg)

    try:
        a.bpp = [float(x) for x in (a.bpp or ("0.2" if a.ablation else "0.05,0.1,0.2")).split(",") if x.strip()]
    except ValueError:
        fail("--bpp: expected numbers like 0.05,0.1,0.2")
    if not a.bpp or any(not (0 < b < 24) for b in a.bpp):
        fail("--bpp: values must be in (0, 24)")
    a.codecs = [c.strip() for c in a.codecs.split(",") if c.strip()]
    bad = [c for c in a.codecs if c not in ALL_CODECS]
    if bad:
        fail("--codecs: unknown %s (known: %s)" % (",".join(bad), ",".join(ALL_CODECS)))
    crf = {}
    for item in a.crf:
        codec, _, values = item.partition("=")
        if codec not in CLASSIC:
            fail("--crf: unknown codec %r (one of %s)" % (codec, ",".join(CLASSIC)))
        try:
            crf[codec] = [int(v) for v in values.split(",") if v.strip()]
        except ValueError:
            fail("--crf %s: expected integers" % item)
        spec = CLASSIC[codec]
        if not crf[codec] or any(not spec["lo"] <= c <= spec["hi"] for c in crf[codec]):
            fail("--crf %s: values must be in %d..%d" % (item, spec["lo"], spec["hi"]))
    a.crf = crf
    a.variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    known = [v for v, _ in ABLATIONS]
    if any(v not in known for v in a.variants):
        fail("--variants: known variants are " + ",".join(known))
    if a.jobs < 1 or a.points < 2 or a.margin < 1 or a.frames < 0 or a.seek < 0:
        fail("--jobs >= 1, --points >= 2, --margin >= 1, --frames/--seek >= 0")
    try:
        shlex.split(a.nvc_args)
    except ValueError as e:
        fail("--nvc-args: %s" % e)
    # nvc curves: codec name, nvenc arguments after --nvc-args, tag of the file names (None: the plain "nvc" curve)
    curves = []
    if a.nvc_curves is None:
        curves.append(dict(codec="nvc", args="", tag=None))
    else:
        if a.ablation:
            fail("--nvc-curves: not with --ablation (use --variants)")
        if "nvc" not in a.codecs:
            fail("--nvc-curves: needs nvc in --codecs")
        tags = set()
        for item in (x.strip() for x in a.nvc_curves.split(";")):
            if not item:
                continue
            name, eq, args = item.partition("=")
            name, args = name.strip(), args.strip()
            if not eq or not name or any(c.isspace() for c in name):
                fail("--nvc-curves: expected NAME=ARGS items separated by ';' (NAME without spaces), got %r" % item)
            if any(c["codec"] == "nvc " + name for c in curves):
                fail("--nvc-curves: curve %r given twice" % name)
            try:
                shlex.split(args)
            except ValueError as e:
                fail("--nvc-curves %s: %s" % (name, e))
            tag = re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_") or "curve"
            base, n = tag, 1
            while tag in tags:  # e.g. "ec" and "+ec": the file names must stay apart
                n += 1
                tag = "%s_%d" % (base, n)
            tags.add(tag)
            curves.append(dict(codec="nvc " + name, args=args, tag=tag))
        if not curves:
            fail("--nvc-curves: no curve given")
    a.nvc_curves = curves
    if a.tensor_table and (a.ablation or "nvc" not in a.codecs):
        fail("--tensor-table: needs nvc in --codecs, and not with --ablation")
    return a


def main(argv):
    a = parse_args(argv)
    a.plot_unavailable = None
    if not a.ablation and not a.no_plot:
        a.plot_unavailable = reexec_in_venv()  # returns only when matplotlib is here or cannot be had
        if a.plot_unavailable:
            log("[rd] note: %s; rd.csv, rd.md and the BD table are still written, rd.png is skipped"
                % a.plot_unavailable)
    for tool in ("ffmpeg",):
        if not shutil.which(tool):
            log("rd.py: error: %s not found on PATH" % tool)
            return 1
    if not os.access(a.compare, os.X_OK):
        log("rd.py: error: %s not found; build it with: cmake --build build --target nvc_video_compare" % a.compare)
        return 1
    needs_nvc = a.ablation or "nvc" in a.codecs
    if needs_nvc:
        for tool in (a.nvenc, a.nvdec):
            if not os.access(tool, os.X_OK):
                log("rd.py: %s %s not found (build the LibTorch targets): the nvc runs will fail" %
                    ("error:" if a.ablation else "warning:", tool))
                if a.ablation:
                    return 1
    if a.tensor_table:
        tool = Path(a.nvenc).resolve().parent.parent / "bench" / "nvc_tensor_bench"
        if not os.access(tool, os.X_OK):
            log("rd.py: warning: %s not found (cmake --build BUILD --target nvc_tensor_bench): tensors.md will "
                "have no tables" % tool)
    failed_clips = 0
    for clip in a.clip:
        if not Path(clip).is_file():
            log("rd.py: error: %s: no such file" % clip)
            failed_clips += 1
            continue
        stem = Path(clip).stem
        out = Path(a.out) / stem if a.out and len(a.clip) > 1 else Path(a.out or REPO / "build" / "rd" / stem)
        h = Harness(a, clip, out, "ablation" if a.ablation else "rd")
        try:
            h.prepare_reference()
        except RunError as e:
            log("rd.py: error: %s: cannot make the reference: %s" % (clip, e))
            failed_clips += 1
            continue
        rows = h.ablation() if a.ablation else h.rd()
        n_ok = sum(r["status"] == "ok" for r in rows)
        log("[rd %s] %d runs, %d failed; results in %s/%s" % (stem, len(rows), len(rows) - n_ok, out,
                                                             "ablation.md" if a.ablation else "rd.md"))
    return 1 if failed_clips else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
