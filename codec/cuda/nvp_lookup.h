// CUDA launchers of NVP's two positional-feature lookups (docs/nvp.md), forward and backward: the keyframe lookup
// (multi-resolution bilinear, three planes) and the sparse lookup (nearest cell + 3x3 spatial neighbourhood). Same
// maths as the LibTorch reference (codec/nvp_model.cpp: keyframe_lookup, sparse_lookup). Plain C++ interface like
// flow_tail.h: raw device pointers, cudaStream_t passed as void*, no LibTorch or CUDA header needed by the caller.
// The LibTorch-facing autograd wrappers are codec/nvp_lookup.h.
//
// Every pointer is a device pointer to contiguous float32 data. Coordinates are [n][3] rows (x, y, t). Index maths
// is 64-bit throughout; coordinates are clamped so that NaN, +-inf or out-of-range values never address memory
// outside the tables (NaN / inf coordinates give NaN features, as the reference does).
// Launchers throw std::invalid_argument on bad sizes or null pointers, std::runtime_error when a launch fails.
#pragma once
#include <cmath>
#include <cstdint>

namespace nvc::cuda {

constexpr int kNvpMaxLevels = 24;    // NvpConfig's bound on levels
constexpr int kNvpMaxFeatures = 16;  // NvpConfig's bound on F and F'

// The levels of one keyframe plane (all three planes share them).
struct NvpKeyframeLevels {
  int levels = 0;    // L, 1..kNvpMaxLevels
  int features = 0;  // F, 1..kNvpMaxFeatures
  float scale[kNvpMaxLevels] = {};         // scale_l as float (the reference multiplies by float(scale_l))
  int resolution[kNvpMaxLevels] = {};      // R_l
  int64_t offset[kNvpMaxLevels + 1] = {};  // first row of level l in a plane's [cells][F] table; offset[L] = cells
};

// Forward: out [n][3 L F] = [xy levels, yt levels, xt levels] (the latent's order), each level F features; plane xy
// reads (x, y), yt reads (t, y), xt reads (t, x). Tables: [offset[L]][F] each.
void launch_nvp_keyframe_forward(const float* xyt, int64_t n, const float* table_xy, const float* table_yt,
                                 const float* table_xt, const NvpKeyframeLevels& lv, float* out, void* stream);

// Backward: adds d(loss)/d(table) for grad_out [n][3 L F] into grad_xy / grad_yt / grad_xt ([offset[L]][F] each,
// to be zeroed by the caller) with float atomicAdd (order of the additions, hence the last bits, not deterministic).
void launch_nvp_keyframe_backward(const float* xyt, int64_t n, const float* grad_out, const NvpKeyframeLevels& lv,
                                  float* grad_xy, float* grad_yt, float* grad_xt, void* stream);

// Sparse grid [t][h][w][f]. Forward: out [n][9 f], neighbours (di, dj) di-major as sparse_lookup.
void launch_nvp_sparse_forward(const float* xyt, int64_t n, const float* grid, int t, int h, int w, int f, float* out,
                               void* stream);

// Backward: adds d(loss)/d(grid) for grad_out [n][9 f] into grad_grid [t][h][w][f] (zeroed by the caller), atomicAdd.
void launch_nvp_sparse_backward(const float* xyt, int64_t n, const float* grad_out, int t, int h, int w, int f,
                                float* grad_grid, void* stream);

// ---- Per-element maths, shared by the kernels and the CPU test that checks them against the reference ----
// Explicit round-to-nearest operations (no FMA contraction on the device; the host build has no FMA contraction on
// x86-64 without -mfma), so that the kernels' forward is bit-identical to keyframe_lookup / sparse_lookup: a
// contracted c * scale + 0.5 could land on the other side of a cell boundary.
#if defined(__CUDACC__)
#define NVC_NVP_HD __host__ __device__ __forceinline__
#else
#define NVC_NVP_HD inline
#endif

namespace nvp_math {

NVC_NVP_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
NVC_NVP_HD float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
NVC_NVP_HD float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
NVC_NVP_HD int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// One axis of a keyframe level: p = c * scale + 0.5 (two roundings, as the reference), i = floor(p), w = p - i;
// corners i and i + 1 clamped to [0, R - 1]. floor(p) is clamped to [-1, R] in float before the conversion to int
// (same corners, no overflow for huge p; +inf or |c| ~ 1e30 go to the nearest edge); a NaN p gives corners 0
// (fmaxf drops the NaN) and a NaN weight.
struct Axis {
  int lo, hi;
  float w;
};
NVC_NVP_HD Axis keyframe_axis(float c, float scale, int R) {
  const float p = add_rn(mul_rn(c, scale), 0.5f);
  const float fl = floorf(p);
  Axis a;
  a.w = sub_rn(p, fl);
  const int i = int(fminf(fmaxf(fl, -1.0f), float(R)));
  a.lo = clampi(i, 0, R - 1);
  a.hi = clampi(i + 1, 0, R - 1);
  return a;
}

struct Corners {
  int64_t row[4];  // table rows (level offset included) of (lo0, lo1), (hi0, lo1), (lo0, hi1), (hi0, hi1)
  float w[4];      // (1 - w0)(1 - w1), w0 (1 - w1), (1 - w0) w1, w0 w1
};
// Cell (i0, i1) of a level is row offset + i0 + i1 R (i0: the plane's first coordinate).
NVC_NVP_HD Corners keyframe_corners(float c0, float c1, float scale, int R, int64_t offset) {
  const Axis a = keyframe_axis(c0, scale, R), b = keyframe_axis(c1, scale, R);
  const int64_t r = R;
  Corners k;
  k.row[0] = offset + a.lo + int64_t(b.lo) * r;
  k.row[1] = offset + a.hi + int64_t(b.lo) * r;
  k.row[2] = offset + a.lo + int64_t(b.hi) * r;
  k.row[3] = offset + a.hi + int64_t(b.hi) * r;
  const float ua = sub_rn(1.0f, a.w), ub = sub_rn(1.0f, b.w);
  k.w[0] = mul_rn(ua, ub);
  k.w[1] = mul_rn(a.w, ub);
  k.w[2] = mul_rn(ua, b.w);
  k.w[3] = mul_rn(a.w, b.w);
  return k;
}
// ((v0 w0 + v1 w1) + v2 w2) + v3 w3: the reference's order of operations.
NVC_NVP_HD float blend(float v0, float v1, float v2, float v3, const float* w) {
  const float v = add_rn(add_rn(mul_rn(v0, w[0]), mul_rn(v1, w[1])), mul_rn(v2, w[2]));
  return add_rn(v, mul_rn(v3, w[3]));
}
// Plane 0 (xy) reads (x, y), plane 1 (yt) (t, y), plane 2 (xt) (t, x).
NVC_NVP_HD void plane_coords(float x, float y, float t, int plane, float& c0, float& c1) {
  c0 = plane == 0 ? x : t;
  c1 = plane == 2 ? x : y;
}

// Nearest cell: floor(c * (R - 1) + 0.5) clamped to [0, R - 1]; NaN -> 0 (as the reference's clamp of the int64
// conversion on x86); +inf / huge -> R - 1 (the reference's int64 conversion is undefined there).
NVC_NVP_HD int nearest_cell(float c, int R) {
  const float p = floorf(add_rn(mul_rn(c, float(R - 1)), 0.5f));
  return int(fminf(fmaxf(p, 0.0f), float(R - 1)));
}
// Grid row (cell index into [T * H * W][F]) of neighbour k (0..8, di-major: di = k / 3 - 1, dj = k % 3 - 1).
NVC_NVP_HD int64_t sparse_cell(float x, float y, float t, int k, int T, int H, int W) {
  const int ix = nearest_cell(x, H), iy = nearest_cell(y, W), it = nearest_cell(t, T);
  const int vx = clampi(ix + k / 3 - 1, 0, H - 1), vy = clampi(iy + k % 3 - 1, 0, W - 1);
  return (int64_t(it) * H + vx) * W + vy;
}

}  // namespace nvp_math

}  // namespace nvc::cuda
