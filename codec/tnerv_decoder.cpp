#include "codec/tnerv_decoder.h"

namespace nvc {

namespace nn = torch::nn;

TNervBlockImpl::TNervBlockImpl(int cin, int cout, int s, int kernel) : stride(s) {
  conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(cin, cout * s * s, kernel).padding(kernel / 2)));
}

torch::Tensor TNervBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = conv->forward(x);
  if (stride > 1) y = torch::pixel_shuffle(y, stride);
  return torch::gelu(y);
}

TNervDecoderImpl::TNervDecoderImpl(const TNervConfig& c) : cfg(c) {
  pre = register_module("pre", nn::Conv2d(nn::Conv2dOptions(c.emb_channels, c.channels[0], c.pre_kernel)
                                              .padding(c.pre_kernel / 2)));
  blocks = register_module("blocks", nn::ModuleList());
  for (size_t i = 0; i < c.strides.size(); ++i)
    blocks->push_back(TNervBlock(c.channels[i], c.channels[i + 1], c.strides[i], c.kernels[i]));
  head = register_module("head", nn::Conv2d(nn::Conv2dOptions(c.channels.back(), 3, c.head_kernel)
                                                .padding(c.head_kernel / 2)));
}

torch::Tensor TNervDecoderImpl::forward(const torch::Tensor& emb, const torch::Tensor& /*tau*/) {
  torch::Tensor x = pre->forward(emb);
  for (auto& b : *blocks) x = b->as<TNervBlock>()->forward(x);
  // HNeRV's output activation: (tanh + 1) / 2 keeps the image in (0, 1) with a useful gradient near the ends.
  return (torch::tanh(head->forward(x)) + 1.0) * 0.5;
}

}  // namespace nvc
