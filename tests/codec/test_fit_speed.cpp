// The fast fitting path: fused Adam against torch::optim::Adam, the sync-free progress, autocast and channels_last
// against the fp32 reference, and CUDA graphs (on a GPU only).
#include <ATen/autocast_mode.h>

#include "codec/device.h"
#include "codec/fit.h"
#include "codec/fused_adam.h"
#include "codec/tnerv_config.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;

namespace {

// A moving bright square on a gradient, [T, 3, H, W] in [0, 1].
torch::Tensor moving_square(int64_t T, int64_t H, int64_t W) {
  auto ys = torch::arange(H, torch::kFloat32).view({1, H, 1}).expand({T, H, W});
  auto xs = torch::arange(W, torch::kFloat32).view({1, 1, W}).expand({T, H, W});
  auto ts = torch::arange(T, torch::kFloat32).view({T, 1, 1}).expand({T, H, W});
  auto base = 0.2 + 0.5 * xs / double(W) + 0.2 * ys / double(H);
  auto square = ((xs - (4 + 3 * ts)).abs() < 5) & ((ys - H / 2).abs() < 5);
  auto g = torch::where(square, torch::full_like(base, 0.9), base);
  return torch::stack({g, 1.0 - g, 0.5 * g}, 1).contiguous();
}

TNervConfig small_config(int64_t T, int64_t H, int64_t W, bool flow) {
  TNervVariant v;
  v.size_adaptive = !flow;  // flow on: every part of the model
  TNervConfig c = auto_config(int(W), int(H), int(T), 12000, v);
  c.enc_blocks = {1, 1, 1, 1, 1};
  c.enc_channels = {8, 8, 8, 8};
  return c;
}

struct FitRun {
  FitResult result;
  std::vector<FitProgress> reports;
  std::vector<bool> contiguous_after;
};

FitRun run_fit(const TNervConfig& c, const torch::Tensor& frames, const FitSpeed& speed, int epochs,
               const torch::Device& device = torch::kCPU) {
  torch::manual_seed(3);
  TNervDecoder dec(c);
  TNervEncoder enc(c);
  FitOptions o;
  o.epochs = epochs;
  o.lr = 5e-3;
  o.device = device;
  o.speed = speed;
  o.report_interval_s = 0;  // a report every step
  FitRun run;
  o.on_progress = [&](const FitProgress& p) { run.reports.push_back(p); };
  run.result = fit_tnerv(dec, enc, frames, o);
  for (auto& p : dec->parameters()) run.contiguous_after.push_back(p.is_contiguous());
  return run;
}

}  // namespace

TEST_CASE("fused Adam takes the same steps as torch::optim::Adam", "[fit_speed]") {
  torch::manual_seed(1);
  // Two groups with different rates, a channels_last weight, and a parameter that never gets a gradient.
  std::vector<torch::Tensor> init = {torch::randn({6, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast),
                                     torch::randn({6}), torch::randn({5, 7}), torch::randn({3})};
  auto make = [&] {
    std::vector<torch::Tensor> p;
    for (auto& t : init) p.push_back(t.clone().set_requires_grad(true));
    return p;
  };
  auto a = make(), b = make();
  torch::optim::Adam reference(
      {torch::optim::OptimizerParamGroup({a[0], a[1], a[3]}, std::make_unique<torch::optim::AdamOptions>(
                                                                 torch::optim::AdamOptions(1e-2).betas({0.9, 0.99}))),
       torch::optim::OptimizerParamGroup({a[2]}, std::make_unique<torch::optim::AdamOptions>(
                                                     torch::optim::AdamOptions(1e-3).betas({0.9, 0.99})))},
      torch::optim::AdamOptions(1e-2));
  FusedAdam fused({{{b[0], b[1], b[3]}, 1.0}, {{b[2]}, 0.1}}, 0.9, 0.99);
  auto loss_of = [](const std::vector<torch::Tensor>& p, int step) {
    return (p[0].sin().sum() * (1 + step) + (p[1] * p[1]).sum() + (p[2].tanh() * 3).sum());  // p[3] unused
  };
  for (int step = 0; step < 6; ++step) {
    const double lr = 1e-2 * (1.0 - 0.1 * step);
    for (size_t g = 0; g < reference.param_groups().size(); ++g)
      static_cast<torch::optim::AdamOptions&>(reference.param_groups()[g].options()).lr(g == 0 ? lr : lr * 0.1);
    fused.set_lr(lr);
    reference.zero_grad();
    fused.zero_grad();
    loss_of(a, step).backward();
    loss_of(b, step).backward();
    reference.step();
    fused.step();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("parameter " << i);
    CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-6));
  }
  CHECK(torch::equal(b[3], init[3]));  // no gradient, no step
  CHECK(b[0].is_contiguous(torch::MemoryFormat::ChannelsLast));
  CHECK(!torch::equal(b[0], init[0]));
}

