// Compression stages: rate model, fake quantization against the packer, pruning, the straight-through step, and
// rate control landing in [0.95, 1.0] of the target.
#include <cmath>
#include <filesystem>

#include "bitstream/nvc_file.h"
#include "codec/compress.h"
#include "codec/encode.h"
#include "codec/quantize.h"
#include "codec/video/video_io.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;
namespace bs = bitstream;

namespace {

TNervConfig small_config() {
  TNervVariant v;
  v.size_adaptive = false;  // every part (grids, flow, AdaIN) so every kind of tensor is present
  v.tiny_encoder = true;
  return auto_config(64, 48, 6, 20000, v);
}

double exact_laplace_bits(const std::vector<double>& y) {
  double b = 0;
  for (double v : y) b += std::fabs(v);
  b = std::max(0.1, b / double(y.size()));
  auto cdf = [&](double x) { return x < 0 ? 0.5 * std::exp(x / b) : 1.0 - 0.5 * std::exp(-x / b); };
  double bits = 0;
  for (double v : y) {
    const double a = std::fabs(v);
    if (a < 8 * b) bits -= std::log2(cdf(v + 0.5) - cdf(v - 0.5));
    else bits -= std::log2(0.5 * std::exp(-(a - 0.5) / b) * (1 - std::exp(-1 / b)));  // no cancellation out here
  }
  return bits;
}

}  // namespace

TEST_CASE("laplace_bits: the discrete Laplace code length, stable and pushing towards zero", "[compress]") {
  const std::vector<double> y = {0, 0, 1, -1, 2, 0, -3, 5, 0, 0.3, -0.2, 7.5};
  torch::Tensor t = torch::tensor(y, torch::kFloat64).requires_grad_(true);
  torch::Tensor bits = laplace_bits(t);
  CHECK(bits.item<double>() == Approx(exact_laplace_bits(y)).epsilon(1e-9));
  bits.backward();
  const auto g = t.grad();
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] > 0) CHECK(g[int64_t(i)].item<double>() > 0);
    if (y[i] < 0) CHECK(g[int64_t(i)].item<double>() < 0);
  }
  // Far tails: finite, and linear in |y| (no cancellation in F(y + 1/2) - F(y - 1/2)).
  std::vector<double> sparse(99, 0.0);
  sparse.push_back(1e4);  // scale 100: about 144 bits for the outlier
  torch::Tensor far = torch::tensor(sparse, torch::kFloat32).requires_grad_(true);
  torch::Tensor fb = laplace_bits(far);
  fb.backward();
  CHECK(std::isfinite(fb.item<double>()));
  CHECK(std::isfinite(far.grad()[99].item<double>()));
  CHECK(fb.item<double>() == Approx(exact_laplace_bits(sparse)).epsilon(1e-4));
}

TEST_CASE("fake quantization gives the values the packer stores", "[compress]") {
  torch::manual_seed(3);
  const torch::Tensor w = torch::randn({12, 5, 3, 3}) * torch::linspace(0.01, 2.0, 12).view({12, 1, 1, 1});
  const torch::Tensor bias = torch::randn({12}) * 0.1;
  const torch::Tensor emb = torch::randn({6, 4, 3, 5}) + torch::linspace(-3.0, 5.0, 4).view({1, 4, 1, 1});
  struct Case {
    const char* name;
    torch::Tensor t;
    TensorQuant q;
  };
  for (double bits : {3.3, 6.0, 8.7}) {
    const std::vector<Case> cases = {{"weight", w, decoder_param_quant("blocks.0.conv.weight", w, bits, bits - 1)},
                                     {"bias", bias, decoder_param_quant("blocks.0.conv.bias", bias, bits, bits - 1)},
                                     {"grid", emb, decoder_param_quant("grid0", emb, bits, bits - 1)},
                                     {"embedding", emb, embedding_quant(bits)}};
    for (const Case& c : cases) {
      INFO(c.name << " at " << bits << " bits");
      const bs::TensorRecord rec = quantize_tensor(c.t, c.q);
      const std::vector<float> stored = bs::dequantize(rec);
      const QuantGrid g = quant_grid(c.t, c.q);
      const torch::Tensor fq = fake_quantize(c.t, g).contiguous();
      REQUIRE(size_t(fq.numel()) == stored.size());
      const float* p = fq.data_ptr<float>();
      const torch::Tensor step = g.step.expand_as(c.t).contiguous();
      int64_t differ = 0;
      for (size_t i = 0; i < stored.size(); ++i) {
        const double d = std::fabs(double(p[i]) - double(stored[i]));
        // Equal up to float rounding; a value exactly between two levels may round either way (one step).
        CHECK(d <= step.data_ptr<float>()[i] * 1.0001);
        if (d > 1e-5 * (1.0 + std::fabs(stored[i]))) ++differ;
      }
      CHECK(differ <= 1);
      // The centre is the coded zero: (x - centre) / step are the coded integers.
      if (c.q.kind == TensorQuant::Asymmetric) {
        const std::vector<int32_t> q = bs::decode_tensor_ints(rec);
        const torch::Tensor y = torch::round((c.t - g.centre) / g.step).flatten();
        int64_t same = 0;
        for (size_t i = 0; i < q.size(); ++i) same += int64_t(y[int64_t(i)].item<float>()) == q[i];
        CHECK(same >= int64_t(q.size()) - 1);
      }
    }
  }
}

