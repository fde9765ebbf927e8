// NVP streams: the tensor records of a .nvc file of model kind "nvp" <-> an NvpModel (docs/nvp.md).
// Record order: the model's parameters in registration order: keyframes_xy, keyframes_xt, keyframes_yt, sparse,
// then the modulator's and the synthesizer's weights and biases layer by layer.
#pragma once
#include <torch/torch.h>

#include "bitstream/nvc_file.h"
#include "codec/nvp_model.h"

namespace nvc {

// Rebuilds the model from the file alone, on `device`, in eval mode. Throws bitstream::FormatError (naming the
// tensor) when the description or the records do not fit together.
NvpModel load_nvp(const bitstream::NvcFile& file, const torch::Device& device);

}  // namespace nvc
