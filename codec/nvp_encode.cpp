#include "codec/nvp_encode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "codec/compress.h"
#include "codec/nvp_io.h"
#include "codec/quantize.h"
#include "codec/video/picture_codec.h"

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

const char* const kDefaultNvpGridCoding = "cabac";

int64_t nvp_param_budget(double bpp, int width, int height, int frames) {
  return int64_t(bpp * double(width) * double(height) * double(frames) / kNvpAssumedBitsPerParam);
}

std::vector<std::string> nvp_grid_codings() { return {"cabac", "pictures", "auto"}; }

int NvpPictureSetting::jpeg_qscale_xy() const { return std::max(1, int(std::lround(crf / 10.0))); }
int NvpPictureSetting::jpeg_qscale_t() const { return std::max(1, int(std::lround(crf / 7.0))); }

bs::NvcFile pack_nvp_pictures(NvpModel& model, const bs::SequenceHeader& seq, const NvpPictureSetting& setting,
                              double weight_bits, const std::string& encoder_info, const std::string& hevc_preset) {
  const NvpConfig& cfg = model->cfg;
  bs::NvcFile f;
  f.seq = seq;
  f.model = cfg.to_description();
  f.encoder_info = encoder_info;
  // A keyframe plane's feature column, level by level: R_l x R_l pictures, row = second coordinate (cell index
  // i0 + i1 R_l, row-major with i1 as the row), as the reference's compression script reshapes it.
  std::vector<PicturePieceShape> levels;
  for (int l = 0; l < cfg.levels; ++l) {
    const uint32_t R = uint32_t(cfg.level_resolution(l));
    levels.push_back({bs::PictureCodec::Jpeg, R, R, 1});
  }
  // A sparse feature: T' frames of H' rows x W' columns.
  const std::vector<PicturePieceShape> video = {
      {bs::PictureCodec::Hevc, uint32_t(cfg.sparse_w), uint32_t(cfg.sparse_h), uint32_t(cfg.sparse_t)}};
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters(/*recurse=*/true)) {
    const torch::Tensor t = p.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<uint32_t> shape(t.sizes().begin(), t.sizes().end());
    PictureQuality q;
    q.hevc_crf = setting.crf;
    q.hevc_preset = hevc_preset;
    if (p.key().rfind("keyframes_", 0) == 0) {
      q.jpeg_qscale = p.key() == "keyframes_xy" ? setting.jpeg_qscale_xy() : setting.jpeg_qscale_t();
      f.tensors.push_back(encode_picture_record(p.key(), bs::Component::Grids, shape, 1, t.data_ptr<float>(), levels, q));
    } else if (p.key() == "sparse") {
      f.tensors.push_back(encode_picture_record(p.key(), bs::Component::Grids, shape, 3, t.data_ptr<float>(), video, q));
    } else {
      f.tensors.push_back(quantize_tensor(t, decoder_param_quant(p.key(), t, weight_bits, weight_bits)));
    }
  }
  return f;
}

