// nvdec: decode a .nvc file to frames (PNG directory, .y4m, .yuv, or y4m on stdout).
#include <chrono>
#include <cstdio>
#include <iostream>

#include "apps/app_common.h"
#include "bitstream/nvc_file.h"
#include "codec/device.h"
#include "codec/model_io.h"
#include "codec/nvp_config.h"
#include "codec/video/video_io.h"

namespace {

using namespace nvc;
namespace bs = bitstream;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string input, output, muxer = "auto", device = "auto", ref, ref_res, precision = "auto", cuda_graphs = "auto";
  int64_t frames = -1, seek = 0;
  int batch = 0, threads = 0;
  bool info = false, json = false, quiet = false;
};

const char* component_name(int c) {
  static const char* names[] = {"decoder", "grids", "embeddings", "other"};
  return names[c];
}

void print_info(const Args& a, const bs::NvcFile& f, const bs::ByteSplit& split) {
  const auto& s = f.seq;
  const double pixels = double(s.width) * s.height * s.frame_count;
  const double bpp = pixels > 0 ? 8.0 * double(split.total) / pixels : 0;
  if (a.json) {
    app::JsonObject comps;
    comps.integer("decoder", int64_t(split.component[0]))
        .integer("grids", int64_t(split.component[1]))
        .integer("embeddings", int64_t(split.component[2]))
        .integer("headers", int64_t(split.headers + split.component[3]));
    app::JsonObject j;
    j.str("file", a.input).integer("version_major", f.major).integer("version_minor", f.minor)
        .integer("width", s.width).integer("height", s.height).integer("frames", s.frame_count)
        .integer("fps_num", s.fps_num).integer("fps_den", s.fps_den).integer("full_range", s.full_range)
        .integer("matrix", s.matrix).str("model", f.model.kind).integer("tensors", int64_t(f.tensors.size()))
        .integer("bytes", int64_t(split.total)).num("bpp", bpp).obj("components", comps)
        .str("encoder", f.encoder_info);
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: nvc %d.%d, %ux%u, %u frames at %u/%u fps, 4:2:0 8-bit, %s range, matrix %u\n", a.input.c_str(),
              f.major, f.minor, s.width, s.height, s.frame_count, s.fps_num, s.fps_den,
              s.full_range ? "full" : "limited", s.matrix);
  try {
    std::printf("model: %s\n", f.model.kind == "nvp" ? NvpConfig::from_description(f.model, f.seq).summary().c_str()
                                                     : TNervConfig::from_description(f.model, f.seq).summary().c_str());
  } catch (const std::exception&) {
    std::printf("model: %s\n", f.model.kind.c_str());
  }
  if (!f.encoder_info.empty()) std::printf("encoder: %s\n", f.encoder_info.c_str());
  std::printf("size: %llu bytes, %.5f bpp\n", (unsigned long long)split.total, bpp);
  for (int c = 0; c < 4; ++c)
    if (split.component[c])
      std::printf("  %-11s %10llu bytes (%5.1f%%)\n", component_name(c), (unsigned long long)split.component[c],
                  100.0 * double(split.component[c]) / double(std::max<uint64_t>(1, split.total)));
  std::printf("  %-11s %10llu bytes (%5.1f%%)\n", "headers", (unsigned long long)split.headers,
              100.0 * double(split.headers) / double(std::max<uint64_t>(1, split.total)));
}

