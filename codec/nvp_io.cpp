#include "codec/nvp_io.h"

#include "codec/device.h"
#include "codec/model_io.h"

namespace nvc {

namespace bs = bitstream;

NvpModel load_nvp(const bs::NvcFile& file, const torch::Device& device) {
  if (file.model.kind != "nvp") throw bs::FormatError("model kind '" + file.model.kind + "' is not nvp");
  const NvpConfig cfg = NvpConfig::from_description(file.model, file.seq);
  NvpModel model(cfg);
  auto params = model->named_parameters(/*recurse=*/true);
  if (file.tensors.size() != params.size())
    throw bs::FormatError("the NVP model needs " + std::to_string(params.size()) + " tensors, the file has " +
                          std::to_string(file.tensors.size()));
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : params) {
    p.value().copy_(tensor_from_record(file.tensors[i], i, p.value().sizes().vec(), p.key()));
    ++i;
  }
  model->to(device);
  model->eval();
  return model;
}

NvpFrameDecoder::NvpFrameDecoder(const bs::NvcFile& file, const torch::Device& device, const DecodeOptions& options)
    : NvpFrameDecoder(file, device, options, NvpRenderPath::kAuto) {}

NvpFrameDecoder::NvpFrameDecoder(const bs::NvcFile& file, const torch::Device& device, const DecodeOptions& options,
                                 NvpRenderPath path)
    : device_(device),
      batch_(options.batch > 0 ? options.batch : (device.is_cuda() ? 8 : 1)),
      matrix_(file.seq.matrix),
      full_range_(file.seq.full_range != 0) {
  NvpModel model = load_nvp(file, device);
  cfg_ = model->cfg;
  NvpRenderOptions ro;
  ro.path = path;
  ro.precision = options.precision;
  renderer_ = std::make_unique<NvpRenderer>(model, ro);
}

NvpFrameDecoder::~NvpFrameDecoder() = default;

void NvpFrameDecoder::decode_device(int first, int count, const std::function<bool(int, const torch::Tensor&)>& sink) {
  if (first < 0 || count < 0 || first > cfg_.frames || count > cfg_.frames - first)
    throw std::out_of_range("frame range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") is outside the stream's " + std::to_string(cfg_.frames) + " frames");
  torch::NoGradGuard no_grad;
  for (int start = first; start < first + count; start += batch_) {
    const int n = std::min(batch_, first + count - start);
    if (!sink(start, renderer_->render_yuv420(start, n, matrix_, full_range_))) return;
  }
}

void NvpFrameDecoder::decode(int first, int count, const std::function<bool(int, const video::Frame&)>& sink) {
  deliver_frames_pipelined(cfg_.width, cfg_.height, device_,
                           [&](const DeviceBatchSink& batch) { decode_device(first, count, batch); }, sink);
}

std::string NvpFrameDecoder::describe() const {
  return "nvp, " + renderer_->describe() + ", batch " + std::to_string(batch_);
}

}  // namespace nvc
