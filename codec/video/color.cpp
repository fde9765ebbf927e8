#include "codec/video/color.h"

#include <cmath>
#include <stdexcept>

namespace nvc::video {

void matrix_coefficients(int matrix, double& kr, double& kb) {
  switch (matrix) {
    case 4: kr = 0.30; kb = 0.11; break;                // FCC
    case 5: case 6: kr = 0.299; kb = 0.114; break;      // BT.601
    case 7: kr = 0.212; kb = 0.087; break;              // SMPTE 240M
    case 9: case 10: kr = 0.2627; kb = 0.0593; break;   // BT.2020
    default: kr = 0.2126; kb = 0.0722; break;           // BT.709 (also the fallback)
  }
}

namespace {
struct Coeffs {
  double kr, kb, kg;
  double yoff, yscale, cscale;  // Y = yoff + yscale*Y', C = 128 + cscale*P
};
Coeffs make_coeffs(int matrix, bool full_range) {
  Coeffs c{};
  matrix_coefficients(matrix, c.kr, c.kb);
  c.kg = 1.0 - c.kr - c.kb;
  if (full_range) {
    c.yoff = 0; c.yscale = 255; c.cscale = 255;
  } else {
    c.yoff = 16; c.yscale = 219; c.cscale = 224;
  }
  return c;
}
inline uint8_t clip_round(double x) {
  double r = std::floor(x + 0.5);
  return uint8_t(r < 0 ? 0 : (r > 255 ? 255 : r));
}
void check_frame(const Frame& f) {
  if (!f.valid()) throw std::invalid_argument("frame_to_rgb: frame planes do not match its size (4:2:0, even size)");
}
}  // namespace

void frame_to_rgb(const Frame& f, int matrix, bool full_range, float* rgb) {
  check_frame(f);
  const Coeffs c = make_coeffs(matrix, full_range);
  const double rv = 2 * (1 - c.kr), bu = 2 * (1 - c.kb);
  const double gu = 2 * c.kb * (1 - c.kb) / c.kg, gv = 2 * c.kr * (1 - c.kr) / c.kg;
  const int w = f.width, h = f.height, cw = w / 2;
  const size_t n = size_t(w) * h;
  float *R = rgb, *G = rgb + n, *B = rgb + 2 * n;
  for (int yy = 0; yy < h; ++yy) {
    const uint8_t* ly = &f.y[size_t(yy) * w];
    const uint8_t* lu = &f.u[size_t(yy / 2) * cw];
    const uint8_t* lv = &f.v[size_t(yy / 2) * cw];
    for (int x = 0; x < w; ++x) {
      const double Y = (ly[x] - c.yoff) / c.yscale;
      const double Pb = (lu[x / 2] - 128.0) / c.cscale, Pr = (lv[x / 2] - 128.0) / c.cscale;
      const size_t i = size_t(yy) * w + x;
      R[i] = float(Y + rv * Pr);
      G[i] = float(Y - gu * Pb - gv * Pr);
      B[i] = float(Y + bu * Pb);
    }
  }
}

Frame rgb_to_frame(const float* rgb, int w, int h, int matrix, bool full_range) {
  if (w <= 0 || h <= 0 || (w & 1) || (h & 1)) throw std::invalid_argument("rgb_to_frame: width/height must be even");
  const Coeffs c = make_coeffs(matrix, full_range);
  const size_t n = size_t(w) * h;
  const float *R = rgb, *G = rgb + n, *B = rgb + 2 * n;
  Frame f;
  f.alloc(w, h);
  const int cw = w / 2, ch = h / 2;
  const double su = 1.0 / (2 * (1 - c.kb)), sv = 1.0 / (2 * (1 - c.kr));
  for (int cy = 0; cy < ch; ++cy) {
    for (int cx = 0; cx < cw; ++cx) {
      double pb = 0, pr = 0;
      for (int dy = 0; dy < 2; ++dy) {
        for (int dx = 0; dx < 2; ++dx) {
          const size_t i = size_t(2 * cy + dy) * w + 2 * cx + dx;
          const double r = R[i], g = G[i], b = B[i];
          const double Y = c.kr * r + c.kg * g + c.kb * b;
          f.y[i] = clip_round(c.yoff + c.yscale * Y);
          pb += (b - Y) * su;
          pr += (r - Y) * sv;
        }
      }
      f.u[size_t(cy) * cw + cx] = clip_round(128.0 + c.cscale * pb * 0.25);
      f.v[size_t(cy) * cw + cx] = clip_round(128.0 + c.cscale * pr * 0.25);
    }
  }
  return f;
}

std::vector<uint8_t> frame_to_rgb8(const Frame& f, int matrix, bool full_range, bool planar) {
  check_frame(f);
  const size_t n = size_t(f.width) * f.height;
  std::vector<float> rgb(3 * n);
  frame_to_rgb(f, matrix, full_range, rgb.data());
  std::vector<uint8_t> out(3 * n);
  for (int ch = 0; ch < 3; ++ch)
    for (size_t i = 0; i < n; ++i) {
      const uint8_t v = clip_round(double(rgb[ch * n + i]) * 255.0);
      if (planar) out[ch * n + i] = v; else out[i * 3 + ch] = v;
    }
  return out;
}

}  // namespace nvc::video
