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

// The dequantized values of tensor record #index as a float32 CPU tensor of shape `expect`; throws
// bitstream::FormatError naming the tensor (`name`) when the record's shape differs. Shared by every model kind.
torch::Tensor tensor_from_record(const bitstream::TensorRecord& rec, size_t index, const std::vector<int64_t>& expect,
                                 const std::string& name);

// Rebuilds the network from the file alone. Throws bitstream::FormatError (naming the tensor) on any mismatch.
LoadedTNerv load_tnerv(const bitstream::NvcFile& file, const torch::Device& device);

video::VideoFormat video_format_of(const bitstream::SequenceHeader& seq);

// How nvdec runs the network. The defaults pick what pays on the device.
struct DecodeOptions {
  int batch = 0;  // frames per network pass; 0 = 8 on CUDA, 2 on the CPU
  // Arithmetic of the network: float32, float16 or bfloat16; kUndefined = auto (fp16 on CUDA, fp32 on the CPU).
  // AdaIN statistics and the flow-guided tail are computed in float32 whatever this is.
  torch::ScalarType precision = c10::ScalarType::Undefined;
  // CUDA graph replay of full-batch network passes: 1 on, 0 off, -1 auto (on for CUDA). The first replay is checked
  // against an eager pass and graphs are dropped, with a note, if they disagree or cannot be captured.
  int cuda_graphs = -1;
  // NHWC convolution weights and activations: 1 on, 0 off, -1 auto (on for CUDA).
  int channels_last = -1;
  // The fused flow-guided tail (codec/flow_tail.h) instead of aggregate() + colour conversion (kept as the
  // reference the tests compare against).
  bool fused_tail = true;
};

// Runs the decoder over frames [first, first + count) in batches, in order. The sink returns false to stop early
// (a closed pipe). The decode is deterministic for a given device, precision and thread count.
// With the flow-guided decoder each output frame needs the independent frames of t-2..t+2: a ring of slots keeps
// them, so every frame still costs one network pass (plus up to two more at each end of the range).
// On CUDA the work is pipelined: batch i's frames are copied to pinned host memory and handed to the sink while the
// GPU already runs batch i+1.
// What nvdec (and nvenc's check of its own bytes) decodes through, whatever the model kind.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  virtual int frame_count() const = 0;
  // Frames [first, first + count) in order; the sink returns false to stop. Throws std::out_of_range outside the
  // stream.
  virtual void decode(int first, int count, const std::function<bool(int index, const video::Frame& frame)>& sink) = 0;
  virtual std::string describe() const = 0;
};

// 4:2:0 batches [n, W * H * 3 / 2] uint8 (on `device` or the CPU) as `produce` hands them out, delivered to a
// per-frame sink: batch i's bytes are copied to pinned host memory behind an event and reach the sink only after
// batch i + 1 has been queued, so writing overlaps the device's work (on the CPU the copy is the tensor itself).
// The sink returns false to stop; `produce` then sees its own sink return false.
using DeviceBatchSink = std::function<bool(int start, const torch::Tensor& yuv)>;
void deliver_frames_pipelined(int width, int height, const torch::Device& device,
                              const std::function<void(const DeviceBatchSink&)>& produce,
                              const std::function<bool(int index, const video::Frame& frame)>& sink);

// The decoder for the file's model kind ("tnerv": FrameDecoder, "nvp": NvpFrameDecoder in codec/nvp_io.h). Throws
// bitstream::FormatError for an unknown kind or a model that does not fit its records.
std::unique_ptr<StreamDecoder> open_stream_decoder(const bitstream::NvcFile& file, const torch::Device& device,
                                                   const DecodeOptions& options);

class FrameDecoder : public StreamDecoder {
 public:
  FrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, const DecodeOptions& options);
  FrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, int batch = 0)
      : FrameDecoder(file, device, DecodeOptions{batch}) {}
  int frame_count() const override { return model_.cfg.frames; }
  const TNervConfig& config() const { return model_.cfg; }
  void decode(int first, int count, const std::function<bool(int index, const video::Frame& frame)>& sink) override;
  // The same decode up to 4:2:0 bytes on the device, [n, W*H*3/2] uint8 per batch starting at frame `start`: no
  // copy to the host. The sink returns false to stop. (Benchmarks, and callers that keep frames on the GPU.)
  void decode_device(int first, int count, const std::function<bool(int start, const torch::Tensor& yuv)>& sink);
  // What the decoder runs: e.g. "fp16, batch 8, CUDA graphs, fused tail" (and why graphs are off, when they are).
  std::string describe() const override;

 private:
  struct Chunk;
  TNervPass run_pass(int start, int n);
  torch::Tensor tail_yuv(const Chunk& c, const torch::Tensor& pool, int pool_slots);
  LoadedTNerv model_;
  torch::Device device_;
  DecodeOptions opt_;
  torch::ScalarType dtype_;
  int batch_;
  int matrix_;
  bool full_range_;
  torch::Tensor window_;  // kWindow on the device
  // CUDA graph of a full-batch pass: static inputs, and the outputs it writes at each replay.
  struct Graph;
  std::shared_ptr<Graph> graph_;
  std::string graph_note_;
};

// RGB batch [B, 3, Hc, Wc] (any device, any float type) cropped to width x height and converted to 4:2:0 bytes on
// the same device: [B, W*H*3/2] uint8, Y then U then V, rows packed (the CUDA kernel on CUDA, rgb_to_frame on the CPU).
torch::Tensor rgb_batch_to_yuv420(const torch::Tensor& rgb, int width, int height, int matrix, bool full_range);

// RGB batch [B, 3, Hc, Wc] (any device) cropped to width x height and converted to 4:2:0 frames.
std::vector<video::Frame> rgb_batch_to_frames(const torch::Tensor& rgb, int width, int height, int matrix,
                                              bool full_range);

}  // namespace nvc
