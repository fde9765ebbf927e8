#include "codec/tnerv_encoder.h"

namespace nvc {

namespace nn = torch::nn;

namespace {
// LayerNorm over the channel dimension of an NCHW tensor.
torch::Tensor channel_norm(nn::LayerNorm& ln, const torch::Tensor& x) {
  return ln->forward(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}
}  // namespace

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

TNervEncoderImpl::TNervEncoderImpl(const TNervConfig& cfg) {
  downs = register_module("downs", nn::ModuleList());
  norms = register_module("norms", nn::ModuleList());
  stages = register_module("stages", nn::ModuleList());
  int cin = 3;
  for (size_t i = 0; i < cfg.strides.size(); ++i) {
    const int cout = cfg.enc_channels[std::min(i, cfg.enc_channels.size() - 1)];
    const int s = cfg.strides[i];
    downs->push_back(nn::Conv2d(nn::Conv2dOptions(cin, cout, s).stride(s)));
    norms->push_back(nn::LayerNorm(nn::LayerNormOptions({cout}).eps(1e-6)));
    nn::Sequential stage;
    for (int b = 0; b < cfg.enc_blocks[i]; ++b) stage->push_back(ConvNeXtBlock(cout));
    stages->push_back(stage);
    cin = cout;
  }
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(cin, cfg.emb_channels, 1)));
}

torch::Tensor TNervEncoderImpl::forward(const torch::Tensor& frames) {
  torch::Tensor x = frames;
  for (size_t i = 0; i < downs->size(); ++i) {
    x = downs[i]->as<nn::Conv2d>()->forward(x);
    nn::LayerNorm ln(std::dynamic_pointer_cast<nn::LayerNormImpl>(norms[i]));
    x = channel_norm(ln, x);
    x = stages[i]->as<nn::Sequential>()->forward(x);
  }
  return proj->forward(x);
}

}  // namespace nvc
