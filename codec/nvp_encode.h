// NVP -> .nvc tensor records (encode side): what is quantized how, at the precision rate control picks.
#pragma once
#include <string>

#include "bitstream/nvc_file.h"
#include "codec/encode.h"
#include "codec/nvp_fit.h"
#include "codec/nvp_model.h"

namespace nvc {

// Keyframe tables [cells, F] and the sparse grid [T', H', W', F'] are data, like T-NeRV's grids: asymmetric at
// grid_bits, per feature column for the keyframes and per time cell for the sparse grid (its value range follows
// the content of each frame). The modulator and synthesizer: weights symmetric per output channel at weight_bits,
// biases per tensor two bits finer (codec/compress.h, decoder_param_quant).
bitstream::NvcFile pack_nvp(NvpModel& model, const bitstream::SequenceHeader& seq, double weight_bits,
                            double grid_bits, const std::string& encoder_info);

struct NvpEncodeResult {
  std::vector<uint8_t> bytes;  // the complete .nvc file
  bitstream::ByteSplit split;
  NvpConfig config;
  NvpFitResult fit;
  double target_bytes = 0;
  double weight_bits = 0, grid_bits = 0;  // precision chosen by rate control
};

// nvenc --model nvp: size an NVP from --bpp (opt.config "auto", kAssumedBitsPerParam per stored parameter) or take
// nvp-s / nvp-l, fit it on random pixels (opt.epochs passes over the video's pixels, default the preset's epochs
// / 3; 2^20 pixels a step on CUDA, 2^14 on the CPU), then rate control as for T-NeRV (fit_to_budget, grids at the
// weights' precision + kDefaultEmbeddingOffset). Uses opt.bpp, preset, config, params, epochs, lr, seed, device,
// encoder_info, on_progress, should_stop and log.
NvpEncodeResult encode_nvp(const std::vector<video::Frame>& frames, const video::VideoFormat& fmt,
                           const EncodeOptions& opt);

}  // namespace nvc
