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

}  // namespace nvc::cuda
