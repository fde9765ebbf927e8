// NVP's positional-feature lookups with one entry point for every device (docs/nvp.md): CUDA tensors go to the fused
// kernels of codec/cuda/nvp_lookup.cu (forward and backward, as torch::autograd::Functions: gradients flow to the
// keyframe tables and the sparse grid, not to the coordinates); CPU tensors go to the LibTorch reference
// (keyframe_lookup / sparse_lookup of codec/nvp_model.h, differentiated by LibTorch's own autograd).
//
// Argument order as the reference functions: the learnt tables first, then the coordinates.
#pragma once
#include <torch/torch.h>

#include "codec/nvp_config.h"

namespace nvc {

// The three keyframe planes at once: keyframes_xy / _yt / _xt [cfg.plane_cells(), cfg.features] float32 (the
// model's parameters of those names), xyt [N, 3] rows (x, y, t), any floating dtype (converted to float32, as the
// reference does). Returns [N, 3 L F] float32 = [xy levels, yt levels, xt levels]: exactly
//   cat({keyframe_lookup(xy, (x, y)), keyframe_lookup(yt, (t, y)), keyframe_lookup(xt, (t, x))}, 1)
// with cfg's level scales and resolutions, i.e. the keyframe part of NvpModelImpl::latent.
// Throws std::invalid_argument (naming the tensor) on a wrong shape, dtype or device, or CUDA tensors in a build
// without CUDA kernels.
torch::Tensor keyframe_lookup_fused(const torch::Tensor& keyframes_xy, const torch::Tensor& keyframes_yt,
                                    const torch::Tensor& keyframes_xt, const torch::Tensor& xyt, const NvpConfig& cfg);

// sparse_lookup(grid, xyt): grid [T', H', W', F'] float32, xyt [N, 3] -> [N, 9 F'] float32. Same errors.
torch::Tensor sparse_lookup_fused(const torch::Tensor& grid, const torch::Tensor& xyt);

}  // namespace nvc
