// nvc_perf: the measurements behind docs/benchmarks.md's performance section (driven by bench/perf.py).
//
//   nvc_perf make   --config 3.0m --res 1920x1080 --frames 120 -o model.nvc   random-weight model of a paper size
//                   (--config auto --bpp 0.1 | --params N: the model nvenc would fit)
//   nvc_perf decode model.nvc [--device cuda] [--precision fp16] [--batch 8] [--graphs auto|on|off]
//                   [--tail fused|reference] [--repeat 3]                      decode frame rates, one JSON line
//   nvc_perf upscale in.y4m --res 1920x960 -o out.y4m                         bicubic resize (no FFmpeg needed)
//   nvc_perf nvp-make --config nvp-s --res 1920x1080 --frames 24 -o nvp.nvc    random-weight NVP model
//   nvc_perf decode nvp.nvc [--nvp-path auto|fused|reference|cpu] ...          NVP decode frame rates (same JSON)
//
// Decode speed does not depend on the weights' values, so `make` skips fitting: a paper-size model at 1080p decodes
// at the same rate whether it was fitted for hours or not. `decode` reports, from the same loaded model:
//   network_fps  passes + flow-guided tail + colour conversion, up to 4:2:0 bytes in device memory (nothing copied
//                to the host): what the GPU sustains;
//   host_fps     the same through FrameDecoder::decode into a sink that drops frames: plus the device-to-host copy
//                and building the frames (what nvdec does before writing).
// Each is the best of --repeat timed runs after one warm-up decode (graph capture, cuDNN autotuning, allocations).
// For an NVP file `decode` times NvpFrameDecoder (codec/nvp_io.h) on the renderer path --nvp-path picks: network_fps
// up to 4:2:0 bytes on the device (NvpFrameDecoder::decode_device), host_fps through decode() as above; the warm-up
// decode includes the fused kernel's self-check.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "bitstream/nvc_file.h"
#include "codec/device.h"
#include "codec/encode.h"
#include "codec/model_io.h"
#include "codec/nvp_encode.h"
#include "codec/nvp_io.h"
#include "codec/video/video_io.h"

namespace {

using namespace nvc;
namespace bs = bitstream;
using Clock = std::chrono::steady_clock;

void parse_res(const std::string& s, int& w, int& h) {
  if (std::sscanf(s.c_str(), "%dx%d", &w, &h) != 2 || w <= 0 || h <= 0 || (w & 1) || (h & 1))
    throw std::invalid_argument("--res must be WxH with even sizes, got '" + s + "'");
}

// A JSON string literal (the decoder's description can carry an exception's text).
std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += char(ch);
    else if (ch < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", ch);
      out += b;
    } else out += char(ch);
  }
  return out + "\"";
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

int make(const std::string& config, const std::string& res, int frames, int64_t params, double bpp, double bits,
         const std::string& out, uint64_t seed) {
  int W = 0, H = 0;
  parse_res(res, W, H);
  EncodeOptions eo;
  eo.config = config;
  eo.params = params;
  const TNervConfig c = plan_tnerv(W, H, frames, bpp, eo);
  torch::manual_seed(seed);
  TNervDecoder dec(c);
  torch::Tensor emb, tcode;
  if (c.emb_channels > 0) emb = torch::randn({c.frames, c.emb_channels, c.emb_h, c.emb_w});
  if (c.tcode_dim > 0) tcode = torch::randn({c.frames, c.tcode_dim}) * 0.1;
  video::VideoFormat fmt;
  fmt.width = W;
  fmt.height = H;
  fmt.fps_num = 25;
  fmt.fps_den = 1;
  fmt.matrix = 1;
  const bs::NvcFile f = pack_tnerv(c, dec, emb, tcode, sequence_header_of(fmt, frames), bits, bits,
                                   "nvc_perf make (random weights, for speed measurements only)");
  const std::vector<uint8_t> bytes = bs::serialize(f);
  std::ofstream o(out + ".tmp", std::ios::binary);
  o.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  o.close();
  if (!o || std::rename((out + ".tmp").c_str(), out.c_str()) != 0) throw std::runtime_error(out + ": cannot write");
  std::fprintf(stderr, "nvc_perf: %s: %s, %zu bytes\n", out.c_str(), c.summary().c_str(), bytes.size());
  return 0;
}

