// nvc_video colour conversion and metrics, cross-checked against FFmpeg's psnr filter.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "codec/video/video_io.h"
#include "test_util.h"

using namespace nvc::video;
using namespace nvc_video_test;

namespace {

Frame add_noise(const Frame& f, int amplitude, uint32_t seed) {
  Frame g = f;
  uint32_t s = seed * 2654435761u + 1;
  auto noise = [&]() {
    s = s * 1664525u + 1013904223u;
    return int((s >> 8) % uint32_t(2 * amplitude + 1)) - amplitude;
  };
  auto apply = [&](std::vector<uint8_t>& p) {
    for (auto& v : p) v = uint8_t(std::min(255, std::max(0, int(v) + noise())));
  };
  apply(g.y);
  apply(g.u);
  apply(g.v);
  return g;
}

}  // namespace

TEST_CASE("colour: rgb_to_frame(frame_to_rgb(f)) == f", "[video][color]") {
  std::vector<Frame> frames;
  for (int i = 0; i < 3; ++i) frames.push_back(synthetic_frame(64, 32, i));  // includes out-of-gamut chroma
  if (have_data()) {
    ReaderOptions o;
    o.max_frames = 2;
    for (auto& f : read_all(clip("vtest_192x144_10fps_30f.y4m"), o, nullptr)) frames.push_back(f);
    if (have_ffmpeg()) {
      o.max_frames = 1;
      o.seek = 100;  // past the scene start
      for (auto& f : read_all(clip("tears_of_steel.mp4"), o, nullptr)) frames.push_back(f);
    }
  } else {
    WARN("test data absent; colour round trip on synthetic frames only");
  }
  for (const auto& f : frames) {
    std::vector<float> rgb(size_t(3) * f.width * f.height);
    for (int matrix : {1, 5, 6, 9}) {
      for (bool full : {false, true}) {
        INFO("matrix " << matrix << " full " << full << " size " << f.width << "x" << f.height);
        frame_to_rgb(f, matrix, full, rgb.data());
        CHECK(rgb_to_frame(rgb.data(), f.width, f.height, matrix, full) == f);
      }
    }
  }
  // Known values: limited-range black / white / mid-grey and BT.709 red.
  Frame g;
  g.alloc(2, 2, 235, 128);
  std::vector<float> rgb(12);
  frame_to_rgb(g, 1, false, rgb.data());
  for (float v : rgb) CHECK(v == Approx(1.0f).margin(1e-6));
  g.alloc(2, 2, 16, 128);
  frame_to_rgb(g, 6, false, rgb.data());
  for (float v : rgb) CHECK(v == Approx(0.0f).margin(1e-6));
  std::vector<float> red(12, 0.f);
  for (int i = 0; i < 4; ++i) red[i] = 1.f;
  const Frame r = rgb_to_frame(red.data(), 2, 2, 1, false);
  CHECK(int(r.y[0]) == 63);   // 16 + 219 * 0.2126
  CHECK(int(r.v[0]) == 240);  // Cr max
  CHECK(int(r.u[0]) == 102);  // 128 - 224 * 0.2126 / 1.8556
}

TEST_CASE("metrics: PSNR caps, known MSE, yuv weighting, accumulator", "[video][metrics]") {
  const Frame a = synthetic_frame(64, 48, 7);
  QualityMetrics m = frame_metrics(a, a, 6, false);
  CHECK(m.psnr_y == 100.0);
  CHECK(m.psnr_u == 100.0);
  CHECK(m.psnr_v == 100.0);
  CHECK(m.psnr_yuv == 100.0);
  CHECK(m.psnr_rgb == 100.0);
  CHECK(m.ms_ssim == Approx(1.0).epsilon(1e-12));

  Frame b = a;
  for (size_t i = 0; i < b.y.size(); ++i) b.y[i] = uint8_t(a.y[i] < 128 ? a.y[i] + 10 : a.y[i] - 10);  // MSE 100
  for (size_t i = 0; i < b.u.size(); i += 2) b.u[i] = uint8_t(a.u[i] + 2);                         // MSE 2
  m = frame_metrics(a, b, 6, false);
  CHECK(m.psnr_y == Approx(10 * std::log10(255.0 * 255.0 / 100.0)).margin(1e-9));
  CHECK(m.psnr_u == Approx(10 * std::log10(255.0 * 255.0 / 2.0)).margin(1e-9));
  CHECK(m.psnr_v == 100.0);
  CHECK(m.psnr_yuv == Approx((6 * m.psnr_y + m.psnr_u + m.psnr_v) / 8).margin(1e-12));
  CHECK(m.psnr_rgb < 100.0);
  CHECK(mse_to_psnr(0) == 100.0);
  CHECK(mse_to_psnr(1e-20) == 100.0);
  CHECK(mse_to_psnr(65025.0) == Approx(0.0).margin(1e-12));

  MetricsAccumulator acc;
  CHECK(acc.count() == 0);
  QualityMetrics x, y;
  x.psnr_y = 30;
  x.ms_ssim = 0.9;
  y.psnr_y = 40;
  y.ms_ssim = 0.8;
  acc.add(x);
  acc.add(y);
  CHECK(acc.count() == 2);
  CHECK(acc.mean().psnr_y == Approx(35.0));
  CHECK(acc.mean().ms_ssim == Approx(0.85));
  CHECK_THROWS(frame_metrics(a, synthetic_frame(32, 48, 0), 6, false));
}

