// The fused flow-guided tail (codec/flow_tail.h) against TNervDecoderImpl::aggregate and video::rgb_to_frame.
#include "codec/flow_tail.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "codec/tnerv_config.h"
#include "codec/tnerv_decoder.h"
#include "codec/video/color.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;
using torch::indexing::Slice;

namespace {

constexpr int64_t kB = 3, kHc = 36, kWc = 52, kR = 5;

// A tiny flow-on decoder for Hc x Wc frames whose flow_upsampling() is f: only aggregate() is used.
TNervDecoder tail_decoder(int f, int64_t Hc = kHc, int64_t Wc = kWc) {
  TNervConfig c;
  c.width = int(Wc);
  c.height = int(Hc);
  c.frames = 8;
  c.strides = {1, 1, 1, f, 1};
  c.emb_channels = 4;
  c.emb_h = int(Hc) / f;
  c.emb_w = int(Wc) / f;
  c.flow = true;
  c.channels = {4, 4, 4, 4, 4, 4};
  c.kernels = {1, 1, 1, 1, 1};
  c.pre_kernel = 1;
  c.head_kernel = 1;
  REQUIRE(c.flow_upsampling() == f);
  return TNervDecoder(c);
}

// Random pass outputs at low-res h x w. Frame 0 has no neighbour, frame 1 two, frame 2 four; some flows point far
// outside the frame (border padding), values slightly outside [0, 1] exercise the YUV clipping.
FlowTailInputs random_inputs(int64_t h, int64_t w, double flow_scale, uint64_t seed, int64_t Hc = kHc,
                             int64_t Wc = kWc) {
  torch::manual_seed(seed);
  FlowTailInputs in;
  in.independent = torch::rand({kB, 3, Hc, Wc}) * 1.1 - 0.05;
  // Flows of a few full-res pixels; the first low-res row points far right / below, the second column far left.
  // (Differences to aggregate() scale with ulp(|flow|) where a flow stays inside the frame.)
  in.flows = torch::randn({kB, 8, h, w}) * (3.0 / flow_scale);
  in.flows.index_put_({Slice(), Slice(), 0}, 400.0 / flow_scale);
  in.flows.index_put_({Slice(), Slice(0, 8, 2), Slice(), 1}, -300.0 / flow_scale);
  in.weights = torch::randn({kB, 4, h, w}) * 2.0;
  in.blend = torch::randn({kB, 2, Hc, Wc}) * 2.0;
  in.pool = torch::rand({kR, 3, Hc, Wc}) * 1.1 - 0.05;
  in.slots = torch::tensor({-1, -1, -1, -1, 2, -1, 0, -1, 1, 3, 4, 0}, torch::kInt32).view({kB, 4});
  in.flow_scale = flow_scale;
  return in;
}

FlowTailInputs to_dtype(const FlowTailInputs& in, torch::ScalarType t) {
  FlowTailInputs r = in;
  r.independent = in.independent.to(t);
  r.flows = in.flows.to(t);
  r.weights = in.weights.to(t);
  r.blend = in.blend.to(t);
  r.pool = in.pool.to(t);
  return r;
}

FlowTailInputs to_device(const FlowTailInputs& in, const torch::Device& d) {
  FlowTailInputs r = in;
  r.independent = in.independent.to(d);
  r.flows = in.flows.to(d);
  r.weights = in.weights.to(d);
  r.blend = in.blend.to(d);
  r.pool = in.pool.to(d);
  return r;
}

// aggregate(...).output for the same inputs (float32, CPU).
torch::Tensor reference(TNervDecoder& dec, const FlowTailInputs& in) {
  torch::NoGradGuard no_grad;
  TNervPass p;
  p.independent = in.independent;
  p.flows = in.flows;
  p.weights = in.weights;
  p.blend = in.blend;
  const int64_t B = in.independent.size(0);
  const auto slots = in.slots.to(torch::kCPU, torch::kInt64);
  std::vector<torch::Tensor> nbs;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < 4; ++k) {
      const int64_t s = slots[b][k].item<int64_t>();
      nbs.push_back(s >= 0 ? in.pool[s] : torch::zeros_like(in.independent[0]));
    }
  const auto neighbours = torch::stack(nbs, 0).view({B, 4, 3, in.independent.size(2), in.independent.size(3)});
  return dec->aggregate(p, neighbours, slots >= 0).output;
}

float max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat32) - b.to(torch::kCPU, torch::kFloat32)).abs().max().item<float>();
}

