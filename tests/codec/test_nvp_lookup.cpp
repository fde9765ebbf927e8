// The fused NVP lookups (codec/nvp_lookup.h) against the LibTorch reference (keyframe_lookup, sparse_lookup,
// NvpModelImpl::latent): on the CPU the entry points are the reference itself; on a GPU the CUDA kernels, forward
// and backward.
#include "codec/nvp_lookup.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "codec/cuda/nvp_lookup.h"  // the kernels' per-element maths (plain C++)
#include "codec/nvp_config.h"
#include "codec/nvp_model.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;
using torch::indexing::Slice;

namespace {

// A small NVP-S-like configuration: `levels` levels from base 4 (scale 1.5), F features, a small sparse grid.
NvpConfig small_cfg(int levels = 3, int F = 2, int sf = 2) {
  NvpConfig c;
  c.name = "test";
  c.width = 24;
  c.height = 16;
  c.frames = 6;
  c.levels = levels;
  c.base_resolution = 4;
  c.per_level_scale = 1.5;
  c.features = F;
  c.sparse_t = 6;
  c.sparse_h = 5;
  c.sparse_w = 7;
  c.sparse_features = sf;
  c.hidden = 8;
  c.layers = 1;
  c.validate();
  return c;
}

struct Tables {
  torch::Tensor xy, yt, xt, sparse;
};

Tables random_tables(const NvpConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  Tables t;
  t.xy = torch::randn({c.plane_cells(), c.features});
  t.yt = torch::randn({c.plane_cells(), c.features});
  t.xt = torch::randn({c.plane_cells(), c.features});
  t.sparse = torch::randn({c.sparse_t, c.sparse_h, c.sparse_w, c.sparse_features});
  return t;
}

// n random coordinates in [0, 1] whose first rows hit 0 and 1 exactly (and a mix) on every axis.
torch::Tensor random_coords(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor c = torch::rand({n, 3});
  const float edge[][3] = {{0, 0, 0}, {1, 1, 1}, {0, 1, 0}, {1, 0, 1}, {0, 0, 1}, {1, 1, 0}, {0.5f, 1, 0}};
  for (int i = 0; i < 7 && i < n; ++i)
    for (int k = 0; k < 3; ++k) c[i][k] = edge[i][k];
  return c;
}

// The reference's keyframe part of the latent, written out here (not through the fused entry point).
torch::Tensor reference_keyframes(const Tables& t, const torch::Tensor& xyt, const NvpConfig& c) {
  std::vector<double> s;
  std::vector<int> r;
  for (int l = 0; l < c.levels; ++l) {
    s.push_back(c.level_scale(l));
    r.push_back(c.level_resolution(l));
  }
  const torch::Tensor x = xyt.select(1, 0), y = xyt.select(1, 1), tt = xyt.select(1, 2);
  return torch::cat({keyframe_lookup(t.xy, torch::stack({x, y}, 1), s, r),
                     keyframe_lookup(t.yt, torch::stack({tt, y}, 1), s, r),
                     keyframe_lookup(t.xt, torch::stack({tt, x}, 1), s, r)},
                    1);
}

double max_abs(const torch::Tensor& t) { return t.numel() ? t.abs().max().item<double>() : 0.0; }

// Rows with NaN, +-inf, +-1e30, out-of-range and one ordinary (last) coordinate triple.
torch::Tensor hostile_coords() {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  return torch::tensor({nan, 0.5f, 0.5f, 0.5f, inf, 0.5f, -inf, 0.5f, 1e30f, -1e30f, 0.2f, 7.0f, -3.0f, 0.3f, nan,
                        0.4f, 0.6f, 0.1f},
                       torch::kFloat32)
      .view({6, 3});
}

// What the kernels must give for such coordinates. The reference converts floor(p) to int64 before clamping: for
// +-inf or |c| beyond ~1e18 that conversion is undefined (x86 gives INT64_MIN, i.e. cell 0 even for +inf). The
// kernels clamp such coordinates to the nearest edge, as they do any out-of-range coordinate: the reference at
// +-1e8 (same cells, weight 0). A plane whose coordinates are NaN or infinite has NaN weights: NaN features.
// NaN -> cell 0 in both for the sparse grid.
void hostile_expectation(const Tables& t, const torch::Tensor& xyt, const NvpConfig& cfg, torch::Tensor& kf,
                         torch::Tensor& sp) {
  const torch::Tensor tame = torch::where(xyt.abs() > 1e18, torch::sign(xyt) * 1e8, xyt);
  torch::NoGradGuard no_grad;
  kf = reference_keyframes(t, tame, cfg);
  const torch::Tensor bad = ~torch::isfinite(xyt);
  const torch::Tensor x = bad.select(1, 0), y = bad.select(1, 1), tt = bad.select(1, 2);
  const int64_t LF = int64_t(cfg.levels) * cfg.features;
  const torch::Tensor plane_bad = torch::stack({x | y, tt | y, tt | x}, 1).repeat_interleave(LF, 1);
  kf = torch::where(plane_bad, torch::full_like(kf, std::numeric_limits<float>::quiet_NaN()), kf);
  sp = sparse_lookup(t.sparse, tame);
}

// The kernels' loops run on the host with the kernels' per-element maths (nvp_math): forward outputs, and the
// backward's accumulation into zeroed gradient tables. `out_of_bounds` counts rows outside the tables.
struct Emulated {
  torch::Tensor kf, sp, gxy, gyt, gxt, gsparse;
  int64_t out_of_bounds = 0;
};

Emulated emulate_kernels(const Tables& t, const torch::Tensor& xyt_in, const NvpConfig& cfg, const torch::Tensor& gk,
                         const torch::Tensor& gs) {
  using namespace nvc::cuda::nvp_math;
  const torch::Tensor xyt = xyt_in.to(torch::kFloat32).contiguous();
  const int64_t n = xyt.size(0), L = cfg.levels, F = cfg.features, cells = cfg.plane_cells();
  const int T = int(t.sparse.size(0)), H = int(t.sparse.size(1)), W = int(t.sparse.size(2)),
            SF = int(t.sparse.size(3));
  Emulated e;
  e.kf = torch::zeros({n, 3 * L * F});
  e.sp = torch::zeros({n, 9 * SF});
  e.gxy = torch::zeros({cells, F});
  e.gyt = torch::zeros({cells, F});
  e.gxt = torch::zeros({cells, F});
  e.gsparse = torch::zeros_like(t.sparse);
  const std::vector<int64_t> off = cfg.level_offsets();
  const float* c = xyt.data_ptr<float>();
  const torch::Tensor tables[3] = {t.xy.contiguous(), t.yt.contiguous(), t.xt.contiguous()};
  float* grads[3] = {e.gxy.data_ptr<float>(), e.gyt.data_ptr<float>(), e.gxt.data_ptr<float>()};
  const torch::Tensor gkc = gk.contiguous(), gsc = gs.contiguous();
  float* kf = e.kf.data_ptr<float>();
  float* sp = e.sp.data_ptr<float>();
  for (int64_t p = 0; p < n; ++p)
    for (int64_t l = 0; l < L; ++l)
      for (int plane = 0; plane < 3; ++plane) {
        float c0, c1;
        plane_coords(c[p * 3], c[p * 3 + 1], c[p * 3 + 2], plane, c0, c1);
        const Corners k = keyframe_corners(c0, c1, float(cfg.level_scale(int(l))), cfg.level_resolution(int(l)),
                                           off[size_t(l)]);
        bool ok = true;
        for (int q = 0; q < 4; ++q) ok = ok && k.row[q] >= off[size_t(l)] && k.row[q] < off[size_t(l) + 1];
        if (!ok) {
          ++e.out_of_bounds;
          continue;
        }
        const float* tb = tables[plane].data_ptr<float>();
        const int64_t col = (plane * L + l) * F;
        for (int64_t f = 0; f < F; ++f) {
          kf[p * 3 * L * F + col + f] = blend(tb[k.row[0] * F + f], tb[k.row[1] * F + f], tb[k.row[2] * F + f],
                                   tb[k.row[3] * F + f], k.w);
          const float g = gkc.data_ptr<float>()[p * 3 * L * F + col + f];
          for (int q = 0; q < 4; ++q) grads[plane][k.row[q] * F + f] += mul_rn(g, k.w[q]);
        }
      }
  const int64_t sparse_cells = int64_t(T) * H * W;
  float* gsp = e.gsparse.data_ptr<float>();
  const float* grid = t.sparse.contiguous().data_ptr<float>();
  for (int64_t p = 0; p < n; ++p)
    for (int k = 0; k < 9; ++k) {
      const int64_t cell = sparse_cell(c[p * 3], c[p * 3 + 1], c[p * 3 + 2], k, T, H, W);
      if (cell < 0 || cell >= sparse_cells) {
        ++e.out_of_bounds;
        continue;
      }
      for (int f = 0; f < SF; ++f) {
        sp[(p * 9 + k) * SF + f] = grid[cell * SF + f];
        gsp[cell * SF + f] += gsc.data_ptr<float>()[(p * 9 + k) * SF + f];
      }
    }
  return e;
}

}  // namespace

