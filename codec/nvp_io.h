// NVP streams: the tensor records of a .nvc file of model kind "nvp" <-> an NvpModel (docs/nvp.md).
// Record order: the model's parameters in registration order: keyframes_xy, keyframes_xt, keyframes_yt, sparse,
// then the modulator's and the synthesizer's weights and biases layer by layer.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "bitstream/nvc_file.h"
#include "codec/model_io.h"
#include "codec/nvp_model.h"
#include "codec/nvp_render.h"

namespace nvc {

// Rebuilds the model from the file alone, on `device`, in eval mode. Throws bitstream::FormatError (naming the
// tensor) when the description or the records do not fit together.
NvpModel load_nvp(const bitstream::NvcFile& file, const torch::Device& device);

// NVP decoding through NvpRenderer (codec/nvp_render.h): on CUDA the fused kernel (fp16 tensor cores) writing 4:2:0
// bytes directly, its first batch checked against the LibTorch path (which it falls back to, saying why in
// describe(), when the check fails or the configuration is outside the kernel's bounds); on the CPU the parallel
// cpu path. options.precision: auto / fp16 / bf16 take the fused kernel on CUDA, fp32 the LibTorch path; on the CPU
// fp16 emulates the kernel's roundings. options.batch: frames per render call, 0 = 8 on CUDA, 1 on the CPU. The
// other DecodeOptions (graphs, channels_last, fused_tail) are T-NeRV's and ignored. On CUDA the copy of batch i to
// the host and the sink overlap the rendering of batch i+1.
class NvpFrameDecoder : public StreamDecoder {
 public:
  NvpFrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, const DecodeOptions& options);
  NvpFrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, int batch = 0)
      : NvpFrameDecoder(file, device, DecodeOptions{batch}) {}
  // path: which renderer path to ask for (benchmarks, tests); kAuto is what nvdec uses.
  NvpFrameDecoder(const bitstream::NvcFile& file, const torch::Device& device, const DecodeOptions& options,
                  NvpRenderPath path);
  ~NvpFrameDecoder() override;
  int frame_count() const override { return cfg_.frames; }
  const NvpConfig& config() const { return cfg_; }
  void decode(int first, int count, const std::function<bool(int index, const video::Frame& frame)>& sink) override;
  // The same up to 4:2:0 bytes on the device, [n, W*H*3/2] uint8 per batch starting at frame `start`, no copy to
  // the host; the sink returns false to stop (benchmarks).
  void decode_device(int first, int count, const std::function<bool(int start, const torch::Tensor& yuv)>& sink);
  // e.g. "nvp, fused CUDA kernel (...), batch 8"
  std::string describe() const override;
  NvpRenderer& renderer() { return *renderer_; }

 private:
  NvpConfig cfg_;
  torch::Device device_;
  int batch_;
  int matrix_;
  bool full_range_;
  std::unique_ptr<NvpRenderer> renderer_;
};

}  // namespace nvc