namespace {

// PSNR (RGB, 0..1) of a coded NVP stream against the input, rendered on `device` a few frames at a time.
double nvp_stream_psnr(const std::vector<uint8_t>& bytes, const std::vector<video::Frame>& frames,
                       const video::VideoFormat& fmt, const torch::Device& device) {
  const bs::NvcFile file = bs::parse(bytes.data(), bytes.size());
  NvpModel model = load_nvp(file, device);
  const int T = int(frames.size()), batch = device.is_cuda() ? 8 : 2;
  double se = 0, n = 0;
  torch::NoGradGuard no_grad;
  for (int start = 0; start < T; start += batch) {
    const int count = std::min(batch, T - start);
    const std::vector<video::Frame> part(frames.begin() + start, frames.begin() + start + count);
    const torch::Tensor ref = frames_to_rgb_tensor(part, fmt.matrix, fmt.full_range).to(device);
    se += (nvp_render_frames(model, start, count) - ref).pow(2).sum().item<double>();
    n += double(ref.numel());
  }
  return se > 0 ? 10.0 * std::log10(n / se) : 99.0;
}

struct PictureRateResult {
  std::vector<uint8_t> bytes;
  bs::ByteSplit split;
  int crf = -1;
};

// The finest crf (0..51) whose file fits target_bytes; the size falls with the crf (not strictly: x265's
// decisions are not monotone, so the bisection may miss a slightly finer setting that fits, never one that does
// not). Throws std::runtime_error when even crf 51 does not fit.
PictureRateResult fit_pictures_to_budget(double target_bytes,
                                         const std::function<std::vector<uint8_t>(int crf, bs::ByteSplit*)>& pack) {
  PictureRateResult r;
  r.bytes = pack(51, &r.split);
  r.crf = 51;
  if (double(r.bytes.size()) > target_bytes) {
    std::ostringstream m;
    m << "with picture-coded grids even crf 51 gives " << r.bytes.size() << " bytes, over the target of "
      << int64_t(target_bytes) << " (raise --bpp, lower --params, or use --grid-coding cabac)";
    throw std::runtime_error(m.str());
  }
  int lo = 0, hi = 51;  // invariant: hi fits
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    bs::ByteSplit split;
    std::vector<uint8_t> bytes = pack(mid, &split);
    if (double(bytes.size()) <= target_bytes) {
      hi = mid;
      r.bytes = std::move(bytes);
      r.split = split;
      r.crf = mid;
    } else {
      lo = mid + 1;
    }
  }
  return r;
}

}  // namespace

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
    const int64_t budget = opt.params > 0 ? opt.params : nvp_param_budget(opt.bpp, W, H, T);
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
  const double pixels = double(W) * double(H) * double(T);
  // A step draws at most as many pixels as the video has (with replacement: more only repeats pixels).
  fo.batch_pixels = std::min<int64_t>(opt.device.is_cuda() ? (int64_t(1) << 20) : (int64_t(1) << 14), int64_t(pixels));
  fo.iterations = std::max<int64_t>(100, int64_t(std::ceil(double(epochs) * pixels / double(fo.batch_pixels))));
  if (opt.fit_seconds > 0) {
    fo.time_budget_s = opt.fit_seconds;
    fo.iterations = std::numeric_limits<int64_t>::max();
  }
  if (opt.lr > 0) fo.lr = opt.lr;
  fo.device = opt.device;
  fo.seed = opt.seed;
  fo.on_progress = opt.on_progress;
  fo.should_stop = opt.should_stop;
  {
    char line[160];
    if (fo.time_budget_s > 0)
      std::snprintf(line, sizeof line, "fitting for %.0f s, steps of %lld random pixels, AdamW, learning rate %.2g -> "
                    "%.2g over the time", fo.time_budget_s, (long long)fo.batch_pixels, fo.lr, fo.final_lr);
    else
      std::snprintf(line, sizeof line, "fitting %lld steps of %lld random pixels (%d passes over the video), AdamW, "
                    "learning rate %.2g -> %.2g", (long long)fo.iterations, (long long)fo.batch_pixels, epochs,
                    fo.lr, fo.final_lr);
    log(line);
  }
  r.fit = fit_nvp(model, frames_to_rgb_tensor(frames, fmt.matrix, fmt.full_range), fo);
  model->to(torch::kCPU);
  const bs::SequenceHeader seq = sequence_header_of(fmt, T);
  const std::string coding = opt.grid_coding.empty() ? std::string(kDefaultNvpGridCoding) : opt.grid_coding;
  const bool try_cabac = coding == "cabac" || coding == "auto";
  bool try_pictures = coding == "pictures" || coding == "auto";
  if (!try_cabac && !try_pictures) throw std::invalid_argument("unknown grid coding '" + coding + "'");
  std::string why;
  if (try_pictures && !video::picture_encoders_available(&why)) {
    if (coding == "pictures") throw std::runtime_error("--grid-coding pictures needs JPEG and HEVC encoders: " + why);
    log("grid coding auto: pictures skipped (" + why + "), cabac only");
    try_pictures = false;
  }
  struct Candidate {
    NvpCodingTrial trial;
    std::vector<uint8_t> bytes;
    bs::ByteSplit split;
  };
  std::vector<Candidate> candidates;
  if (try_cabac) {
    Candidate c;
    c.trial.coding = "cabac";
    try {
      RateControlResult rc = fit_to_budget(r.target_bytes, [&](double wb, double eb, bs::ByteSplit* split) {
        return bs::serialize(pack_nvp(model, seq, wb, eb, opt.encoder_info), split);
      });
      c.bytes = std::move(rc.bytes);
      c.split = rc.split;
      c.trial.weight_bits = rc.weight_bits;
      c.trial.grid_bits = rc.embedding_bits;
    } catch (const std::runtime_error& e) {
      if (!try_pictures) throw;
      c.trial.error = e.what();
    }
    candidates.push_back(std::move(c));
  }
  if (try_pictures) {
    Candidate c;
    c.trial.coding = "pictures";
    c.trial.weight_bits = kNvpPictureWeightBits;
    try {
      PictureRateResult pr = fit_pictures_to_budget(r.target_bytes, [&](int crf, bs::ByteSplit* split) {
        NvpPictureSetting setting;
        setting.crf = crf;
        return bs::serialize(pack_nvp_pictures(model, seq, setting, kNvpPictureWeightBits, opt.encoder_info), split);
      });
      c.bytes = std::move(pr.bytes);
      c.split = pr.split;
      c.trial.crf = pr.crf;
    } catch (const std::runtime_error& e) {
      if (candidates.empty() || !candidates[0].trial.error.empty()) throw;
      c.trial.error = e.what();
    }
    candidates.push_back(std::move(c));
  }
  // With one coding the file is what rate control made; with two, the one whose decoded video is better.
  size_t best = candidates.size();
  for (size_t i = 0; i < candidates.size(); ++i) {
    Candidate& c = candidates[i];
    if (!c.trial.error.empty()) continue;
    c.trial.bytes = c.bytes.size();
    if (candidates.size() > 1) {
      c.trial.psnr_rgb = nvp_stream_psnr(c.bytes, frames, fmt, opt.device);
      char line[200];
      std::snprintf(line, sizeof line, "grid coding %s: %zu bytes, PSNR-RGB %.2f dB", c.trial.coding.c_str(),
                    c.bytes.size(), c.trial.psnr_rgb);
      log(line);
    }
    if (best == candidates.size() || c.trial.psnr_rgb > candidates[best].trial.psnr_rgb) best = i;
  }
  for (const Candidate& c : candidates) r.trials.push_back(c.trial);
  Candidate& chosen = candidates[best];
  r.bytes = std::move(chosen.bytes);
  r.split = chosen.split;
  r.grid_coding = chosen.trial.coding;
  r.weight_bits = chosen.trial.weight_bits;
  r.grid_bits = chosen.trial.grid_bits;
  r.crf = chosen.trial.crf;
  return r;
}

}  // namespace nvc
