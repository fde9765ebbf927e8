#include "codec/tnerv_decoder.h"

namespace nvc {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using torch::indexing::Slice;

torch::Tensor adain(const torch::Tensor& x, const torch::Tensor& gamma_beta) {
  // Written out rather than F::instance_norm so that a 1x1 feature map (tiny videos) normalises to zero instead of
  // throwing in training mode.
  // Statistics in float32 whatever the activations' type: in float16 (nvdec on a GPU) the squares could overflow
  // 65504, and bf16 (autocast fitting) would average with 8-bit mantissas; fitting and decoding agree this way.
  const auto xs = x.scalar_type() == torch::kFloat32 ? x : x.to(torch::kFloat32);
  const auto mean = xs.mean({2, 3}, /*keepdim=*/true);
  const auto var = (xs - mean).square().mean({2, 3}, /*keepdim=*/true);
  const auto normed = ((xs - mean) * torch::rsqrt(var + 1e-5)).to(x.scalar_type());
  const int64_t c = x.size(1);
  const auto gamma = gamma_beta.narrow(1, 0, c).unsqueeze(2).unsqueeze(3);
  const auto beta = gamma_beta.narrow(1, c, c).unsqueeze(2).unsqueeze(3);
  return normed * (1.0 + gamma) + beta;
}

TNervBlockImpl::TNervBlockImpl(int cin, int cout, int s, int kernel, const std::string& type, int tcode_dim)
    : stride(s) {
  if (tcode_dim > 0) modulation = register_module("modulation", nn::Linear(tcode_dim, 2 * cin));
  if (type == "compact") {
    depthwise = register_module(
        "depthwise", nn::Conv2d(nn::Conv2dOptions(cin, cin, kernel).padding(kernel / 2).groups(cin)));
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(cin, cout * s * s, 1)));
  } else {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(cin, cout * s * s, kernel).padding(kernel / 2)));
  }
}

torch::Tensor TNervBlockImpl::forward(const torch::Tensor& x_in, const torch::Tensor& tcode) {
  torch::Tensor x = x_in;
  if (modulation) x = adain(x, modulation->forward(tcode));
  if (depthwise) x = depthwise->forward(x);
  torch::Tensor y = conv->forward(x);
  if (stride > 1) y = torch::pixel_shuffle(y, stride);
  return torch::gelu(y);
}

torch::Tensor warp(const torch::Tensor& img, const torch::Tensor& flow) {
  const int64_t B = img.size(0), H = img.size(2), W = img.size(3);
  auto opts = flow.options();
  // Pixel centres in grid_sample's align_corners=false convention: x_norm = (2x + 1) / W - 1.
  const auto xs = torch::arange(W, opts).view({1, 1, W}).expand({B, H, W});
  const auto ys = torch::arange(H, opts).view({1, H, 1}).expand({B, H, W});
  const auto gx = (2.0 * (xs + flow.select(1, 0)) + 1.0) / double(W) - 1.0;
  const auto gy = (2.0 * (ys + flow.select(1, 1)) + 1.0) / double(H) - 1.0;
  return F::grid_sample(img, torch::stack({gx, gy}, 3),
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder)
                            .align_corners(false));
}

torch::Tensor sample_temporal_grid(const torch::Tensor& grid, const torch::Tensor& tau) {
  const int64_t cells = grid.size(0);
  const auto pos = tau.to(torch::kFloat32).clamp(0.0, 1.0) * double(cells - 1);
  const auto left = pos.floor().clamp(0, cells - 1).to(torch::kLong);
  const auto right = (left + 1).clamp_max(cells - 1);
  const auto w = (pos - left.to(torch::kFloat32)).view({-1, 1, 1, 1}).to(grid.dtype());
  return grid.index_select(0, left) * (1.0 - w) + grid.index_select(0, right) * w;
}

