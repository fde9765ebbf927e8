// Compression-aware fitting (encode side only): how each stored tensor is quantized, global magnitude pruning,
// fake quantization with the steps the packer will use, and a differentiable estimate of the coded size.
//
// The stages, in the order encode_tnerv runs them after the main fit (each switchable, docs/architecture.md):
//   prune  global magnitude pruning of the decoder's conv/linear weights, then fine-tuning with the zeros held
//   qat    quantization-aware fine-tuning: the forward pass sees the quantized weights, embeddings and temporal codes
//          (straight-through estimator), at the precision rate control picked for the budget
//   ec     entropy-constrained fine-tuning: loss = MSE + lambda * R, R = the estimated bits per pixel of every stored
//          tensor under a per-tensor discrete Laplace model (what the context-adaptive coder approaches)
#pragma once
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bitstream/nvc_file.h"
#include "codec/tnerv_decoder.h"

namespace nvc {

// How a stored tensor is quantized. One definition for the packer (codec/quantize.h) and for fake quantization.
struct TensorQuant {
  enum Kind { SymmetricPerChannel, SymmetricPerTensor, Asymmetric } kind = SymmetricPerChannel;
  double bits = 8;
  int axis = 0;  // channel axis of Asymmetric
  bitstream::Component component = bitstream::Component::Decoder;
};
// Decoder parameters: feature grids (name grid*) are data like the embeddings (asymmetric per channel, axis 1, at
// the embeddings' precision); weights symmetric per output channel; biases (1-D) per tensor with two more bits,
// since they are few and shift whole feature maps.
TensorQuant decoder_param_quant(const std::string& name, const torch::Tensor& t, double weight_bits,
                                double embedding_bits);
// Frame embeddings [T, Ce, h, w]: asymmetric per channel at the embeddings' precision.
TensorQuant embedding_quant(double embedding_bits);
// Temporal codes [T, Dt]: few values that scale every feature map of a frame, so the weights' precision.
TensorQuant temporal_code_quant(double weight_bits);

// Per-channel quantization step (broadcastable against t) and centre (what is subtracted before coding: 0 for
// symmetric, the channel's mid-range for asymmetric), as quantize.cpp chooses them: the step is the channel's range
// over the number of levels, rounded up to the next scale 2^(k/16). No gradient.
struct QuantGrid {
  torch::Tensor step, centre;
};
QuantGrid quant_grid(const torch::Tensor& t, const TensorQuant& q);
// round(t / step) * step: the values the decoder will see (up to float rounding in the last place).
torch::Tensor fake_quantize(const torch::Tensor& t, const QuantGrid& g);

// Estimated coded bits of y = (t - centre) / step (integers after rounding, any real while training) under a
// zero-mean discrete Laplace whose scale is the mean |y| (detached): -log2(F(y + 1/2) - F(y - 1/2)) summed.
// Differentiable in y; stable for any |y|.
torch::Tensor laplace_bits(const torch::Tensor& y);

// Pruning masks of decoder weights by name: true = kept.
using PruneMasks = std::map<std::string, torch::Tensor>;
// Global magnitude pruning of the decoder's conv/linear weights (dim >= 2, not the grids): the `fraction` with the
// smallest |w| / sqrt(numel of the layer) are removed (HiNeRV's score: larger layers give up more). Applies the
// masks to the weights and returns them (on the weights' device).
PruneMasks prune_decoder(TNervDecoder& decoder, double fraction);
void apply_masks(TNervDecoder& decoder, const PruneMasks& masks);

// What the fitting loop does around each step in the compression stages (codec/fit.cpp calls these).
class CompressionAwareStep {
 public:
  struct Options {
    const PruneMasks* masks = nullptr;  // hold these weights at zero
    bool fake_quant = false;            // qat: forward with quantized values (straight-through estimator)
    double lambda = 0;                  // ec: weight of the rate term (MSE per bit per pixel); 0 = off
    double weight_bits = 8, embedding_bits = 7;
    // Ranges of the stored per-frame data over all frames (fixed for the stage): the quantization steps of a batch
    // must be those of the whole tensor.
    torch::Tensor all_embeddings, all_temporal_codes;
    int64_t frames = 1;
    double pixels = 1;  // T * H * W: the rate term is in bits per pixel
  };
  CompressionAwareStep(TNervDecoder& decoder, Options opt);

  // Before the forward pass: the step's quantization grids, and with qat the decoder parameters fake-quantized in
  // place (the float masters are kept).
  void begin_step();
  // Per-frame data of the batch: fake-quantized with a straight-through gradient when qat is on.
  torch::Tensor embeddings(const torch::Tensor& e);
  torch::Tensor temporal_codes(const torch::Tensor& c);
  // lambda * estimated bits per pixel of everything stored (the batch's per-frame data scaled to all frames);
  // undefined when lambda == 0. Call after begin_step() and embeddings() / temporal_codes() of the step.
  torch::Tensor rate_loss(int64_t batch_frames);
  // After backward, before the optimiser step: masters back in place (the gradient of the quantized values is
  // applied to them: straight-through), gradients of pruned weights zeroed.
  void before_optimizer_step();
  // After the optimiser step: pruned weights back to zero.
  void end_step();

  // Estimated bits of the last step (decoder parameters + per-frame data scaled to all frames), for progress.
  double last_bits() const { return last_bits_.defined() ? last_bits_.item<double>() : 0.0; }

 private:
  // Fake quantization (qat) and the rate of per-frame data (ec) on the steps of the whole tensor.
  torch::Tensor per_frame_data(const torch::Tensor& x, const QuantGrid& grid);

  TNervDecoder decoder_;
  Options opt_;
  std::vector<std::pair<std::string, torch::Tensor>> params_;  // decoder parameters by name
  std::vector<TensorQuant> quant_;
  std::vector<torch::Tensor> masters_;
  std::vector<QuantGrid> grids_;            // of this step, from the float values (begin_step)
  std::vector<torch::Tensor> mask_factors_;  // 1 kept / 0 pruned, undefined for unpruned parameters
  QuantGrid emb_grid_, tcode_grid_;
  torch::Tensor frame_rate_bits_;  // of this step's per-frame data, not yet scaled
  torch::Tensor last_bits_;
};

}  // namespace nvc
