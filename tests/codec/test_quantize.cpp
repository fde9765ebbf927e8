#include "bitstream/nvc_file.h"
#include "codec/quantize.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;
namespace bs = bitstream;

static torch::Tensor dequant(const bs::TensorRecord& r) {
  std::vector<float> v = bs::dequantize(r);
  std::vector<int64_t> shape(r.shape.begin(), r.shape.end());
  return torch::from_blob(v.data(), shape, torch::kFloat32).clone();
}

TEST_CASE("symmetric per-channel quantization error is at most half a step", "[quantize]") {
  torch::manual_seed(3);
  torch::Tensor w = torch::randn({16, 8, 3, 3}) * torch::linspace(0.01, 2.0, 16).reshape({16, 1, 1, 1});
  w[5].zero_();  // an all-zero channel must survive
  for (double bits : {4.0, 6.5, 8.0, 10.0}) {
    const bs::TensorRecord r = quantize_symmetric(w, bits, bs::Component::Decoder, true);
    REQUIRE(r.axis == 0);
    REQUIRE(r.scale_code.size() == 16);
    torch::Tensor err = (dequant(r) - w).abs().reshape({16, -1}).amax(1);
    for (int c = 0; c < 16; ++c) {
      const double step = bs::scale_from_code(r.scale_code[size_t(c)]);
      CHECK(err[c].item<double>() <= step / 2 + 1e-6);
      // The step is the smallest 2^(k/16) that covers the channel's range at this precision.
      const double range = w[c].abs().max().item<double>();
      if (range > 0) CHECK(step <= 1.05 * range / ((std::pow(2.0, bits) - 1) / 2));
    }
    CHECK(dequant(r)[5].abs().max().item<float>() == 0.0f);
  }
}

TEST_CASE("more precision gives less error and more bytes", "[quantize]") {
  torch::manual_seed(4);
  torch::Tensor w = torch::randn({32, 32, 3, 3});
  double prev_err = 1e9;
  size_t prev_bytes = 0;
  for (double bits : {3.0, 5.0, 7.0, 9.0}) {
    const bs::TensorRecord r = quantize_symmetric(w, bits, bs::Component::Decoder, true);
    const double err = (dequant(r) - w).pow(2).mean().item<double>();
    CHECK(err < prev_err);
    CHECK(r.payload.size() > prev_bytes);
    prev_err = err;
    prev_bytes = r.payload.size();
  }
}

TEST_CASE("asymmetric per-channel quantization handles offset channels", "[quantize]") {
  torch::manual_seed(5);
  torch::Tensor e = torch::randn({10, 6, 4, 5});
  e.select(1, 2).add_(7.5);     // far from zero
  e.select(1, 4).fill_(-3.25);  // constant
  const bs::TensorRecord r = quantize_asymmetric(e, 6.0, 1, bs::Component::Embeddings);
  REQUIRE(r.axis == 1);
  REQUIRE(r.zero_point.size() == 6);
  torch::Tensor d = dequant(r);
  for (int c = 0; c < 6; ++c) {
    const double step = bs::scale_from_code(r.scale_code[size_t(c)]);
    CHECK((d.select(1, c) - e.select(1, c)).abs().max().item<double>() <= step / 2 + 1e-5);
  }
  // Coded ints centre on zero, which is what makes them cheap to entropy-code.
  std::vector<int32_t> q = bs::decode_tensor_ints(r);
  double mean = 0;
  for (int32_t v : q) mean += v;
  CHECK(std::fabs(mean / double(q.size())) < 8.0);
}