TEST_CASE("metrics: PSNR-RGB on 8-bit RGB", "[video][metrics]") {
  const Frame a = synthetic_frame(32, 16, 3);
  const Frame b = add_noise(a, 3, 5);
  const auto ra = frame_to_rgb8(a, 1, false, true), rb = frame_to_rgb8(b, 1, false, true);
  double se = 0;
  for (size_t i = 0; i < ra.size(); ++i) se += (double(ra[i]) - rb[i]) * (double(ra[i]) - rb[i]);
  const double want = 10 * std::log10(255.0 * 255.0 / (se / double(ra.size())));
  CHECK(frame_metrics(a, b, 1, false).psnr_rgb == Approx(want).margin(1e-9));
}

TEST_CASE("metrics: MS-SSIM is 1 for identical frames and decreases with noise", "[video][metrics][msssim]") {
  VideoFormat fmt;
  const auto frames = sample_frames(1, &fmt);
  const Frame& ref = frames[0];
  CHECK(ms_ssim(ref.y.data(), ref.y.data(), ref.width, ref.height) == Approx(1.0).epsilon(1e-12));
  double prev = 1.0;
  for (int amp : {2, 6, 15, 40}) {
    const Frame d = add_noise(ref, amp, uint32_t(amp));
    const double s = ms_ssim(ref.y.data(), d.y.data(), ref.width, ref.height);
    INFO("noise amplitude " << amp << " ms-ssim " << s);
    CHECK(s < prev);
    CHECK(s > 0.0);
    prev = s;
  }
  // Symmetric.
  const Frame d = add_noise(ref, 10, 1);
  CHECK(ms_ssim(ref.y.data(), d.y.data(), ref.width, ref.height) ==
        Approx(ms_ssim(d.y.data(), ref.y.data(), ref.width, ref.height)).epsilon(1e-6));
  // Constant frames: every contrast-structure term is 1, so MS-SSIM = l^w5 (5 scales at 256x256, weights sum to 1).
  {
    std::vector<uint8_t> c100(256 * 256, 100), c110(256 * 256, 110);
    const double C1 = (0.01 * 255) * (0.01 * 255);
    const double l = (2 * 100.0 * 110.0 + C1) / (100.0 * 100.0 + 110.0 * 110.0 + C1);
    const double wsum = 0.0448 + 0.2856 + 0.3001 + 0.2363 + 0.1333;
    CHECK(ms_ssim(c100.data(), c110.data(), 256, 256) == Approx(std::pow(l, 0.1333 / wsum)).epsilon(1e-6));
    // 40x40: 2 scales (40, 20; 10 < 11), renormalized weights.
    CHECK(ms_ssim(c100.data(), c110.data(), 40, 40) == Approx(std::pow(l, 0.2856 / (0.0448 + 0.2856))).epsilon(1e-6));
  }
  // Small frames: fewer scales (32x32: 2 scales), tiny frames: global SSIM; identical still 1.
  for (int size : {32, 16, 8, 2}) {
    const Frame s = synthetic_frame(size, size, size);
    const Frame n = add_noise(s, 20, 3);
    CHECK(ms_ssim(s.y.data(), s.y.data(), size, size) == Approx(1.0).epsilon(1e-9));
    const double v = ms_ssim(s.y.data(), n.y.data(), size, size);
    CHECK(v < 1.0);
    CHECK(v >= 0.0);
  }
}

TEST_CASE("metrics: per-frame PSNR agrees with FFmpeg's psnr filter", "[video][metrics][ffmpeg]") {
  if (std::system("ffmpeg -hide_banner -version >/dev/null 2>&1") != 0) {
    WARN("ffmpeg CLI not found; cross-check skipped");
    return;
  }
  TempDir tmp;
  VideoFormat fmt;
  std::vector<Frame> ref;
  if (have_data() && have_ffmpeg()) {
    ReaderOptions o;
    o.max_frames = 4;
    ref = read_all(clip("tears_of_steel.mp4"), o, &fmt);
  } else {
    ref = sample_frames(4, &fmt);
  }
  REQUIRE(ref.size() == 4);
  std::vector<Frame> dist;
  for (size_t i = 0; i < ref.size(); ++i) {
    Frame d = add_noise(ref[i], 1 + 4 * int(i), uint32_t(i + 11));
    for (auto& v : d.u) v = uint8_t(v & ~3);  // quantize chroma
    if (i == 3) d.v = ref[i].v;               // one identical plane
    dist.push_back(d);
  }
  for (auto [name, frames] : {std::pair<const char*, const std::vector<Frame>*>{"ref.y4m", &ref}, {"dist.y4m", &dist}}) {
    auto w = open_writer(tmp / name, fmt, {});
    for (const auto& f : *frames) w->write(f);
    w->close();
  }
  const std::string log = tmp / "psnr.log";
  const std::string cmd = "cd '" + tmp.path.string() +
                          "' && ffmpeg -hide_banner -loglevel error -i dist.y4m -i ref.y4m -lavfi "
                          "psnr=stats_file=psnr.log -f null - >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::istringstream lines(read_bytes(log));
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    REQUIRE(n < ref.size());
    auto field = [&](const std::string& key) {
      const size_t p = line.find(" " + key + ":");
      REQUIRE(p != std::string::npos);
      const std::string v = line.substr(p + key.size() + 2, line.find(' ', p + 1) - p - key.size() - 2);
      return v == "inf" ? 100.0 : std::strtod(v.c_str(), nullptr);
    };
    const QualityMetrics m = frame_metrics(ref[n], dist[n], fmt.matrix, fmt.full_range);
    INFO(line);
    CHECK(std::abs(m.psnr_y - field("psnr_y")) < 0.01);
    CHECK(std::abs(m.psnr_u - field("psnr_u")) < 0.01);
    CHECK(std::abs(m.psnr_v - field("psnr_v")) < 0.01);
    ++n;
  }
  CHECK(n == ref.size());
}