// rgb_to_frame of each frame's top-left width x height, as flow_tail_yuv420 lays it out.
torch::Tensor frames_of(const torch::Tensor& rgb, int width, int height, int matrix, bool full_range) {
  const torch::Tensor crop =
      rgb.index({Slice(), Slice(), Slice(0, height), Slice(0, width)}).to(torch::kCPU).contiguous();
  const int64_t n = int64_t(width) * height;
  torch::Tensor out = torch::empty({rgb.size(0), n * 3 / 2}, torch::kUInt8);
  for (int64_t b = 0; b < rgb.size(0); ++b) {
    const video::Frame f = video::rgb_to_frame(crop[b].data_ptr<float>(), width, height, matrix, full_range);
    uint8_t* o = out[b].data_ptr<uint8_t>();
    std::memcpy(o, f.y.data(), size_t(n));
    std::memcpy(o + n, f.u.data(), size_t(n / 4));
    std::memcpy(o + n + n / 4, f.v.data(), size_t(n / 4));
  }
  return out;
}

struct Case {
  int64_t h, w;
  int f;
  int64_t Hc = kHc, Wc = kWc;
};
// f = 4 (general nearest / bilinear indices), 2 (nearest's "2x" shortcut), 1 (no up-sampling), a grid whose
// ratio to the frame is not an integer (aggregate still scales by flow_upsampling()), and a frame with
// Hc + Wc > 128 (where LibTorch's CPU bilinear up-sampling switches kernels).
const Case kCases[] = {{9, 13, 4}, {18, 26, 2}, {36, 52, 1}, {7, 11, 4}, {18, 25, 4, 72, 100}};

}  // namespace

TEST_CASE("flow tail on CPU matches aggregate()", "[flow_tail]") {
  for (const Case& c : kCases) {
    CAPTURE(c.h, c.w, c.f);
    TNervDecoder dec = tail_decoder(c.f, c.Hc, c.Wc);
    const FlowTailInputs in = random_inputs(c.h, c.w, c.f, 11 + uint64_t(c.h), c.Hc, c.Wc);
    const torch::Tensor ref = reference(dec, in);
    const torch::Tensor out = flow_tail_rgb(in);
    REQUIRE(out.sizes() == ref.sizes());
    REQUIRE(out.scalar_type() == torch::kFloat32);
    CHECK(max_diff(out, ref) < 1e-5f);
    // No neighbour: exactly the independent frame.
    CHECK(torch::equal(out[0], in.independent[0]));

    // Any layout: channels_last tensors, flows/weights narrowed from one 12-channel head output (as pass() gives
    // them), slots as int64.
    FlowTailInputs other = in;
    other.independent = in.independent.contiguous(torch::MemoryFormat::ChannelsLast);
    other.blend = in.blend.contiguous(torch::MemoryFormat::ChannelsLast);
    other.pool = in.pool.contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor head = torch::cat({in.flows, in.weights}, 1).contiguous(torch::MemoryFormat::ChannelsLast);
    other.flows = head.narrow(1, 0, 8);
    other.weights = head.narrow(1, 8, 4);
    other.slots = in.slots.to(torch::kInt64);
    CHECK(torch::equal(flow_tail_rgb(other), out));
  }
}

TEST_CASE("flow tail on float16 and bfloat16 inputs", "[flow_tail]") {
  TNervDecoder dec = tail_decoder(4);
  const FlowTailInputs in = random_inputs(9, 13, 4, 5);
  for (auto t : {torch::kFloat16, torch::kBFloat16}) {
    CAPTURE(c10::toString(t));
    const FlowTailInputs low = to_dtype(in, t);
    const FlowTailInputs rounded = to_dtype(low, torch::kFloat32);  // the same values in float32
    const torch::Tensor out = flow_tail_rgb(low);
    REQUIRE(out.scalar_type() == torch::kFloat32);
    CHECK(max_diff(out, flow_tail_rgb(rounded)) < 1e-3f);
    CHECK(max_diff(out, reference(dec, rounded)) < 1e-3f);
  }
}

TEST_CASE("flow tail to 4:2:0 equals rgb_to_frame of its RGB", "[flow_tail]") {
  const FlowTailInputs in = random_inputs(9, 13, 4, 23);
  const torch::Tensor rgb = flow_tail_rgb(in);
  const int width = 50, height = 34;  // cropped from 52 x 36
  for (int matrix : {1, 6, 9})
    for (bool full : {false, true}) {
      CAPTURE(matrix, full);
      const torch::Tensor yuv = flow_tail_yuv420(in, width, height, matrix, full);
      REQUIRE(yuv.sizes() == torch::IntArrayRef({kB, int64_t(width) * height * 3 / 2}));
      REQUIRE(yuv.scalar_type() == torch::kUInt8);
      CHECK(torch::equal(yuv, frames_of(rgb, width, height, matrix, full)));
    }
  // Half inputs go through the same conversion.
  const FlowTailInputs half = to_dtype(in, torch::kFloat16);
  CHECK(torch::equal(flow_tail_yuv420(half, width, height, 1, false),
                     frames_of(flow_tail_rgb(half), width, height, 1, false)));
}