TEST_CASE("fused NVP lookups on the CPU are the reference", "[nvp_lookup]") {
  const NvpConfig cfg = small_cfg();
  NvpModel model(cfg);
  torch::NoGradGuard no_grad;
  for (auto* p : {&model->keyframes_xy, &model->keyframes_yt, &model->keyframes_xt, &model->sparse})
    p->copy_(torch::randn_like(*p));
  const torch::Tensor xyt = random_coords(500, 7);
  const torch::Tensor z = model->latent(xyt);
  const int64_t K = 3 * cfg.levels * cfg.features;
  const torch::Tensor kf = keyframe_lookup_fused(model->keyframes_xy, model->keyframes_yt, model->keyframes_xt, xyt, cfg);
  REQUIRE(kf.sizes() == torch::IntArrayRef({500, K}));
  CHECK(torch::equal(kf, z.index({Slice(), Slice(0, K)})));  // the latent's plane order: xy, yt, xt
  const torch::Tensor sp = sparse_lookup_fused(model->sparse, xyt);
  REQUIRE(sp.sizes() == torch::IntArrayRef({500, 9 * cfg.sparse_features}));
  CHECK(torch::equal(sp, z.index({Slice(), Slice(K, torch::indexing::None)})));

  // Double coordinates are converted as the reference converts them; out-of-range ones are clamped, not refused.
  const torch::Tensor wild = torch::tensor({-0.5, 1.5, 2.0, 1e9, -1e9, 0.25}, torch::kFloat64).view({2, 3});
  CHECK(torch::equal(keyframe_lookup_fused(model->keyframes_xy, model->keyframes_yt, model->keyframes_xt, wild, cfg),
                     model->latent(wild).index({Slice(), Slice(0, K)})));
  // No points: empty outputs of the right width.
  const torch::Tensor none = torch::zeros({0, 3});
  CHECK(keyframe_lookup_fused(model->keyframes_xy, model->keyframes_yt, model->keyframes_xt, none, cfg).sizes() ==
        torch::IntArrayRef({0, K}));
  CHECK(sparse_lookup_fused(model->sparse, none).sizes() == torch::IntArrayRef({0, 9 * cfg.sparse_features}));
}