// A random-weight NVP (named configuration at a size): grids U(-grid, grid), the network at its initialisation,
// everything at 8 bits. NVP decode speed does not depend on the values either.
int nvp_make(const std::string& config, const std::string& res, int frames, double grid, const std::string& out,
             uint64_t seed) {
  int W = 0, H = 0;
  parse_res(res, W, H);
  const NvpConfig c = named_nvp_config(config, W, H, frames);
  torch::manual_seed(seed);
  NvpModel m(c);
  {
    torch::NoGradGuard g;
    for (auto* t : {&m->keyframes_xy, &m->keyframes_xt, &m->keyframes_yt, &m->sparse}) t->uniform_(-grid, grid);
  }
  video::VideoFormat fmt;
  fmt.width = W;
  fmt.height = H;
  fmt.fps_num = 25;
  fmt.fps_den = 1;
  fmt.matrix = 1;
  const bs::NvcFile f = pack_nvp(m, sequence_header_of(fmt, frames), 8, 8,
                                 "nvc_perf nvp-make (random weights, for speed measurements only)");
  const std::vector<uint8_t> bytes = bs::serialize(f);
  std::ofstream o(out + ".tmp", std::ios::binary);
  o.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  o.close();
  if (!o || std::rename((out + ".tmp").c_str(), out.c_str()) != 0) throw std::runtime_error(out + ": cannot write");
  std::fprintf(stderr, "nvc_perf: %s: %s, %zu bytes\n", out.c_str(), c.summary().c_str(), bytes.size());
  return 0;
}

// Multiply-adds per pixel of the NVP network: modulator Z H + (L - 1)(H + Z) H, synthesizer H + (L - 1) H^2 + 3 H.
int64_t nvp_macs_per_pixel(const NvpConfig& c) {
  const int64_t Z = c.latent_dim(), H = c.hidden, L = c.layers;
  return Z * H + (L - 1) * (H + Z) * H + H + (L - 1) * H * H + 3 * H;
}

