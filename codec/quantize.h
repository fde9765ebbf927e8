// Quantization of fitted tensors into .nvc tensor records (encode side).
#pragma once
#include <torch/torch.h>

#include "bitstream/nvc_file.h"
#include "codec/compress.h"

namespace nvc {

// Precision is a real number of bits so that rate control can move the size smoothly: a tensor channel with
// range R gets the step R / (2^bits - 1), rounded up to the next representable scale 2^(k/16).
//
// Weights: symmetric per output channel (axis 0), no zero point; 1-D tensors (biases) per tensor.
bitstream::TensorRecord quantize_symmetric(const torch::Tensor& t, double bits, bitstream::Component component,
                                           bool per_channel);
// Embeddings [T, C, h, w]: asymmetric per channel (axis 1) with an integer zero point so the coded ints centre on 0.
bitstream::TensorRecord quantize_asymmetric(const torch::Tensor& t, double bits, int axis,
                                            bitstream::Component component);

// Dispatches on how the tensor is to be quantized (codec/compress.h: decoder_param_quant, embedding_quant, ...).
bitstream::TensorRecord quantize_tensor(const torch::Tensor& t, const TensorQuant& q);

}  // namespace nvc