TEST_CASE("fused NVP lookups on the CPU: gradients reach the tables and match finite differences", "[nvp_lookup]") {
  const NvpConfig cfg = small_cfg(3, 2, 3);
  Tables t = random_tables(cfg, 11);
  for (auto* p : {&t.xy, &t.yt, &t.xt, &t.sparse}) p->requires_grad_(true);
  const torch::Tensor xyt = random_coords(64, 12);
  torch::manual_seed(13);
  const int64_t K = 3 * cfg.levels * cfg.features;
  const torch::Tensor wk = torch::randn({64, K}), ws = torch::randn({64, 9 * cfg.sparse_features});
  auto loss = [&](const Tables& tt) {
    return (keyframe_lookup_fused(tt.xy, tt.yt, tt.xt, xyt, cfg) * wk).sum() +
           (sparse_lookup_fused(tt.sparse, xyt) * ws).sum();
  };
  loss(t).backward();
  for (auto* p : {&t.xy, &t.yt, &t.xt, &t.sparse}) {
    REQUIRE(p->grad().defined());
    CHECK(max_abs(p->grad()) > 0);
  }
  // The lookups are linear in the tables, so a finite difference with a step of 1 is exact up to rounding.
  torch::NoGradGuard no_grad;
  const double base = loss(t).item<double>();
  int checked = 0;
  for (auto* p : {&t.xy, &t.yt, &t.xt, &t.sparse}) {
    const torch::Tensor flat = p->view({-1}), gflat = p->grad().view({-1});
    // A few entries with a gradient (touched cells) and the first one without (if any).
    const torch::Tensor touched = gflat.nonzero().view({-1}), untouched = (gflat == 0).nonzero().view({-1});
    std::vector<int64_t> idx;
    for (int64_t k = 0; k < touched.numel() && k < 5 * 7; k += 7) idx.push_back(touched[k].item<int64_t>());
    if (untouched.numel()) idx.push_back(untouched[0].item<int64_t>());
    for (int64_t i : idx) {
      const float old = flat[i].item<float>();
      flat[i] = old + 1.0f;
      const double fd = loss(t).item<double>() - base;
      flat[i] = old;
      const double g = gflat[i].item<double>();
      CHECK(std::abs(fd - g) <= 2e-3 * (1.0 + std::abs(g)));
      ++checked;
    }
  }
  CHECK(checked >= 16);
}

