// NVP decoding (codec/nvp_render.h): the cpu path against nvp_render_frames, the fp16 emulation's error (what the
// fused kernel's roundings cost), frame ranges, the fused kernel's planning, NvpFrameDecoder; on a GPU the fused
// kernel against the CPU paths, its fallbacks and its self-check.
#include "codec/nvp_render.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec/cuda/nvp_render.h"  // the kernel's planning (plain C++)
#include "codec/model_io.h"
#include "codec/nvp_config.h"
#include "codec/encode.h"
#include "codec/nvp_encode.h"
#include "codec/nvp_fit.h"
#include "codec/nvp_io.h"
#include "codec/nvp_model.h"
#include "codec/video/video_io.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;

namespace {

struct Shape {
  int w, h, frames, levels, F, SF, hidden, layers;
};

NvpConfig make_config(const Shape& s) {
  NvpConfig c;
  c.name = "test";
  c.width = s.w;
  c.height = s.h;
  c.frames = s.frames;
  c.levels = s.levels;
  c.base_resolution = 4;
  c.per_level_scale = 1.5;
  c.features = s.F;
  c.sparse_features = s.SF;
  c.sparse_t = s.frames;
  c.sparse_h = std::max(1, (s.h + 2) / 3);
  c.sparse_w = std::max(1, (s.w + 3) / 4);
  c.hidden = s.hidden;
  c.layers = s.layers;
  c.validate();
  return c;
}

// Random model with visible content: grids U(-grid, grid) (the U(-1e-4, 1e-4) start would render one flat colour),
// the network at its init.
NvpModel random_model(const NvpConfig& c, uint64_t seed, double grid = 1.0) {
  torch::manual_seed(seed);
  NvpModel m(c);
  torch::NoGradGuard g;
  for (auto* t : {&m->keyframes_xy, &m->keyframes_xt, &m->keyframes_yt, &m->sparse}) t->uniform_(-grid, grid);
  m->eval();
  return m;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return a.numel() ? (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().max().item<double>()
                   : 0.0;
}

bitstream::SequenceHeader seq_of(const NvpConfig& c) {
  bitstream::SequenceHeader seq;
  seq.width = uint32_t(c.width);
  seq.height = uint32_t(c.height);
  seq.frame_count = uint32_t(c.frames);
  seq.fps_num = 25;
  seq.fps_den = 1;
  seq.matrix = 1;
  return seq;
}

// The cpu path is float32 like the reference, with the same lookups bit for bit (nvp_math); only the matrix
// products' summation order differs ([m, z] split into two products, other chunk sizes), so errors stay at a few
// float32 ulps of the activations: 2e-5 on [0, 1] leaves room for 128-wide sums, far below any real error.
constexpr double kCpuTolerance = 2e-5;

}  // namespace

TEST_CASE("NVP cpu path equals nvp_render_frames for random configurations", "[nvp][nvp_render]") {
  const std::vector<Shape> shapes = {
      {16, 12, 3, 3, 2, 2, 16, 3},  // NVP-S-like, small
      {13, 7, 2, 2, 4, 4, 24, 2},   // odd sizes, F = 4, a width that is not a multiple of 16
      {9, 5, 1, 1, 1, 1, 8, 1},     // one frame, one level, one layer
      {20, 11, 4, 4, 3, 2, 32, 3},  // F = 3, F' = 2
  };
  uint64_t seed = 100;
  for (const Shape& s : shapes) {
    const NvpConfig c = make_config(s);
    INFO(c.summary());
    NvpModel m = random_model(c, ++seed);
    const torch::Tensor ref = nvp_render_frames(m, 0, c.frames);
    const torch::Tensor got = nvp_render_frames_cpu(m, 0, c.frames, false, 37);  // chunks across rows
    REQUIRE(got.sizes() == torch::IntArrayRef({c.frames, 3, c.height, c.width}));
    CHECK(max_abs_diff(got, ref) <= kCpuTolerance);
    CHECK(got.min().item<float>() >= 0.0f);
    CHECK(got.max().item<float>() <= 1.0f);
    // One chunk for everything gives the same (chunking is not in the maths).
    CHECK(max_abs_diff(nvp_render_frames_cpu(m, 0, c.frames, false, 1 << 20), ref) <= kCpuTolerance);
    // The comparison can fail: a changed sparse cell changes the output beyond the tolerance.
    {
      torch::NoGradGuard g;
      m->sparse.add_(0.5);
    }
    CHECK(max_abs_diff(nvp_render_frames_cpu(m, 0, c.frames), ref) > 100 * kCpuTolerance);
  }
}

TEST_CASE("NVP renderer: frame ranges, bad ranges, paths on the CPU", "[nvp][nvp_render]") {
  const NvpConfig c = make_config({14, 10, 5, 3, 2, 2, 16, 2});
  NvpModel m = random_model(c, 7);
  NvpRenderer r(m);
  CHECK(r.path() == NvpRenderPath::kCpu);
  CHECK(!r.emulates_fp16());
  CHECK(r.describe().find("cpu path") != std::string::npos);
  const torch::Tensor all = r.render_rgb(0, 5);
  CHECK(max_abs_diff(all, nvp_render_frames(m, 0, 5)) <= kCpuTolerance);
  // A range alone equals the same frames rendered with the rest (chunks do not cross frames: exact).
  CHECK(torch::equal(r.render_rgb(2, 2), all.narrow(0, 2, 2)));
  CHECK(torch::equal(r.render_rgb(4, 1), all.narrow(0, 4, 1)));
  CHECK(r.render_rgb(5, 0).sizes() == torch::IntArrayRef({0, 3, 10, 14}));
  for (const auto& [first, count] : std::vector<std::pair<int, int>>{{-1, 1}, {0, 6}, {6, 0}, {3, 3}, {0, -1}}) {
    INFO("range " << first << " + " << count);
    CHECK_THROWS_AS(r.render_rgb(first, count), std::out_of_range);
    CHECK_THROWS_AS(r.render_yuv420(first, count, 1, false), std::out_of_range);
    CHECK_THROWS_AS(nvp_render_frames_cpu(m, first, count), std::out_of_range);
  }
  try {
    r.render_rgb(3, 3);
  } catch (const std::out_of_range& e) {
    CHECK(std::string(e.what()) == "frame range [3, 6) is outside the model's 5 frames");
  }
  // 4:2:0 is the shared conversion of the RGB.
  CHECK(torch::equal(r.render_yuv420(1, 2, 1, false), rgb_batch_to_yuv420(all.narrow(0, 1, 2), 14, 10, 1, false)));

  NvpRenderOptions ref_opt;
  ref_opt.path = NvpRenderPath::kReference;
  NvpRenderer ref(m, ref_opt);
  CHECK(ref.path() == NvpRenderPath::kReference);
  CHECK(torch::equal(ref.render_rgb(1, 3), nvp_render_frames(m, 1, 3)));
  NvpRenderOptions fused_opt;
  fused_opt.path = NvpRenderPath::kFused;
  NvpRenderer fused_on_cpu(m, fused_opt);
  CHECK(fused_on_cpu.path() == NvpRenderPath::kCpu);
  CHECK(fused_on_cpu.describe().find("fused kernel off: the fused kernel needs a CUDA device") != std::string::npos);
  NvpRenderOptions bad;
  bad.precision = torch::kInt32;
  CHECK_THROWS_AS(NvpRenderer(m, bad), std::invalid_argument);
  CHECK(parse_nvp_render_path("fused") == NvpRenderPath::kFused);
  CHECK_THROWS_AS(parse_nvp_render_path("fast"), std::invalid_argument);
}

TEST_CASE("NVP fp16 emulation: what the fused kernel's roundings cost stays within the self-check's tolerance",
          "[nvp][nvp_render]") {
  // The fused kernel's arithmetic on the CPU: latent, tensor-core weights and every stored activation rounded to
  // fp16, products and epilogues in fp32. Against float32, on NVP-S-shaped networks (16 levels of F = 2, 9 x 2
  // sparse features: a 114-wide latent, width 128, 3 layers) with grids of several magnitudes.
  NvpConfig c = make_config({24, 16, 3, 16, 2, 2, 128, 3});
  c.base_resolution = 16;
  c.per_level_scale = 1.35;  // the paper's levels: 16 .. 1443 cells a side
  c.validate();
  double worst = 0;
  for (double grid : {1e-4, 0.1, 1.0}) {
    NvpModel m = random_model(c, 11, grid);
    const torch::Tensor f32 = nvp_render_frames_cpu(m, 0, c.frames);
    const torch::Tensor f16 = nvp_render_frames_cpu(m, 0, c.frames, /*emulate_fp16=*/true);
    const double err = max_abs_diff(f16, f32);
    const double mean = (f16 - f32).abs().mean().item<double>();
    INFO("grids U(-" << grid << ", " << grid << "): max " << err << ", mean " << mean);
    CHECK(err > 0.0);  // the emulation does round
    CHECK(err <= kNvpFusedTolerance / 2);
    worst = std::max(worst, err);
    WARN("fp16 emulation vs fp32, NVP-S-shaped, grids U(-" << grid << ", " << grid << "): max |error| " << err
                                                          << ", mean " << mean);
  }
  // The renderer's fp16 precision on the CPU is this emulation.
  NvpModel m = random_model(c, 11, 1.0);
  NvpRenderOptions o;
  o.precision = torch::kFloat16;
  NvpRenderer r(m, o);
  CHECK(r.emulates_fp16());
  CHECK(r.describe().find("fp16 emulated") != std::string::npos);
  CHECK(torch::equal(r.render_rgb(0, 1), nvp_render_frames_cpu(m, 0, 1, true)));
}

TEST_CASE("NVP fp16 emulation on a fitted clip (measurement; hidden: run with [nvp_render_measure])",
          "[.][nvp_render_measure]") {
  // Fits an NVP-S-shaped network (16 levels of F = 2 and 9 x 2 sparse features: latent 114, width 128, 3 layers;
  // levels from 4 cells at scale 1.2 so that a CPU fit is quick) to 8 frames of the 192x144 test clip and prints the
  // fp16 emulation's error against float32 over every pixel: the number behind kNvpFusedTolerance for fitted (not
  // random) weights.
  const std::string path = std::string(NVC_TEST_DATA_DIR) + "/vtest_192x144_10fps_30f.y4m";
  if (!std::filesystem::exists(path)) {
    WARN("test clip not found: " << path);
    return;
  }
  video::ReaderOptions ro;
  ro.max_frames = 8;
  video::VideoFormat fmt;
  const std::vector<video::Frame> frames = video::read_all(path, ro, &fmt);
  const torch::Tensor rgb = frames_to_rgb_tensor(frames, fmt.matrix, fmt.full_range);
  NvpConfig c = named_nvp_config("nvp-s", fmt.width, fmt.height, int(frames.size()));
  c.base_resolution = 4;
  c.per_level_scale = 1.2;
  c.validate();
  torch::manual_seed(1);
  NvpModel m(c);
  NvpFitOptions o;
  o.iterations = std::getenv("NVP_MEASURE_STEPS") ? std::atoi(std::getenv("NVP_MEASURE_STEPS")) : 300;
  o.batch_pixels = 1 << 12;
  o.report_interval_s = 1e9;
  const NvpFitResult fr = fit_nvp(m, rgb, o);
  const torch::Tensor f32 = nvp_render_frames_cpu(m, 0, c.frames);
  const torch::Tensor f16 = nvp_render_frames_cpu(m, 0, c.frames, true);
  const torch::Tensor d = (f16 - f32).abs();
  const double psnr32 = -10 * std::log10(torch::mse_loss(f32, rgb).item<double>());
  const double psnr16 = -10 * std::log10(torch::mse_loss(f16, rgb).item<double>());
  WARN("fitted NVP-S-shaped model, " << fr.steps << " steps, PSNR fp32 " << psnr32 << " dB, fp16 emulated "
                                     << psnr16 << " dB; |fp16 - fp32|: max " << d.max().item<double>() << ", mean "
                                     << d.mean().item<double>() << ", 99.99th percentile "
                                     << std::get<0>(d.flatten().kthvalue(int64_t(0.9999 * double(d.numel())))).item<double>()
                                     << "; grid |max| " << m->sparse.abs().max().item<double>() << " (sparse), "
                                     << m->keyframes_xy.abs().max().item<double>() << " (keyframes xy)");
  CHECK(d.max().item<double>() <= kNvpFusedTolerance);
}

TEST_CASE("NVP fused kernel planning: supported configurations and shared memory", "[nvp][nvp_render]") {
  const size_t h100 = 227 * 1024;
  int warps = 0;
  const NvpConfig s = named_nvp_config("nvp-s", 1920, 1080, 600);
  CHECK(nvp_fused_unsupported(s, h100, &warps).empty());
  CHECK(warps == 8);
  const NvpConfig l = named_nvp_config("nvp-l", 1920, 1080, 600);
  CHECK(nvp_fused_unsupported(l, h100, &warps).empty());
  CHECK(warps == 8);
  NvpConfig wide = s;
  wide.hidden = 256;
  CHECK(nvp_fused_unsupported(wide, h100, &warps).empty());
  CHECK(warps == 4);  // 8 warps of width 256 do not fit
  NvpConfig odd = s;
  odd.hidden = 24;
  CHECK(nvp_fused_unsupported(odd, h100).find("multiple of 16") != std::string::npos);
  NvpConfig huge = s;
  huge.hidden = 512;
  CHECK(!nvp_fused_unsupported(huge, h100).empty());
  CHECK(nvp_fused_unsupported(s, 48 * 1024).find("shared memory") != std::string::npos);
  // Layout rules the kernel relies on: 128-byte aligned regions, row strides a multiple of 8 halves.
  for (const NvpConfig* c : std::vector<const NvpConfig*>{&s, &l, &wide}) {
    cuda::NvpRenderShape sh;
    sh.latent = c->latent_dim();
    sh.hidden = c->hidden;
    sh.layers = c->layers;
    sh.levels = c->levels;
    sh.features = c->features;
    sh.sparse_features = c->sparse_features;
    for (int w : {8, 4}) {
      const cuda::NvpRenderSmem L = cuda::nvp_render_smem(sh, w);
      CHECK(L.rows == 16 * w);
      CHECK(L.ldz % 8 == 0);
      CHECK(L.ldh % 8 == 0);
      CHECK(L.ldz >= cuda::nvp_render_pad16(c->latent_dim()));
      for (size_t off : {L.z, L.m, L.h, L.w, L.scratch, L.s0, L.rgb}) CHECK(off % 128 == 0);
      CHECK(L.m >= L.z + size_t(L.rows) * L.ldz * 2);
      CHECK(L.w >= L.h + size_t(L.rows) * L.ldh * 2);
      CHECK(L.total >= L.rgb + size_t(L.rows) * 12 + 128);
    }
  }
  // NVP-S: 150 KB with 8 warps (1 block of 256 threads an SM).
  cuda::NvpRenderShape sh{s.latent_dim(), s.hidden, s.layers, s.levels, s.features, s.sparse_features};
  CHECK(cuda::nvp_render_smem(sh, 8).total < 160 * 1024);
}

TEST_CASE("NvpFrameDecoder decodes through the renderer (CPU)", "[nvp][nvp_render]") {
  const NvpConfig c = make_config({16, 10, 4, 3, 2, 2, 16, 2});
  NvpModel m = random_model(c, 21);
  const bitstream::NvcFile f = pack_nvp(m, seq_of(c), 12, 12, "test");
  const std::vector<uint8_t> bytes = bitstream::serialize(f);
  const bitstream::NvcFile g = bitstream::parse(bytes.data(), bytes.size());
  NvpFrameDecoder dec(g, torch::kCPU, DecodeOptions{});
  CHECK(dec.frame_count() == 4);
  CHECK(dec.describe().find("nvp, cpu path (parallel lookups + addmm), fp32, batch 1") == 0);
  // Against the reference render of the loaded model, converted alike: equal up to a rounding flip.
  NvpModel loaded = load_nvp(g, torch::kCPU);
  const std::vector<video::Frame> want = rgb_batch_to_frames(nvp_render_frames(loaded, 1, 3), 16, 10, 1, false);
  std::vector<int> seen;
  dec.decode(1, 3, [&](int i, const video::Frame& fr) {
    seen.push_back(i);
    const video::Frame& w = want[size_t(i - 1)];
    REQUIRE(fr.y.size() == w.y.size());
    int worst = 0;
    for (size_t k = 0; k < w.y.size(); ++k) worst = std::max(worst, std::abs(int(fr.y[k]) - int(w.y[k])));
    for (size_t k = 0; k < w.u.size(); ++k) worst = std::max(worst, std::abs(int(fr.u[k]) - int(w.u[k])));
    CHECK(worst <= 1);
    return true;
  });
  CHECK(seen == std::vector<int>{1, 2, 3});
  seen.clear();
  dec.decode(0, 4, [&](int i, const video::Frame&) {
    seen.push_back(i);
    return i < 1;  // stop after the second frame
  });
  CHECK(seen == std::vector<int>{0, 1});
  CHECK_THROWS_AS(dec.decode(2, 3, [](int, const video::Frame&) { return true; }), std::out_of_range);
  // open_stream_decoder gives an NVP decoder for the kind.
  CHECK(open_stream_decoder(g, torch::kCPU, DecodeOptions{})->describe().rfind("nvp, ", 0) == 0);
}

// ---- GPU ----

namespace {

bool have_cuda() {
  if (torch::cuda::is_available()) return true;
  WARN("no CUDA device: skipped");
  return false;
}

NvpRenderOptions fused_options(bool check = false) {
  NvpRenderOptions o;
  o.path = NvpRenderPath::kFused;
  o.self_check = check;
  return o;
}

// The fused kernel against the CPU paths for a configuration it supports: within the self-check's tolerance of
// float32, within 1e-3 of the CPU's emulation of its own roundings (what remains: summation order, the reduced
// sine, fp16 rounding flips), and its 4:2:0 output the shared conversion of its RGB, byte for byte.
void compare_fused(const NvpConfig& c, uint64_t seed, double grid = 1.0) {
  INFO(c.summary());
  NvpModel cpu = random_model(c, seed, grid);
  const torch::Tensor f32 = nvp_render_frames_cpu(cpu, 0, c.frames);
  const torch::Tensor f16 = nvp_render_frames_cpu(cpu, 0, c.frames, true);
  NvpModel gpu = random_model(c, seed, grid);
  gpu->to(torch::kCUDA);
  NvpRenderer r(gpu, fused_options());
  REQUIRE(r.path() == NvpRenderPath::kFused);
  const torch::Tensor got = r.render_rgb(0, c.frames).cpu();
  REQUIRE(got.sizes() == f32.sizes());
  CHECK(torch::isfinite(got).all().item<bool>());
  const double e32 = max_abs_diff(got, f32), e16 = max_abs_diff(got, f16);
  INFO("fused vs fp32 " << e32 << ", vs fp16 emulation " << e16);
  CHECK(e32 <= kNvpFusedTolerance);
  CHECK(e16 <= 1e-3);
  // Frame ranges: a later range alone equals the same frames of the whole.
  if (c.frames > 1) CHECK(max_abs_diff(r.render_rgb(1, c.frames - 1).cpu(), got.narrow(0, 1, c.frames - 1)) == 0.0);
  if (c.width % 2 == 0 && c.height % 2 == 0) {
    const torch::Tensor yuv = r.render_yuv420(0, c.frames, 1, false).cpu();
    CHECK(torch::equal(yuv, rgb_batch_to_yuv420(got, c.width, c.height, 1, false)));
  }
}

}  // namespace

TEST_CASE("NVP fused kernel on the GPU matches the CPU paths", "[nvp_render][cuda]") {
  if (!have_cuda()) return;
  NvpConfig s = make_config({48, 24, 3, 16, 2, 2, 128, 3});  // NVP-S-shaped: 16 paper levels, width 128
  s.base_resolution = 16;
  s.per_level_scale = 1.35;
  s.validate();
  compare_fused(s, 31);
  compare_fused(s, 32, 1e-4);                                  // grids at their init scale
  compare_fused(make_config({37, 21, 2, 4, 4, 4, 64, 2}), 33);  // odd sizes: partial tiles; F = 4
  compare_fused(make_config({18, 6, 1, 2, 3, 1, 16, 1}), 34);   // runtime F, one frame, one layer, width 16
  compare_fused(make_config({32, 16, 2, 3, 2, 2, 256, 2}), 35); // width 256: 4-warp tiles, 16 fragments a warp
  compare_fused(make_config({20, 12, 2, 5, 8, 3, 48, 4}), 36);  // F = 8 (latent 147, padded to 160)
}

TEST_CASE("NVP fused kernel on the GPU: unsupported configurations and failed self-checks fall back", "[nvp_render][cuda]") {
  if (!have_cuda()) return;
  // Width 24 (not a multiple of 16): the LibTorch path, with the reason.
  const NvpConfig odd = make_config({20, 10, 2, 3, 2, 2, 24, 2});
  NvpModel m = random_model(odd, 41);
  m->to(torch::kCUDA);
  NvpRenderer r(m, fused_options(true));
  CHECK(r.path() == NvpRenderPath::kReference);
  CHECK(r.describe().find("fused kernel off: hidden width 24 is not a multiple of 16") != std::string::npos);
  CHECK(torch::equal(r.render_rgb(0, 2), nvp_render_frames(m, 0, 2)));

  // A supported model whose self-check cannot pass (negative tolerance): the first batch already comes from the
  // LibTorch path, and so does the rest.
  const NvpConfig ok = make_config({32, 16, 3, 3, 2, 2, 32, 2});
  NvpModel g = random_model(ok, 42);
  g->to(torch::kCUDA);
  NvpRenderOptions o = fused_options(true);
  o.tolerance = -1;
  NvpRenderer strict(g, o);
  CHECK(strict.path() == NvpRenderPath::kFused);
  CHECK(torch::equal(strict.render_rgb(0, 2), nvp_render_frames(g, 0, 2)));
  CHECK(strict.path() == NvpRenderPath::kReference);
  CHECK(strict.check_error() >= 0.0);
  CHECK(strict.describe().find("self-check on") != std::string::npos);
  CHECK(torch::equal(strict.render_yuv420(1, 2, 1, false),
                     rgb_batch_to_yuv420(nvp_render_frames(g, 1, 2), 32, 16, 1, false)));

  // An empty first batch checks nothing and must not count as the checked one: the strict check still catches the
  // next batch.
  NvpRenderer empty_first(g, o);
  CHECK(empty_first.render_rgb(0, 0).size(0) == 0);
  CHECK(empty_first.check_error() < 0.0);
  CHECK(torch::equal(empty_first.render_rgb(0, 2), nvp_render_frames(g, 0, 2)));
  CHECK(empty_first.path() == NvpRenderPath::kReference);

  // The same model with the default tolerance passes its self-check and stays fused.
  NvpRenderer normal(g, fused_options(true));
  normal.render_yuv420(0, 2, 1, false);
  CHECK(normal.path() == NvpRenderPath::kFused);
  CHECK(normal.check_error() >= 0.0);
  CHECK(normal.check_error() <= kNvpFusedTolerance);
  CHECK(normal.describe().find("fused CUDA kernel") == 0);

  // fp32 asked: the LibTorch path, no note.
  NvpRenderOptions f32;
  f32.precision = torch::kFloat32;
  NvpRenderer fp32(g, f32);
  CHECK(fp32.path() == NvpRenderPath::kReference);
  CHECK(fp32.describe() == "LibTorch path (nvp_render_frames), fp32");
}

TEST_CASE("NvpFrameDecoder on the GPU: fused decode close to the CPU decode", "[nvp_render][cuda]") {
  if (!have_cuda()) return;
  const NvpConfig c = make_config({64, 32, 4, 4, 2, 2, 32, 3});
  NvpModel m = random_model(c, 51);
  const bitstream::NvcFile f = pack_nvp(m, seq_of(c), 12, 12, "test");
  const std::vector<uint8_t> bytes = bitstream::serialize(f);
  const bitstream::NvcFile g = bitstream::parse(bytes.data(), bytes.size());
  DecodeOptions o;
  o.batch = 3;  // a full and a partial batch
  NvpFrameDecoder gpu(g, torch::Device(torch::kCUDA), o), cpu(g, torch::kCPU, o);
  std::vector<video::Frame> a, b;
  gpu.decode(0, 4, [&](int, const video::Frame& fr) {
    a.push_back(fr);
    return true;
  });
  cpu.decode(0, 4, [&](int, const video::Frame& fr) {
    b.push_back(fr);
    return true;
  });
  INFO(gpu.describe());
  CHECK(gpu.describe().find("nvp, fused CUDA kernel") == 0);
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    int worst = 0;
    for (size_t k = 0; k < a[i].y.size(); ++k) worst = std::max(worst, std::abs(int(a[i].y[k]) - int(b[i].y[k])));
    CHECK(worst <= 2);  // 4e-3 of RGB is ~1 level of 8-bit luma; a rounding flip on top
  }
}
