// Decode path: a parsed .nvc file -> the network and its embeddings -> frames.
#pragma once
#include <functional>

#include <torch/torch.h>

#include "bitstream/nvc_file.h"
#include "codec/tnerv_config.h"
#include "codec/tnerv_decoder.h"
#include "codec/video/video_io.h"

namespace nvc {

// Order of the tensor records of a "tnerv" stream: the decoder's parameters in registration order (grid0..grid2,
// pre.weight, pre.bias, blocks.0.modulation.weight, ..., flow_head.*, head.bias), then the frame embeddings
// [T, Ce, h, w] when Ce > 0, then the temporal codes [T, Dt] when Dt > 0.
struct LoadedTNerv {
  TNervConfig cfg;
  TNervDecoder decoder{nullptr};
  torch::Tensor embeddings;      // [T, Ce, h, w] on the decode device (undefined when Ce == 0)
  torch::Tensor temporal_codes;  // [T, Dt] on the decode device (undefined when Dt == 0)
};

// Rebuilds the network from the file alone. Throws bitstream::FormatError (naming the tensor) on any mismatch.
LoadedTNerv load_tnerv(const bitstream::NvcFile& file, const torch::Device& device);

video::VideoFormat video_format_of(const bitstream::SequenceHeader& seq);

// Runs the decoder over frames [first, first + count) in batches, in order. The sink returns false to stop early
// (a closed pipe). The decode is deterministic for a given device and thread count.
// With the flow-guided decoder each output frame needs the independent frames of t-2..t+2: a sliding window keeps
// them, so every frame still costs one network pass (plus two more at the start of a seek and at the end).
class FrameDecoder {
 public:
  FrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, int batch = 0);
  int frame_count() const { return model_.cfg.frames; }
  const TNervConfig& config() const { return model_.cfg; }
  void decode(int first, int count, const std::function<bool(int index, const video::Frame& frame)>& sink);

 private:
  TNervPass run_pass(int start, int n);
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