TEST_CASE("fused NVP lookups refuse bad inputs", "[nvp_lookup]") {
  const NvpConfig cfg = small_cfg();
  const Tables t = random_tables(cfg, 3);
  const torch::Tensor xyt = random_coords(10, 4);
  auto kf = [&](const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c, const torch::Tensor& x,
                const NvpConfig& k) { return keyframe_lookup_fused(a, b, c, x, k); };
  CHECK_NOTHROW(kf(t.xy, t.yt, t.xt, xyt, cfg));
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt, xyt.index({Slice(), Slice(0, 2)}), cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt, xyt.view({-1}), cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt, torch::zeros({10, 3}, torch::kLong), cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt, torch::Tensor(), cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(t.xy.to(torch::kFloat64), t.yt, t.xt, xyt, cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(t.xy, t.yt.index({Slice(1)}), t.xt, xyt, cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt.view({-1}), xyt, cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(t.xy, t.yt, torch::Tensor(), xyt, cfg), std::invalid_argument);
  CHECK_THROWS_AS(kf(xyt, t.yt, t.xt, t.xy, cfg), std::invalid_argument);  // tables and coordinates swapped
  NvpConfig other = cfg;
  other.features = 4;  // tables no longer match
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt, xyt, other), std::invalid_argument);
  other = cfg;
  other.levels = 0;
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt, xyt, other), std::invalid_argument);
  other.levels = 25;
  CHECK_THROWS_AS(kf(t.xy, t.yt, t.xt, xyt, other), std::invalid_argument);

  CHECK_NOTHROW(sparse_lookup_fused(t.sparse, xyt));
  CHECK_THROWS_AS(sparse_lookup_fused(t.sparse, xyt.t()), std::invalid_argument);
  CHECK_THROWS_AS(sparse_lookup_fused(t.sparse, torch::zeros({10, 3}, torch::kInt)), std::invalid_argument);
  CHECK_THROWS_AS(sparse_lookup_fused(t.sparse[0], xyt), std::invalid_argument);
  CHECK_THROWS_AS(sparse_lookup_fused(t.sparse.to(torch::kFloat64), xyt), std::invalid_argument);
  CHECK_THROWS_AS(sparse_lookup_fused(torch::zeros({2, 0, 3, 2}), xyt), std::invalid_argument);
  CHECK_THROWS_AS(sparse_lookup_fused(torch::zeros({2, 2, 3, 17}), xyt), std::invalid_argument);
  CHECK_THROWS_AS(sparse_lookup_fused(torch::Tensor(), xyt), std::invalid_argument);
}

TEST_CASE("the kernels' per-element maths, run on the CPU, is the reference", "[nvp_lookup]") {
  // Kernel loops emulated on the host with nvp_math (what the kernels compute, element for element): forward equal
  // to the reference bit for bit, backward accumulation equal to LibTorch's autograd of the reference.
  for (const auto& [levels, F, SF] : std::vector<std::tuple<int, int, int>>{{3, 2, 2}, {4, 4, 3}, {2, 3, 1}}) {
    INFO("levels " << levels << ", F " << F << ", F' " << SF);
    const NvpConfig cfg = small_cfg(levels, F, SF);
    Tables t = random_tables(cfg, 51 + uint64_t(levels));
    const torch::Tensor xyt = random_coords(400, 52);
    torch::manual_seed(53);
    const int64_t K = 3 * int64_t(levels) * F;
    const torch::Tensor gk = torch::randn({400, K}), gs = torch::randn({400, 9 * SF});
    const Emulated e = emulate_kernels(t, xyt, cfg, gk, gs);
    CHECK(e.out_of_bounds == 0);
    for (auto* p : {&t.xy, &t.yt, &t.xt, &t.sparse}) p->requires_grad_(true);
    const torch::Tensor kf = keyframe_lookup_fused(t.xy, t.yt, t.xt, xyt, cfg);
    const torch::Tensor sp = sparse_lookup_fused(t.sparse, xyt);
    CHECK(torch::equal(e.kf, kf.detach()));
    CHECK(torch::equal(e.sp, sp.detach()));
    ((kf * gk).sum() + (sp * gs).sum()).backward();
    const std::pair<const torch::Tensor*, const torch::Tensor*> pairs[] = {
        {&e.gxy, &t.xy}, {&e.gyt, &t.yt}, {&e.gxt, &t.xt}, {&e.gsparse, &t.sparse}};
    for (const auto& [emu, ref] : pairs)
      CHECK(max_abs(*emu - ref->grad()) <= 1e-5 * std::max(1.0, max_abs(ref->grad())));
  }
  // Hostile coordinates: every row inside the tables; values as specified (hostile_expectation).
  const NvpConfig cfg = small_cfg();
  const Tables t = random_tables(cfg, 61);
  const torch::Tensor xyt = hostile_coords();
  const Emulated e = emulate_kernels(t, xyt, cfg, torch::ones({6, 3 * cfg.levels * cfg.features}),
                                     torch::ones({6, 9 * cfg.sparse_features}));
  CHECK(e.out_of_bounds == 0);
  torch::Tensor kc, sc;
  hostile_expectation(t, xyt, cfg, kc, sc);
  CHECK(torch::allclose(e.kf, kc, 0, 0, /*equal_nan=*/true));
  CHECK(torch::equal(e.sp, sc));
  CHECK(std::abs(e.gsparse.sum().item<double>() - 9.0 * 6 * cfg.sparse_features) < 1e-3);
}