int run(const Args& a) {
  const auto t0 = Clock::now();
  if (a.threads > 0) torch::set_num_threads(a.threads);
  const std::vector<uint8_t> bytes = app::read_whole_file(a.input);
  bs::ByteSplit split;
  bs::NvcFile file;
  try {
    file = bs::parse(bytes.data(), bytes.size(), &split);
  } catch (const std::exception& e) {
    throw std::runtime_error(a.input + ": " + e.what());
  }
  if (a.info) print_info(a, file, split);
  if (a.output.empty() && a.ref.empty()) return app::kOk;

  const torch::Device device = resolve_device(a.device);
  std::unique_ptr<StreamDecoder> decoder;
  try {
    DecodeOptions dopt;
    dopt.batch = a.batch;
    if (a.precision != "auto") dopt.precision = parse_precision(a.precision);
    dopt.cuda_graphs = a.cuda_graphs == "auto" ? -1 : (a.cuda_graphs == "on" ? 1 : 0);
    decoder = open_stream_decoder(file, device, dopt);
  } catch (const bs::FormatError& e) {
    throw std::runtime_error(a.input + ": " + e.what());
  }
  const int total = decoder->frame_count();
  const int first = int(std::min<int64_t>(a.seek, total));
  const int count = int(a.frames < 0 ? total - first : std::min<int64_t>(a.frames, total - first));

  video::VideoFormat fmt = video_format_of(file.seq);
  fmt.frame_count = count;
  std::unique_ptr<video::FrameWriter> writer;
  if (!a.output.empty()) writer = video::open_writer(a.output, fmt, video::WriterOptions{a.muxer});

  std::unique_ptr<video::FrameReader> ref;
  if (!a.ref.empty()) {
    video::ReaderOptions ro;
    ro.seek = first;
    ro.max_frames = count;
    if (!a.ref_res.empty()) app::parse_resolution(a.ref_res, ro.input_width, ro.input_height);
    else {
      ro.input_width = int(file.seq.width);  // a raw .yuv reference has the stream's size
      ro.input_height = int(file.seq.height);
    }
    ref = video::open_reader(a.ref, ro);
  }
  video::MetricsAccumulator acc;
  int written = 0;
  bool pipe_closed = false;
  video::Frame ref_frame;
  decoder->decode(first, count, [&](int, const video::Frame& f) {
    if (app::stop_requested()) return false;
    if (ref) {
      if (!ref->read(ref_frame)) throw std::runtime_error(a.ref + ": has fewer frames than the stream");
      if (ref_frame.width != f.width || ref_frame.height != f.height)
        throw std::runtime_error(a.ref + ": is " + std::to_string(ref_frame.width) + "x" +
                                 std::to_string(ref_frame.height) + ", the stream is " + std::to_string(f.width) +
                                 "x" + std::to_string(f.height));
      acc.add(video::frame_metrics(ref_frame, f, fmt.matrix, fmt.full_range));
    }
    if (writer) {
      try {
        writer->write(f);
      } catch (const video::PipeClosed&) {
        pipe_closed = true;  // the player quit: a normal end
        return false;
      }
    }
    ++written;
    return true;
  });
  if (app::stop_requested()) throw std::runtime_error("interrupted; no output written");
  if (writer && !pipe_closed) {
    try {
      writer->close();
    } catch (const video::PipeClosed&) {
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!a.quiet) {
    std::fprintf(stderr, "nvdec: decoded %d frames %ux%u on %s (%s) in %.2f s (%.1f fps)%s\n", written,
                 file.seq.width, file.seq.height, describe_device(device).c_str(), decoder->describe().c_str(),
                 seconds, written / std::max(1e-9, seconds), pipe_closed ? " (output pipe closed)" : "");
  }
  if (ref) {
    const video::QualityMetrics m = acc.mean();
    std::printf("PSNR-Y %.4f dB, PSNR-U %.4f dB, PSNR-V %.4f dB, PSNR-YUV %.4f dB, PSNR-RGB %.4f dB, MS-SSIM %.6f (%zu frames)\n",
                m.psnr_y, m.psnr_u, m.psnr_v, m.psnr_yuv, m.psnr_rgb, m.ms_ssim, acc.count());
  }
  return app::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"nvdec: decode a .nvc file", "nvdec"};
  app.set_version_flag("--version", std::string("nvdec ") + NVC_VERSION);
  app.add_option("input", a.input, "Input .nvc file ('-' for stdin)")->required();
  app.add_option("-o,--output", a.output,
                 "Output: a directory (PNG per frame), .y4m, .yuv, .md5, /dev/null, or '-' (y4m on stdout)");
  app.add_option("--muxer", a.muxer, "auto | y4m | yuv | png | md5 | null")
      ->check(CLI::IsMember({"auto", "y4m", "yuv", "png", "md5", "null"}));
  app.add_option("--frames", a.frames, "Decode at most N frames")->check(CLI::Range(int64_t(0), int64_t(1000000)));
  app.add_option("--seek", a.seek, "Start at frame N (random access: earlier frames are not decoded)")
      ->check(CLI::Range(int64_t(0), int64_t(1000000)));
  app.add_option("--device", a.device, "auto | cpu | cuda | cuda:N");
  app.add_option("--batch", a.batch, "Frames per network pass (default: 8 on CUDA; on the CPU 2 for T-NeRV, 1 for NVP)")->check(CLI::Range(1, 256));
  app.add_option("--precision", a.precision, "Network arithmetic: auto (fp16 on CUDA, fp32 on the CPU) | fp32 | fp16 | bf16")
      ->check(CLI::IsMember({"auto", "fp32", "fp16", "bf16"}));
  app.add_option("--cuda-graphs", a.cuda_graphs, "Replay full-batch passes as CUDA graphs: auto (on CUDA) | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_option("--threads", a.threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--ref", a.ref, "Reference video: print PSNR and MS-SSIM of the decoded frames against it");
  app.add_option("--ref-res", a.ref_res, "Size of a raw .yuv reference (default: the stream's)");
  app.add_flag("--info", a.info, "Print the header and the byte split");
  app.add_flag("--json", a.json, "With --info: print JSON");
  app.add_flag("-q,--quiet", a.quiet, "Print nothing but errors (and what --info/--ref ask for)");
  try {
    app.parse(argc, argv);
    if (a.output.empty() && a.ref.empty() && !a.info)
      throw CLI::ValidationError("nothing to do: give -o OUTPUT, --ref FILE or --info");
    if (a.json && !a.info) throw CLI::ValidationError("--json needs --info");
  } catch (const CLI::ParseError& e) {
    return nvc::app::handle_parse_error(app, e);
  }
  return nvc::app::run_guarded("nvdec", [&] { return run(a); });
}
