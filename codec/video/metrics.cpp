#include "codec/video/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include "codec/video/color.h"

namespace nvc::video {

double plane_mse(const uint8_t* a, const uint8_t* b, size_t n) {
  if (n == 0) return 0;
  uint64_t s = 0;
  for (size_t i = 0; i < n; ++i) {
    const int d = int(a[i]) - int(b[i]);
    s += uint64_t(d * d);
  }
  return double(s) / double(n);
}

double mse_to_psnr(double mse, double peak) {
  if (mse <= 0) return 100.0;
  return std::min(100.0, 10.0 * std::log10(peak * peak / mse));
}

namespace {

constexpr int kWin = 11;

std::vector<double> gaussian_window() {
  std::vector<double> g(kWin);
  double sum = 0;
  for (int i = 0; i < kWin; ++i) {
    const double x = i - kWin / 2;
    sum += (g[i] = std::exp(-x * x / (2 * 1.5 * 1.5)));
  }
  for (auto& v : g) v /= sum;
  return g;
}

// Sums of the SSIM map and of the contrast-structure map over output rows [y0, y1) ('valid' Gaussian filtering).
// Moments are accumulated in double: E[a^2] - mu^2 in float loses ~1e-2 at 8-bit levels (visible in MS-SSIM).
void ssim_band(const float* a, const float* b, int w, int y0, int y1, double& ssum, double& csum) {
  static const std::vector<double> g = gaussian_window();
  const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
  const int ow = w - kWin + 1, rows = y1 - y0 + kWin - 1;
  std::vector<double> hm[5], src[5];
  for (auto& m : hm) m.assign(size_t(ow) * rows, 0.0);
  for (auto& m : src) m.resize(size_t(w));
  for (int r = 0; r < rows; ++r) {  // horizontal pass of the five moments
    const float* pa = a + size_t(y0 + r) * w;
    const float* pb = b + size_t(y0 + r) * w;
    for (int x = 0; x < w; ++x) {
      const double va = pa[x], vb = pb[x];
      src[0][x] = va;
      src[1][x] = vb;
      src[2][x] = va * va;
      src[3][x] = vb * vb;
      src[4][x] = va * vb;
    }
    for (int m = 0; m < 5; ++m) {
      double* o = &hm[m][size_t(r) * ow];
      const double* sp = src[m].data();
      for (int k = 0; k < kWin; ++k) {
        const double gk = g[k];
        for (int x = 0; x < ow; ++x) o[x] += gk * sp[x + k];
      }
    }
  }
  ssum = csum = 0;
  std::vector<double> col(5 * size_t(ow));
  for (int r = 0; r < y1 - y0; ++r) {  // vertical pass, then the SSIM terms
    std::fill(col.begin(), col.end(), 0.0);
    for (int k = 0; k < kWin; ++k) {
      const double gk = g[k];
      for (int m = 0; m < 5; ++m) {
        const double* row = &hm[m][size_t(r + k) * ow];
        double* c = &col[size_t(m) * ow];
        for (int x = 0; x < ow; ++x) c[x] += gk * row[x];
      }
    }
    for (int x = 0; x < ow; ++x) {
      const double mu1 = col[x], mu2 = col[ow + x];
      const double s11 = col[2 * size_t(ow) + x] - mu1 * mu1, s22 = col[3 * size_t(ow) + x] - mu2 * mu2;
      const double s12 = col[4 * size_t(ow) + x] - mu1 * mu2;
      const double cs = (2 * s12 + C2) / (s11 + s22 + C2);
      const double l = (2 * mu1 * mu2 + C1) / (mu1 * mu1 + mu2 * mu2 + C1);
      csum += cs;
      ssum += l * cs;
    }
  }
}

// Mean SSIM and mean contrast-structure of two planes. Large planes are split into a fixed number of row bands
// (so the result does not depend on the machine) processed on up to that many threads.
void ssim_scale(const std::vector<float>& a, const std::vector<float>& b, int w, int h, double& ssim_mean,
                double& cs_mean) {
  const int ow = w - kWin + 1, oh = h - kWin + 1;
  const int bands = std::max(1, std::min(8, int(int64_t(ow) * oh / (128 * 1024))));
  std::vector<double> ss(static_cast<size_t>(bands)), cc(static_cast<size_t>(bands));
  auto run = [&](int i) {
    const int y0 = int(int64_t(oh) * i / bands), y1 = int(int64_t(oh) * (i + 1) / bands);
    ssim_band(a.data(), b.data(), w, y0, y1, ss[size_t(i)], cc[size_t(i)]);
  };
  const int threads = std::min<int>(bands, int(std::max(1u, std::thread::hardware_concurrency())));
  if (threads <= 1) {
    for (int i = 0; i < bands; ++i) run(i);
  } else {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (int i = t; i < bands; i += threads) run(i);
      });
    for (int i = 0; i < bands; i += threads) run(i);
    for (auto& th : pool) th.join();
  }
  double ssum = 0, csum = 0;
  for (int i = 0; i < bands; ++i) {
    ssum += ss[size_t(i)];
    csum += cc[size_t(i)];
  }
  const double n = double(ow) * oh;
  ssim_mean = ssum / n;
  cs_mean = csum / n;
}

