// nvc_video_compare: quality of a distorted video against a reference, with nvc's own metrics (codec/video/metrics.h,
// the code behind nvenc --stats and nvdec --ref), so that nvc and the classic codecs of the RD harness (bench/rd.py)
// are measured by one implementation.
//
//   nvc_video_compare REF DIST [--frames N] [--json] [--per-frame] [--input-res WxH]
//
// Prints the per-frame mean of PSNR-Y, -U, -V, PSNR-YUV (6:1:1), PSNR-RGB and MS-SSIM (on Y). Identical frames
// count as 100 dB (the cap of metrics.h), so the output never contains inf. Exit codes: 0 ok, 1 the inputs cannot be
// read or do not match (one error line), 2 usage error.
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "codec/video/metrics.h"
#include "codec/video/video_io.h"

namespace video = nvc::video;

namespace {

constexpr const char* kProgram = "nvc_video_compare";

struct Args {
  std::string ref, dist, input_res;
  int64_t frames = -1;
  bool json = false, per_frame = false;
};

std::string size_str(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

void print_notes(const std::string& path, const video::VideoFormat& f) {
  for (const std::string& n : f.notes) std::fprintf(stderr, "%s: note: %s: %s\n", kProgram, path.c_str(), n.c_str());
}

// Counts the frames left in r (to name both counts in the mismatch error); stops at limit (-1: no limit).
int64_t drain(video::FrameReader& r, video::Frame& scratch, int64_t limit) {
  int64_t n = 0;
  while ((limit < 0 || n < limit) && r.read(scratch)) ++n;
  return n;
}

int run(const Args& a) {
  video::ReaderOptions ro;
  ro.max_frames = a.frames;
  if (!a.input_res.empty()) {
    // Only raw .yuv inputs use it; the other readers take the size from the file.
    const size_t x = a.input_res.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument("");
      ro.input_width = std::stoi(a.input_res.substr(0, x));
      ro.input_height = std::stoi(a.input_res.substr(x + 1));
    } catch (const std::exception&) {
      throw std::invalid_argument("--input-res: expected WxH, got '" + a.input_res + "'");
    }
  }
  // Frames are streamed (two at a time in memory) rather than read with read_all: the harness compares full-HD clips.
  auto ref = video::open_reader(a.ref, ro);
  auto dist = video::open_reader(a.dist, ro);
  const video::VideoFormat& rf = ref->format();
  const video::VideoFormat& df = dist->format();
  if (rf.width != df.width || rf.height != df.height)
    throw std::runtime_error("size mismatch: " + a.ref + " is " + size_str(rf.width, rf.height) + ", " + a.dist +
                             " is " + size_str(df.width, df.height));

  // RGB for PSNR-RGB uses the reference's matrix and range, as nvenc does with its input.
  video::MetricsAccumulator acc;
  video::Frame fr, fd;
  int64_t n = 0;
  for (;;) {
    const bool got_r = ref->read(fr);
    const bool got_d = dist->read(fd);
    if (!got_r || !got_d) {
      if (got_r != got_d) {
        // One input ended first: count what is left of the other so the error names both totals.
        const int64_t left = a.frames < 0 ? -1 : a.frames - n - 1;
        const int64_t rest = 1 + drain(got_r ? *ref : *dist, got_r ? fr : fd, left);
        const int64_t nr = n + (got_r ? rest : 0), nd = n + (got_d ? rest : 0);
        throw std::runtime_error("frame count mismatch: " + a.ref + " has " + std::to_string(nr) + " frames, " +
                                 a.dist + " has " + std::to_string(nd) +
                                 (a.frames >= 0 ? " (counting at most --frames " + std::to_string(a.frames) + ")"
                                                : std::string()));
      }
      break;
    }
    if (fr.width != fd.width || fr.height != fd.height)  // a container whose size changes mid-stream
      throw std::runtime_error("size mismatch at frame " + std::to_string(n) + ": " + size_str(fr.width, fr.height) +
                               " vs " + size_str(fd.width, fd.height));
    const video::QualityMetrics m = video::frame_metrics(fr, fd, rf.matrix, rf.full_range);
    if (a.per_frame)
      std::fprintf(a.json ? stderr : stdout,
                   "frame %lld: PSNR-Y %.4f, PSNR-U %.4f, PSNR-V %.4f, PSNR-YUV %.4f, PSNR-RGB %.4f, MS-SSIM %.6f\n",
                   static_cast<long long>(n), m.psnr_y, m.psnr_u, m.psnr_v, m.psnr_yuv, m.psnr_rgb, m.ms_ssim);
    acc.add(m);
    ++n;
  }
  print_notes(a.ref, rf);
  print_notes(a.dist, df);
  if (n == 0) throw std::runtime_error("no frames to compare in " + a.ref + " and " + a.dist);

  const video::QualityMetrics m = acc.mean();
  if (a.json) {
    std::printf(
        "{\"psnr_y\": %.6f, \"psnr_u\": %.6f, \"psnr_v\": %.6f, \"psnr_yuv\": %.6f, \"psnr_rgb\": %.6f, "
        "\"ms_ssim\": %.8f, \"frames\": %zu, \"width\": %d, \"height\": %d}\n",
        m.psnr_y, m.psnr_u, m.psnr_v, m.psnr_yuv, m.psnr_rgb, m.ms_ssim, acc.count(), rf.width, rf.height);
  } else {
    std::printf(
        "PSNR-Y %.4f dB, PSNR-U %.4f dB, PSNR-V %.4f dB, PSNR-YUV %.4f dB, PSNR-RGB %.4f dB, MS-SSIM %.6f "
        "(%zu frames %s)\n",
        m.psnr_y, m.psnr_u, m.psnr_v, m.psnr_yuv, m.psnr_rgb, m.ms_ssim, acc.count(),
        size_str(rf.width, rf.height).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"nvc_video_compare: PSNR (Y, U, V, YUV 6:1:1, RGB) and MS-SSIM of DIST against REF", kProgram};
  app.add_option("ref", a.ref, "Reference video (y4m, raw .yuv, '-' or any FFmpeg container)")->required();
  app.add_option("dist", a.dist, "Distorted video, same size and frame count")->required();
  app.add_option("--frames", a.frames, "Compare the first N frames only")
      ->check(CLI::Range(int64_t(1), int64_t(100000000)));
  app.add_option("--input-res", a.input_res, "Size of raw .yuv inputs without WxH in the file name");
  app.add_flag("--json", a.json, "Print one JSON object (psnr_y, psnr_u, psnr_v, psnr_yuv, psnr_rgb, ms_ssim, frames)");
  app.add_flag("--per-frame", a.per_frame, "Also print the metrics of every frame (on stderr with --json)");
  try {
    app.parse(argc, argv);
    if (a.ref == "-" && a.dist == "-") throw CLI::ValidationError("REF and DIST cannot both be stdin");
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run(a);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: error: %s\n", kProgram, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", kProgram, e.what());
    return 1;
  }
}
