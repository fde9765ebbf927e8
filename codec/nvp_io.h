// NVP streams: the tensor records of a .nvc file of model kind "nvp" <-> an NvpModel (docs/nvp.md).
// Record order: the model's parameters in registration order: keyframes_xy, keyframes_xt, keyframes_yt, sparse,
// then the modulator's and the synthesizer's weights and biases layer by layer.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>

#include "bitstream/nvc_file.h"
#include "codec/model_io.h"
#include "codec/nvp_model.h"

namespace nvc {

// Rebuilds the model from the file alone, on `device`, in eval mode. Throws bitstream::FormatError (naming the
// tensor) when the description or the records do not fit together.
NvpModel load_nvp(const bitstream::NvcFile& file, const torch::Device& device);

// NVP decoding: every pixel of a batch of frames through the LibTorch model (nvp_render_frames), then 4:2:0.
// batch 0 = 8 frames on CUDA, 1 on the CPU.
class NvpFrameDecoder : public StreamDecoder {
 public:
  NvpFrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, int batch = 0);
  int frame_count() const override { return model_->cfg.frames; }
  void decode(int first, int count, const std::function<bool(int index, const video::Frame& frame)>& sink) override;
  std::string describe() const override;

 private:
  NvpModel model_;
  torch::Device device_;
  int batch_;
  int matrix_;
  bool full_range_;
};

}  // namespace nvc
