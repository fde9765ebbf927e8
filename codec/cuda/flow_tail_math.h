// Per-pixel maths of the flow-guided T-NeRV tail (docs/tnerv.md section 4), shared by the CUDA kernel
// (codec/cuda/flow_tail.cu) and the CPU loops (codec/flow_tail.cpp). One call gives the final RGB of one pixel from the
// network pass outputs, replacing the LibTorch op chain of TNervDecoderImpl::aggregate:
//   flows   F::interpolate bilinear, align_corners=false, to (Hc, Wc), times flow_scale (both skipped when the flows
//           already have the full size);
//   weights F::interpolate nearest (PyTorch's legacy 'nearest'), -1e4 added to the logit of a missing neighbour,
//           softmax over the four;
//   warp    grid_sample bilinear, border padding, align_corners=false at (x + dx, y + dy), through the same
//           normalised grid coordinates as warp() builds;
//   output  b = softmax(blend), ind * b0 + (sum_k w_k warp_k) * b1, or ind where no neighbour exists.
// The index and weight formulas are PyTorch's (area_pixel_compute_source_index, guard_index_and_lambda,
// nearest_idx, the CPU grid sampler's unnormalize + clip), evaluated in float in the same order and with an explicit
// FMA exactly where LibTorch's CPU kernels (AVX2 / AVX-512 builds) fuse one: the up-sampled flows and the warped
// samples are bit-identical to F::interpolate's generic kernel (frames with Hc + Wc > 128) and grid_sample;
// only the exponentials of the two softmaxes (Sleef there) may differ in the last bit. Every operation goes through
// fadd/fmul/ffma/..., which on the device are the round-to-nearest intrinsics (nvcc cannot contract them
// differently), so the CUDA kernel and the CPU loops agree except for expf's last bit.
//
// No LibTorch and no CUDA header is needed here: inputs are type-erased strided views, and the caller passes a
// loader that turns one stored element (float, half, bfloat16, ...) into a float.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define NVC_HD __host__ __device__ __forceinline__
#else
#include <cmath>
#define NVC_HD inline
#endif

