#include "codec/nvp_encode.h"

#include <algorithm>
#include <cmath>

#include "codec/compress.h"
#include "codec/quantize.h"

namespace nvc {

namespace bs = bitstream;

bs::NvcFile pack_nvp(NvpModel& model, const bs::SequenceHeader& seq, double weight_bits, double grid_bits,
                     const std::string& encoder_info) {
  bs::NvcFile f;
  f.seq = seq;
  f.model = model->cfg.to_description();
  f.encoder_info = encoder_info;
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters(/*recurse=*/true)) {
    const torch::Tensor t = p.value().detach().to(torch::kCPU, torch::kFloat32);
    TensorQuant q;
    if (p.key().rfind("keyframes_", 0) == 0) {
      q = {TensorQuant::Asymmetric, grid_bits, /*axis=*/1, bs::Component::Grids};
    } else if (p.key() == "sparse") {
      q = {TensorQuant::Asymmetric, grid_bits, /*axis=*/0, bs::Component::Grids};
    } else {
      q = decoder_param_quant(p.key(), t, weight_bits, grid_bits);
    }
    f.tensors.push_back(quantize_tensor(t, q));
  }
  return f;
}

NvpEncodeResult encode_nvp(const std::vector<video::Frame>& frames, const video::VideoFormat& fmt,
                           const EncodeOptions& opt) {
  if (frames.empty()) throw std::invalid_argument("the input has no frames");
  if (!(opt.bpp > 0) || opt.bpp > 64) throw std::invalid_argument("--bpp must be in (0, 64]");
  const int W = frames[0].width, H = frames[0].height, T = int(frames.size());
  auto log = [&](const std::string& s) {
    if (opt.log) opt.log(s);
  };
  NvpEncodeResult r;
  r.target_bytes = opt.bpp * double(W) * double(H) * double(T) / 8.0;
  if (opt.config == "auto") {
    const int64_t budget = opt.params > 0 ? opt.params : int64_t(r.target_bytes * 8.0 / kAssumedBitsPerParam);
    r.config = auto_nvp_config(W, H, T, budget);
  } else {
    r.config = named_nvp_config(opt.config, W, H, T);
  }
  log(r.config.summary());

  torch::manual_seed(opt.seed);
  NvpModel model(r.config);
  const Preset preset = preset_by_name(opt.preset);
  const int epochs = opt.epochs > 0 ? opt.epochs : std::max(1, preset.epochs / 3);
  NvpFitOptions fo;
  fo.batch_pixels = opt.device.is_cuda() ? (int64_t(1) << 20) : (int64_t(1) << 14);
  const double pixels = double(W) * double(H) * double(T);
  fo.iterations = std::max<int64_t>(100, int64_t(std::ceil(double(epochs) * pixels / double(fo.batch_pixels))));
  if (opt.lr > 0) fo.lr = opt.lr;
  fo.device = opt.device;
  fo.seed = opt.seed;
  fo.on_progress = opt.on_progress;
  fo.should_stop = opt.should_stop;
  {
    char line[160];
    std::snprintf(line, sizeof line, "fitting %lld steps of %lld random pixels (%d passes over the video), AdamW, "
                  "learning rate %.2g -> %.2g", (long long)fo.iterations, (long long)fo.batch_pixels, epochs, fo.lr,
                  fo.final_lr);
    log(line);
  }
  r.fit = fit_nvp(model, frames_to_rgb_tensor(frames, fmt.matrix, fmt.full_range), fo);
  model->to(torch::kCPU);
  const bs::SequenceHeader seq = sequence_header_of(fmt, T);
  RateControlResult rc = fit_to_budget(r.target_bytes, [&](double wb, double eb, bs::ByteSplit* split) {
    return bs::serialize(pack_nvp(model, seq, wb, eb, opt.encoder_info), split);
  });
  r.bytes = std::move(rc.bytes);
  r.split = rc.split;
  r.weight_bits = rc.weight_bits;
  r.grid_bits = rc.embedding_bits;
  return r;
}

}  // namespace nvc
