// NVP as a LibTorch module: the CPU / LibTorch reference path (docs/nvp.md). A CUDA decoder is to be checked
// against keyframe_lookup and sparse_lookup, which are free functions for that reason.
#pragma once
#include <torch/torch.h>

#include "codec/nvp_config.h"

namespace nvc {

// Multi-resolution bilinear lookup in one keyframe plane.
//   table  [cells, F]: the levels one after another (level l from row offsets[l]); inside a level R_l x R_l cells,
//          row index = i0 + i1 * R_l where i0 indexes the plane's first coordinate (tiny-cuda-nn's layout).
//   uv     [N, 2] in [0, 1]: the plane's two coordinates (first, second).
//   scales, resolutions: one per level (NvpConfig::level_scale / level_resolution).
// Per level and axis: p = c * scale_l + 0.5, i = floor(p), w = p - i; corners i and i + 1, each clamped to
// [0, R_l - 1]; bilinear blend. Returns [N, L * F], level-major (level 0's F features first).
torch::Tensor keyframe_lookup(const torch::Tensor& table, const torch::Tensor& uv, const std::vector<double>& scales,
                              const std::vector<int>& resolutions);

// Sparse positional features. grid [T', H', W', F']; xyt [N, 3] = (x, y, t) in [0, 1] (x along H', y along W').
// Nearest cell per axis: i = floor((R - 1) * c + 0.5) clamped to [0, R - 1]; then the 3x3 spatial neighbourhood
// (ix + di, iy + dj) for di, dj in {-1, 0, 1}, each clamped to the grid, at the same time cell. Returns [N, 9 F'],
// ordered di-major: (-1,-1), (-1,0), (-1,1), (0,-1), ... (1,1).
torch::Tensor sparse_lookup(const torch::Tensor& grid, const torch::Tensor& xyt);

// Frame, row and column of a pixel -> the coordinates NVP is fitted on: x = row / (H - 1), y = col / (W - 1),
// t = frame / (frames - 1) (0 when a side is one pixel / one frame).
torch::Tensor nvp_pixel_coords(const torch::Tensor& frame, const torch::Tensor& row, const torch::Tensor& col,
                               int width, int height, int frames);

struct NvpModelImpl : torch::nn::Module {
  explicit NvpModelImpl(const NvpConfig& cfg);

  // xyt [N, 3] (x, y, t) in [0, 1] -> RGB [N, 3] in the reference's range [-1, 1] (targets 2 v - 1, v in [0, 1]).
  torch::Tensor forward(const torch::Tensor& xyt);
  // The latent z [N, latent_dim] = [xy levels, yt levels, xt levels, sparse 3x3] (the reference's order).
  torch::Tensor latent(const torch::Tensor& xyt);
  // Synthesizer input: the frame centre (f + 0.5) / frames for f = t (frames - 1), as the reference feeds it.
  torch::Tensor synth_time(const torch::Tensor& t) const;

  NvpConfig cfg;
  std::vector<double> scales;
  std::vector<int> resolutions;
  torch::Tensor keyframes_xy, keyframes_xt, keyframes_yt;  // [plane_cells, F]
  torch::Tensor sparse;                                    // [T', H', W', F']
  torch::nn::ModuleList modulator;                         // Linear layers (LeakyReLU between)
  torch::nn::ModuleList synthesizer;                       // `layers` sine layers, then the RGB head
};
TORCH_MODULE(NvpModel);

// Decoding: frames [first, first + count) rendered pixel by pixel -> [count, 3, H, W] RGB in [0, 1] (clamped), on
// the model's device, evaluated in chunks of at most chunk_pixels pixels.
torch::Tensor nvp_render_frames(NvpModel& model, int first, int count, int64_t chunk_pixels = 1 << 18);

}  // namespace nvc