// ---- GPU ----

namespace {

// Forward within 1e-5 and backward within 1e-4 (relative to the largest gradient) of the CPU reference.
void compare_on_gpu(const NvpConfig& cfg, int64_t n, uint64_t seed) {
  INFO("levels " << cfg.levels << ", F " << cfg.features << ", F' " << cfg.sparse_features << ", n " << n);
  const torch::Device dev(torch::kCUDA);
  Tables cpu = random_tables(cfg, seed);
  const torch::Tensor xyt = random_coords(n, seed + 1);
  torch::manual_seed(seed + 2);
  const int64_t K = 3 * cfg.levels * cfg.features, S = 9 * cfg.sparse_features;
  const torch::Tensor wk = torch::randn({n, K}), ws = torch::randn({n, S});
  Tables gpu;
  gpu.xy = cpu.xy.to(dev);
  gpu.yt = cpu.yt.to(dev);
  gpu.xt = cpu.xt.to(dev);
  gpu.sparse = cpu.sparse.to(dev);
  for (Tables* t : {&cpu, &gpu})
    for (auto* p : {&t->xy, &t->yt, &t->xt, &t->sparse}) p->requires_grad_(true);

  const torch::Tensor kc = keyframe_lookup_fused(cpu.xy, cpu.yt, cpu.xt, xyt, cfg);
  const torch::Tensor sc = sparse_lookup_fused(cpu.sparse, xyt);
  const torch::Tensor kg = keyframe_lookup_fused(gpu.xy, gpu.yt, gpu.xt, xyt.to(dev), cfg);
  const torch::Tensor sg = sparse_lookup_fused(gpu.sparse, xyt.to(dev));
  REQUIRE(kg.device().is_cuda());
  REQUIRE(kg.sizes() == kc.sizes());
  REQUIRE(sg.sizes() == sc.sizes());
  CHECK(max_abs(kg.detach().cpu() - kc.detach()) <= 1e-5);
  CHECK(torch::equal(sg.detach().cpu(), sc.detach()));  // a gather: exact

  ((kc * wk).sum() + (sc * ws).sum()).backward();
  ((kg * wk.to(dev)).sum() + (sg * ws.to(dev)).sum()).backward();
  const std::pair<torch::Tensor*, torch::Tensor*> pairs[] = {
      {&cpu.xy, &gpu.xy}, {&cpu.yt, &gpu.yt}, {&cpu.xt, &gpu.xt}, {&cpu.sparse, &gpu.sparse}};
  for (const auto& [c, g] : pairs) {
    REQUIRE(g->grad().defined());
    const double scale = std::max(1.0, max_abs(c->grad()));
    CHECK(max_abs(g->grad().cpu() - c->grad()) <= 1e-4 * scale);
  }
}

}  // namespace

TEST_CASE("fused NVP lookups on the GPU match the reference, forward and backward", "[nvp_lookup][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  compare_on_gpu(small_cfg(3, 2, 2), 3000, 21);   // NVP-S-like
  compare_on_gpu(small_cfg(4, 4, 4), 2500, 22);   // NVP-L-like
  compare_on_gpu(small_cfg(2, 3, 5), 2000, 23);   // the kernels' runtime-F path
  compare_on_gpu(small_cfg(1, 1, 1), 1000, 24);
  compare_on_gpu(small_cfg(3, 2, 2), 1, 25);      // a single point
}

