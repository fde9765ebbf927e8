// T-NeRV configuration: every dimension the decoder needs to rebuild the network, plus the fitting-only encoder shape.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bitstream/nvc_file.h"

namespace nvc {

struct TNervConfig {
  // Decoded (display) size and length of the video.
  int width = 0, height = 0, frames = 0;
  // Up-sampling factor of each of the five blocks; their product S maps the embedding grid to pixels.
  std::vector<int> strides;       // 5 values, each 1..16
  int emb_channels = 16;          // Ce
  int emb_h = 0, emb_w = 0;       // embedding grid; coded size = (emb_h*S) x (emb_w*S) >= display size
  std::vector<int> channels;      // C0 (pre-block output) .. C5 (last block output): 6 values
  std::vector<int> kernels;       // conv kernel of each block (odd)
  int pre_kernel = 3;
  int head_kernel = 3;
  // Frame encoder (fitting only; never stored).
  std::vector<int> enc_channels;  // 4 stage widths; the fifth stage outputs emb_channels
  std::vector<int> enc_blocks;    // ConvNeXt blocks per stage (5 values)

  int total_stride() const;
  int coded_width() const { return emb_w * total_stride(); }
  int coded_height() const { return emb_h * total_stride(); }

  // What is stored: decoder weights and per-frame embeddings.
  int64_t decoder_params() const;
  int64_t embedding_params() const { return int64_t(frames) * emb_channels * emb_h * emb_w; }
  int64_t stored_params() const { return decoder_params() + embedding_params(); }

  // Serialisation into the .nvc model description (kind "tnerv"); from_description validates every value
  // against sane limits so that a hostile file cannot make the decoder allocate without bound.
  bitstream::ModelDescription to_description() const;
  static TNervConfig from_description(const bitstream::ModelDescription& d, const bitstream::SequenceHeader& seq);

  std::string summary() const;  // one line for logs
};

// Strides (5 factors, largest first): the smallest total stride S = 2^a 3^b 5^c that puts at most max_rows
// embedding rows on the frame (the paper's 9x16 grid at 720p/1080p, 8x16 at 960p); works for any size.
std::vector<int> choose_strides(int width, int height, int max_rows = 9);

// A configuration for a video and a budget of stored parameters (decoder + embeddings). Channel proportions
// follow the paper's compression config (Table 8): decoder widths taper 1 : .85 : .7 : .6 : .5 : .4.
TNervConfig auto_config(int width, int height, int frames, int64_t param_budget);

}  // namespace nvc
