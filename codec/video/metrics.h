#pragma once
// Quality metrics of 8-bit 4:2:0 frames (peak 255).
//
// PSNR   per plane: 10*log10(255^2 / MSE); identical planes give 100 dB (cap, also the upper bound of any value).
// psnr_yuv: (6*Y + U + V) / 8 of the per-plane PSNRs (the weighting used in the NeRV / video-coding literature).
// psnr_rgb: both frames converted to 8-bit RGB with the same matrix/range (frame_to_rgb, round, clip 0..255),
//           MSE averaged over the three channels, then PSNR.
// ms_ssim on Y: Wang, Simoncelli, Bovik 2003. 5 scales, 11x11 Gaussian window (sigma 1.5, 'valid' filtering),
//           K1 = 0.01, K2 = 0.03, L = 255, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average down-sampling
//           (odd sizes drop the last row/column). Negative contrast-structure terms are clamped to 0.
//           Frames too small for 5 scales use as many scales as fit (the coarsest scale keeps min side >= 11) and the
//           weights of the scales used are renormalized to sum to 1. Frames with min side < 11 get a single-scale SSIM
//           computed over the whole frame (global statistics, no window).
// Sequence values (MetricsAccumulator::mean) are the arithmetic mean of the per-frame values, for every field
// (the convention of the NeRV papers and of x265 --psnr "global" per-frame averaging); capped frames count as 100 dB.
#include <cstddef>
#include <cstdint>

#include "codec/video/frame.h"

namespace nvc::video {

struct QualityMetrics {
  double psnr_y = 0, psnr_u = 0, psnr_v = 0;
  double psnr_yuv = 0;  // (6Y + U + V) / 8
  double psnr_rgb = 0;
  double ms_ssim = 0;   // on Y
};

// ref and dist must have the same size (IoError-free: throws std::invalid_argument otherwise).
QualityMetrics frame_metrics(const Frame& ref, const Frame& dist, int matrix, bool full_range);
// The PSNR fields only (psnr_y, psnr_u, psnr_v, psnr_yuv): cheap enough for an encoder's own decisions.
QualityMetrics frame_psnr(const Frame& ref, const Frame& dist);

// Building blocks (exposed for tests and tools).
double plane_mse(const uint8_t* a, const uint8_t* b, size_t n);
double mse_to_psnr(double mse, double peak = 255.0);  // 100 when mse == 0, never above 100
double ms_ssim(const uint8_t* a, const uint8_t* b, int width, int height);  // on one 8-bit plane

class MetricsAccumulator {
 public:
  void add(const QualityMetrics& m);
  QualityMetrics mean() const;  // per-field mean of the per-frame values (zeros when empty)
  size_t count() const { return n_; }

 private:
  QualityMetrics sum_{};
  size_t n_ = 0;
};

}  // namespace nvc::video
