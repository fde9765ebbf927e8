#include "codec/cuda/nvp_lookup.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>

// Thread layout (both lookups): one thread per (point, level) for the keyframes and one per (point, neighbour) for
// the sparse grid, flattened into one 64-bit index with the point outermost. Why:
//  - parallelism: n * L (n * 9) threads, so even a modest batch fills the GPU, where one thread per point would
//    leave few warps to hide the latency of the table gathers (random reads, the dominant cost);
//  - coalescing: consecutive threads write consecutive F-float slots of the output row (and read consecutive slots
//    of grad_out in the backward), where one thread per point would stride by 3 L F (9 F) floats;
//  - per (point, level) rather than per (point, level, plane): the level's scale / resolution / offset and the
//    three coordinates are loaded once for the three planes, and each thread still has 12 independent gathers.
// The per-element maths is nvp_math in nvp_lookup.h (shared with a CPU test): it mirrors the LibTorch reference
// operation for operation with explicit round-to-nearest intrinsics, so that the forward is bit-identical to
// keyframe_lookup / sparse_lookup.
// Backward: float atomicAdd into the gradient tables (chosen for simplicity and speed; the order of additions, hence
// the last bits of the gradients, is not deterministic). No gradient w.r.t. the coordinates.

namespace nvc::cuda {

namespace {

constexpr int kBlock = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 20;  // grid-stride beyond this

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + " kernel: " + cudaGetErrorString(err));
}

unsigned blocks_for(int64_t total) { return unsigned(std::min<int64_t>((total + kBlock - 1) / kBlock, kMaxBlocks)); }

// Compile-time F for the common sizes (unrolled loops), FT = 0: the runtime value.
template <int FT>
__device__ __forceinline__ int feat(int f) {
  return FT > 0 ? FT : f;
}

using namespace nvp_math;

// The plane's two coordinates of a point.
__device__ __forceinline__ void point_plane_coords(const float* __restrict__ xyt, int64_t point, int plane, float& c0,
                                                   float& c1) {
  plane_coords(xyt[point * 3], xyt[point * 3 + 1], xyt[point * 3 + 2], plane, c0, c1);
}

template <int FT>
__global__ void keyframe_forward_kernel(const float* __restrict__ xyt, int64_t n, const float* __restrict__ t_xy,
                                        const float* __restrict__ t_yt, const float* __restrict__ t_xt,
                                        NvpKeyframeLevels lv, float* __restrict__ out) {
  const int L = lv.levels, F = feat<FT>(lv.features);
  const int64_t total = n * L, row_len = int64_t(3) * L * F;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t point = i / L;
    const int l = int(i - point * L);
    const float scale = lv.scale[l];
    const int R = lv.resolution[l];
    const int64_t offset = lv.offset[l];
    float* o = out + point * row_len + int64_t(l) * F;
#pragma unroll
    for (int plane = 0; plane < 3; ++plane) {
      const float* __restrict__ table = plane == 0 ? t_xy : (plane == 1 ? t_yt : t_xt);
      float c0, c1;
      point_plane_coords(xyt, point, plane, c0, c1);
      const Corners k = keyframe_corners(c0, c1, scale, R, offset);
      const float* r0 = table + k.row[0] * F;
      const float* r1 = table + k.row[1] * F;
      const float* r2 = table + k.row[2] * F;
      const float* r3 = table + k.row[3] * F;
      float* op = o + int64_t(plane) * L * F;
#pragma unroll
      for (int f = 0; f < F; ++f) {
        op[f] = blend(__ldg(r0 + f), __ldg(r1 + f), __ldg(r2 + f), __ldg(r3 + f), k.w);
      }
    }
  }
}

