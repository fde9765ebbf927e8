// The RGB -> 4:2:0 maths of one 2x2 luma block and its chroma sample, shared by every kernel that writes 4:2:0
// (color_convert.cu, flow_tail.cu). Double precision with explicit round-to-nearest intrinsics so nvcc cannot
// contract anything into FMAs: the result is bit-identical to nvc::video::rgb_to_frame on the CPU.
#pragma once
#include <cstdint>

#include "codec/cuda/color_convert.h"

namespace nvc::cuda {

__device__ __forceinline__ uint8_t clip_round(double x) {
  const double r = floor(__dadd_rn(x, 0.5));
  return uint8_t(r < 0 ? 0 : (r > 255 ? 255 : r));
}

struct Quad420 {
  double pb = 0, pr = 0;
  // One pixel of the block: returns its Y byte and accumulates the chroma differences.
  __device__ __forceinline__ uint8_t add(const YuvCoefficients& c, double r, double g, double b) {
    const double y = __dadd_rn(__dadd_rn(__dmul_rn(c.kr, r), __dmul_rn(c.kg, g)), __dmul_rn(c.kb, b));
    pb = __dadd_rn(pb, __dmul_rn(__dadd_rn(b, -y), c.su));
    pr = __dadd_rn(pr, __dmul_rn(__dadd_rn(r, -y), c.sv));
    return clip_round(__dadd_rn(c.yoff, __dmul_rn(c.yscale, y)));
  }
  // After the four pixels: the block's U and V bytes (the mean of the four differences).
  __device__ __forceinline__ uint8_t u(const YuvCoefficients& c) const {
    return clip_round(__dadd_rn(128.0, __dmul_rn(__dmul_rn(c.cscale, pb), 0.25)));
  }
  __device__ __forceinline__ uint8_t v(const YuvCoefficients& c) const {
    return clip_round(__dadd_rn(128.0, __dmul_rn(__dmul_rn(c.cscale, pr), 0.25)));
  }
};

}  // namespace nvc::cuda
