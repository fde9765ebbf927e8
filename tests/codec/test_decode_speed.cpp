// nvdec's fast paths against its reference: the fused flow tail vs aggregate(), reduced precision vs float32, the
// device-side decode vs the frame sink, early stops, and (on a GPU) fp16 + CUDA graphs vs the CPU.
#include "bitstream/nvc_file.h"
#include "codec/encode.h"
#include "codec/model_io.h"
#include "tests/codec/flow_model_fixture.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;
namespace bs = bitstream;

namespace {

bs::NvcFile random_flow_file(int W, int H, int T, uint64_t seed) { return test::random_flow_file(W, H, T, seed, 1); }

std::vector<video::Frame> decode_all(const bs::NvcFile& f, const torch::Device& d, const DecodeOptions& o) {
  FrameDecoder dec(f, d, o);
  std::vector<video::Frame> out;
  dec.decode(0, dec.frame_count(), [&](int i, const video::Frame& fr) {
    CHECK(i == int(out.size()));
    out.push_back(fr);
    return true;
  });
  return out;
}

struct Diff {
  int max = 0;
  double differing = 0;  // fraction of samples that differ
  double psnr = 0;       // of b against a, all planes
};

Diff compare(const std::vector<video::Frame>& a, const std::vector<video::Frame>& b) {
  REQUIRE(a.size() == b.size());
  Diff d;
  double se = 0, n = 0, differ = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (auto plane : {&video::Frame::y, &video::Frame::u, &video::Frame::v}) {
      const auto& pa = a[i].*plane;
      const auto& pb = b[i].*plane;
      REQUIRE(pa.size() == pb.size());
      for (size_t k = 0; k < pa.size(); ++k) {
        const int e = int(pa[k]) - int(pb[k]);
        d.max = std::max(d.max, std::abs(e));
        se += double(e) * e;
        differ += e != 0;
        n += 1;
      }
    }
  d.differing = differ / n;
  d.psnr = se > 0 ? 10.0 * std::log10(255.0 * 255.0 * n / se) : 99.0;
  return d;
}

}  // namespace

TEST_CASE("the fused flow tail decodes like aggregate() + colour conversion", "[decode_speed]") {
  const bs::NvcFile f = random_flow_file(64, 48, 7, 21);
  for (int batch : {1, 4}) {
    DecodeOptions fused, reference;
    fused.batch = reference.batch = batch;
    reference.fused_tail = false;
    const Diff d = compare(decode_all(f, torch::kCPU, reference), decode_all(f, torch::kCPU, fused));
    INFO("batch " << batch << ": max " << d.max << ", differing " << d.differing);
    CHECK(d.max <= 1);
    CHECK(d.differing < 0.01);
  }
}

TEST_CASE("reduced-precision decoding stays close to float32", "[decode_speed]") {
  const bs::NvcFile f = random_flow_file(64, 48, 5, 22);
  const auto fp32 = decode_all(f, torch::kCPU, DecodeOptions{});
  DecodeOptions bf16;
  bf16.precision = torch::kBFloat16;
  const Diff d = compare(fp32, decode_all(f, torch::kCPU, bf16));
  INFO("bf16 vs fp32: PSNR " << d.psnr << " dB, max " << d.max);
  // bf16 keeps 8 bits of mantissa through five layers: visible but far above any codec's error.
  CHECK(d.psnr > 45.0);
  CHECK(FrameDecoder(f, torch::kCPU, bf16).describe().rfind("bf16", 0) == 0);
  // fp16 (the GPU default) on the CPU: the same half-precision network, AdaIN statistics in float32 and the tail
  // reading half inputs, so this is the CPU's view of what nvdec does on a GPU.
  DecodeOptions fp16;
  fp16.precision = torch::kFloat16;
  const Diff h = compare(fp32, decode_all(f, torch::kCPU, fp16));
  INFO("fp16 vs fp32: PSNR " << h.psnr << " dB, max " << h.max);
  CHECK(h.psnr > 50.0);
}

TEST_CASE("decode_device gives the sink's frames; a sink can stop the decode", "[decode_speed]") {
  const bs::NvcFile f = random_flow_file(64, 48, 9, 23);
  FrameDecoder dec(f, torch::kCPU, DecodeOptions{3});
  const auto frames = decode_all(f, torch::kCPU, DecodeOptions{3});
  int next = 2;
  dec.decode_device(2, 6, [&](int start, const torch::Tensor& yuv) {
    CHECK(start == next);
    REQUIRE(yuv.dim() == 2);
    CHECK(yuv.size(1) == 64 * 48 * 3 / 2);
    for (int64_t k = 0; k < yuv.size(0); ++k) {
      const auto& fr = frames[size_t(start + k)];
      const uint8_t* p = yuv[k].data_ptr<uint8_t>();
      CHECK(std::equal(fr.y.begin(), fr.y.end(), p));
      CHECK(std::equal(fr.v.begin(), fr.v.end(), p + fr.y.size() + fr.u.size()));
    }
    next += int(yuv.size(0));
    return true;
  });
  CHECK(next == 8);
  int got = 0;
  dec.decode(0, 9, [&](int, const video::Frame&) { return ++got < 4; });
  CHECK(got == 4);  // the sink's "stop" is honoured at once, mid-batch
  CHECK_THROWS_AS(dec.decode(5, 5, [](int, const video::Frame&) { return true; }), std::out_of_range);
}

TEST_CASE("CUDA: fp16 decoding with graphs matches the CPU", "[decode_speed][cuda]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  const bs::NvcFile f = random_flow_file(96, 64, 20, 24);
  const auto cpu = decode_all(f, torch::kCPU, DecodeOptions{});
  const torch::Device cuda(torch::kCUDA, 0);
  for (int graphs : {0, 1}) {
    DecodeOptions o;
    o.batch = 4;
    o.cuda_graphs = graphs;
    const auto gpu = decode_all(f, cuda, o);
    const Diff d = compare(cpu, gpu);
    INFO("graphs " << graphs << ": PSNR " << d.psnr << " dB, max " << d.max);
    CHECK(d.psnr > 40.0);
    DecodeOptions fp32 = o;
    fp32.precision = torch::kFloat32;
    const Diff e = compare(cpu, decode_all(f, cuda, fp32));
    CHECK(e.max <= 1);
    CHECK(e.differing < 0.01);
  }
  DecodeOptions o;
  o.batch = 4;
  FrameDecoder dec(f, cuda, o);
  dec.decode(0, 20, [](int, const video::Frame&) { return true; });
  INFO(dec.describe());
  CHECK(dec.describe().find("CUDA graphs") != std::string::npos);
}
