// Fitting-only half of T-NeRV: everything that produces the stored per-frame data and is then thrown away.
//   - ConvNeXt frame encoder: frame -> e_t [Ce, h, w]
//   - temporal augmentation MLP: PE(t) -> 160-512-512-(Ce*h*w), added to e_t; E_t = e_t + aug(t) is stored
//   - temporal MLP: PE(t) -> 160-256-256-Dt; its output at each frame is the stored temporal code (AdaIN input)
#pragma once
#include <torch/torch.h>

#include "codec/tnerv_config.h"

namespace nvc {

// NeRV's positional encoding of normalised time: [sin(b^l pi t), cos(b^l pi t)] for l < L -> [B, 2L].
torch::Tensor positional_encoding(const torch::Tensor& tau, double base, int frequencies);
// The same with the frequencies b^l pi (float64, from pe_frequencies) already on tau's device: no host data is
// touched, so it runs inside a captured CUDA graph and never waits for the GPU.
torch::Tensor positional_encoding(const torch::Tensor& tau, const torch::Tensor& frequencies);
torch::Tensor pe_frequencies(double base, int frequencies);

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

struct TNervEncoderImpl : torch::nn::Module {
  explicit TNervEncoderImpl(const TNervConfig& cfg);
  // frames: [B, 3, coded_h, coded_w], tau: [B] -> E_t [B, Ce, h, w]. Only when cfg.emb_channels > 0.
  torch::Tensor embed(const torch::Tensor& frames, const torch::Tensor& tau);
  // tau: [B] -> temporal codes [B, Dt]. Only when cfg.tcode_dim > 0.
  torch::Tensor temporal_code(const torch::Tensor& tau);

  TNervConfig cfg;
  // Five stages mirroring the decoder: stage i down-samples by strides[i] (patchify conv, kernel = stride) and
  // runs enc_blocks[i] ConvNeXt blocks; a 1x1 projection gives the Ce-channel embedding at h x w.
  torch::nn::ModuleList downs, norms, stages;
  torch::nn::Conv2d proj{nullptr};
  torch::nn::Sequential augmentation{nullptr};
  torch::nn::Sequential temporal_mlp{nullptr};
  torch::Tensor pe_freq;  // buffer: pe_frequencies(cfg.pe_base, cfg.pe_frequencies), moves with the module
};
TORCH_MODULE(TNervEncoder);

}  // namespace nvc
