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
  const int W = cfg_.width, H = cfg_.height;
  const size_t ys = size_t(W) * H, cs = ys / 4;
  // As FrameDecoder::decode: batch i's bytes go to pinned host memory behind an event and reach the sink only after
  // batch i+1 has been queued, so the GPU renders while the host writes.
  struct InFlight {
    int start = 0;
    torch::Tensor host;
    DeviceEvent copied;
  };
  std::unique_ptr<InFlight> prev;
  bool stopped = false;
  auto deliver = [&](InFlight& f) {
    f.copied.wait();
    video::Frame frame;
    frame.width = W;
    frame.height = H;
    for (int64_t k = 0; k < f.host.size(0); ++k) {
      const uint8_t* p = f.host[k].data_ptr<uint8_t>();
      frame.y.assign(p, p + ys);
      frame.u.assign(p + ys, p + ys + cs);
      frame.v.assign(p + ys + cs, p + ys + 2 * cs);
      if (!sink(f.start + int(k), frame)) return false;
    }
    return true;
  };
  decode_device(first, count, [&](int start, const torch::Tensor& yuv) {
    auto cur = std::make_unique<InFlight>();
    cur->start = start;
    if (yuv.is_cuda()) {
      cur->host = torch::empty(yuv.sizes(), torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(true));
      cur->host.copy_(yuv, /*non_blocking=*/true);
      cur->copied.record(device_);
    } else {
      cur->host = yuv.contiguous();
    }
    if (prev && !deliver(*prev)) {
      stopped = true;
      prev.reset();
      return false;
    }
    prev = std::move(cur);
    return true;
  });
  if (prev && !stopped) deliver(*prev);
}

std::string NvpFrameDecoder::describe() const {
  return "nvp, " + renderer_->describe() + ", batch " + std::to_string(batch_);
}

}  // namespace nvc
