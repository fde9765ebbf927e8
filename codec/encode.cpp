#include "codec/encode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "codec/compress.h"
#include "codec/model_io.h"
#include "codec/quantize.h"
#include "codec/video/metrics.h"
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
  for (auto& p : decoder->named_parameters(true))
    f.tensors.push_back(quantize_tensor(p.value(), decoder_param_quant(p.key(), p.value(), weight_bits, embedding_bits)));
  if (cfg.emb_channels > 0) f.tensors.push_back(quantize_tensor(embeddings, embedding_quant(embedding_bits)));
  if (cfg.tcode_dim > 0) f.tensors.push_back(quantize_tensor(temporal_codes, temporal_code_quant(weight_bits)));
  return f;
}

CompressionOptions CompressionOptions::parse_stages(const std::string& list) {
  CompressionOptions o;
  o.prune = o.qat = o.ec = false;
  if (list == "ptq") return o;
  if (list == "all") {
    o.prune = o.qat = o.ec = true;
    return o;
  }
  std::stringstream ss(list);
  std::string item;
  int n = 0;
  while (std::getline(ss, item, ',')) {
    ++n;
    if (item == "prune") o.prune = true;
    else if (item == "qat") o.qat = true;
    else if (item == "ec") o.ec = true;
    else
      throw std::invalid_argument("unknown compression stage '" + item + "' (expected ptq, all, or a list of prune, qat, ec)");
  }
  if (n == 0) throw std::invalid_argument("empty list of compression stages");
  return o;
}

std::string CompressionOptions::describe() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ",";
    s += name;
  };
  add(prune, "prune");
  add(qat, "qat");
  add(ec, "ec");
  return s.empty() ? "ptq" : s;
}

double embedding_bits_for(double weight_bits, double offset) { return std::max(2.0, weight_bits + offset); }

RateControlResult fit_to_budget(double target_bytes,
                                const std::function<std::vector<uint8_t>(double, double, bs::ByteSplit*)>& pack,
                                double offset) {
  RateControlResult r;
  double lo = kMinWeightBits, hi = kMaxWeightBits;
  r.bytes = pack(lo, embedding_bits_for(lo, offset), &r.split);
  r.weight_bits = lo;
  if (double(r.bytes.size()) > target_bytes) {
    std::ostringstream m;
    m << "even the coarsest quantization gives " << r.bytes.size() << " bytes, over the target of "
      << int64_t(target_bytes) << " (raise --bpp or lower --params)";
    throw std::runtime_error(m.str());
  }
  // 16 halvings of [1, 13] resolve 0.0002 bits, far below one scale step (1/16 bit): the size is then as close to
  // the target as the quantizer allows.
  for (int it = 0; it < 16 && hi - lo > 0.001; ++it) {
    const double mid = 0.5 * (lo + hi);
    bs::ByteSplit split;
    std::vector<uint8_t> bytes = pack(mid, embedding_bits_for(mid, offset), &split);
    if (double(bytes.size()) <= target_bytes) {
      lo = mid;
      r.bytes = std::move(bytes);
      r.split = split;
      r.weight_bits = mid;
    } else {
      hi = mid;
    }
  }
  r.embedding_bits = embedding_bits_for(r.weight_bits, offset);
  return r;
}

int64_t encoder_params(const TNervConfig& cfg) {
  TNervEncoder enc(cfg);
  int64_t n = 0;
  for (const auto& p : enc->parameters()) n += p.numel();
  return n;
}

namespace {

// Bytes a configuration costs before it holds any information: section headers, model description, encoder info,
// tensor headers, one scale code per channel and the shortest payloads (every value zero). A real file's scale codes
// vary and cost a little more, hence the margin where it is used.
double fixed_bytes(const TNervConfig& cfg, int W, int H, int T, const std::string& encoder_info) {
  torch::NoGradGuard no_grad;
  TNervDecoder dec(cfg);
  for (auto& p : dec->parameters()) p.zero_();
  torch::Tensor emb, tcodes;
  if (cfg.emb_channels > 0) emb = torch::zeros({T, cfg.emb_channels, cfg.emb_h, cfg.emb_w});
  if (cfg.tcode_dim > 0) tcodes = torch::zeros({T, cfg.tcode_dim});
  video::VideoFormat fmt;
  fmt.width = W;
  fmt.height = H;
  return double(bs::serialize(pack_tnerv(cfg, dec, emb, tcodes, sequence_header_of(fmt, T), kMinWeightBits,
                                         embedding_bits_for(kMinWeightBits), encoder_info))
                    .size());
}

}  // namespace

