#!/usr/bin/env python3
"""NVP time-to-quality: the decoded quality after 1, 5 and 10 minutes of fitting (issue 6), one nvenc run per budget.

    python3 bench/time_to_quality.py --clip CLIP [--res 1920x1080] [--frames 48] [--minutes 1,5,10]
                                     [--config nvp-s] [--bpp 1.0] [--grid-coding cabac] [--device cuda]
                                     [--build build] [--out DIR] [--nvc-args "..."]

Each budget is a separate `nvenc --model nvp --fit-seconds 60*M` (the cosine learning-rate schedule spans the budget,
so every point is a finished fit, not a snapshot of a longer one), followed by nvenc's own decode-and-measure of the
file it wrote (PSNR-YUV 6:1:1, PSNR-RGB, MS-SSIM of what nvdec outputs). With --res the clip is first resized with
`nvc_perf upscale` (bicubic, no FFmpeg needed: the GPU machines have none), e.g. the 640x360 tears_of_steel excerpt
to 1920x1080 for the paper's frame size.

Writes OUT/time_to_quality.md and .json (device, commit, date, command) and OUT/commands.log.
Needs a GPU for meaningful numbers (the issue asks for GPU minutes); on a CPU it runs, slowly, with the same output.
"""
import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device_name(device):
    if device.startswith("cuda"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()
            return out[0] if out else "CUDA device"
        except (OSError, subprocess.CalledProcessError):
            return "CUDA device"
    return "CPU, %d cores" % (os.cpu_count() or 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", required=True)
    p.add_argument("--res", default="", help="resize the clip to WxH first (nvc_perf upscale)")
    p.add_argument("--frames", type=int, default=0, help="use at most N frames (0 = all)")
    p.add_argument("--minutes", default="1,5,10")
    p.add_argument("--config", default="nvp-s")
    p.add_argument("--bpp", type=float, default=1.0)
    p.add_argument("--grid-coding", default="cabac")
    p.add_argument("--device", default="cuda")
    p.add_argument("--build", default=str(REPO / "build"))
    p.add_argument("--out", default=str(REPO / "build" / "time_to_quality"))
    p.add_argument("--nvc-args", default="", help="extra nvenc arguments")
    a = p.parse_args()

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    build = Path(a.build)
    nvenc, perf = build / "apps" / "nvenc", build / "bench" / "nvc_perf"
    log_path = out / "commands.log"
    log_path.write_text("")

    def run(cmd):
        with open(log_path, "a") as f:
            f.write(" ".join(shlex.quote(str(c)) for c in cmd) + "\n")
        print("[ttq] " + " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
        subprocess.run([str(c) for c in cmd], check=True)

    clip = Path(a.clip)
    if a.res:
        resized = out / ("clip_%s.y4m" % a.res)
        cmd = [perf, "upscale", clip, "--res", a.res, "-o", resized]
        if a.frames:
            cmd += ["--frames", str(a.frames)]
        run(cmd)
        clip = resized

    rows = []
    for minutes in [float(m) for m in a.minutes.split(",") if m]:
        tag = ("%g" % minutes).replace(".", "_")
        stats = out / ("stats_%smin.json" % tag)
        cmd = [nvenc, clip, "-o", out / ("nvp_%smin.nvc" % tag), "--model", "nvp", "--config", a.config, "--bpp",
               str(a.bpp), "--grid-coding", a.grid_coding, "--device", a.device, "--fit-seconds", str(60 * minutes),
               "--stats", stats, "--no-progress"] + shlex.split(a.nvc_args)
        if a.frames and not a.res:
            cmd += ["--frames", str(a.frames)]
        run(cmd)
        s = json.loads(stats.read_text())
        rows.append(dict(minutes=minutes, fit_seconds=s["fit_seconds"], fit_steps=s["fit_steps"],
                         fit_psnr_rgb=s["fit_psnr_rgb"], bytes=s["bytes"], bpp=s["bpp"], psnr_yuv=s["psnr_yuv"],
                         psnr_rgb=s["psnr_rgb"], ms_ssim=s["ms_ssim"], params=s["params"],
                         width=s["width"], height=s["height"], frames=s["frames"]))

    meta = dict(device=device_name(a.device), commit=git_commit(), date=datetime.date.today().isoformat(),
                command=" ".join(shlex.quote(x) for x in sys.argv), clip=str(a.clip), config=a.config, bpp=a.bpp,
                grid_coding=a.grid_coding)
    (out / "time_to_quality.json").write_text(json.dumps(dict(meta, rows=rows), indent=2) + "\n")
    md = ["# NVP time to quality", "",
          "%s, commit %s, %s. `%s`" % (meta["device"], meta["commit"], meta["date"], meta["command"]), ""]
    if rows:
        r0 = rows[0]
        md += ["Clip %s (%dx%d, %d frames), config %s (%d parameters), --bpp %g, grids %s." % (
            a.clip, r0["width"], r0["height"], r0["frames"], a.config, r0["params"], a.bpp, a.grid_coding), ""]
    md += ["| fit budget | fit s | steps | training PSNR-RGB | bytes | bpp | PSNR-YUV | PSNR-RGB | MS-SSIM |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append("| %g min | %.0f | %d | %.2f | %d | %.4f | %.2f | %.2f | %.4f |" % (
            r["minutes"], r["fit_seconds"], r["fit_steps"], r["fit_psnr_rgb"], r["bytes"], r["bpp"], r["psnr_yuv"],
            r["psnr_rgb"], r["ms_ssim"]))
    (out / "time_to_quality.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