TNervDecoderImpl::TNervDecoderImpl(const TNervConfig& c) : cfg(c) {
  for (size_t l = 0; l < c.grid_res.size(); ++l) {
    // Small random features: every cell starts distinct but close to zero, so early fitting leans on the
    // embeddings and the grids grow where time-varying detail pays.
    grids.push_back(register_parameter("grid" + std::to_string(l),
                                       torch::randn({c.grid_res[l], c.grid_channels, c.emb_h, c.emb_w}) * 0.01));
  }
  pre = register_module("pre", nn::Conv2d(nn::Conv2dOptions(c.decoder_input_channels(), c.channels[0], c.pre_kernel)
                                              .padding(c.pre_kernel / 2)));
  blocks = register_module("blocks", nn::ModuleList());
  for (size_t i = 0; i < c.strides.size(); ++i)
    blocks->push_back(
        TNervBlock(c.channels[i], c.channels[i + 1], c.strides[i], c.kernels[i], c.block, c.tcode_dim));
  if (c.flow) flow_head = register_module("flow_head", nn::Conv2d(nn::Conv2dOptions(c.channels[3], 12, 1)));
  head = register_module("head", nn::Conv2d(nn::Conv2dOptions(c.channels.back(), c.flow ? 5 : 3, c.head_kernel)
                                                .padding(c.head_kernel / 2)));
  if (c.flow) {
    // Start with zero flows and a blend that favours the independent frame: the aggregation is learnt on top of
    // a working decoder instead of mixing in random warps from the first step.
    torch::NoGradGuard no_grad;
    flow_head->weight.mul_(0.1);
    flow_head->bias.zero_();
    head->bias.narrow(0, 3, 2).copy_(torch::tensor({2.0f, 0.0f}));
  }
}

TNervPass TNervDecoderImpl::pass(const torch::Tensor& emb, const torch::Tensor& tau, const torch::Tensor& tcode) {
  std::vector<torch::Tensor> inputs;
  if (cfg.emb_channels > 0) inputs.push_back(emb);
  for (const auto& g : grids) inputs.push_back(sample_temporal_grid(g, tau));
  torch::Tensor x = pre->forward(inputs.size() == 1 ? inputs[0] : torch::cat(inputs, 1));
  TNervPass p;
  for (size_t i = 0; i < blocks->size(); ++i) {
    x = blocks[i]->as<TNervBlock>()->forward(x, tcode);
    if (cfg.flow && int(i) == TNervConfig::kFlowBlock) {
      torch::Tensor f = flow_head->forward(x);
      p.flows = f.narrow(1, 0, 8);
      p.weights = f.narrow(1, 8, 4);
    }
  }
  torch::Tensor out = head->forward(x);
  // HNeRV's output activation: (tanh + 1) / 2 keeps the image in (0, 1) with a useful gradient near the ends.
  p.independent = (torch::tanh(out.narrow(1, 0, 3)) + 1.0) * 0.5;
  if (cfg.flow) p.blend = out.narrow(1, 3, 2);
  return p;
}

TNervAggregate TNervDecoderImpl::aggregate(const TNervPass& p, const torch::Tensor& neighbours,
                                           const torch::Tensor& valid) {
  TNervAggregate r;
  const int64_t Hc = p.independent.size(2), Wc = p.independent.size(3);
  const double f = cfg.flow_upsampling();
  // Flows are predicted at 1/f resolution in low-res pixels: up-sample bilinearly and scale to full-res pixels.
  torch::Tensor flows = p.flows;
  torch::Tensor weights = p.weights;
  if (flows.size(2) != Hc || flows.size(3) != Wc) {
    flows = F::interpolate(flows, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{Hc, Wc})
                                      .mode(torch::kBilinear)
                                      .align_corners(false)) * f;
    weights = F::interpolate(weights,
                             F::InterpolateFuncOptions().size(std::vector<int64_t>{Hc, Wc}).mode(torch::kNearest));
  }
  // Missing neighbours get a logit far below any learnt one, so they take no weight.
  const auto mask = (~valid).to(weights.dtype()).unsqueeze(2).unsqueeze(3) * -1e4;
  const auto w = torch::softmax(weights + mask, 1);
  // The four neighbours are warped in one grid_sample call: [B, 4, ...] folded to [4B, ...].
  const int64_t B = neighbours.size(0);
  const auto warped = warp(neighbours.reshape({B * 4, 3, Hc, Wc}), flows.reshape({B * 4, 2, Hc, Wc}))
                          .view({B, 4, 3, Hc, Wc});
  const auto agg = (warped * w.unsqueeze(2)).sum(1);
  const auto b = torch::softmax(p.blend, 1);
  r.any_neighbour = valid.any(1);
  const auto blended = p.independent * b.narrow(1, 0, 1) + agg * b.narrow(1, 1, 1);
  r.output = torch::where(r.any_neighbour.view({-1, 1, 1, 1}), blended, p.independent);
  r.aggregated = agg;
  return r;
}

}  // namespace nvc
