#include "codec/nvp_io.h"

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

NvpFrameDecoder::NvpFrameDecoder(const bs::NvcFile& file, const torch::Device& device, int batch)
    : model_(load_nvp(file, device)),
      device_(device),
      batch_(batch > 0 ? batch : (device.is_cuda() ? 8 : 1)),
      matrix_(file.seq.matrix),
      full_range_(file.seq.full_range != 0) {}

void NvpFrameDecoder::decode(int first, int count, const std::function<bool(int, const video::Frame&)>& sink) {
  const auto& cfg = model_->cfg;
  if (first < 0 || count < 0 || first > cfg.frames || count > cfg.frames - first)
    throw std::out_of_range("frame range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") is outside the stream's " + std::to_string(cfg.frames) + " frames");
  for (int start = first; start < first + count; start += batch_) {
    const int n = std::min(batch_, first + count - start);
    const auto frames = rgb_batch_to_frames(nvp_render_frames(model_, start, n), cfg.width, cfg.height, matrix_,
                                            full_range_);
    for (int k = 0; k < n; ++k)
      if (!sink(start + k, frames[size_t(k)])) return;
  }
}

std::string NvpFrameDecoder::describe() const {
  return "nvp, fp32, batch " + std::to_string(batch_) + ", per-pixel LibTorch path";
}

}  // namespace nvc
