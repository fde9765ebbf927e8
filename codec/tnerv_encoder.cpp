#include "codec/tnerv_encoder.h"

#include <cmath>

namespace nvc {

namespace nn = torch::nn;

namespace {
// LayerNorm over the channel dimension of an NCHW tensor.
torch::Tensor channel_norm(nn::LayerNorm& ln, const torch::Tensor& x) {
  return ln->forward(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

nn::Sequential mlp(int in, int hidden, int out) {
  nn::Sequential s;
  s->push_back(nn::Linear(in, hidden));
  s->push_back(nn::Functional(torch::gelu, "none"));
  s->push_back(nn::Linear(hidden, hidden));
  s->push_back(nn::Functional(torch::gelu, "none"));
  s->push_back(nn::Linear(hidden, out));
  return s;
}
}  // namespace

torch::Tensor pe_frequencies(double base, int frequencies) {
  std::vector<double> f(static_cast<size_t>(frequencies));
  for (int l = 0; l < frequencies; ++l) f[size_t(l)] = std::pow(base, l) * M_PI;
  return torch::tensor(f, torch::kFloat64);
}

torch::Tensor positional_encoding(const torch::Tensor& tau, double base, int frequencies) {
  return positional_encoding(tau, pe_frequencies(base, frequencies).to(tau.device()));
}

torch::Tensor positional_encoding(const torch::Tensor& tau, const torch::Tensor& freq) {
  const auto arg = (tau.to(torch::kFloat64).unsqueeze(1) * freq.unsqueeze(0));
  // Evaluated in double: b^79 pi t reaches 1e8 rad, where float32 would keep no fractional bits.
  return torch::cat({torch::sin(arg), torch::cos(arg)}, 1).to(torch::kFloat32);
}

ConvNeXtBlockImpl::ConvNeXtBlockImpl(int c) {
  dw = register_module("dw", nn::Conv2d(nn::Conv2dOptions(c, c, 7).padding(3).groups(c)));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({c}).eps(1e-6)));
  pw1 = register_module("pw1", nn::Linear(c, 4 * c));
  pw2 = register_module("pw2", nn::Linear(4 * c, c));
  gamma = register_parameter("gamma", torch::full({c}, 1e-6));
}

torch::Tensor ConvNeXtBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = dw->forward(x).permute({0, 2, 3, 1});  // NHWC for the per-pixel MLP
  y = pw2->forward(torch::gelu(pw1->forward(norm->forward(y))));
  return x + (y * gamma).permute({0, 3, 1, 2});
}

TNervEncoderImpl::TNervEncoderImpl(const TNervConfig& c) : cfg(c) {
  downs = register_module("downs", nn::ModuleList());
  norms = register_module("norms", nn::ModuleList());
  stages = register_module("stages", nn::ModuleList());
  if (c.emb_channels > 0) {
    int cin = 3;
    for (size_t i = 0; i < c.strides.size(); ++i) {
      const int cout = c.enc_channels[std::min(i, c.enc_channels.size() - 1)];
      const int s = c.strides[i];
      downs->push_back(nn::Conv2d(nn::Conv2dOptions(cin, cout, s).stride(s)));
      norms->push_back(nn::LayerNorm(nn::LayerNormOptions({cout}).eps(1e-6)));
      nn::Sequential stage;
      for (int b = 0; b < c.enc_blocks[i]; ++b) stage->push_back(ConvNeXtBlock(cout));
      stages->push_back(stage);
      cin = cout;
    }
    proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(cin, c.emb_channels, 1)));
    if (c.aug_hidden > 0) {
      augmentation = register_module(
          "augmentation", mlp(2 * c.pe_frequencies, c.aug_hidden, c.emb_channels * c.emb_h * c.emb_w));
      // The augmentation starts at zero: fitting begins from the plain ConvNeXt embedding and adds only the
      // time-dependent offset that lowers the loss (a random start costs ~3 dB on the 192x144 clip).
      torch::NoGradGuard no_grad;
      auto last = augmentation[4]->as<nn::Linear>();
      last->weight.zero_();
      last->bias.zero_();
    }
  }
  if (c.tcode_dim > 0)
    temporal_mlp = register_module("temporal_mlp", mlp(2 * c.pe_frequencies, c.tmlp_hidden, c.tcode_dim));
  pe_freq = register_buffer("pe_freq", pe_frequencies(c.pe_base, c.pe_frequencies));
}

torch::Tensor TNervEncoderImpl::embed(const torch::Tensor& frames, const torch::Tensor& tau) {
  torch::Tensor x = frames;
  for (size_t i = 0; i < downs->size(); ++i) {
    x = downs[i]->as<nn::Conv2d>()->forward(x);
    nn::LayerNorm ln(std::dynamic_pointer_cast<nn::LayerNormImpl>(norms[i]));
    x = channel_norm(ln, x);
    x = stages[i]->as<nn::Sequential>()->forward(x);
  }
  x = proj->forward(x);
  if (augmentation) {
    const auto pe = positional_encoding(tau, pe_freq);
    x = x + augmentation->forward(pe).view({-1, cfg.emb_channels, cfg.emb_h, cfg.emb_w});
  }
  return x;
}

torch::Tensor TNervEncoderImpl::temporal_code(const torch::Tensor& tau) {
  return temporal_mlp->forward(positional_encoding(tau, pe_freq));
}

}  // namespace nvc
