// NVP -> .nvc tensor records (encode side): what is quantized how, at the precision rate control picks.
#pragma once
#include <string>

#include "bitstream/nvc_file.h"
#include "codec/encode.h"
#include "codec/nvp_fit.h"
#include "codec/nvp_model.h"
#include "codec/picture_grids.h"

namespace nvc {

// Keyframe tables [cells, F] and the sparse grid [T', H', W', F'] are data, like T-NeRV's grids: asymmetric at
// grid_bits, per feature column for the keyframes and per time cell for the sparse grid (its value range follows
// the content of each frame). The modulator and synthesizer: weights symmetric per output channel at weight_bits,
// biases per tensor two bits finer (codec/compress.h, decoder_param_quant).
bitstream::NvcFile pack_nvp(NvpModel& model, const bitstream::SequenceHeader& seq, double weight_bits,
                            double grid_bits, const std::string& encoder_info);

// The NVP paper's grid coding (docs/nvp.md, "Grid coding"): every level of every keyframe plane, one feature column
// at a time, min-max scaled to 8 bits and coded as a JPEG (qscale q_xy for plane xy, q_t for xt and yt); the sparse
// grid one feature at a time as T' frames of H' x W' 8-bit samples through HEVC (x265, `preset`, crf, no B-frames).
// The network as in pack_nvp at weight_bits. One knob sets all three: crf, with q_xy = max(1, round(crf / 10)) and
// q_t = max(1, round(crf / 7)), which gives the paper's NVP-S setting (2, 3, 3) at its crf 21.
struct NvpPictureSetting {
  int crf = 21;
  int jpeg_qscale_xy() const;
  int jpeg_qscale_t() const;
};
bitstream::NvcFile pack_nvp_pictures(NvpModel& model, const bitstream::SequenceHeader& seq,
                                     const NvpPictureSetting& setting, double weight_bits,
                                     const std::string& encoder_info, const std::string& hevc_preset = "slow");
constexpr double kNvpPictureWeightBits = 8.0;  // the network's precision with picture-coded grids

// One coding of the fitted model that rate control produced: what it cost and how well it decodes.
struct NvpCodingTrial {
  std::string coding;  // "cabac" or "pictures"
  size_t bytes = 0;
  double psnr_rgb = 0;  // of the decoded model against the input (RGB, 0..1), measured by the encoder
  double weight_bits = 0, grid_bits = 0;  // cabac
  int crf = -1;                           // pictures
  std::string error;   // when this coding could not meet the budget (then bytes = 0)
};

struct NvpEncodeResult {
  std::vector<uint8_t> bytes;  // the complete .nvc file
  bitstream::ByteSplit split;
  NvpConfig config;
  NvpFitResult fit;
  double target_bytes = 0;
  double weight_bits = 0, grid_bits = 0;  // precision chosen by rate control (cabac)
  std::string grid_coding;                 // "cabac" or "pictures": the coding in the file
  int crf = -1;                            // pictures: the setting rate control chose
  std::vector<NvpCodingTrial> trials;      // every coding tried (both with grid coding auto)
};

// Grid codings nvenc --grid-coding takes: "cabac" (nvc's quantizer + entropy coder), "pictures" (the paper's
// JPEG + HEVC; needs FFmpeg with libx265) and "auto" (both at the budget, the one that decodes better is kept).
std::vector<std::string> nvp_grid_codings();
// The default of nvenc --grid-coding, chosen by the measurements in docs/benchmarks.md.
extern const char* const kDefaultNvpGridCoding;

// Average coded bits per stored parameter assumed when nvenc sizes an NVP from --bpp (config auto); rate control then
// tunes the precision to the exact budget. Measured on vtest 192x144x30 (30 epochs, CPU, grids cabac, PSNR-YUV of
// the decoded file; one fit per point, whose spread is several tenths of a dB):
//   0.1 bpp: 18k parameters (4.5 bits) 27.74 dB, 27k (3.0) 26.96
//   0.2 bpp: 26k (6.3) 27.98, 37k (4.5) 29.39, 54k (3.1) 30.10, 74k (2.2) 29.36, 110k (1.5) 23.79
//   0.4 bpp: 74k (4.5) 32.07, 110k (3.0) 31.05
// 4.5 (T-NeRV's kAssumedBitsPerParam) is best at two of the three rates; no other value is better across them.
constexpr double kNvpAssumedBitsPerParam = 4.5;
// The stored-parameter budget of an auto NVP for a target of `bpp` bits per pixel.
int64_t nvp_param_budget(double bpp, int width, int height, int frames);

// nvenc --model nvp: size an NVP from --bpp (opt.config "auto", nvp_param_budget) or take
// nvp-s / nvp-l, fit it on random pixels (opt.epochs passes over the video's pixels, default the preset's epochs
// / 3; 2^20 pixels a step on CUDA, 2^14 on the CPU, at most the video's pixel count), then rate control as for
// T-NeRV (fit_to_budget, grids at the weights' precision + kDefaultEmbeddingOffset) or, with grid coding "pictures", the finest picture setting whose file
// fits (pack_nvp_pictures; crf bisected on 0..51). Uses opt.bpp, preset, config, params, epochs, lr, seed, device,
// grid_coding, encoder_info, on_progress, should_stop and log.
NvpEncodeResult encode_nvp(const std::vector<video::Frame>& frames, const video::VideoFormat& fmt,
                           const EncodeOptions& opt);

}  // namespace nvc