TEST_CASE("fast and reference fitting paths learn the same clip alike", "[fit_speed]") {
  const auto frames = moving_square(6, 32, 48);
  const TNervConfig c = small_config(6, 32, 48, false);
  const FitRun ref = run_fit(c, frames, FitSpeed::reference(), 12);
  const FitRun fast = run_fit(c, frames, FitSpeed::fast(torch::kCPU), 12);
  INFO("reference " << ref.result.final_psnr << " dB, fast " << fast.result.final_psnr << " dB");
  CHECK(ref.result.final_psnr > 20.0);
  CHECK(std::abs(ref.result.final_psnr - fast.result.final_psnr) < 0.3);
  // The sync-free progress still reports every step's loss, in order, ending on the last step.
  REQUIRE(!fast.reports.empty());
  CHECK(fast.reports.back().step == fast.result.steps);
  for (size_t i = 1; i < fast.reports.size(); ++i) CHECK(fast.reports[i].step > fast.reports[i - 1].step);
  for (const auto& r : fast.reports) CHECK(std::isfinite(r.psnr));
  CHECK(std::abs(fast.reports.back().psnr - ref.reports.back().psnr) < 1.0);
}

TEST_CASE("bf16 autocast and channels_last fit the flow-guided model and restore the layout", "[fit_speed]") {
  const auto frames = moving_square(6, 32, 48);
  const TNervConfig c = small_config(6, 32, 48, true);
  REQUIRE(c.flow);
  FitSpeed mixed = FitSpeed::fast(torch::kCPU);
  mixed.autocast = torch::kBFloat16;
  mixed.channels_last = true;
  mixed.half_frames = true;
  const FitRun ref = run_fit(c, frames, FitSpeed::reference(), 10);
  const FitRun run = run_fit(c, frames, mixed, 10);
  INFO("fp32 " << ref.result.final_psnr << " dB, bf16 + channels_last " << run.result.final_psnr << " dB");
  CHECK(std::isfinite(run.result.final_psnr));
  CHECK(run.result.final_psnr > ref.result.final_psnr - 1.5);
  for (bool contiguous : run.contiguous_after) CHECK(contiguous);  // packing sees the plain layout
  CHECK(!at::autocast::is_autocast_enabled(at::kCPU));           // the scope did not leak
}

TEST_CASE("CUDA graphs fall back to eager off the GPU and say why", "[fit_speed]") {
  const auto frames = moving_square(4, 32, 48);
  FitSpeed s = FitSpeed::fast(torch::kCPU);
  s.cuda_graphs = true;
  const FitRun run = run_fit(small_config(4, 32, 48, false), frames, s, 2);
  CHECK(!run.result.graphed);
  CHECK(run.result.graph_fallback.find("CUDA") != std::string::npos);
  CHECK(run.result.steps == 8);
}

TEST_CASE("precision names", "[fit_speed]") {
  CHECK(parse_precision("bf16") == torch::kBFloat16);
  CHECK(parse_precision("fp16") == torch::kFloat16);
  CHECK(parse_precision("fp32") == torch::kFloat32);
  CHECK_THROWS_AS(parse_precision("fp8"), std::invalid_argument);
  CHECK(FitSpeed::reference().describe() == "fp32 eager");
  CHECK(FitSpeed::fast(torch::kCPU).describe() == "fused_adam,async");
}

TEST_CASE("CUDA: graphed fitting learns like eager fitting", "[fit_speed][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  const torch::Device cuda(torch::kCUDA, 0);
  const auto frames = moving_square(6, 32, 48);
  for (bool flow : {false, true}) {
    const TNervConfig c = small_config(6, 32, 48, flow);
    FitSpeed eager = FitSpeed::fast(cuda);
    FitSpeed graphed = eager;
    graphed.cuda_graphs = true;
    const FitRun e = run_fit(c, frames, eager, 12, cuda);
    const FitRun g = run_fit(c, frames, graphed, 12, cuda);
    INFO("flow " << flow << ": eager " << e.result.final_psnr << " dB, graphed " << g.result.final_psnr
                 << " dB, fallback '" << g.result.graph_fallback << "'");
    CHECK(g.result.graphed);
    CHECK(std::abs(e.result.final_psnr - g.result.final_psnr) < 0.5);
    CHECK(g.result.steps == e.result.steps);
  }
}