template <int FT>
__global__ void keyframe_backward_kernel(const float* __restrict__ xyt, int64_t n, const float* __restrict__ grad_out,
                                         NvpKeyframeLevels lv, float* __restrict__ g_xy, float* __restrict__ g_yt,
                                         float* __restrict__ g_xt) {
  const int L = lv.levels, F = feat<FT>(lv.features);
  const int64_t total = n * L, row_len = int64_t(3) * L * F;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t point = i / L;
    const int l = int(i - point * L);
    const float scale = lv.scale[l];
    const int R = lv.resolution[l];
    const int64_t offset = lv.offset[l];
    const float* g = grad_out + point * row_len + int64_t(l) * F;
#pragma unroll
    for (int plane = 0; plane < 3; ++plane) {
      float* __restrict__ table = plane == 0 ? g_xy : (plane == 1 ? g_yt : g_xt);
      float c0, c1;
      point_plane_coords(xyt, point, plane, c0, c1);
      const Corners k = keyframe_corners(c0, c1, scale, R, offset);
      const float* gp = g + int64_t(plane) * L * F;
#pragma unroll
      for (int f = 0; f < F; ++f) {
        const float gv = __ldg(gp + f);
#pragma unroll
        for (int c = 0; c < 4; ++c) atomicAdd(table + k.row[c] * F + f, __fmul_rn(gv, k.w[c]));
      }
    }
  }
}

__device__ __forceinline__ int64_t point_sparse_cell(const float* __restrict__ xyt, int64_t point, int k, int T,
                                                     int H, int W) {
  return sparse_cell(xyt[point * 3], xyt[point * 3 + 1], xyt[point * 3 + 2], k, T, H, W);
}

template <int FT>
__global__ void sparse_forward_kernel(const float* __restrict__ xyt, int64_t n, const float* __restrict__ grid, int T,
                                      int H, int W, int f_rt, float* __restrict__ out) {
  const int F = feat<FT>(f_rt);
  const int64_t total = n * 9;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t point = i / 9;
    const int k = int(i - point * 9);
    const float* src = grid + point_sparse_cell(xyt, point, k, T, H, W) * F;
    float* o = out + i * F;  // = point * 9 F + k F
#pragma unroll
    for (int f = 0; f < F; ++f) o[f] = __ldg(src + f);
  }
}

template <int FT>
__global__ void sparse_backward_kernel(const float* __restrict__ xyt, int64_t n, const float* __restrict__ grad_out,
                                       int T, int H, int W, int f_rt, float* __restrict__ grad_grid) {
  const int F = feat<FT>(f_rt);
  const int64_t total = n * 9;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t point = i / 9;
    const int k = int(i - point * 9);
    float* dst = grad_grid + point_sparse_cell(xyt, point, k, T, H, W) * F;
    const float* g = grad_out + i * F;
#pragma unroll
    for (int f = 0; f < F; ++f) atomicAdd(dst + f, __ldg(g + f));
  }
}

[[noreturn]] void bad(const char* what, const std::string& msg) {
  throw std::invalid_argument(std::string(what) + ": " + msg);
}

void check_levels(const NvpKeyframeLevels& lv, const char* what) {
  if (lv.levels < 1 || lv.levels > kNvpMaxLevels)
    bad(what, "levels = " + std::to_string(lv.levels) + " outside [1, " + std::to_string(kNvpMaxLevels) + "]");
  if (lv.features < 1 || lv.features > kNvpMaxFeatures)
    bad(what, "features = " + std::to_string(lv.features) + " outside [1, " + std::to_string(kNvpMaxFeatures) + "]");
  if (lv.offset[0] != 0) bad(what, "offset[0] must be 0");
  for (int l = 0; l < lv.levels; ++l) {
    const int R = lv.resolution[l];
    if (R < 1 || R > (1 << 20)) bad(what, "resolution of level " + std::to_string(l) + " = " + std::to_string(R));
    if (lv.offset[l + 1] != lv.offset[l] + int64_t(R) * R)
      bad(what, "offsets do not match the resolutions at level " + std::to_string(l));
    if (!(lv.scale[l] >= 0.0f && lv.scale[l] <= float(R)))  // also refuses NaN
      bad(what, "scale of level " + std::to_string(l) + " = " + std::to_string(lv.scale[l]));
  }
}

void check_sparse(int t, int h, int w, int f, const char* what) {
  if (t < 1 || h < 1 || w < 1 || f < 1 || f > kNvpMaxFeatures)
    bad(what, "bad grid size " + std::to_string(t) + "x" + std::to_string(h) + "x" + std::to_string(w) + "x" +
                  std::to_string(f));
}