namespace nvc::flow_tail {

constexpr int kNeighbours = 4;
// Logit added for a missing neighbour (aggregate's mask): far below any learnt logit.
constexpr float kMissingLogit = -1e4f;

// A 4-D strided view of one input (strides in elements, any layout: contiguous, channels_last, narrowed).
struct View4 {
  const void* data = nullptr;
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  template <typename T>
  NVC_HD const T& at(int64_t i0, int64_t i1, int64_t i2, int64_t i3) const {
    return static_cast<const T*>(data)[i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3];
  }
};

// Everything one frame batch needs. All float views hold the same element type.
struct Inputs {
  View4 independent;  // [batch, 3, coded_h, coded_w]
  View4 flows;        // [batch, 8, low_h, low_w]: (dx, dy) of neighbour k in channels 2k, 2k+1, low-res pixels
  View4 weights;      // [batch, 4, low_h, low_w]: neighbour logits
  View4 blend;        // [batch, 2, coded_h, coded_w]: logits, independent vs aggregated
  View4 pool;         // [pool_size, 3, coded_h, coded_w]: independent frames available as neighbours
  const int32_t* slots = nullptr;  // [batch, 4] contiguous: pool slot of neighbour k, < 0 = missing
  int batch = 0, coded_h = 0, coded_w = 0, low_h = 0, low_w = 0, pool_size = 0;
  float flow_scale = 1.0f;  // low-res pixels -> full-res pixels (used only when the flows are up-sampled)
};

// Float operations that nvcc may not fuse (see the header comment); plain operators on the host.
NVC_HD float fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
NVC_HD float fsub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
NVC_HD float fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
NVC_HD float fdiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
NVC_HD float ffma(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
NVC_HD float ffloor(float a) {
#if defined(__CUDA_ARCH__)
  return floorf(a);
#else
  return std::floor(a);
#endif
}
NVC_HD float fexp(float a) {
#if defined(__CUDA_ARCH__)
  return expf(a);
#else
  return std::exp(a);
#endif
}
// max / clamp that map NaN to the other operand: a NaN coordinate can never index outside the frame.
NVC_HD float fmax2(float a, float b) {
#if defined(__CUDA_ARCH__)
  return fmaxf(a, b);
#else
  return std::fmax(a, b);
#endif
}
NVC_HD float fmin2(float a, float b) {
#if defined(__CUDA_ARCH__)
  return fminf(a, b);
#else
  return std::fmin(a, b);
#endif
}

// Where output row (or column) `dst` of the full-res frame reads the low-res grid of `in_size` cells: the two
// bilinear taps of the flows (PyTorch's compute_source_index_and_lambda, align_corners=false, no scale factor) and
// the nearest cell of the weights (PyTorch's legacy nearest_idx).
struct AxisTaps {
  int i0, i1;    // bilinear taps
  float l0, l1;  // their weights
  int nearest;   // nearest cell
};
NVC_HD AxisTaps axis_taps(int dst, int in_size, int out_size) {
  AxisTaps r;
  if (in_size == out_size) {
    r.i0 = r.i1 = r.nearest = dst;
    r.l0 = 1.0f;
    r.l1 = 0.0f;
    return r;
  }
  const float scale = float(in_size) / float(out_size);  // area_pixel_compute_scale / compute_scales_value
  // area_pixel_compute_source_index: scale * (dst + 0.5) - 0.5, a multiply-add that PyTorch's compiled kernels
  // (CPU AVX2/AVX-512 builds and nvcc alike) fuse into one FMA.
  float src = ffma(scale, fadd(float(dst), 0.5f), -0.5f);
  if (src < 0.0f) src = 0.0f;
  int i0 = int(ffloor(src));
  if (i0 > in_size - 1) i0 = in_size - 1;
  r.i0 = i0;
  r.i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
  r.l1 = fmin2(fmax2(fsub(src, float(i0)), 0.0f), 1.0f);
  r.l0 = fsub(1.0f, r.l1);
  if (out_size == 2 * in_size) {
    r.nearest = dst >> 1;
  } else {
    const int n = int(ffloor(fmul(float(dst), scale)));
    r.nearest = n < in_size - 1 ? n : in_size - 1;
  }
  return r;
}

// Bilinear sample of pool frame `slot` at full-res pixel (x + dx, y + dy), border padding, align_corners=false,
// through warp()'s normalised coordinate g = (2 (x + dx) + 1) / W - 1 and the grid sampler's
// unnormalize (g + 1) * (W / 2) - 0.5, clipped to [0, W - 1].
template <typename T, typename Load>
NVC_HD void warp_sample(const Inputs& in, const Load& load, int slot, int y, int x, float dx, float dy,
                        float out[3]) {
  const float W = float(in.coded_w), H = float(in.coded_h);
  const float gx = fsub(fdiv(fadd(fmul(2.0f, fadd(float(x), dx)), 1.0f), W), 1.0f);
  const float gy = fsub(fdiv(fadd(fmul(2.0f, fadd(float(y), dy)), 1.0f), H), 1.0f);
  const float ix = fmin2(fmax2(ffma(fadd(gx, 1.0f), W / 2.0f, -0.5f), 0.0f), W - 1.0f);
  const float iy = fmin2(fmax2(ffma(fadd(gy, 1.0f), H / 2.0f, -0.5f), 0.0f), H - 1.0f);
  const float fx0 = ffloor(ix), fy0 = ffloor(iy);
  const float w = fsub(ix, fx0), e = fsub(1.0f, w);
  const float n = fsub(iy, fy0), s = fsub(1.0f, n);
  const float nw = fmul(s, e), ne = fmul(s, w), sw = fmul(n, e), se = fmul(n, w);
  const int x0 = int(fx0), y0 = int(fy0);
  // After the clip only the east column / south row can fall outside (at x0 = W - 1 / y0 = H - 1, weight 0):
  // grid_sample reads zero there.
  const bool east = x0 + 1 < in.coded_w, south = y0 + 1 < in.coded_h;
  for (int c = 0; c < 3; ++c) {
    const float vnw = load(in.pool.at<T>(slot, c, y0, x0));
    const float vne = east ? load(in.pool.at<T>(slot, c, y0, x0 + 1)) : 0.0f;
    const float vsw = south ? load(in.pool.at<T>(slot, c, y0 + 1, x0)) : 0.0f;
    const float vse = east && south ? load(in.pool.at<T>(slot, c, y0 + 1, x0 + 1)) : 0.0f;
    // nw * vnw + ne * vne + sw * vsw + se * vse as the CPU grid sampler's compiled code evaluates it.
    out[c] = ffma(vse, se, ffma(vsw, sw, ffma(vne, ne, fmul(vnw, nw))));
  }
}

// The decoded RGB of pixel (x, y) of frame b (x < coded_w, y < coded_h, b < batch), with ty = axis_taps(y, low_h,
// coded_h) and tx = axis_taps(x, low_w, coded_w) (callers hoist them out of their loops). Slots are validated by the
// caller; an out-of-range one is still treated as missing here rather than read.
template <typename T, typename Load>
NVC_HD void pixel_rgb(const Inputs& in, const Load& load, int b, int y, int x, const AxisTaps& ty, const AxisTaps& tx,
                      float rgb[3]) {
  int slot[kNeighbours];
  bool any = false;
  for (int k = 0; k < kNeighbours; ++k) {
    const int s = in.slots[b * kNeighbours + k];
    slot[k] = (s >= 0 && s < in.pool_size) ? s : -1;
    any = any || slot[k] >= 0;
  }
  float ind[3];
  for (int c = 0; c < 3; ++c) ind[c] = load(in.independent.at<T>(b, c, y, x));
  if (!any) {
    for (int c = 0; c < 3; ++c) rgb[c] = ind[c];
    return;
  }

  // aggregate() up-samples (and scales) the flows unless they already have the full size.
  const bool upsample = in.low_h != in.coded_h || in.low_w != in.coded_w;

  // Softmax over the four neighbour logits (missing ones masked, as aggregate does).
  float logit[kNeighbours];
  for (int k = 0; k < kNeighbours; ++k) {
    const float l = load(in.weights.at<T>(b, k, ty.nearest, tx.nearest));
    logit[k] = slot[k] >= 0 ? l : fadd(l, kMissingLogit);
  }
  float m = logit[0];
  for (int k = 1; k < kNeighbours; ++k) m = logit[k] > m ? logit[k] : m;
  float ex[kNeighbours], sum = 0.0f;
  for (int k = 0; k < kNeighbours; ++k) {
    ex[k] = fexp(fsub(logit[k], m));
    sum = fadd(sum, ex[k]);
  }

  // Weighted sum of the warped neighbours; a missing one is a zero frame in aggregate, so it adds nothing.
  float agg[3] = {0.0f, 0.0f, 0.0f};
  for (int k = 0; k < kNeighbours; ++k) {
    if (slot[k] < 0) continue;
    float d[2];
    for (int j = 0; j < 2; ++j) {
      const int ch = 2 * k + j;
      if (upsample) {
        // upsample_bilinear2d's CPU kernel, height outermost: t0 * l0y + t1 * l1y with t0 = f00 * l0x + f01 * l1x,
        // each compiled as fma(first product, second product).
        const float f00 = load(in.flows.at<T>(b, ch, ty.i0, tx.i0)), f01 = load(in.flows.at<T>(b, ch, ty.i0, tx.i1));
        const float f10 = load(in.flows.at<T>(b, ch, ty.i1, tx.i0)), f11 = load(in.flows.at<T>(b, ch, ty.i1, tx.i1));
        const float top = ffma(f00, tx.l0, fmul(f01, tx.l1));
        const float bottom = ffma(f10, tx.l0, fmul(f11, tx.l1));
        d[j] = fmul(ffma(top, ty.l0, fmul(bottom, ty.l1)), in.flow_scale);
      } else {
        d[j] = load(in.flows.at<T>(b, ch, y, x));
      }
    }
    float warped[3];
    warp_sample<T>(in, load, slot[k], y, x, d[0], d[1], warped);
    const float wk = fdiv(ex[k], sum);
    for (int c = 0; c < 3; ++c) agg[c] = fadd(agg[c], fmul(warped[c], wk));
  }

  // Blend with the independent frame: softmax over the two blend logits.
  const float b0l = load(in.blend.at<T>(b, 0, y, x)), b1l = load(in.blend.at<T>(b, 1, y, x));
  const float bm = b1l > b0l ? b1l : b0l;
  const float e0 = fexp(fsub(b0l, bm)), e1 = fexp(fsub(b1l, bm));
  const float es = fadd(e0, e1);
  const float w0 = fdiv(e0, es), w1 = fdiv(e1, es);
  for (int c = 0; c < 3; ++c) rgb[c] = fadd(fmul(ind[c], w0), fmul(agg[c], w1));
}

}  // namespace nvc::flow_tail
