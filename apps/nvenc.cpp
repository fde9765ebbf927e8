// nvenc: fit a neural representation of a video and write it as a .nvc file.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "apps/app_common.h"
#include "bitstream/nvc_file.h"
#include "codec/device.h"
#include "codec/encode.h"
#include "codec/model_io.h"
#include "codec/nvp_config.h"
#include "codec/nvp_encode.h"
#include "codec/video/video_io.h"

namespace {

using namespace nvc;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string input, output, preset = "medium", device = "auto", input_res, fps, stats, recon, model = "tnerv";
  std::string input_format = "auto", config = "auto", ablation, block = "auto", stages = "all";
  std::string grid_coding;  // NVP only; empty = kDefaultNvpGridCoding
  std::string fit_path = "fast", precision = "auto", fit_log;
  bool cuda_graphs = false;
  double prune = 0.15, lambda = 0, lambda_scale = 1.0;
  bool print_model = false, full_model = false;
  double bpp = 0;
  int64_t frames = -1, seek = 0, params = 0;
  int epochs = 0, batch = 1, threads = 0;
  double fit_seconds = 0;  // NVP only
  uint64_t seed = 1;
  double lr = 0;
  bool quiet = false, no_progress = false;
};

std::string fmt_db(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

EncodeOptions model_options(const Args& a) {
  EncodeOptions eo;
  eo.preset = a.preset;
  eo.config = a.config;
  eo.params = a.params;
  eo.variant.block = a.block;
  eo.variant.size_adaptive = !a.full_model;
  eo.variant.apply_ablations(a.ablation);
  eo.compression = CompressionOptions::parse_stages(a.stages);
  eo.compression.prune_fraction = a.prune;
  eo.compression.lambda = a.lambda;
  eo.compression.lambda_scale = a.lambda_scale;
  return eo;
}

std::vector<int64_t> i64(const std::vector<int>& v) { return std::vector<int64_t>(v.begin(), v.end()); }

// --print-model: the model a run would fit, as one JSON object on stdout; nothing is read or fitted.
int print_model(const Args& a) {
  if (a.input_res.empty()) throw std::invalid_argument("--print-model needs --input-res WxH");
  if (a.frames <= 0) throw std::invalid_argument("--print-model needs --frames N");
  int W = 0, H = 0;
  app::parse_resolution(a.input_res, W, H);
  if (a.config == "auto" && a.bpp <= 0 && a.params <= 0)
    throw std::invalid_argument("--print-model --config auto needs --bpp (or --params)");
  const bool nvp_name = a.config.rfind("nvp-", 0) == 0;
  if (a.model == "nvp") {
    if (a.config != "auto" && !nvp_name)
      throw std::invalid_argument("--config " + a.config + " is a T-NeRV configuration; NVP takes auto, nvp-s or nvp-l");
    // auto: the model nvenc would fit for this --bpp (nvp_param_budget) or --params.
    const NvpConfig c = a.config != "auto" ? named_nvp_config(a.config, W, H, int(a.frames))
                        : auto_nvp_config(W, H, int(a.frames),
                                          a.params > 0 ? a.params : nvp_param_budget(a.bpp, W, H, int(a.frames)));
    const double total = double(c.stored_params());
    app::JsonObject split;
    split.num("keyframes", c.keyframe_params() / total).num("sparse", c.sparse_params() / total)
        .num("network", c.network_params() / total);
    app::JsonObject j;
    j.str("model", "nvp").str("config", c.name).integer("width", W).integer("height", H).integer("frames", c.frames)
        .integer("total_params", c.stored_params()).integer("keyframe_params", c.keyframe_params())
        .integer("keyframe_plane_params", c.keyframe_plane_params()).integer("sparse_params", c.sparse_params())
        .integer("network_params", c.network_params()).integer("modulator_params", c.modulator_params())
        .integer("synthesizer_params", c.synthesizer_params()).obj("split", split)
        .num("bpp_at_8_bits", c.bpp_at_bits(8)).num("reference_bpp", c.reference_bpp())
        .integer("keyframe_levels", c.levels).integer("base_resolution", c.base_resolution)
        .num("per_level_scale", c.per_level_scale).integer("features_per_level", c.features)
        .integers("level_resolutions", i64(c.level_resolutions()))
        .integers("sparse_grid", {c.sparse_t, c.sparse_h, c.sparse_w, c.sparse_features})
        .integer("latent_dim", c.latent_dim()).integer("hidden", c.hidden).integer("sine_layers", c.layers)
        .integer("modulator_layers", c.layers).num("omega_first", c.omega_first)
        .num("omega_hidden", c.omega_hidden);
    if (a.bpp > 0) j.num("target_bpp", a.bpp);
    std::printf("%s\n", j.dump().c_str());
    return app::kOk;
  }
  if (nvp_name)
    throw std::invalid_argument("--config " + a.config + " is an NVP configuration: use it with --model nvp");
  const EncodeOptions eo = model_options(a);
  const TNervConfig c = plan_tnerv(W, H, int(a.frames), a.bpp > 0 ? a.bpp : 1.0, eo);
  const double total = double(c.stored_params());
  app::JsonObject split;
  split.num("decoder", c.decoder_params() / total).num("grids", c.grid_params() / total)
      .num("embeddings", c.embedding_params() / total);
  std::vector<int64_t> grid_res = i64(c.grid_res);
  app::JsonObject j;
  j.str("model", "tnerv").str("config", c.name).str("variant", eo.variant.describe())
      .integer("width", W).integer("height", H).integer("frames", c.frames)
      .integer("total_params", c.stored_params()).integer("decoder_params", c.decoder_params())
      .integer("grid_params", c.grid_params()).integer("embedding_params", c.embedding_params())
      .integer("frame_embedding_params", c.frame_embedding_params())
      .integer("temporal_code_params", c.temporal_code_params())
      .integer("encoder_params", encoder_params(c)).obj("split", split)
      .integer("decoder_macs_per_frame", c.decoder_macs_per_frame())
      .num("decoder_gflops_per_frame", 2e-9 * double(c.decoder_macs_per_frame()))
      .integers("strides", i64(c.strides)).integers("cells", {c.emb_h, c.emb_w})
      .integer("embedding_channels", c.emb_channels).integer("grid_channels", c.grid_channels)
      .integers("grid_resolutions", grid_res).integer("temporal_code_dim", c.tcode_dim)
      .integers("channels", i64(c.channels)).integers("kernels", i64(c.kernels)).str("block", c.block)
      .integer("flow", c.flow ? 1 : 0).integer("augmentation_hidden", c.aug_hidden)
      .integers("encoder_channels", i64(c.enc_channels)).integers("encoder_blocks", i64(c.enc_blocks));
  if (a.bpp > 0) j.num("target_bpp", a.bpp);
  std::printf("%s\n", j.dump().c_str());
  return app::kOk;
}

int run(const Args& a) {
  if (a.print_model) return print_model(a);
  if (a.input.empty()) throw std::invalid_argument("no input file (see --help)");
  if (a.output.empty()) throw std::invalid_argument("no output file: -o FILE.nvc is required");
  if (a.config == "auto" && a.bpp <= 0) throw std::invalid_argument("--bpp is required");
  const auto t0 = Clock::now();
  auto info = [&](const std::string& s) {
    if (!a.quiet) std::fprintf(stderr, "nvenc: %s\n", s.c_str());
  };
  const bool nvp = a.model == "nvp";
  if (!nvp && !a.grid_coding.empty())
    throw std::invalid_argument("--grid-coding is an NVP option: use it with --model nvp");
  if (!nvp && a.fit_seconds > 0)
    throw std::invalid_argument("--fit-seconds is an NVP option: use it with --model nvp");
  if (a.fit_seconds > 0 && a.epochs > 0) throw std::invalid_argument("--fit-seconds and --epochs exclude each other");
  if (!nvp && a.config.rfind("nvp-", 0) == 0)
    throw std::invalid_argument("--config " + a.config + " is an NVP configuration: use it with --model nvp");
  if (nvp && a.config != "auto" && a.config.rfind("nvp-", 0) != 0)
    throw std::invalid_argument("--config " + a.config + " is a T-NeRV configuration; NVP takes auto, nvp-s or nvp-l");
  if (a.threads > 0) torch::set_num_threads(a.threads);

  video::ReaderOptions ro;
  ro.seek = a.seek;
  ro.max_frames = a.frames;
  ro.format = a.input_format;
  if (!a.input_res.empty()) app::parse_resolution(a.input_res, ro.input_width, ro.input_height);
  if (!a.fps.empty()) app::parse_rate(a.fps, ro.fps_num, ro.fps_den);
  video::VideoFormat fmt;
  std::vector<video::Frame> frames = video::read_all(a.input, ro, &fmt);
  for (const auto& n : fmt.notes) info(a.input + ": " + n);
  if (frames.empty()) throw std::runtime_error(a.input + ": no frames to encode");
  const int W = frames[0].width, H = frames[0].height, T = int(frames.size());
  {
    std::ostringstream s;
    s << a.input << ": " << W << "x" << H << ", " << T << " frames at " << fmt.fps_num << "/" << fmt.fps_den
      << " fps, " << (fmt.full_range ? "full" : "limited") << " range, matrix " << fmt.matrix;
    info(s.str());
  }
  const torch::Device device = resolve_device(a.device);

  EncodeOptions eo = model_options(a);
  eo.bpp = a.bpp > 0 ? a.bpp : 64.0;  // a named config without --bpp: the finest quantization up to 12 bits
  eo.device = device;
  eo.speed = a.fit_path == "reference" ? FitSpeed::reference() : FitSpeed::fast(device);
  if (a.precision != "auto") eo.speed.autocast = parse_precision(a.precision);
  eo.speed.cuda_graphs = a.cuda_graphs;
  eo.seed = a.seed;
  eo.epochs = a.epochs;
  eo.fit_seconds = a.fit_seconds;
  eo.batch = a.batch;
  eo.lr = a.lr;
  eo.encoder_info = std::string("nvenc ") + NVC_VERSION + " preset=" + a.preset + " config=" + a.config +
                    " variant=" + eo.variant.describe() + " stages=" + eo.compression.describe();
  eo.log = info;
  info("fitting on " + describe_device(device) + (nvp ? "" : " (" + eo.speed.describe() + ")") + ", preset " +
       a.preset + (nvp ? ", model nvp" : ""));
  app::ProgressLine progress(!a.quiet && !a.no_progress);
  // --fit-log: one CSV row per progress report, timed from nvenc's start (bench/perf.py reads it for time-to-PSNR).
  std::string fit_log = "stage,step,total_steps,epoch,wall_s,stage_elapsed_s,loss,psnr_rgb,steps_per_s\n";
  eo.on_progress = [&](const FitProgress& p) {
    if (!a.fit_log.empty()) {
      char row[192];
      std::snprintf(row, sizeof row, "%s,%lld,%lld,%d,%.3f,%.3f,%.8g,%.4f,%.3f\n", p.stage, (long long)p.step,
                    (long long)p.total_steps, p.epoch, std::chrono::duration<double>(Clock::now() - t0).count(),
                    p.elapsed_s, p.loss, p.psnr, p.steps_per_s);
      fit_log += row;
    }
    char b[256];
    std::snprintf(b, sizeof b, "[%5.1f%%] %s: step %lld/%lld, epoch %d/%d, PSNR-RGB %.2f dB, %.2f it/s, eta %s",
                  100.0 * double(p.step) / double(p.total_steps), p.stage, (long long)p.step,
                  (long long)p.total_steps, p.epoch,
                  p.epochs, p.psnr, p.steps_per_s, app::format_duration(p.eta_s).c_str());
    progress.update(double(p.step) / double(p.total_steps), b);
  };
  eo.should_stop = [] { return app::stop_requested(); };
  // What the summary needs, from either model family.
  struct Encoded {
    std::vector<uint8_t> bytes;
    bitstream::ByteSplit split;
    std::string config;
    int64_t params = 0, fit_steps = 0;
    double weight_bits = 0, grid_bits = 0, fit_seconds = 0, fit_psnr = 0;
    bool stopped_early = false, graphed = false;
  } e;
  EncodeResult r;     // T-NeRV only
  NvpEncodeResult n;  // NVP only
  if (nvp) {
    eo.grid_coding = a.grid_coding.empty() ? std::string(kDefaultNvpGridCoding) : a.grid_coding;
    eo.encoder_info = std::string("nvenc ") + NVC_VERSION + " model=nvp preset=" + a.preset + " config=" + a.config +
                      " grid-coding=" + eo.grid_coding;
    n = encode_nvp(frames, fmt, eo);
    e = {std::move(n.bytes), n.split, n.config.name, n.config.stored_params(), n.fit.steps, n.weight_bits,
         n.grid_bits, n.fit.seconds, n.fit.final_psnr, n.fit.stopped_early, false};
  } else {
    r = encode_tnerv(frames, fmt, eo);
    e = {std::move(r.bytes), r.split, r.config.name, r.config.stored_params(), r.fit.steps, r.weight_bits,
         r.embedding_bits, r.fit.seconds, r.fit.final_psnr, r.fit.stopped_early, r.fit.graphed};
  }
  progress.finish();
  if (app::abort_requested()) throw std::runtime_error("interrupted; no output written");
  if (e.stopped_early) info("interrupted: fitting stopped early, writing what was learnt (Ctrl-C again to abort)");

  // Verify through the real decode path: parse the bytes and decode every frame, as nvdec will.
  bitstream::NvcFile parsed = bitstream::parse(e.bytes.data(), e.bytes.size());
  const std::unique_ptr<StreamDecoder> decoder = open_stream_decoder(parsed, device, DecodeOptions{});
  video::MetricsAccumulator acc;
  std::unique_ptr<video::FrameWriter> recon;
  if (!a.recon.empty()) recon = video::open_writer(a.recon, fmt, video::WriterOptions{});
  decoder->decode(0, T, [&](int i, const video::Frame& f) {
    acc.add(video::frame_metrics(frames[size_t(i)], f, fmt.matrix, fmt.full_range));
    if (recon) recon->write(f);
    return !app::abort_requested();
  });
  if (app::abort_requested()) throw std::runtime_error("interrupted; no output written");
  if (recon) recon->close();
  app::write_file_atomically(a.output, e.bytes);
  if (!a.fit_log.empty()) app::write_file_atomically(a.fit_log, std::vector<uint8_t>(fit_log.begin(), fit_log.end()));

  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double bpp = 8.0 * double(e.bytes.size()) / (double(W) * H * T);
  const video::QualityMetrics m = acc.mean();
  if (!a.quiet) {
    std::fprintf(stderr,
                 "nvenc: %s: %zu bytes, %.4f bpp (target %.4f), PSNR-YUV %s dB (Y %s, U %s, V %s), PSNR-RGB %s dB, "
                 "MS-SSIM %.4f, %d frames %dx%d in %s (fit %.1f s, %lld steps)\n",
                 a.output.c_str(), e.bytes.size(), bpp, a.bpp, fmt_db(m.psnr_yuv).c_str(), fmt_db(m.psnr_y).c_str(),
                 fmt_db(m.psnr_u).c_str(), fmt_db(m.psnr_v).c_str(), fmt_db(m.psnr_rgb).c_str(), m.ms_ssim, T, W, H,
                 app::format_duration(seconds).c_str(), e.fit_seconds, (long long)e.fit_steps);
    std::fprintf(stderr, "nvenc: bytes: decoder %llu, grids %llu, embeddings %llu, headers %llu; weights %.2f bits, ",
                 (unsigned long long)e.split.component[0], (unsigned long long)e.split.component[1],
                 (unsigned long long)e.split.component[2], (unsigned long long)e.split.headers, e.weight_bits);
    if (nvp && n.grid_coding == "pictures")
      std::fprintf(stderr, "grids as pictures: HEVC crf %d, JPEG qscale %d (xy) / %d (xt, yt)\n", n.crf,
                   NvpPictureSetting{n.crf}.jpeg_qscale_xy(), NvpPictureSetting{n.crf}.jpeg_qscale_t());
    else if (nvp)
      std::fprintf(stderr, "grids %.2f bits\n", e.grid_bits);
    else
      std::fprintf(stderr, "embeddings %.2f bits; %.1f%% of the decoder weights zero\n", e.grid_bits,
                   100.0 * r.sparsity);
  }
  if (!a.stats.empty()) {
    app::JsonObject comps;
    comps.integer("decoder", int64_t(e.split.component[0]))
        .integer("grids", int64_t(e.split.component[1]))
        .integer("embeddings", int64_t(e.split.component[2]))
        .integer("headers", int64_t(e.split.headers + e.split.component[3]));
    app::JsonObject j;
    j.str("input", a.input).str("output", a.output).str("model", a.model).str("preset", a.preset)
        .str("config", e.config)
        .str("device", describe_device(device))
        .integer("width", W).integer("height", H).integer("frames", T)
        .integer("bytes", int64_t(e.bytes.size())).num("bpp", bpp).num("target_bpp", a.bpp)
        .obj("components", comps)
        .num("psnr_y", m.psnr_y).num("psnr_u", m.psnr_u).num("psnr_v", m.psnr_v).num("psnr_yuv", m.psnr_yuv)
        .num("psnr_rgb", m.psnr_rgb).num("ms_ssim", m.ms_ssim)
        .integer("params", e.params).num("weight_bits", e.weight_bits).integer("fit_steps", e.fit_steps)
        .num("fit_psnr_rgb", e.fit_psnr).num("fit_seconds", e.fit_seconds).num("seconds", seconds)
        .num("fit_steps_per_s", double(e.fit_steps) / std::max(1e-9, e.fit_seconds))
        .integer("interrupted", e.stopped_early ? 1 : 0);
    if (nvp) {
      j.num("grid_bits", e.grid_bits).str("grid_coding", n.grid_coding).integer("grid_crf", n.crf);
      for (const NvpCodingTrial& t : n.trials) {
        app::JsonObject tj;
        tj.integer("bytes", int64_t(t.bytes)).num("psnr_rgb", t.psnr_rgb).num("weight_bits", t.weight_bits)
            .num("grid_bits", t.grid_bits).integer("crf", t.crf).str("error", t.error);
        j.obj("grid_coding_" + t.coding, tj);
      }
    } else {
      j.str("variant", eo.variant.describe())
          .integer("decoder_params", r.config.decoder_params()).integer("grid_params", r.config.grid_params())
          .integer("embedding_params", r.config.embedding_params()).num("embedding_bits", e.grid_bits)
          .str("fit_path", eo.speed.describe()).integer("fit_graphed", e.graphed ? 1 : 0)
          .str("stages", eo.compression.describe()).num("lambda", r.lambda).num("sparsity", r.sparsity)
          .num("embedding_offset_bits", r.embedding_offset);
      for (const StageReport& st : r.stages) {
        app::JsonObject sj;
        sj.integer("epochs", st.epochs).num("fit_psnr_rgb", st.fit_psnr).num("weight_bits", st.weight_bits);
        j.obj("stage_" + st.name, sj);
      }
    }
    const std::string text = j.dump() + "\n";
    app::write_file_atomically(a.stats, std::vector<uint8_t>(text.begin(), text.end()));
  }
  return app::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"nvenc: fit a neural representation of a video and write it as a .nvc file", "nvenc"};
  app.set_version_flag("--version", std::string("nvenc ") + NVC_VERSION);
  app.add_option("input", a.input, "Input video: .y4m, raw .yuv (4:2:0), '-' for stdin, or any FFmpeg container");
  app.add_option("-o,--output", a.output, "Output .nvc file");
  app.add_option("--bpp", a.bpp, "Target bits per pixel of the whole file (headers included)")
      ->check(CLI::Range(1e-4, 64.0));
  app.add_option("--config", a.config,
                 "Model size: auto (from --bpp) or a paper configuration: T-NeRV 12.4m (Table 6), 3.0m (7), 9.3m (8); "
                 "NVP nvp-s, nvp-l")
      ->check(CLI::IsMember({"auto", "12.4m", "3.0m", "9.3m", "nvp-s", "nvp-l"}));
  app.add_option("--ablation", a.ablation, "Switch model parts off, e.g. E1,D2 (E1..E5, D1..D3; docs/architecture.md)");
  app.add_option("--block", a.block, "Up-sampling block: hnerv (k x k conv) | compact (depthwise + 1x1) | auto (compact below 1M parameters)")
      ->check(CLI::IsMember({"auto", "hnerv", "compact"}));
  app.add_flag("--full-model", a.full_model,
               "Every part of T-NeRV at any size (auto leaves grids, flow and augmentation out below 1M parameters)");
  app.add_flag("--print-model", a.print_model,
               "Print the model that would be fitted (JSON, needs --input-res and --frames) and exit");
  app.add_option("--preset", a.preset, "fast | medium | slow (fitting epochs)")
      ->check(CLI::IsMember({"fast", "medium", "slow"}));
  app.add_option("--model", a.model, "Model family")->check(CLI::IsMember({"tnerv", "nvp"}));
  app.add_option("--grid-coding", a.grid_coding,
                 "NVP grids: cabac (nvc's quantizer + entropy coder) | pictures (the paper's JPEG + HEVC, needs FFmpeg "
                 "with libx265) | auto (both at the budget, keep the one that decodes better); default " +
                     std::string(kDefaultNvpGridCoding))
      ->check(CLI::IsMember(nvp_grid_codings()));
  app.add_option("--device", a.device, "auto | cpu | cuda | cuda:N");
  app.add_option("--frames", a.frames, "Encode at most N frames")->check(CLI::Range(int64_t(1), int64_t(1000000)));
  app.add_option("--seek", a.seek, "Skip the first N frames")->check(CLI::Range(int64_t(0), int64_t(100000000)));
  app.add_option("--input-res", a.input_res, "Raw YUV size WxH (default: from the file name)");
  app.add_option("--fps", a.fps, "Frame rate, e.g. 25, 30000/1001 (raw input; overrides the container)");
  app.add_option("--demuxer", a.input_format, "auto | y4m | yuv | ffmpeg")
      ->check(CLI::IsMember({"auto", "y4m", "yuv", "ffmpeg"}));
  app.add_option("--stats", a.stats, "Write the summary as JSON to this file");
  app.add_option("--recon", a.recon, "Also write the decoded result (what nvdec will output) to this file");
  app.add_option("--params", a.params, "Expert: stored parameter count instead of the one derived from --bpp")
      ->check(CLI::Range(int64_t(500), int64_t(1) << 32));
  app.add_option("--stages", a.stages,
                 "Compression stages after the fit: all (default), ptq (post-training quantization only), or a list "
                 "of prune, qat, ec")
      ->check([](const std::string& v) {
        try {
          CompressionOptions::parse_stages(v);
          return std::string();
        } catch (const std::exception& e) {
          return std::string(e.what());
        }
      });
  app.add_option("--prune", a.prune, "Fraction of the decoder's weights pruned by the prune stage")
      ->check(CLI::Range(0.0, 0.95));
  app.add_option("--lambda", a.lambda, "Expert: rate weight of the ec stage in MSE per bpp (default: from the fit "
                                       "and --bpp)")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--lambda-scale", a.lambda_scale, "Expert: multiplies the automatic rate weight")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--epochs", a.epochs, "Expert: fitting epochs instead of the preset's")->check(CLI::Range(1, 100000));
  app.add_option("--fit-seconds", a.fit_seconds,
                 "NVP: fit for this many seconds of wall time (the learning-rate schedule runs over the time) instead "
                 "of --epochs")
      ->check(CLI::Range(1.0, 1e7));
  app.add_option("--batch", a.batch, "Frames per fitting step")->check(CLI::Range(1, 256));
  app.add_option("--lr", a.lr, "Peak learning rate (default: from the model size)")->check(CLI::Range(1e-6, 1.0));
  app.add_option("--seed", a.seed, "Seed of the initial weights and the frame order (same seed, same machine and "
                               "thread count: the same file)");
  app.add_option("--threads", a.threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--fit-path", a.fit_path,
                 "fast (default: fused Adam and sync-free steps; on CUDA also bf16 autocast, channels_last, fp16 "
                 "frames) | reference (fp32 eager LibTorch, the baseline of bench/perf.py)")
      ->check(CLI::IsMember({"fast", "reference"}));
  app.add_option("--precision", a.precision, "Fitting arithmetic: auto (from --fit-path) | fp32 | bf16 (autocast)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  app.add_flag("--cuda-graphs", a.cuda_graphs,
               "Replay the main fit's steady-state step as a CUDA graph (CUDA only; falls back to eager with a note)");
  app.add_option("--fit-log", a.fit_log, "Write the fit's progress (stage, step, wall time, loss, PSNR) as CSV");
  app.add_flag("--no-progress", a.no_progress, "No progress line");
  app.add_flag("-q,--quiet", a.quiet, "Print nothing but errors");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return nvc::app::handle_parse_error(app, e);
  }
  return nvc::app::run_guarded("nvenc", [&] { return run(a); });
}