TEST_CASE("global magnitude pruning removes the asked fraction of conv/linear weights only", "[compress]") {
  torch::manual_seed(1);
  TNervDecoder dec(small_config());
  std::map<std::string, torch::Tensor> before;
  for (auto& p : dec->named_parameters(true)) before[p.key()] = p.value().detach().clone();
  const PruneMasks masks = prune_decoder(dec, 0.3);
  int64_t zeros = 0, total = 0;
  for (auto& p : dec->named_parameters(true)) {
    const bool prunable = p.value().dim() >= 2 && p.key().rfind("grid", 0) != 0;
    INFO(p.key());
    if (!prunable) {
      CHECK(masks.count(p.key()) == 0);
      CHECK(torch::equal(p.value(), before[p.key()]));
      continue;
    }
    REQUIRE(masks.count(p.key()) == 1);
    zeros += (p.value() == 0).sum().item<int64_t>();
    total += p.value().numel();
    // Kept weights are untouched.
    CHECK(torch::equal(p.value() * masks.at(p.key()), before[p.key()] * masks.at(p.key())));
  }
  REQUIRE(total > 1000);
  CHECK(double(zeros) / double(total) == Approx(0.3).margin(0.002));
  // Larger layers give up a larger share (score |w| / sqrt(n)).
  CHECK_THROWS_AS(prune_decoder(dec, 1.0), std::invalid_argument);
}

TEST_CASE("compression-aware step: quantized forward, float masters, zeros held", "[compress]") {
  torch::manual_seed(2);
  TNervDecoder dec(small_config());
  const PruneMasks masks = prune_decoder(dec, 0.2);
  std::map<std::string, torch::Tensor> masters;
  for (auto& p : dec->named_parameters(true)) masters[p.key()] = p.value().detach().clone();
  CompressionAwareStep::Options so;
  so.masks = &masks;
  so.fake_quant = true;
  so.lambda = 0.01;
  so.weight_bits = 4;
  so.embedding_bits = 3;
  so.pixels = 64 * 48 * 6;
  CompressionAwareStep step(dec, so);
  step.begin_step();
  for (auto& p : dec->named_parameters(true)) {
    const TensorQuant q = decoder_param_quant(p.key(), masters[p.key()], 4, 3);
    INFO(p.key());
    CHECK(torch::allclose(p.value(), fake_quantize(masters[p.key()], quant_grid(masters[p.key()], q)), 1e-6, 1e-7));
  }
  const torch::Tensor rate = step.rate_loss(1);
  REQUIRE(rate.defined());
  CHECK(rate.item<double>() > 0);
  CHECK(step.last_bits() == Approx(rate.item<double>() / so.lambda * so.pixels));  // bits, before the weighting
  rate.backward();
  step.before_optimizer_step();
  for (auto& p : dec->named_parameters(true)) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), masters[p.key()]));  // straight-through: the float values come back exactly
    auto it = masks.find(p.key());
    if (it != masks.end() && p.value().grad().defined())
      CHECK((p.value().grad() * (~it->second).to(torch::kFloat32)).abs().sum().item<double>() == 0.0);
  }
  // A step that moves pruned weights: end_step puts the zeros back.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : dec->named_parameters(true)) p.value().add_(0.01);
  }
  step.end_step();
  for (auto& p : dec->named_parameters(true)) {
    auto it = masks.find(p.key());
    if (it != masks.end()) CHECK((p.value() * (~it->second).to(torch::kFloat32)).abs().sum().item<double>() == 0.0);
  }
}

