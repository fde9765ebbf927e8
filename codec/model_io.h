// Decode path: a parsed .nvc file -> the network and its embeddings -> frames.
#pragma once
#include <functional>

#include <torch/torch.h>

#include "bitstream/nvc_file.h"
#include "codec/tnerv_config.h"
#include "codec/tnerv_decoder.h"
#include "codec/video/video_io.h"

namespace nvc {

// Order of the tensor records of a "tnerv" stream: the decoder's parameters in registration order
// (pre.weight, pre.bias, blocks.0.conv.weight, ..., head.bias), then the embeddings [T, Ce, h, w].
struct LoadedTNerv {
  TNervConfig cfg;
  TNervDecoder decoder{nullptr};
  torch::Tensor embeddings;  // [T, Ce, h, w] on the decode device
};

// Rebuilds the network from the file alone. Throws bitstream::FormatError (naming the tensor) on any mismatch.
LoadedTNerv load_tnerv(const bitstream::NvcFile& file, const torch::Device& device);

video::VideoFormat video_format_of(const bitstream::SequenceHeader& seq);

// Runs the decoder over frames [first, first + count) in batches, in order. The sink returns false to stop early
// (a closed pipe). The decode is deterministic for a given device and thread count.
class FrameDecoder {
 public:
  FrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, int batch = 0);
  int frame_count() const { return model_.cfg.frames; }
  const TNervConfig& config() const { return model_.cfg; }
  void decode(int first, int count, const std::function<bool(int index, const video::Frame& frame)>& sink);

 private:
  LoadedTNerv model_;
  torch::Device device_;
  int batch_;
  int matrix_;
  bool full_range_;
};

// RGB batch [B, 3, Hc, Wc] (any device) cropped to width x height and converted to 4:2:0 frames.
std::vector<video::Frame> rgb_batch_to_frames(const torch::Tensor& rgb, int width, int height, int matrix,
                                              bool full_range);

}  // namespace nvc