void check_n(int64_t n, const char* what) {
  // n * 3 L F and n * 9 F must stay far from int64 overflow; 2^40 points is far beyond any GPU's memory anyway.
  if (n < 0 || n > (int64_t(1) << 40)) bad(what, "point count " + std::to_string(n) + " outside [0, 2^40]");
}

// Runs launch(std::integral_constant<int, F>{}) with F the compiled feature count (1, 2, 4, 8), or F = 0 for the
// kernels' runtime-F version: one place that knows which counts are specialised.
template <typename Launch>
void with_features(int f, Launch&& launch) {
  switch (f) {
    case 1: launch(std::integral_constant<int, 1>{}); break;
    case 2: launch(std::integral_constant<int, 2>{}); break;
    case 4: launch(std::integral_constant<int, 4>{}); break;
    case 8: launch(std::integral_constant<int, 8>{}); break;
    default: launch(std::integral_constant<int, 0>{}); break;
  }
}

}  // namespace

void launch_nvp_keyframe_forward(const float* xyt, int64_t n, const float* table_xy, const float* table_yt,
                                 const float* table_xt, const NvpKeyframeLevels& lv, float* out, void* stream) {
  const char* what = "launch_nvp_keyframe_forward";
  check_levels(lv, what);
  check_n(n, what);
  if (n == 0) return;
  if (!xyt || !table_xy || !table_yt || !table_xt || !out) bad(what, "null pointer");
  const int64_t total = n * lv.levels;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const unsigned b = blocks_for(total);
  with_features(lv.features, [&](auto F) {
    keyframe_forward_kernel<decltype(F)::value><<<b, kBlock, 0, s>>>(xyt, n, table_xy, table_yt, table_xt, lv, out);
  });
  check_launch("nvp keyframe forward");
}

void launch_nvp_keyframe_backward(const float* xyt, int64_t n, const float* grad_out, const NvpKeyframeLevels& lv,
                                  float* grad_xy, float* grad_yt, float* grad_xt, void* stream) {
  const char* what = "launch_nvp_keyframe_backward";
  check_levels(lv, what);
  check_n(n, what);
  if (n == 0) return;
  if (!xyt || !grad_out || !grad_xy || !grad_yt || !grad_xt) bad(what, "null pointer");
  const int64_t total = n * lv.levels;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const unsigned b = blocks_for(total);
  with_features(lv.features, [&](auto F) {
    keyframe_backward_kernel<decltype(F)::value><<<b, kBlock, 0, s>>>(xyt, n, grad_out, lv, grad_xy, grad_yt, grad_xt);
  });
  check_launch("nvp keyframe backward");
}

void launch_nvp_sparse_forward(const float* xyt, int64_t n, const float* grid, int t, int h, int w, int f, float* out,
                               void* stream) {
  const char* what = "launch_nvp_sparse_forward";
  check_sparse(t, h, w, f, what);
  check_n(n, what);
  if (n == 0) return;
  if (!xyt || !grid || !out) bad(what, "null pointer");
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const unsigned b = blocks_for(n * 9);
  with_features(f, [&](auto F) {
    sparse_forward_kernel<decltype(F)::value><<<b, kBlock, 0, s>>>(xyt, n, grid, t, h, w, f, out);
  });
  check_launch("nvp sparse forward");
}

void launch_nvp_sparse_backward(const float* xyt, int64_t n, const float* grad_out, int t, int h, int w, int f,
                                float* grad_grid, void* stream) {
  const char* what = "launch_nvp_sparse_backward";
  check_sparse(t, h, w, f, what);
  check_n(n, what);
  if (n == 0) return;
  if (!xyt || !grad_out || !grad_grid) bad(what, "null pointer");
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const unsigned b = blocks_for(n * 9);
  with_features(f, [&](auto F) {
    sparse_backward_kernel<decltype(F)::value><<<b, kBlock, 0, s>>>(xyt, n, grad_out, t, h, w, f, grad_grid);
  });
  check_launch("nvp sparse backward");
}

}  // namespace nvc::cuda
