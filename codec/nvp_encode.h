// NVP -> .nvc tensor records (encode side): what is quantized how, at the precision rate control picks.
#pragma once
#include <string>

#include "bitstream/nvc_file.h"
#include "codec/nvp_model.h"

namespace nvc {

// Keyframe tables [cells, F] and the sparse grid [T', H', W', F'] are data, like T-NeRV's grids: asymmetric at
// grid_bits, per feature column for the keyframes and per time cell for the sparse grid (its value range follows
// the content of each frame). The modulator and synthesizer: weights symmetric per output channel at weight_bits,
// biases per tensor two bits finer (codec/compress.h, decoder_param_quant).
bitstream::NvcFile pack_nvp(NvpModel& model, const bitstream::SequenceHeader& seq, double weight_bits,
                            double grid_bits, const std::string& encoder_info);

}  // namespace nvc