double decoded_psnr_yuv(const std::vector<uint8_t>& bytes, const std::vector<video::Frame>& frames,
                        const video::VideoFormat& fmt, const torch::Device& device) {
  const bs::NvcFile f = bs::parse(bytes.data(), bytes.size());
  FrameDecoder dec(f, device);
  double sum = 0;
  dec.decode(0, int(frames.size()), [&](int i, const video::Frame& out) {
    sum += video::frame_psnr(frames[size_t(i)], out).psnr_yuv;
    return true;
  });
  return sum / double(frames.size());
}

TNervConfig plan_tnerv(int W, int H, int T, double bpp, const EncodeOptions& opt) {
  TNervVariant variant = opt.variant;
  if (!preset_by_name(opt.preset).full_encoder) variant.tiny_encoder = true;
  if (opt.config != "auto") return named_config(opt.config, W, H, T, variant);
  if (opt.params > 0) return auto_config(W, H, T, opt.params, variant);
  const double target_bytes = bpp * double(W) * double(H) * double(T) / 8.0;
  auto too_few = [&] {
    std::ostringstream m;
    m << "--bpp " << bpp << " gives " << int64_t(target_bytes) << " bytes for " << T << " frames of " << W << "x"
      << H << ": too few for any model with its headers (raise --bpp or use more frames)";
    return std::invalid_argument(m.str());
  };
  // What is left for information after the fixed cost of the model that budget buys; the fixed cost depends on the
  // model (tensor count, channels), so settle it in a few rounds. At 0.01-0.03 bpp on small clips the headers are
  // half the file, and a model sized without them would not fit even at 1-bit precision.
  double overhead = 160.0;
  TNervConfig cfg;
  for (int round = 0; round < 3; ++round) {
    const int64_t budget = int64_t((target_bytes - overhead) * 8.0 / kAssumedBitsPerParam);
    if (budget < 500) throw too_few();
    cfg = auto_config(W, H, T, budget, variant);
    overhead = 1.1 * fixed_bytes(cfg, W, H, T, opt.encoder_info) + 16.0;
  }
  if (overhead >= target_bytes) throw too_few();
  return cfg;
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
  const CompressionOptions& co = opt.compression;
  const int total_epochs = opt.epochs > 0 ? opt.epochs : preset.epochs;
  const bool finetune = co.qat || co.ec;
  const int prune_epochs = co.prune ? std::max(1, int(std::lround(co.prune_epoch_fraction * total_epochs))) : 0;
  const int finetune_epochs = finetune ? std::max(1, int(std::lround(co.finetune_epoch_fraction * total_epochs))) : 0;
  const int main_epochs = std::max(1, total_epochs - prune_epochs - finetune_epochs);

  FitOptions fo;
  fo.epochs = main_epochs;
  fo.batch = opt.batch;
  fo.lr = opt.lr > 0 ? opt.lr : auto_learning_rate(r.config.stored_params());
  {
    char line[160];
    std::snprintf(line, sizeof line, "fitting %d epochs (%d fit, %d prune, %d fine-tune), peak learning rate %.2g, "
                  "stages %s", main_epochs + prune_epochs + finetune_epochs, main_epochs, prune_epochs,
                  finetune_epochs, fo.lr, co.describe().c_str());
    log(line);
  }
  fo.device = opt.device;
  fo.speed = opt.speed;
  fo.seed = opt.seed;
  fo.on_progress = opt.on_progress;
  fo.should_stop = opt.should_stop;
  const torch::Tensor rgb = frames_to_rgb_tensor(frames, fmt.matrix, fmt.full_range);
  const bs::SequenceHeader seq = sequence_header_of(fmt, T);

  // Rate control on the model as it stands (decoder and the fit's per-frame data back on the CPU for packing).
  auto control = [&](const FitResult& fit, double embedding_offset) {
    decoder->to(torch::kCPU);
    return fit_to_budget(r.target_bytes, [&](double wb, double eb, bs::ByteSplit* split) {
      return bs::serialize(
          pack_tnerv(r.config, decoder, fit.embeddings, fit.temporal_codes, seq, wb, eb, opt.encoder_info), split);
    }, embedding_offset);
  };
  auto report = [&](const char* name, int epochs, const FitResult& fit, const RateControlResult& rc) {
    r.stages.push_back({name, epochs, fit.final_psnr, rc.weight_bits});
    char line[160];
    std::snprintf(line, sizeof line, "%s: %d epochs, training PSNR-RGB %.2f dB; the budget allows %.2f-bit weights",
                  name, epochs, fit.final_psnr, rc.weight_bits);
    log(line);
  };

  fo.stage = "fit";
  fo.schedule_total = fit_steps(T, opt.batch, main_epochs + prune_epochs + finetune_epochs);
  r.fit = fit_tnerv(decoder, encoder, rgb, fo);
  if (opt.speed.cuda_graphs)
    log(r.fit.graphed ? std::string("fit: steady-state steps ran as a CUDA graph")
                      : "fit: CUDA graphs not used (" +
                            (r.fit.graph_fallback.empty() ? std::string("too few steps to capture")
                                                          : r.fit.graph_fallback) + ")");
  const bool graphed = r.fit.graphed;
  int64_t steps = r.fit.steps;
  double seconds = r.fit.seconds;
  RateControlResult rc = control(r.fit, kDefaultEmbeddingOffset);
  report("fit", main_epochs, r.fit, rc);

  // lambda in MSE per bit per pixel. Auto: the slope of a codec that gains ~3 dB per doubling of the rate at the
  // operating point, MSE / bpp (d MSE / d bpp = -MSE * 0.3 ln 10 / (bpp ln 2) ~ -MSE / bpp).
  if (co.ec) {
    const double mse = std::pow(10.0, -r.fit.final_psnr / 10.0);
    r.lambda = co.lambda > 0 ? co.lambda : co.lambda_scale * mse / opt.bpp;
  }
  const double pixels = double(W) * double(H) * double(T);
  PruneMasks masks;
  auto stage_options = [&](bool fake_quant) {
    CompressionAwareStep::Options so;
    so.masks = co.prune ? &masks : nullptr;
    so.fake_quant = fake_quant;
    so.lambda = r.lambda;
    so.weight_bits = rc.weight_bits;
    so.embedding_bits = rc.embedding_bits;
    so.all_embeddings = r.fit.embeddings;
    so.all_temporal_codes = r.fit.temporal_codes;
    so.frames = T;
    so.pixels = pixels;
    return so;
  };
  // The stages continue the main fit's learning-rate schedule: with the same total epochs, the only difference
  // between `--stages ptq` and the full pipeline is what the stages do, not how long or how fast it learns.
  FitOptions ft = fo;
  ft.prefill_neighbours = true;

  auto run_stage = [&](const char* name, int epochs, bool fake_quant) {
    if (r.fit.stopped_early) return;
    ft.epochs = epochs;
    ft.stage = name;
    ft.seed = opt.seed + r.stages.size();
    CompressionAwareStep step(decoder, stage_options(fake_quant));
    ft.compression = &step;
    ft.schedule_offset = steps;
    decoder->to(opt.device);
    r.fit = fit_tnerv(decoder, encoder, rgb, ft);
    steps += r.fit.steps;
    seconds += r.fit.seconds;
    rc = control(r.fit, kDefaultEmbeddingOffset);
    report(name, epochs, r.fit, rc);
  };
  if (co.prune && !r.fit.stopped_early) {
    decoder->to(opt.device);
    masks = prune_decoder(decoder, co.prune_fraction);
    run_stage("prune", prune_epochs, false);
  }
  if (finetune) run_stage(co.qat && co.ec ? "qat+ec" : co.qat ? "qat" : "ec", finetune_epochs, co.qat);
  r.fit.steps = steps;
  r.fit.seconds = seconds;
  r.fit.graphed = graphed;

  // The split of the budget between weights and per-frame data, chosen by RD: rate control at each embedding/grid
  // precision offset (the default one is the result above), each file decoded through nvdec's own path, the best
  // PSNR-YUV kept (all at the same size).
  {
    double best_psnr = -1;
    RateControlResult at_default = std::move(rc);
    for (double offset : kEmbeddingOffsets) {
      RateControlResult trial;
      if (offset == kDefaultEmbeddingOffset) {
        trial = std::move(at_default);
      } else {
        try {
          trial = control(r.fit, offset);
        } catch (const std::runtime_error&) {
          continue;  // this split cannot meet the budget at all; the default one did
        }
      }
      const double psnr = decoded_psnr_yuv(trial.bytes, frames, fmt, opt.device);
      r.offset_trials.emplace_back(offset, psnr);
      char line[128];
      std::snprintf(line, sizeof line, "embeddings and grids %+.0f bit: %.2f-bit weights, PSNR-YUV %.2f dB", offset,
                    trial.weight_bits, psnr);
      log(line);
      if (psnr > best_psnr) {
        best_psnr = psnr;
        r.embedding_offset = offset;
        rc = std::move(trial);
      }
    }
  }

  r.weight_bits = rc.weight_bits;
  r.embedding_bits = rc.embedding_bits;
  r.split = rc.split;
  r.bytes = std::move(rc.bytes);
  {
    int64_t zeros = 0, total = 0;
    torch::NoGradGuard no_grad;
    for (auto& p : decoder->named_parameters(true)) {
      if (p.value().dim() < 2 || p.key().rfind("grid", 0) == 0) continue;
      const auto q = quant_grid(p.value(), decoder_param_quant(p.key(), p.value(), r.weight_bits, r.embedding_bits));
      zeros += (torch::round(p.value() / q.step) == 0).sum().item<int64_t>();
      total += p.value().numel();
    }
    r.sparsity = total ? double(zeros) / double(total) : 0.0;
  }
  return r;
}

}  // namespace nvc
