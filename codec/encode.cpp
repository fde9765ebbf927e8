#include "codec/encode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "codec/quantize.h"
#include "codec/tnerv_encoder.h"

namespace nvc {

namespace bs = bitstream;

Preset preset_by_name(const std::string& name) {
  if (name == "fast") return {"fast", 60, false};
  if (name == "medium") return {"medium", 150, true};
  if (name == "slow") return {"slow", 300, true};
  throw std::invalid_argument("unknown preset '" + name + "' (expected fast, medium or slow)");
}

bs::SequenceHeader sequence_header_of(const video::VideoFormat& fmt, int frames) {
  bs::SequenceHeader s;
  s.width = uint32_t(fmt.width);
  s.height = uint32_t(fmt.height);
  s.fps_num = uint32_t(fmt.fps_num);
  s.fps_den = uint32_t(fmt.fps_den);
  s.frame_count = uint32_t(frames);
  s.full_range = fmt.full_range ? 1 : 0;
  s.matrix = uint8_t(fmt.matrix);
  return s;
}

torch::Tensor frames_to_rgb_tensor(const std::vector<video::Frame>& frames, int matrix, bool full_range) {
  if (frames.empty()) throw std::invalid_argument("no frames");
  const int W = frames[0].width, H = frames[0].height;
  torch::Tensor t = torch::empty({int64_t(frames.size()), 3, H, W}, torch::kFloat32);
  for (size_t i = 0; i < frames.size(); ++i) video::frame_to_rgb(frames[i], matrix, full_range, t[int64_t(i)].data_ptr<float>());
  return t;
}

bs::NvcFile pack_tnerv(const TNervConfig& cfg, TNervDecoder& decoder, const torch::Tensor& embeddings,
                       const torch::Tensor& temporal_codes, const bs::SequenceHeader& seq, double weight_bits,
                       double embedding_bits, const std::string& encoder_info) {
  bs::NvcFile f;
  f.seq = seq;
  f.model = cfg.to_description();
  f.encoder_info = encoder_info;
  torch::NoGradGuard no_grad;
  for (auto& p : decoder->named_parameters(true)) {
    const torch::Tensor& t = p.value();
    if (p.key().rfind("grid", 0) == 0) {
      // Feature grids are data like the embeddings: per channel with a zero point, at the embeddings' precision.
      f.tensors.push_back(quantize_asymmetric(t, embedding_bits, /*axis=*/1, bs::Component::Grids));
      continue;
    }
    // Biases get two more bits than weights: they are few and shift whole feature maps.
    const bool is_bias = t.dim() == 1;
    f.tensors.push_back(quantize_symmetric(t, is_bias ? weight_bits + 2 : weight_bits, bs::Component::Decoder,
                                           /*per_channel=*/!is_bias));
  }
  if (cfg.emb_channels > 0)
    f.tensors.push_back(quantize_asymmetric(embeddings, embedding_bits, /*axis=*/1, bs::Component::Embeddings));
  // Temporal codes scale every feature map of a frame: few values, so they get the weights' precision.
  if (cfg.tcode_dim > 0)
    f.tensors.push_back(quantize_asymmetric(temporal_codes, weight_bits, /*axis=*/1, bs::Component::Embeddings));
  return f;
}

int64_t encoder_params(const TNervConfig& cfg) {
  TNervEncoder enc(cfg);
  int64_t n = 0;
  for (const auto& p : enc->parameters()) n += p.numel();
  return n;
}

TNervConfig plan_tnerv(int W, int H, int T, double bpp, const EncodeOptions& opt) {
  TNervVariant variant = opt.variant;
  if (!preset_by_name(opt.preset).full_encoder) variant.tiny_encoder = true;
  if (opt.config != "auto") return named_config(opt.config, W, H, T, variant);
  const double target_bytes = bpp * double(W) * double(H) * double(T) / 8.0;
  // Headers, model description and per-channel scales: roughly fixed, measured on packed files.
  const double overhead_bytes = 160.0;
  int64_t budget = opt.params;
  if (budget <= 0) budget = int64_t((target_bytes - overhead_bytes) * 8.0 / kAssumedBitsPerParam);
  if (budget < 500) {
    std::ostringstream m;
    m << "--bpp " << bpp << " gives " << int64_t(target_bytes) << " bytes for " << T << " frames of " << W << "x"
      << H << ": too few for any model (raise --bpp or use more frames)";
    throw std::invalid_argument(m.str());
  }
  return auto_config(W, H, T, budget, variant);
}

double auto_learning_rate(int64_t stored_params) {
  return std::clamp(1e-2 * std::sqrt(1e5 / double(std::max<int64_t>(1, stored_params))), 2e-3, 1e-2);
}

EncodeResult encode_tnerv(const std::vector<video::Frame>& frames, const video::VideoFormat& fmt,
                          const EncodeOptions& opt) {
  if (frames.empty()) throw std::invalid_argument("the input has no frames");
  if (!(opt.bpp > 0) || opt.bpp > 64) throw std::invalid_argument("--bpp must be in (0, 64]");
  const int W = frames[0].width, H = frames[0].height, T = int(frames.size());
  const Preset preset = preset_by_name(opt.preset);
  auto log = [&](const std::string& s) {
    if (opt.log) opt.log(s);
  };

  EncodeResult r;
  r.target_bytes = opt.bpp * double(W) * double(H) * double(T) / 8.0;
  r.config = plan_tnerv(W, H, T, opt.bpp, opt);
  log(r.config.summary());

  // Seed before the modules exist: their initial weights are part of what makes a run reproducible.
  torch::manual_seed(opt.seed);
  TNervDecoder decoder(r.config);
  TNervEncoder encoder(r.config);
  FitOptions fo;
  fo.epochs = opt.epochs > 0 ? opt.epochs : preset.epochs;
  fo.batch = opt.batch;
  fo.lr = opt.lr > 0 ? opt.lr : auto_learning_rate(r.config.stored_params());
  {
    char line[96];
    std::snprintf(line, sizeof line, "fitting %d epochs, peak learning rate %.2g", fo.epochs, fo.lr);
    log(line);
  }
  fo.device = opt.device;
  fo.seed = opt.seed;
  fo.on_progress = opt.on_progress;
  fo.should_stop = opt.should_stop;
  r.fit = fit_tnerv(decoder, encoder, frames_to_rgb_tensor(frames, fmt.matrix, fmt.full_range), fo);
  decoder->to(torch::kCPU);

  // Rate control: the largest precision whose file fits the budget (size grows monotonically with precision).
  const bs::SequenceHeader seq = sequence_header_of(fmt, T);
  auto try_bits = [&](double wb, bs::ByteSplit* split) {
    const double eb = std::max(2.0, wb - 1.0);  // embeddings one bit coarser, as HNeRV's 6-bit vs 8-bit
    return bs::serialize(
        pack_tnerv(r.config, decoder, r.fit.embeddings, r.fit.temporal_codes, seq, wb, eb, opt.encoder_info), split);
  };
  double lo = 2.0, hi = 12.0;
  std::vector<uint8_t> best = try_bits(lo, &r.split);
  double best_bits = lo;
  if (double(best.size()) > r.target_bytes) {
    std::ostringstream m;
    m << "cannot reach " << opt.bpp << " bpp: even the coarsest quantization gives " << best.size() << " bytes (target "
      << int64_t(r.target_bytes) << ")";
    throw std::runtime_error(m.str());
  }
  for (int it = 0; it < 14 && hi - lo > 0.01; ++it) {
    const double mid = 0.5 * (lo + hi);
    bs::ByteSplit split;
    std::vector<uint8_t> bytes = try_bits(mid, &split);
    if (double(bytes.size()) <= r.target_bytes) {
      lo = mid;
      best = std::move(bytes);
      best_bits = mid;
      r.split = split;
    } else {
      hi = mid;
    }
  }
  r.weight_bits = best_bits;
  r.embedding_bits = std::max(2.0, best_bits - 1.0);
  r.bytes = std::move(best);
  return r;
}

}  // namespace nvc