TEST_CASE("flow tail CUDA kernel matches the CPU path", "[flow_tail][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  const torch::Device gpu(torch::kCUDA);
  for (const Case& c : kCases) {
    for (auto t : {torch::kFloat32, torch::kFloat16, torch::kBFloat16}) {
      CAPTURE(c.h, c.w, c.f, c10::toString(t));
      const FlowTailInputs cpu = to_dtype(random_inputs(c.h, c.w, c.f, 31 + uint64_t(c.h), c.Hc, c.Wc), t);
      FlowTailInputs dev = to_device(cpu, gpu);
      const torch::Tensor rgb_cpu = flow_tail_rgb(cpu);
      const torch::Tensor rgb_gpu = flow_tail_rgb(dev);
      REQUIRE(rgb_gpu.is_cuda());
      CHECK(max_diff(rgb_gpu, rgb_cpu) < 1e-4f);
      // Slots on the device and channels_last inputs give the same result.
      FlowTailInputs dev2 = dev;
      dev2.slots = dev.slots.to(gpu);
      dev2.independent = dev.independent.contiguous(torch::MemoryFormat::ChannelsLast);
      dev2.pool = dev.pool.contiguous(torch::MemoryFormat::ChannelsLast);
      CHECK(torch::equal(flow_tail_rgb(dev2).cpu(), rgb_gpu.cpu()));
      for (int matrix : {1, 6})
        for (bool full : {false, true}) {
          CAPTURE(matrix, full);
          const torch::Tensor a = flow_tail_yuv420(cpu, 50, 34, matrix, full).to(torch::kInt32);
          const torch::Tensor b = flow_tail_yuv420(dev, 50, 34, matrix, full).cpu().to(torch::kInt32);
          REQUIRE(a.sizes() == b.sizes());
          const torch::Tensor d = (a - b).abs();
          CHECK(d.max().item<int>() <= 1);
          CHECK(d.gt(0).sum().item<int64_t>() <= a.numel() / 1000);
        }
    }
  }
}

TEST_CASE("flow tail rejects bad inputs", "[flow_tail]") {
  const FlowTailInputs good = random_inputs(9, 13, 4, 3);
  REQUIRE_NOTHROW(flow_tail_rgb(good));
  auto bad = [&](auto edit) {
    FlowTailInputs in = good;
    edit(in);
    return in;
  };
  using IA = std::invalid_argument;
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.flows = i.flows.narrow(1, 0, 6); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.flows = i.flows.narrow(0, 0, 2); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.weights = i.weights.narrow(3, 0, 12); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.blend = i.blend.narrow(2, 0, 30); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.pool = i.pool.narrow(3, 0, 50); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.independent = i.independent[0]; })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.independent = torch::Tensor(); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.slots = i.slots.narrow(1, 0, 3); })), IA);
  // Slots outside [-1, R): would read outside the pool.
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) {
    i.slots = i.slots.clone();
    i.slots[2][1] = int(kR);
  })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) {
    i.slots = i.slots.clone();
    i.slots[1][0] = -2;
  })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.pool = i.pool.narrow(0, 0, 4); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.slots = i.slots.to(torch::kFloat32); })), IA);
  // Dtypes: mixed, or not a float type.
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.flows = i.flows.to(torch::kFloat16); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.pool = i.pool.to(torch::kBFloat16); })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(to_dtype(good, torch::kFloat64)), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.flow_scale = 0; })), IA);
  CHECK_THROWS_AS(flow_tail_rgb(bad([](FlowTailInputs& i) { i.flow_scale = std::nan(""); })), IA);
  // Output sizes of the 4:2:0 path: odd, larger than the coded frame.
  CHECK_THROWS_AS(flow_tail_yuv420(good, 51, 34, 1, false), IA);
  CHECK_THROWS_AS(flow_tail_yuv420(good, 54, 34, 1, false), IA);
  CHECK_THROWS_AS(flow_tail_yuv420(good, 50, 38, 1, false), IA);
  CHECK_THROWS_AS(flow_tail_yuv420(good, 0, 34, 1, false), IA);
  CHECK_NOTHROW(flow_tail_yuv420(good, 52, 36, 1, false));
}
