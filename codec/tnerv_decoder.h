// The stored half of T-NeRV: [frame embedding | GOP feature grids sampled at t] -> pre-block -> five up-sampling
// blocks with AdaIN -> heads -> independent frame, flows and blend weights -> flow-guided aggregation.
// This is all nvdec runs; it must not depend on fitting-only code.
#pragma once
#include <torch/torch.h>

#include "codec/tnerv_config.h"

namespace nvc {

// AdaIN (inferred from E-NeRV): instance normalisation without affine, then x * (1 + gamma) + beta with
// (gamma, beta) = Linear(tcode). The "1 +" keeps the block an identity-scaled map at initialisation, so fitting
// starts from the plain HNeRV block instead of from zeroed features.
torch::Tensor adain(const torch::Tensor& x, const torch::Tensor& gamma_beta);

// One up-sampling block: [AdaIN] -> conv k x k (C_in -> C_out * s^2) -> PixelShuffle(s) -> GELU. The "compact"
// block replaces the conv by a depthwise k x k followed by a pointwise 1x1.
struct TNervBlockImpl : torch::nn::Module {
  TNervBlockImpl(int cin, int cout, int stride, int kernel, const std::string& type, int tcode_dim);
  // tcode: [B, Dt] (undefined when the block has no AdaIN)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& tcode);
  torch::nn::Linear modulation{nullptr};
  torch::nn::Conv2d depthwise{nullptr};
  torch::nn::Conv2d conv{nullptr};
  int stride;
};
TORCH_MODULE(TNervBlock);

// What one network pass gives for a batch of frames.
struct TNervPass {
  torch::Tensor independent;  // [B, 3, Hc, Wc] in (0, 1): the frame decoded from its own inputs
  torch::Tensor flows;        // [B, 8, Hc/f, Wc/f] one (dx, dy) per neighbour in kWindow order, low-res pixels
  torch::Tensor weights;      // [B, 4, Hc/f, Wc/f] logits of the neighbours
  torch::Tensor blend;        // [B, 2, Hc, Wc] logits: independent vs aggregated
};

struct TNervAggregate {
  torch::Tensor output;       // [B, 3, Hc, Wc] the decoded frames
  torch::Tensor aggregated;   // [B, 3, Hc, Wc] the warped-and-blended neighbours alone
  torch::Tensor any_neighbour;  // [B] bool: false where no neighbour exists (then output == independent)
};

// Backward warping: out(x, y) = img(x + dx, y + dy), bilinear, border padding. flow: [B, 2, H, W] in pixels.
torch::Tensor warp(const torch::Tensor& img, const torch::Tensor& flow);

// Samples a temporal feature grid [T_l, C, h, w] at normalised times tau [B] in [0, 1]: position
// i = tau * (T_l - 1), linear blend of cells floor(i) and min(floor(i) + 1, T_l - 1). Returns [B, C, h, w].
torch::Tensor sample_temporal_grid(const torch::Tensor& grid, const torch::Tensor& tau);

struct TNervDecoderImpl : torch::nn::Module {
  explicit TNervDecoderImpl(const TNervConfig& cfg);

  // emb: [B, Ce, h, w] (undefined when Ce == 0); tau: [B] normalised time; tcode: [B, Dt] (undefined when Dt == 0).
  TNervPass pass(const torch::Tensor& emb, const torch::Tensor& tau, const torch::Tensor& tcode);
  // Flow-guided output of frames whose pass is p: neighbours [B, 4, 3, Hc, Wc] are the independent frames at
  // t + kWindow[k]; valid [B, 4] bool says which exist (the others contribute nothing).
  TNervAggregate aggregate(const TNervPass& p, const torch::Tensor& neighbours, const torch::Tensor& valid);
  // Without neighbours (or without the flow-guided decoder): the independent frames.
  torch::Tensor forward(const torch::Tensor& emb, const torch::Tensor& tau, const torch::Tensor& tcode) {
    return pass(emb, tau, tcode).independent;
  }

  TNervConfig cfg;
  std::vector<torch::Tensor> grids;  // registered as grid0, grid1, ...: [T_l, Cg, h, w]
  torch::nn::Conv2d pre{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::Conv2d flow_head{nullptr};
  torch::nn::Conv2d head{nullptr};
};
TORCH_MODULE(TNervDecoder);

}  // namespace nvc
