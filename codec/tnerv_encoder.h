// Fitting-only half of T-NeRV: the ConvNeXt frame encoder that produces the per-frame embeddings. Never stored.
#pragma once
#include <torch/torch.h>

#include "codec/tnerv_config.h"

namespace nvc {

// ConvNeXt block: depthwise 7x7 -> LayerNorm -> 1x1 (4x) -> GELU -> 1x1 -> layer scale, residual.
struct ConvNeXtBlockImpl : torch::nn::Module {
  explicit ConvNeXtBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d dw{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear pw1{nullptr}, pw2{nullptr};
  torch::Tensor gamma;
};
TORCH_MODULE(ConvNeXtBlock);

// Five stages mirroring the decoder: stage i down-samples by strides[i] (patchify conv, kernel = stride) and runs
// enc_blocks[i] ConvNeXt blocks; a 1x1 projection gives the Ce-channel embedding at h x w.
struct TNervEncoderImpl : torch::nn::Module {
  explicit TNervEncoderImpl(const TNervConfig& cfg);
  // frames: [B, 3, coded_h, coded_w] -> [B, Ce, h, w]
  torch::Tensor forward(const torch::Tensor& frames);
  torch::nn::ModuleList downs, norms, stages;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(TNervEncoder);

}  // namespace nvc