// Best of `repeat` timings of a whole decode, after one untimed warm-up pass: the network alone (decode_device, bytes
// left on the device) and end to end to host frames (decode).
struct DecodeTimes {
  double network_s = 1e30, host_s = 1e30;
};
template <class Decoder>
DecodeTimes time_decoder(Decoder& dec, const torch::Device& device, int repeat) {
  const int T = dec.frame_count();
  auto time_network = [&] {
    const auto t0 = Clock::now();
    dec.decode_device(0, T, [](int, const torch::Tensor&) { return true; });
    synchronize(device);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  auto time_host = [&] {
    const auto t0 = Clock::now();
    int64_t checksum = 0;
    dec.decode(0, T, [&](int, const video::Frame& f) {
      checksum += f.y[f.y.size() / 2];
      return true;
    });
    return std::chrono::duration<double>(Clock::now() - t0).count() + 0.0 * double(checksum);
  };
  time_network();
  DecodeTimes t;
  for (int r = 0; r < std::max(1, repeat); ++r) t.network_s = std::min(t.network_s, time_network());
  for (int r = 0; r < std::max(1, repeat); ++r) t.host_s = std::min(t.host_s, time_host());
  return t;
}

int nvp_decode(const bs::NvcFile& file, const std::string& path, const torch::Device& device, const DecodeOptions& o,
               const std::string& nvp_path, int repeat) {
  NvpFrameDecoder dec(file, device, o, parse_nvp_render_path(nvp_path));
  const int T = dec.frame_count();
  const DecodeTimes t = time_decoder(dec, device, repeat);  // warm-up: the fused kernel's self-check, allocations
  const double net = t.network_s, host = t.host_s;
  const NvpConfig& c = dec.config();
  const int64_t macs = nvp_macs_per_pixel(c) * c.width * c.height;
  std::printf("{\"file\": %s, \"model\": \"nvp\", \"device\": %s, \"device_name\": %s, \"config\": %s, "
              "\"width\": %d, \"height\": %d, \"frames\": %d, \"params\": %lld, \"decoder_macs_per_frame\": %lld, "
              "\"nvp_path\": \"%s\", \"path\": %s, \"check_error\": %.3e, \"threads\": %d, \"network_fps\": %.3f, "
              "\"host_fps\": %.3f}\n",
              json_str(path).c_str(), json_str(describe_device(device)).c_str(), json_str(device_name(device)).c_str(),
              json_str(c.name).c_str(), c.width, c.height, T, (long long)c.stored_params(), (long long)macs,
              nvp_render_path_name(dec.renderer().path()), json_str(dec.describe()).c_str(),
              dec.renderer().check_error(), torch::get_num_threads(), T / net, T / host);
  return 0;
}

int decode(const std::string& path, const std::string& device_spec, const std::string& precision, int batch,
           const std::string& graphs, const std::string& tail, int repeat, int threads, const std::string& nvp_path) {
  if (threads > 0) torch::set_num_threads(threads);
  const std::vector<uint8_t> bytes = read_file(path);
  const bs::NvcFile file = bs::parse(bytes.data(), bytes.size());
  const torch::Device device = resolve_device(device_spec);
  DecodeOptions o;
  o.batch = batch;
  if (precision != "auto") o.precision = parse_precision(precision);
  o.cuda_graphs = graphs == "auto" ? -1 : graphs == "on" ? 1 : 0;
  o.fused_tail = tail == "fused";
  if (file.model.kind == "nvp") return nvp_decode(file, path, device, o, nvp_path, repeat);
  FrameDecoder dec(file, device, o);
  const int T = dec.frame_count();
  const DecodeTimes t = time_decoder(dec, device, repeat);  // warm-up: graph capture, cuDNN autotuning, allocator
  const double net = t.network_s, host = t.host_s;

  const TNervConfig& c = dec.config();
  std::printf("{\"file\": %s, \"device\": %s, \"device_name\": %s, \"config\": %s, \"width\": %d, "
              "\"height\": %d, \"frames\": %d, \"params\": %lld, \"decoder_macs_per_frame\": %lld, \"path\": %s, "
              "\"threads\": %d, \"network_fps\": %.3f, \"host_fps\": %.3f}\n",
              json_str(path).c_str(), json_str(describe_device(device)).c_str(), json_str(device_name(device)).c_str(),
              json_str(c.name).c_str(), c.width, c.height, T, (long long)c.stored_params(),
              (long long)c.decoder_macs_per_frame(), json_str(dec.describe()).c_str(), torch::get_num_threads(),
              T / net, T / host);
  return 0;
}

int upscale(const std::string& in, const std::string& res, const std::string& out, int64_t max_frames) {
  int W = 0, H = 0;
  parse_res(res, W, H);
  video::ReaderOptions ro;
  ro.max_frames = max_frames;
  auto reader = video::open_reader(in, ro);
  video::VideoFormat fmt = reader->format();
  fmt.width = W;
  fmt.height = H;
  fmt.frame_count = -1;
  auto writer = video::open_writer(out, fmt, video::WriterOptions{});
  namespace F = torch::nn::functional;
  auto plane = [](const std::vector<uint8_t>& p, int w, int h, int ow, int oh) {
    torch::Tensor t = torch::from_blob(const_cast<uint8_t*>(p.data()), {1, 1, h, w}, torch::kUInt8).to(torch::kFloat32);
    t = F::interpolate(t, F::InterpolateFuncOptions().size(std::vector<int64_t>{oh, ow}).mode(torch::kBicubic)
                              .align_corners(false));
    t = t.round().clamp(0, 255).to(torch::kUInt8).contiguous();
    return std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
  };
  video::Frame f;
  int n = 0;
  while (reader->read(f)) {
    video::Frame g;
    g.width = W;
    g.height = H;
    g.y = plane(f.y, f.width, f.height, W, H);
    g.u = plane(f.u, f.width / 2, f.height / 2, W / 2, H / 2);
    g.v = plane(f.v, f.width / 2, f.height / 2, W / 2, H / 2);
    writer->write(g);
    ++n;
  }
  writer->close();
  std::fprintf(stderr, "nvc_perf: %s: %d frames %dx%d\n", out.c_str(), n, W, H);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nvc_perf: speed measurements for docs/benchmarks.md (see bench/perf.py)", "nvc_perf"};
  app.require_subcommand(1);
  std::string config = "3.0m", res = "1920x1080", out, in, device = "auto", precision = "auto", graphs = "auto";
  std::string tail = "fused", nvp_config = "nvp-s", nvp_path = "auto";
  double nvp_grid = 0.1;
  int frames = 120, batch = 0, repeat = 3, threads = 0;
  int64_t params = 0, max_frames = -1;
  double bits = 8, bpp = 0.1;
  uint64_t seed = 1;
  auto* mk = app.add_subcommand("make", "Write a random-weight model of a given size");
  mk->add_option("--config", config, "auto | 12.4m | 3.0m | 9.3m")->check(CLI::IsMember({"auto", "12.4m", "3.0m", "9.3m"}));
  mk->add_option("--params", params, "Stored parameters (with --config auto; default: sized from --bpp as nvenc does)");
  mk->add_option("--bpp", bpp, "Bit budget that sizes an auto model")->check(CLI::Range(1e-4, 64.0));
  mk->add_option("--res", res, "WxH");
  mk->add_option("--frames", frames, "Frames")->check(CLI::Range(1, 100000));
  mk->add_option("--bits", bits, "Quantization precision")->check(CLI::Range(2.0, 12.0));
  mk->add_option("--seed", seed, "Seed of the random weights");
  mk->add_option("-o,--output", out, "Output .nvc")->required();
  auto* dc = app.add_subcommand("decode", "Decode frame rates of a .nvc file (JSON line)");
  dc->add_option("input", in, "Input .nvc")->required();
  dc->add_option("--device", device, "auto | cpu | cuda | cuda:N");
  dc->add_option("--precision", precision, "auto | fp32 | fp16 | bf16")->check(CLI::IsMember({"auto", "fp32", "fp16", "bf16"}));
  dc->add_option("--batch", batch, "Frames per pass (0: the decoder's default)")->check(CLI::Range(0, 256));
  dc->add_option("--graphs", graphs, "auto | on | off")->check(CLI::IsMember({"auto", "on", "off"}));
  dc->add_option("--tail", tail, "fused | reference")->check(CLI::IsMember({"fused", "reference"}));
  dc->add_option("--repeat", repeat, "Timed runs (best kept)")->check(CLI::Range(1, 100));
  dc->add_option("--threads", threads, "CPU threads")->check(CLI::Range(0, 1024));
  dc->add_option("--nvp-path", nvp_path, "NVP files: auto | fused | reference | cpu (codec/nvp_render.h)")
      ->check(CLI::IsMember({"auto", "fused", "reference", "cpu"}));
  auto* nm = app.add_subcommand("nvp-make", "Write a random-weight NVP model of a named configuration");
  nm->add_option("--config", nvp_config, "nvp-s | nvp-l")->check(CLI::IsMember({"nvp-s", "nvp-l"}));
  nm->add_option("--res", res, "WxH");
  nm->add_option("--frames", frames, "Frames (the sparse grid has one cell per frame)")->check(CLI::Range(1, 100000));
  nm->add_option("--grid", nvp_grid, "Grids drawn from U(-g, g)")->check(CLI::Range(0.0, 100.0));
  nm->add_option("--seed", seed, "Seed of the random weights");
  nm->add_option("-o,--output", out, "Output .nvc")->required();
  auto* up = app.add_subcommand("upscale", "Bicubic resize of a y4m/yuv clip");
  up->add_option("input", in, "Input video")->required();
  up->add_option("--res", res, "WxH")->required();
  up->add_option("--frames", max_frames, "At most N frames");
  up->add_option("-o,--output", out, "Output .y4m")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (*mk) return make(config, res, frames, params, bpp, bits, out, seed);
    if (*dc) return decode(in, device, precision, batch, graphs, tail, repeat, threads, nvp_path);
    if (*nm) return nvp_make(nvp_config, res, frames, nvp_grid, out, seed);
    if (*up) return upscale(in, res, out, max_frames);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nvc_perf: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
