// T-NeRV configuration: every dimension the decoder needs to rebuild the network, plus the fitting-only shapes.
//
// What is stored in a .nvc file (and counted as the model size):
//   decoder    pre-block, five up-sampling blocks (with their AdaIN projections), the flow head and the RGB head;
//   grids      three GOP feature grids [T_l, Cg, h, w] sampled linearly in time;
//   embeddings per-frame embeddings [T, Ce, h, w] and per-frame temporal codes [T, Dt] (the AdaIN conditioning).
// The temporal codes are the outputs of the paper's temporal MLP (PE -> 160-256-256-Dt) at each frame's time:
// storing T*Dt values is cheaper than storing the MLP for any video shorter than ~1000 frames, gives exactly the
// same decoder input, and is what makes the three published model sizes come out right (see docs/architecture.md).
// The MLP itself, the ConvNeXt frame encoder and the temporal augmentation MLP are fitting-only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bitstream/nvc_file.h"

namespace nvc {

struct TNervConfig {
  std::string name = "auto";  // configuration it was built from (informational)
  // Decoded (display) size and length of the video.
  int width = 0, height = 0, frames = 0;
  // Up-sampling factor of each of the five blocks; their product S maps the embedding grid to pixels.
  std::vector<int> strides;       // 5 values, each 1..16
  int emb_channels = 16;          // Ce; 0 = no frame embeddings (ablation E2)
  int emb_h = 0, emb_w = 0;       // embedding/grid cells; coded size = (emb_h*S) x (emb_w*S) >= display size
  std::vector<int> grid_res;      // temporal cells of each GOP feature grid; empty = no grids (ablation E1)
  int grid_channels = 0;          // Cg
  int tcode_dim = 0;              // Dt, per-frame AdaIN conditioning; 0 = no AdaIN (ablation D2)
  bool flow = false;              // flow-guided aggregation of the neighbours (false: ablation D1)
  std::string block = "hnerv";    // "hnerv": conv k x k; "compact": depthwise k x k + pointwise 1x1
  std::vector<int> channels;      // C0 (pre-block output) .. C5 (last block output): 6 values
  std::vector<int> kernels;       // conv kernel of each block (odd)
  int pre_kernel = 3;
  int head_kernel = 3;

  // Fitting-only (never stored).
  std::vector<int> enc_channels;  // ConvNeXt stage widths (4 values; the fifth stage reuses the last)
  std::vector<int> enc_blocks;    // ConvNeXt blocks per stage (5 values)
  int aug_hidden = 512;           // temporal augmentation MLP width; 0 = no augmentation (ablation E3)
  int tmlp_hidden = 256;          // temporal MLP width (its output is tcode_dim)
  int pe_frequencies = 80;        // positional encoding of time: 2 * 80 = 160 values
  double pe_base = 1.25;

  // The neighbours aggregated by the flow-guided decoder (frame offsets).
  static constexpr int kWindow[4] = {-2, -1, 1, 2};

  int total_stride() const;
  int coded_width() const { return emb_w * total_stride(); }
  int coded_height() const { return emb_h * total_stride(); }
  int decoder_input_channels() const { return emb_channels + int(grid_res.size()) * grid_channels; }
  // Block whose output feeds the flow head: the third, as in the paper (1/4 resolution for strides ..., 2, 2).
  static constexpr int kFlowBlock = 2;
  int flow_upsampling() const { return strides[3] * strides[4]; }

  int64_t decoder_params() const;
  int64_t grid_params() const;
  // Multiply-accumulates of one network pass for one frame at the coded size: the convolutions and the AdaIN
  // projections. The element-wise work (GELU, AdaIN normalisation, PixelShuffle, the flow-guided tail) is memory
  // traffic rather than arithmetic and is left out. Decoder FLOPs per frame = 2x this; bench/perf.py divides the
  // GPU's dense fp16 rate by it for the theoretical frame rate.
  int64_t decoder_macs_per_frame() const;
  int64_t frame_embedding_params() const { return int64_t(frames) * emb_channels * emb_h * emb_w; }
  int64_t temporal_code_params() const { return int64_t(frames) * tcode_dim; }
  int64_t embedding_params() const { return frame_embedding_params() + temporal_code_params(); }
  int64_t stored_params() const { return decoder_params() + grid_params() + embedding_params(); }

  // Serialisation into the .nvc model description (kind "tnerv"); from_description validates every value
  // against sane limits so that a hostile file cannot make the decoder allocate without bound. Keys that an
  // older backbone-only file lacks (grids, tcode, flow, block) decode as "off".
  bitstream::ModelDescription to_description() const;
  static TNervConfig from_description(const bitstream::ModelDescription& d, const bitstream::SequenceHeader& seq);

  std::string summary() const;  // one line for logs
};

// Strides (5 factors, largest first): the smallest total stride S = 2^a 3^b 5^c that puts at most max_rows
// embedding rows on the frame (the paper's 9x16 grid at 720p/1080p, 8x16 at 960p); works for any size.
std::vector<int> choose_strides(int width, int height, int max_rows = 9);

// Which parts of the model are on: the paper's ablations (Table 2) and the block type.
struct TNervVariant {
  bool embeddings = true;     // E2 turns off
  bool grids = true;          // E1 turns off
  bool augmentation = true;   // E3 (and E5) turn off
  bool tiny_encoder = false;  // E4 (and E5): HNeRV's one-block-per-stage ConvNeXt at 64 channels
  bool flow = true;           // D1 turns off
  bool adain = true;          // D2 turns off
  bool regular_5x5 = false;   // D3: every block a regular 5x5 conv
  // "hnerv", "compact", or "auto": compact below kFullModelMinParams (measured better there), hnerv above and in
  // the paper's named configurations.
  std::string block = "auto";
  // auto_config below kFullModelMinParams stored parameters keeps only the frame embeddings and AdaIN (see
  // auto_config); false keeps every part at any size (nvenc --full-model, for ablations).
  bool size_adaptive = true;
  // Applies a comma-separated list such as "E1,D2" (case-insensitive); throws std::invalid_argument naming the
  // unknown item.
  void apply_ablations(const std::string& list);
  std::string describe() const;  // e.g. "full" or "E1+D2"
};

// A configuration for a video and a budget of stored parameters. The split follows the paper's compression
// config (Table 8: 48% decoder, 27% grids, 24% embeddings, ~1% temporal codes); decoder widths taper
// 1 : .85 : .7 : .6 : .5 : .4; grids keep 64/128/256 cells per 600 frames; switched-off parts give their
// share to the others so that ablations compare models of equal size.
// Below kFullModelMinParams (and unless variant.size_adaptive is false) the grids, the flow-guided decoder and the
// temporal augmentation are left out: measured on the 192x144 clip at 26k parameters (20 epochs, two seeds), they
// cost 0.3, 0.7 and ~0.6 dB there, while AdaIN gains 1.5 dB; there the compact block beats HNeRV's (+0.35 dB).
constexpr int64_t kFullModelMinParams = 1000000;
TNervConfig auto_config(int width, int height, int frames, int64_t param_budget,
                        const TNervVariant& variant = TNervVariant{});

// The paper's configurations "12.4m" (Table 6, 1280x720), "3.0m" (Table 7, 1920x960) and "9.3m" (Table 8,
// 1920x1080) for a video of the given size and length (strides and cells follow the actual size; ablations
// switch parts off without re-balancing). Throws std::invalid_argument for an unknown name.
TNervConfig named_config(const std::string& name, int width, int height, int frames,
                         const TNervVariant& variant = TNervVariant{});
std::vector<std::string> named_config_names();

}  // namespace nvc