std::vector<float> downsample(const std::vector<float>& p, int w, int h, int& nw, int& nh) {
  nw = w / 2;
  nh = h / 2;
  std::vector<float> o(size_t(nw) * nh);
  for (int y = 0; y < nh; ++y)
    for (int x = 0; x < nw; ++x) {
      const size_t i = size_t(2 * y) * w + 2 * x;
      o[size_t(y) * nw + x] = 0.25f * (p[i] + p[i + 1] + p[i + w] + p[i + w + 1]);
    }
  return o;
}

double global_ssim(const uint8_t* a, const uint8_t* b, size_t n) {
  const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  double va = 0, vb = 0, cov = 0;
  for (size_t i = 0; i < n; ++i) {
    va += (a[i] - ma) * (a[i] - ma);
    vb += (b[i] - mb) * (b[i] - mb);
    cov += (a[i] - ma) * (b[i] - mb);
  }
  va /= n; vb /= n; cov /= n;
  return (2 * ma * mb + C1) * (2 * cov + C2) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
}

}  // namespace

double ms_ssim(const uint8_t* a, const uint8_t* b, int w, int h) {
  static const double kWeights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
  if (w <= 0 || h <= 0) throw std::invalid_argument("ms_ssim: empty plane");
  if (std::min(w, h) < kWin) return global_ssim(a, b, size_t(w) * h);
  int scales = 1;
  while (scales < 5 && (std::min(w, h) >> scales) >= kWin) ++scales;
  double wsum = 0;
  for (int i = 0; i < scales; ++i) wsum += kWeights[i];
  std::vector<float> pa(a, a + size_t(w) * h), pb(b, b + size_t(w) * h);
  double result = 1.0;
  int cw = w, ch = h;
  for (int s = 0; s < scales; ++s) {
    double ssim_m, cs_m;
    ssim_scale(pa, pb, cw, ch, ssim_m, cs_m);
    const double wgt = kWeights[s] / wsum;
    const double term = (s == scales - 1) ? ssim_m : cs_m;
    result *= std::pow(std::max(term, 0.0), wgt);
    if (s + 1 < scales) {
      int nw, nh;
      pa = downsample(pa, cw, ch, nw, nh);
      pb = downsample(pb, cw, ch, nw, nh);
      cw = nw;
      ch = nh;
    }
  }
  return result;
}

QualityMetrics frame_psnr(const Frame& ref, const Frame& dist) {
  if (!ref.valid() || !dist.valid() || ref.width != dist.width || ref.height != dist.height)
    throw std::invalid_argument("frame_metrics: frames differ in size or are malformed");
  QualityMetrics m;
  m.psnr_y = mse_to_psnr(plane_mse(ref.y.data(), dist.y.data(), ref.y.size()));
  m.psnr_u = mse_to_psnr(plane_mse(ref.u.data(), dist.u.data(), ref.u.size()));
  m.psnr_v = mse_to_psnr(plane_mse(ref.v.data(), dist.v.data(), ref.v.size()));
  m.psnr_yuv = (6 * m.psnr_y + m.psnr_u + m.psnr_v) / 8;
  return m;
}

QualityMetrics frame_metrics(const Frame& ref, const Frame& dist, int matrix, bool full_range) {
  QualityMetrics m = frame_psnr(ref, dist);
  const auto ra = frame_to_rgb8(ref, matrix, full_range, true);
  const auto rb = frame_to_rgb8(dist, matrix, full_range, true);
  m.psnr_rgb = mse_to_psnr(plane_mse(ra.data(), rb.data(), ra.size()));  // mean over the 3 equal-size channels
  m.ms_ssim = ms_ssim(ref.y.data(), dist.y.data(), ref.width, ref.height);
  return m;
}

void MetricsAccumulator::add(const QualityMetrics& m) {
  sum_.psnr_y += m.psnr_y;
  sum_.psnr_u += m.psnr_u;
  sum_.psnr_v += m.psnr_v;
  sum_.psnr_yuv += m.psnr_yuv;
  sum_.psnr_rgb += m.psnr_rgb;
  sum_.ms_ssim += m.ms_ssim;
  ++n_;
}

QualityMetrics MetricsAccumulator::mean() const {
  QualityMetrics m;
  if (!n_) return m;
  const double k = 1.0 / double(n_);
  m.psnr_y = sum_.psnr_y * k;
  m.psnr_u = sum_.psnr_u * k;
  m.psnr_v = sum_.psnr_v * k;
  m.psnr_yuv = sum_.psnr_yuv * k;
  m.psnr_rgb = sum_.psnr_rgb * k;
  m.ms_ssim = sum_.ms_ssim * k;
  return m;
}

}  // namespace nvc::video
