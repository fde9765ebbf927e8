#!/usr/bin/env python3
"""Speed benchmarks: fitting throughput and decode frame rates, each compared side by side in one run.

    python3 bench/perf.py [--device auto|cpu|cuda] [--sections fit,paper-fit,decode,cpu-decode,nvp-decode]
                          [--out DIR] [--fit-clip CLIP] [--fit-epochs N] [--decode-frames N] [--nvp-res WxH] [--quick]

Sections (default: all that make sense on the device; bench/README.md has the protocol):
  fit         nvenc --fit-path reference (fp32 eager LibTorch) vs --fit-path fast, and fast + --cuda-graphs on CUDA,
              on the same clip, seed and epochs (--stages ptq: the main fit alone): fit-stage iterations/s, the
              time each takes to reach a fixed training PSNR (0.5 dB below the reference's final one), the final
              training PSNR and the decoded PSNR-YUV.
  paper-fit   (CUDA) the 3.0M configuration on a 1920x960 clip (a real clip resized with nvc_perf upscale), fp32
              eager vs fast: fitting time and the decoded PSNR-YUV each reaches.
  decode      random-weight 3.0m and 9.3m models at 1920x1080 (decode speed does not depend on the weights):
              network frame rate (nvc_perf decode: passes + flow tail + 4:2:0 on the device) for the eager fp32
              baseline and each optimisation added in turn; end-to-end nvdec to /dev/null and to a y4m pipe (nvdec's
              own clock: from the first byte read to the last frame written); and the network rate as a fraction
              of the theoretical limit (decoder FLOPs per frame against the GPU's dense fp16 tensor rate).
  cpu-decode  the CPU decode path at 640x360: the model nvenc would fit to tears_of_steel at 0.1 bpp, and the 3.0m
              paper configuration, decoded by nvdec on the CPU.
  nvp-decode  a random-weight NVP-S (nvc_perf nvp-make) at --nvp-res (default 1920x1080 on CUDA, 640x360 on the
              CPU): decode frame rate of the LibTorch path (nvp_render_frames, fp32) against the fused kernel (fp16,
              CUDA) or the CPU path (CPU), and nvdec end to end to /dev/null; on CUDA against the issue's 60 fps goal
              and the fp16 tensor-core limit.

Writes OUT/perf.json (every measurement) and OUT/perf.md (tables with device, commit, date and this command), and
prints the markdown. Binaries come from --build (default: this checkout's build/).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"

# Dense fp16 tensor-core throughput (fp32 accumulate, no sparsity), TFLOP/s, from the vendors' data sheets. Matched
# in order against the CUDA device name: more specific names first.
PEAK_FP16_TFLOPS = [
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4), ("H200", 989.4), ("GH200", 989.4),
    ("B200", 2250.0), ("A100", 312.0), ("L40S", 362.1), ("L40", 181.0), ("L4", 121.0), ("A10", 125.0),
    ("RTX 4090", 165.2), ("RTX 3090", 71.0), ("V100", 125.0),
]


def peak_tflops(name):
    for key, tf in PEAK_FP16_TFLOPS:
        if key in name:
            return tf
    return None


def fps(x):
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def log(msg):
    print(f"[perf] {msg}", file=sys.stderr, flush=True)


def run(cmd, log_file=None, check=True, **kw):
    log(" ".join(shlex.quote(str(c)) for c in cmd))
    t0 = time.monotonic()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    wall = time.monotonic() - t0
    if log_file:
        with open(log_file, "a") as f:
            f.write(f"$ {' '.join(shlex.quote(str(c)) for c in cmd)}\n{p.stdout}{p.stderr}\n")
    if check and p.returncode != 0:
        sys.exit(f"perf.py: command failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr[-2000:]}")
    return p, wall


def git_commit():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def read_fit_log(path):
    with open(path) as f:
        return [r for r in csv.DictReader(f)]


def time_to_psnr(rows, target):
    """Seconds into the main fit when a progress report first shows a training PSNR >= target (None if never)."""
    for r in rows:
        if r["stage"] == "fit" and float(r["psnr_rgb"]) >= target:
            return float(r["stage_elapsed_s"])
    return None


def nvdec_fps(stderr):
    m = re.search(r"decoded (\d+) frames .* in ([0-9.]+) s \(([0-9.]+) fps\)", stderr)
    return (int(m.group(1)), float(m.group(2)), float(m.group(3))) if m else (0, 0.0, 0.0)


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = Path(args.build)
        self.nvenc = self.build / "apps" / "nvenc"
        self.nvdec = self.build / "apps" / "nvdec"
        self.perf = self.build / "bench" / "nvc_perf"
        for b in (self.nvenc, self.nvdec, self.perf):
            if not b.exists():
                sys.exit(f"perf.py: {b} not found: build first (cmake --build {self.build})")
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.cmdlog = self.out / "commands.log"
        self.results = {}
        self.md = []

    # ---- fitting -------------------------------------------------------------------------------------------------
    def fit_run(self, name, clip, extra, epochs):
        stats = self.out / f"fit-{name}.json"
        flog = self.out / f"fit-{name}.csv"
        cmd = [self.nvenc, clip, "-o", self.out / f"fit-{name}.nvc", "--bpp", str(self.a.fit_bpp), "--preset", "fast",
               "--epochs", str(epochs), "--stages", "ptq", "--seed", "1", "--device", self.a.device,
               "--no-progress", "--stats", stats, "--fit-log", flog] + extra
        _, wall = run(cmd, self.cmdlog)
        s = json.loads(stats.read_text())
        rows = read_fit_log(flog)
        fit_rows = [r for r in rows if r["stage"] == "fit"]
        return dict(name=name, fit_path=s["fit_path"], graphed=s.get("fit_graphed", 0), steps=s["fit_steps"],
                    fit_seconds=s["fit_seconds"], steps_per_s=s["fit_steps_per_s"],
                    final_fit_psnr=float(fit_rows[-1]["psnr_rgb"]) if fit_rows else None,
                    psnr_yuv=s["psnr_yuv"], bpp=s["bpp"], wall=wall, rows=rows, device=s["device"],
                    params=s["params"])

    def section_fit(self):
        clip = self.a.fit_clip
        epochs = self.a.fit_epochs
        variants = [("reference", ["--fit-path", "reference"]), ("fast", ["--fit-path", "fast"])]
        if self.cuda:
            variants.append(("fast+graphs", ["--fit-path", "fast", "--cuda-graphs"]))
        runs = [self.fit_run(n, clip, x, epochs) for n, x in variants]
        ref = runs[0]
        target = ref["final_fit_psnr"] - 0.5
        rows = []
        for r in runs:
            r["time_to_target"] = time_to_psnr(r["rows"], target)
            rows.append(r)
        self.results["fit"] = dict(clip=str(clip), epochs=epochs, target_psnr=target,
                                   runs=[{k: v for k, v in r.items() if k != "rows"} for r in runs])
        t_ref = ref["time_to_target"]
        self.md += [f"### Fitting: {Path(clip).name}, {ref['params']} parameters, {epochs} epochs, {ref['steps']} "
                    f"steps, --bpp {self.a.fit_bpp} --stages ptq, {ref['device']}", "",
                    f"Time to target: the first progress report with a training PSNR-RGB of at least "
                    f"{target:.2f} dB (the reference's final {ref['final_fit_psnr']:.2f} dB minus 0.5).", "",
                    "| path | it/s | speed-up | time to target (s) | speed-up | final training PSNR-RGB | "
                    "decoded PSNR-YUV |", "|---|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            tt = r["time_to_target"]
            self.md.append(
                f"| {r['fit_path']}{' (graphed)' if r['graphed'] else ''} | {r['steps_per_s']:.2f} | "
                f"{r['steps_per_s'] / ref['steps_per_s']:.2f}x | {'-' if tt is None else f'{tt:.1f}'} | "
                f"{'-' if tt is None or not t_ref else f'{t_ref / tt:.2f}x'} | {r['final_fit_psnr']:.2f} | "
                f"{r['psnr_yuv']:.2f} |")
        self.md.append("")

    def section_paper_fit(self):
        clip = self.out / "paper-1920x960.y4m"
        if not clip.exists():
            run([self.perf, "upscale", self.a.paper_clip, "--res", "1920x960", "--frames",
                 str(self.a.paper_frames), "-o", clip], self.cmdlog)
        res = []
        for name, extra in (("reference", ["--fit-path", "reference"]), ("fast", ["--fit-path", "fast"])):
            stats = self.out / f"paper-{name}.json"
            cmd = [self.nvenc, clip, "-o", self.out / f"paper-{name}.nvc", "--config", "3.0m", "--preset", "fast",
                   "--epochs", str(self.a.paper_epochs), "--stages", "ptq", "--seed", "1", "--device",
                   self.a.device, "--no-progress", "--stats", stats] + extra
            run(cmd, self.cmdlog)
            s = json.loads(stats.read_text())
            res.append(dict(name=name, fit_path=s["fit_path"], fit_seconds=s["fit_seconds"],
                            steps_per_s=s["fit_steps_per_s"], psnr_yuv=s["psnr_yuv"], fit_psnr=s["fit_psnr_rgb"],
                            bytes=s["bytes"], params=s["params"]))
        self.results["paper_fit"] = res
        ref = res[0]
        self.md += [f"### Fitting the 3.0M configuration at 1920x960 ({self.a.paper_frames} frames of "
                    f"{Path(self.a.paper_clip).name} resized, {self.a.paper_epochs} epochs, --stages ptq)", "",
                    "| path | fit time (s) | it/s | speed-up | training PSNR-RGB | decoded PSNR-YUV |",
                    "|---|---:|---:|---:|---:|---:|"]
        for r in res:
            self.md.append(f"| {r['fit_path']} | {r['fit_seconds']:.1f} | {r['steps_per_s']:.2f} | "
                           f"{r['steps_per_s'] / ref['steps_per_s']:.2f}x | {r['fit_psnr']:.2f} | "
                           f"{r['psnr_yuv']:.2f} |")
        self.md.append("")

    # ---- decoding ------------------------------------------------------------------------------------------------
    def perf_decode(self, model, device, extra):
        p, _ = run([self.perf, "decode", model, "--device", device, "--repeat", str(self.a.repeat)] + extra,
                   self.cmdlog)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def nvdec_end_to_end(self, model, device):
        p, wall = run([self.nvdec, model, "-o", "/dev/null", "--device", device], self.cmdlog)
        frames, secs, fps_null = nvdec_fps(p.stderr)
        # y4m through a pipe to a reader that discards it (what `nvdec f -o - | ffplay -` pays minus the player).
        t0 = time.monotonic()
        with open(os.devnull, "wb") as sink:
            dec = subprocess.Popen([str(self.nvdec), str(model), "-o", "-", "--device", device], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
            cat = subprocess.Popen(["cat"], stdin=dec.stdout, stdout=sink)
            dec.stdout.close()
            _, err = dec.communicate()
            cat.wait()
        if dec.returncode != 0:
            sys.exit(f"perf.py: nvdec to a pipe failed: {err.decode()[-1000:]}")
        _, _, fps_pipe = nvdec_fps(err.decode())
        with open(self.cmdlog, "a") as f:
            f.write(f"$ {self.nvdec} {model} -o - --device {device} | cat > /dev/null\n{err.decode()}\n")
        return dict(fps_null=fps_null, fps_pipe=fps_pipe, process_wall_s=wall, frames=frames,
                    process_wall_pipe_s=time.monotonic() - t0)

    def section_decode(self):
        dev = self.a.device if self.a.device.startswith("cuda") else ("cuda" if self.cuda else "cpu")
        configs = self.a.decode_configs.split(",")
        variants = [("fp32 eager, reference tail", ["--precision", "fp32", "--graphs", "off", "--tail", "reference"]),
                    ("fp32, fused tail", ["--precision", "fp32", "--graphs", "off"]),
                    ("fp16, fused tail", ["--precision", "fp16", "--graphs", "off"]),
                    ("fp16, fused tail, CUDA graphs (nvdec default)", ["--precision", "fp16", "--graphs", "on"])]
        if not self.cuda:
            variants = variants[:2]
        out = []
        for cfg in configs:
            model = self.out / f"decode-{cfg}-{self.a.decode_res}.nvc"
            if not model.exists():
                run([self.perf, "make", "--config", cfg, "--res", self.a.decode_res, "--frames",
                     str(self.a.decode_frames), "-o", model], self.cmdlog)
            rows = [(name, self.perf_decode(model, dev, extra)) for name, extra in variants]
            e2e = self.nvdec_end_to_end(model, dev)
            out.append(dict(config=cfg, variants=[dict(name=n, **r) for n, r in rows], end_to_end=e2e))
            first = rows[0][1]
            macs = first["decoder_macs_per_frame"]
            peak = peak_tflops(first["device_name"]) if self.cuda else None
            limit = peak * 1e12 / (2.0 * macs) if peak else None
            self.md += [f"### Decoding {cfg} at {first['width']}x{first['height']} ({first['params']} parameters, "
                        f"{2e-9 * macs:.0f} GFLOPs per frame), {first['device_name']}, {first['frames']} frames", "",
                        "| path | network fps | speed-up | to host fps |" + (" % of fp16 limit |" if limit else ""),
                        "|---|---:|---:|---:|" + ("---:|" if limit else "")]
            base = rows[0][1]["network_fps"]
            for name, r in rows:
                line = (f"| {name} ({r['path']}) | {fps(r['network_fps'])} | {r['network_fps'] / base:.2f}x | "
                        f"{fps(r['host_fps'])} |")
                if limit:
                    line += f" {100.0 * r['network_fps'] / limit:.1f}% |"
                self.md.append(line)
            self.md += ["", f"End to end, nvdec's own clock from the first byte read to the last frame written: "
                            f"{fps(e2e['fps_null'])} fps to /dev/null, {fps(e2e['fps_pipe'])} fps as y4m into a pipe "
                            f"(whole processes, start-up included: {e2e['process_wall_s']:.1f} s and "
                            f"{e2e['process_wall_pipe_s']:.1f} s for {e2e['frames']} frames).", ""]
            if limit:
                self.md += [f"Theoretical limit: {peak:.0f} TFLOP/s dense fp16 / {2e-9 * macs:.0f} GFLOPs = "
                            f"{limit:.0f} fps.", ""]
        self.results["decode"] = out

    def section_cpu_decode(self):
        res = "640x360"
        out = []
        probe, _ = run([self.nvenc, "--print-model", "--bpp", "0.1", "--input-res", res, "--frames", "240"],
                       self.cmdlog)
        params = json.loads(probe.stdout)["total_params"]
        for name, extra in (("auto 0.1 bpp (240-frame budget)", ["--config", "auto", "--params", str(params)]),
                            ("3.0m", ["--config", "3.0m"])):
            model = self.out / f"cpu-{name.split()[0]}-{res}.nvc"
            if not model.exists():
                run([self.perf, "make", "--res", res, "--frames", str(self.a.cpu_frames), "-o", model] + extra,
                    self.cmdlog)
            r = self.perf_decode(model, "cpu", [])
            p, _ = run([self.nvdec, model, "-o", "/dev/null", "--device", "cpu"], self.cmdlog)
            _, _, fps = nvdec_fps(p.stderr)
            out.append(dict(name=name, nvdec_fps=fps, **r))
        self.results["cpu_decode"] = out
        self.md += [f"### CPU decoding at {res} ({platform.processor() or platform.machine()}, {os.cpu_count()} "
                    f"cores)", "", "| model | parameters | GFLOPs/frame | path | network fps | nvdec to /dev/null fps |",
                    "|---|---:|---:|---|---:|---:|"]
        for r in out:
            self.md.append(f"| {r['name']} | {r['params']} | {2e-9 * r['decoder_macs_per_frame']:.1f} | {r['path']} "
                           f"| {r['network_fps']:.2f} | {r['nvdec_fps']:.2f} |")
        self.md.append("")

    def section_nvp_decode(self):
        dev = self.a.device if self.a.device.startswith("cuda") else ("cuda" if self.cuda else "cpu")
        res = self.a.nvp_res or ("1920x1080" if self.cuda else "640x360")
        frames = self.a.nvp_frames or (24 if self.cuda else 4)
        model = self.out / f"nvp-s-{res}-{frames}.nvc"
        if not model.exists():
            run([self.perf, "nvp-make", "--config", "nvp-s", "--res", res, "--frames", str(frames), "-o", model],
                self.cmdlog)
        variants = [("LibTorch path, fp32", ["--nvp-path", "reference", "--precision", "fp32"])]
        if self.cuda:
            variants.append(("fused kernel, fp16 (nvdec default)", ["--nvp-path", "fused"]))
        else:
            variants.append(("CPU path, fp32 (nvdec default)", ["--nvp-path", "cpu"]))
        rows = [(name, self.perf_decode(model, dev, extra)) for name, extra in variants]
        p, wall = run([self.nvdec, model, "-o", "/dev/null", "--device", dev], self.cmdlog)
        n, secs, fps_null = nvdec_fps(p.stderr)
        path = re.search(r"\((nvp, [^\n]*), batch", p.stderr)
        self.results["nvp_decode"] = dict(model=str(model), res=res, frames=frames,
                                          variants=[dict(name=k, **r) for k, r in rows],
                                          nvdec=dict(fps_null=fps_null, frames=n, seconds=secs, process_wall_s=wall,
                                                     path=path.group(1) if path else None))
        first = rows[0][1]
        macs = first["decoder_macs_per_frame"]
        peak = peak_tflops(first["device_name"]) if self.cuda else None
        limit = peak * 1e12 / (2.0 * macs) if peak else None
        self.md += [f"### NVP decoding: NVP-S at {first['width']}x{first['height']} (random weights, "
                    f"{first['params']} parameters, {2e-9 * macs:.0f} GFLOPs per frame in the network), "
                    f"{first['device_name']}, {first['frames']} frames", "",
                    "| path | network fps | speed-up | to host fps | self-check error |" +
                    (" % of fp16 limit |" if limit else ""),
                    "|---|---:|---:|---:|---:|" + ("---:|" if limit else "")]
        base = first["network_fps"]
        for name, r in rows:
            err = r.get("check_error", -1)
            line = (f"| {name} ({r['path']}) | {fps(r['network_fps'])} | {r['network_fps'] / base:.2f}x | "
                    f"{fps(r['host_fps'])} | {'-' if err < 0 else f'{err:.1e}'} |")
            if limit:
                line += f" {100.0 * r['network_fps'] / limit:.1f}% |"
            self.md.append(line)
        self.md += ["", f"nvdec to /dev/null (its own clock, file parsing and model load included): {fps(fps_null)} "
                        f"fps for {n} frames ({wall:.1f} s whole process).", ""]
        if self.cuda:
            best = rows[-1][1]["network_fps"]
            self.md += [f"Goal (issue 6): >= 60 fps at 1080p for NVP-S on an H100: "
                        f"{'met' if best >= 60 and first['width'] == 1920 else 'not met'} ({fps(best)} fps)."]
            if limit:
                self.md += [f"Theoretical limit: {peak:.0f} TFLOP/s dense fp16 / {2e-9 * macs:.0f} GFLOPs = "
                            f"{limit:.0f} fps."]
            self.md.append("")

    def main(self):
        self.cuda = self.a.device.startswith("cuda") or (self.a.device == "auto" and has_gpu())
        sections = self.a.sections.split(",") if self.a.sections else (
            ["fit", "paper-fit", "decode", "cpu-decode", "nvp-decode"] if self.cuda else
            ["fit", "cpu-decode", "nvp-decode"])
        header = [f"## Performance run {datetime.date.today().isoformat()}, commit {git_commit()}", "",
                  f"Command: `python3 bench/perf.py {' '.join(shlex.quote(x) for x in sys.argv[1:])}`  ",
                  f"Host: {platform.node()}, {os.cpu_count()} CPU cores; device: "
                  f"{'CUDA' if self.cuda else 'CPU only'}", ""]
        known = {"fit", "paper-fit", "decode", "cpu-decode", "nvp-decode"}
        for s in sections:
            if s not in known:
                sys.exit(f"perf.py: unknown section '{s}' (expected {', '.join(sorted(known))})")
        # Sections that need a clip are skipped, with a note, when it is missing (a GPU machine without ../shared).
        needs = {"fit": [self.a.fit_clip], "paper-fit": [self.a.paper_clip], "decode": [], "cpu-decode": [], "nvp-decode": []}
        for s in sections:
            missing = [c for c in needs[s] if not Path(c).exists()]
            if missing:
                self.md += [f"### {s}: skipped, clip not found: {', '.join(missing)}", ""]
                log(f"{s}: skipped, {missing[0]} not found")
                continue
            getattr(self, "section_" + s.replace("-", "_"))()
            self.write(header)  # after every section: a later failure keeps what was measured
        print(self.write(header))

    def write(self, header):
        text = "\n".join(header + self.md) + "\n"
        (self.out / "perf.md").write_text(text)
        (self.out / "perf.json").write_text(json.dumps(dict(date=datetime.date.today().isoformat(),
                                                            commit=git_commit(), argv=sys.argv[1:],
                                                            results=self.results), indent=1))
        return text


def has_gpu():
    if shutil.which("nvidia-smi"):
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    return Path("/dev/nvidiactl").exists()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ap.add_argument("--sections", default="", help="comma list of fit, paper-fit, decode, cpu-decode, nvp-decode")
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--out", default=str(REPO / "build" / "perf"))
    ap.add_argument("--fit-clip", default=str(DATA / "vtest_192x144_10fps_30f.y4m"))
    ap.add_argument("--fit-bpp", type=float, default=0.1)
    ap.add_argument("--fit-epochs", type=int, default=20)
    ap.add_argument("--paper-clip", default=str(DATA / "vtest_192x144_10fps_30f.y4m"),
                    help="clip resized to 1920x960 for paper-fit (y4m/yuv, or any container with FFmpeg)")
    ap.add_argument("--paper-frames", type=int, default=30)
    ap.add_argument("--paper-epochs", type=int, default=30)
    ap.add_argument("--decode-configs", default="3.0m,9.3m")
    ap.add_argument("--decode-res", default="1920x1080")
    ap.add_argument("--decode-frames", type=int, default=120)
    ap.add_argument("--cpu-frames", type=int, default=12)
    ap.add_argument("--nvp-res", default="", help="nvp-decode size (default 1920x1080 on CUDA, 640x360 on the CPU)")
    ap.add_argument("--nvp-frames", type=int, default=0, help="nvp-decode frames (default 24 on CUDA, 4 on the CPU)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer epochs, frames and repeats (a smoke run)")
    a = ap.parse_args()
    if a.quick:
        a.fit_epochs, a.paper_epochs, a.decode_frames, a.cpu_frames, a.repeat = 4, 4, 24, 4, 1
    Bench(a).main()


if __name__ == "__main__":
    main()