TEST_CASE("fused NVP lookups on the GPU: hostile coordinates stay inside the tables", "[nvp_lookup][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  const torch::Device dev(torch::kCUDA);
  const NvpConfig cfg = small_cfg();
  const Tables t = random_tables(cfg, 31);
  const torch::Tensor xyt = hostile_coords();
  torch::Tensor kc, sc;
  hostile_expectation(t, xyt, cfg, kc, sc);
  const torch::Tensor kg = keyframe_lookup_fused(t.xy.to(dev), t.yt.to(dev), t.xt.to(dev), xyt.to(dev), cfg).cpu();
  const torch::Tensor sg = sparse_lookup_fused(t.sparse.to(dev), xyt.to(dev)).cpu();
  torch::cuda::synchronize();
  CHECK(torch::allclose(kg, kc, 0, 1e-5, /*equal_nan=*/true));
  CHECK(torch::equal(sg, sc));
  CHECK(torch::isfinite(kg[5]).all().item<bool>());
  // Backward with such coordinates: no fault (NaN gradients are allowed where the weights are NaN).
  torch::Tensor g = t.xy.to(dev).requires_grad_(true);
  keyframe_lookup_fused(g, t.yt.to(dev), t.xt.to(dev), xyt.to(dev), cfg).sum().backward();
  torch::Tensor sgrid = t.sparse.to(dev).requires_grad_(true);
  sparse_lookup_fused(sgrid, xyt.to(dev)).sum().backward();
  torch::cuda::synchronize();
  CHECK(std::abs(sgrid.grad().sum().item<double>() - 9.0 * 6 * cfg.sparse_features) < 1e-3);
}

TEST_CASE("fused NVP lookups on the GPU: 2^20 points with the paper's keyframe levels", "[nvp_lookup][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  const torch::Device dev(torch::kCUDA);
  const NvpConfig cfg = named_nvp_config("nvp-s", 320, 180, 30);  // 16 levels up to 1443^2, sparse 30 x 50 x 50
  const int64_t n = int64_t(1) << 20;
  Tables t = random_tables(cfg, 41);
  const torch::Tensor xyt = random_coords(n, 42);
  Tables g;
  g.xy = t.xy.to(dev).requires_grad_(true);
  g.yt = t.yt.to(dev).requires_grad_(true);
  g.xt = t.xt.to(dev).requires_grad_(true);
  g.sparse = t.sparse.to(dev).requires_grad_(true);
  const torch::Tensor xg = xyt.to(dev);
  const torch::Tensor kf = keyframe_lookup_fused(g.xy, g.yt, g.xt, xg, cfg);
  const torch::Tensor sp = sparse_lookup_fused(g.sparse, xg);
  REQUIRE(kf.sizes() == torch::IntArrayRef({n, 3 * 16 * 2}));
  REQUIRE(sp.sizes() == torch::IntArrayRef({n, 18}));
  (kf.sum() + sp.sum()).backward();
  torch::cuda::synchronize();
  CHECK(torch::isfinite(kf).all().item<bool>());
  CHECK(torch::isfinite(g.xy.grad()).all().item<bool>());
  // Every point contributes weights summing to 1 per level and plane: sum of the keyframe gradients = 3 L F n ...
  // per feature column, i.e. each plane's gradient sums to L F n (up to float rounding in the atomics).
  const double expect = double(cfg.levels) * cfg.features * double(n);
  for (auto* p : {&g.xy, &g.yt, &g.xt})
    CHECK(std::abs(p->grad().to(torch::kFloat64).sum().item<double>() - expect) <= 1e-4 * expect);
  CHECK(std::abs(g.sparse.grad().to(torch::kFloat64).sum().item<double>() - 9.0 * cfg.sparse_features * n) <=
        1e-4 * 9.0 * cfg.sparse_features * n);
  // The first 4096 points against the CPU reference.
  const torch::Tensor head = xyt.index({Slice(0, 4096)});
  CHECK(max_abs(kf.index({Slice(0, 4096)}).detach().cpu() - reference_keyframes(t, head, cfg)) <= 1e-5);
  CHECK(torch::equal(sp.index({Slice(0, 4096)}).detach().cpu(), sparse_lookup(t.sparse, head)));
}
