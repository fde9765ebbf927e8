// nvenc's engine: frames -> sized model -> fit -> quantize at the precision that meets the bit budget -> .nvc bytes.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "bitstream/nvc_file.h"
#include "codec/fit.h"
#include "codec/tnerv_config.h"
#include "codec/video/video_io.h"

namespace nvc {

struct Preset {
  std::string name;
  int epochs;
  bool full_encoder;  // ConvNeXt (3,3,9,6,3) vs HNeRV's tiny one-block-per-stage encoder
};
// fast | medium | slow; throws std::invalid_argument for anything else.
Preset preset_by_name(const std::string& name);

// The compression stages after the main fit (codec/compress.h). All on by default; `--stages ptq` is plain
// post-training quantization. The preset's epochs are shared: prune fine-tuning gets prune_epoch_fraction of them,
// the final quantization-aware / entropy-constrained fine-tuning finetune_epoch_fraction, the main fit the rest, so
// every combination costs the same fitting time and the RD curves compare like with like.
struct CompressionOptions {
  bool prune = true;
  bool qat = true;
  bool ec = true;
  double prune_fraction = 0.15;      // of the decoder's conv/linear weights (HiNeRV's 15%)
  double lambda = 0;                 // ec: rate weight in MSE per bit per pixel; 0 = auto
  double lambda_scale = 1.0;         // auto lambda = lambda_scale * MSE after the main fit / target bpp
  double prune_epoch_fraction = 0.2;
  double finetune_epoch_fraction = 0.1;
  // "ptq", or a comma list of prune, qat, ec ("all" = all three). Throws std::invalid_argument naming the bad item.
  static CompressionOptions parse_stages(const std::string& list);
  std::string describe() const;      // "ptq" or e.g. "prune,qat,ec"
};

struct EncodeOptions {
  double bpp = 0.1;              // target: 8 * file bytes = bpp * W * H * frames (headers included)
  std::string preset = "medium";
  std::string config = "auto";   // auto (sized from --bpp) or a named paper configuration (12.4m, 3.0m, 9.3m)
  TNervVariant variant;          // ablations and block type (the preset may still shrink the frame encoder)
  torch::Device device = torch::kCPU;
  FitSpeed speed;                // how fitting runs (FitSpeed::fast(device) in nvenc; reference() = fp32 eager)
  int64_t params = 0;            // expert override of the stored parameter count (0 = from --bpp)
  int epochs = 0;                // expert override of the preset's epochs
  double fit_seconds = 0;        // NVP: fit for this wall time instead of a number of epochs (0 = epochs)
  int batch = 1;
  double lr = 0;                 // peak learning rate; 0 = auto_learning_rate(stored parameters)
  uint64_t seed = 1;
  CompressionOptions compression;
  std::string grid_coding;       // NVP: cabac | pictures | auto (empty = kDefaultNvpGridCoding, codec/nvp_encode.h)
  std::string encoder_info;      // written into the file's non-critical 'info' section
  std::function<void(const FitProgress&)> on_progress;
  std::function<bool()> should_stop;
  std::function<void(const std::string&)> log;  // informational lines (stderr in nvenc)
};

// Precision of the embeddings and grids: weight bits + offset (default one bit coarser, as HNeRV's 6 vs 8 bits),
// at least 2. The final rate control tries kEmbeddingOffsets and keeps the one nvdec's output is best with.
constexpr double kDefaultEmbeddingOffset = -1.0;
constexpr double kEmbeddingOffsets[] = {-2.0, -1.0, 0.0};

struct StageReport {
  std::string name;        // fit, prune, qat, ec, qat+ec
  int epochs = 0;
  double fit_psnr = 0;     // PSNR-RGB of the stage's last epoch (training loss, fake-quantized in qat)
  double weight_bits = 0;  // precision that met the budget after the stage (post-training quantization)
};

struct EncodeResult {
  std::vector<uint8_t> bytes;    // the complete .nvc file
  bitstream::ByteSplit split;
  TNervConfig config;
  FitResult fit;
  double target_bytes = 0;
  double weight_bits = 0, embedding_bits = 0;  // precision chosen by rate control
  // The embedding/grid precision offsets tried at the end: (offset, PSNR-YUV of the decoded file).
  std::vector<std::pair<double, double>> offset_trials;
  double embedding_offset = kDefaultEmbeddingOffset;  // the one chosen
  std::vector<StageReport> stages;
  double lambda = 0;       // rate weight used by ec (0 when off)
  double sparsity = 0;     // fraction of the decoder's conv/linear weights that are zero in the file
};

// Rate control: the largest precision (weight bits; embeddings one bit coarser) whose file fits target_bytes,
// found by bisection on [kMinWeightBits, kMaxWeightBits] (the size grows with the precision, in steps of 2^(1/16)
// in the quantization step). `pack` builds the file at a precision. Throws std::runtime_error when even the coarsest
// precision does not fit.
struct RateControlResult {
  std::vector<uint8_t> bytes;
  bitstream::ByteSplit split;
  double weight_bits = 0, embedding_bits = 0;
};
constexpr double kMinWeightBits = 1.0, kMaxWeightBits = 13.0;  // 13: biases get +2 and the format allows 16
double embedding_bits_for(double weight_bits, double offset = kDefaultEmbeddingOffset);
RateControlResult fit_to_budget(double target_bytes,
                                const std::function<std::vector<uint8_t>(double wb, double eb, bitstream::ByteSplit*)>& pack,
                                double embedding_offset = kDefaultEmbeddingOffset);

// Average coded bits per stored parameter assumed when sizing the model; rate control then tunes the quantization
// precision to the exact budget. The best size puts the precision at 5-6 bits. Measured on vtest 192x144x30, 40
// epochs, all compression stages (PSNR-YUV): 0.1 bpp 13.4k parameters 29.88 dB, 17k 30.60, 20k 30.53, 23k 30.38,
// 27k 29.06; 0.2 bpp 27k 32.91 (post-training quantization), 40k 33.36, 54k 32.33. 4.5 bits per parameter gives
// 18k and 36k there.
constexpr double kAssumedBitsPerParam = 4.5;

// Peak Adam learning rate for a model size. Measured on the 192x144 clip at 27k parameters (40 epochs, PSNR-YUV):
// 1e-3 26.3 dB, 2e-3 29.2, 5e-3 31.3, 1e-2 32.8, 2e-2 33.0, 4e-2 diverges. Larger models get less, down to the
// 2e-3 that HNeRV/FFNeRV use for millions of parameters: 1e-2 * sqrt(1e5 / P), clamped to [2e-3, 1e-2].
double auto_learning_rate(int64_t stored_params);

EncodeResult encode_tnerv(const std::vector<video::Frame>& frames, const video::VideoFormat& fmt,
                          const EncodeOptions& opt);

// Packs a fitted model at a given precision (used by rate control and tests).
// embeddings / temporal_codes may be undefined when the configuration has none.
bitstream::NvcFile pack_tnerv(const TNervConfig& cfg, TNervDecoder& decoder, const torch::Tensor& embeddings,
                              const torch::Tensor& temporal_codes, const bitstream::SequenceHeader& seq,
                              double weight_bits, double embedding_bits, const std::string& encoder_info);

// The model a run would fit, before fitting: nvenc --print-model and the start of encode_tnerv.
// param_budget <= 0 derives it from bpp (auto config only).
TNervConfig plan_tnerv(int width, int height, int frames, double bpp, const EncodeOptions& opt);
// Parameters of the fitting-only modules (frame encoder, augmentation MLP, temporal MLP) for a configuration.
int64_t encoder_params(const TNervConfig& cfg);

// Mean PSNR-YUV (6:1:1) of a .nvc file decoded through nvdec's path (FrameDecoder) against the source frames.
double decoded_psnr_yuv(const std::vector<uint8_t>& bytes, const std::vector<video::Frame>& frames,
                        const video::VideoFormat& fmt, const torch::Device& device);

bitstream::SequenceHeader sequence_header_of(const video::VideoFormat& fmt, int frames);
torch::Tensor frames_to_rgb_tensor(const std::vector<video::Frame>& frames, int matrix, bool full_range);

}  // namespace nvc
