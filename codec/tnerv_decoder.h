// The stored half of T-NeRV: embeddings -> pre-block -> five up-sampling blocks -> RGB head.
// This is all nvdec runs; it must not depend on fitting-only code.
#pragma once
#include <torch/torch.h>

#include "codec/tnerv_config.h"

namespace nvc {

// conv k x k (C_in -> C_out * s^2) -> PixelShuffle(s) -> GELU, HNeRV's up-sampling block. The next issue adds AdaIN
// (conditioned on the temporal MLP) in front of the conv; forward() already receives the normalized time for that.
struct TNervBlockImpl : torch::nn::Module {
  TNervBlockImpl(int cin, int cout, int stride, int kernel);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
  int stride;
};
TORCH_MODULE(TNervBlock);

struct TNervDecoderImpl : torch::nn::Module {
  explicit TNervDecoderImpl(const TNervConfig& cfg);
  // emb: [B, Ce, h, w]; tau: [B] normalized time in [0,1] (unused by the backbone; grids/AdaIN will use it).
  // Returns RGB [B, 3, coded_h, coded_w] in (0, 1).
  torch::Tensor forward(const torch::Tensor& emb, const torch::Tensor& tau);
  TNervConfig cfg;
  torch::nn::Conv2d pre{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::Conv2d head{nullptr};
};
TORCH_MODULE(TNervDecoder);

}  // namespace nvc