TEST_CASE("compression stages: parsing and description", "[compress]") {
  CHECK(CompressionOptions::parse_stages("ptq").describe() == "ptq");
  CHECK(CompressionOptions::parse_stages("all").describe() == "prune,qat,ec");
  CHECK(CompressionOptions::parse_stages("ec,prune").describe() == "prune,ec");
  CHECK(CompressionOptions{}.describe() == "prune,qat,ec");
  CHECK_THROWS_WITH(CompressionOptions::parse_stages("prune,foo"), Catch::Contains("'foo'"));
  CHECK_THROWS_AS(CompressionOptions::parse_stages(""), std::invalid_argument);
}

TEST_CASE("rate control lands --bpp in [0.95, 1.0] of the target at two rates", "[compress][clip]") {
  const std::string path = std::string(NVC_TEST_DATA_DIR) + "/vtest_192x144_10fps_30f.y4m";
  if (!std::filesystem::exists(path)) {
    WARN("test clip not found: " << path);
    return;
  }
  video::ReaderOptions ro;
  ro.max_frames = 8;
  video::VideoFormat fmt;
  const std::vector<video::Frame> frames = video::read_all(path, ro, &fmt);
  REQUIRE(frames.size() == 8);
  for (double bpp : {0.05, 0.3}) {
    EncodeOptions o;
    o.bpp = bpp;
    o.preset = "fast";
    o.epochs = 5;  // 3 fit + 1 prune + 1 fine-tune: every stage runs
    o.compression.prune_fraction = 0.3;
    const EncodeResult r = encode_tnerv(frames, fmt, o);
    const double achieved = 8.0 * double(r.bytes.size()) / (192.0 * 144.0 * 8.0);
    INFO("target " << bpp << " bpp, achieved " << achieved << " (" << r.bytes.size() << " bytes), weights "
                   << r.weight_bits << " bits");
    CHECK(achieved <= bpp);
    CHECK(achieved >= 0.95 * bpp);
    REQUIRE(r.stages.size() == 3);
    CHECK(r.stages[0].name == "fit");
    CHECK(r.stages[1].name == "prune");
    CHECK(r.stages[2].name == "qat+ec");
    CHECK(r.lambda > 0);
    // The embedding/grid precision was chosen by decoding every candidate: the kept one is the best of them.
    REQUIRE(!r.offset_trials.empty());
    double best = -1, best_offset = 0;
    for (const auto& t : r.offset_trials)
      if (t.second > best) {
        best = t.second;
        best_offset = t.first;
      }
    CHECK(r.embedding_offset == best_offset);
    CHECK(r.embedding_bits == Approx(embedding_bits_for(r.weight_bits, best_offset)));
    // The pruned weights are zeros in the file (quantization adds a few more).
    const bs::NvcFile f = bs::parse(r.bytes.data(), r.bytes.size());
    int64_t zeros = 0, weights = 0;
    for (size_t i = 0; i < f.tensors.size(); ++i) {
      const bs::TensorRecord& t = f.tensors[i];
      if (t.component != bs::Component::Decoder || t.shape.size() < 2) continue;
      for (int32_t q : bs::decode_tensor_ints(t, i)) zeros += q == 0;
      weights += int64_t(t.element_count());
    }
    INFO("zeros " << zeros << " of " << weights << ", sparsity reported " << r.sparsity);
    CHECK(zeros >= int64_t(std::floor(0.3 * double(weights))));
    CHECK(r.sparsity == Approx(double(zeros) / double(weights)));
    // The split adds up to the file.
    CHECK(r.split.total == r.bytes.size());
    CHECK(r.split.headers + r.split.component[0] + r.split.component[1] + r.split.component[2] +
              r.split.component[3] ==
          r.split.total);
  }
}
