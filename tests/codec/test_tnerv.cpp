#include "codec/tnerv_config.h"
#include "codec/tnerv_decoder.h"
#include "codec/tnerv_encoder.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;

static int product(const std::vector<int>& v) {
  int p = 1;
  for (int x : v) p *= x;
  return p;
}

TEST_CASE("strides follow the paper for its resolutions and fit any size", "[tnerv]") {
  CHECK((choose_strides(1280, 720) == std::vector<int>{5, 2, 2, 2, 2}));
  CHECK((choose_strides(1920, 1080) == std::vector<int>{5, 3, 2, 2, 2}));
  CHECK((choose_strides(1920, 960) == std::vector<int>{5, 3, 2, 2, 2}));
  for (auto [w, h] : std::vector<std::pair<int, int>>{{192, 144}, {560, 320}, {720, 404}, {640, 360}, {768, 576},
                                                        {64, 48}, {16, 16}, {4096, 2160}}) {
    const auto s = choose_strides(w, h);
    REQUIRE(s.size() == 5);
    const int S = product(s);
    CHECK(S <= h);
    const double rows = double(h) / S;
    CHECK(rows >= 1.0);
    if (h >= 72) CHECK((rows > 5.0 && rows <= 9.0));
  }
}

TEST_CASE("auto_config stays within the parameter budget and covers the frame", "[tnerv]") {
  for (int64_t budget : {12000, 20000, 200000, 3000000}) {
    const TNervConfig c = auto_config(560, 320, 48, budget);
    CHECK(c.stored_params() <= budget);
    CHECK(c.coded_width() >= 560);
    CHECK(c.coded_height() >= 320);
    CHECK(c.coded_width() - 560 < c.total_stride());
    for (int s : c.strides) CHECK(s <= 16);
    if (budget >= 200000) CHECK(c.stored_params() > budget * 8 / 10);
    // Decoder parameter count matches the module that is built.
    TNervDecoder dec(c);
    int64_t n = 0;
    for (auto& p : dec->parameters()) n += p.numel();
    CHECK(n == c.decoder_params());
  }
}

TEST_CASE("decoder and encoder shapes for odd sizes", "[tnerv]") {
  TNervConfig c = auto_config(100, 62, 4, 20000);
  c.enc_blocks = {1, 1, 1, 1, 1};
  c.enc_channels = {8, 8, 8, 8};
  TNervDecoder dec(c);
  TNervEncoder enc(c);
  torch::Tensor frames = torch::rand({2, 3, c.coded_height(), c.coded_width()});
  torch::Tensor emb = enc->forward(frames);
  CHECK(emb.sizes() == torch::IntArrayRef({2, c.emb_channels, c.emb_h, c.emb_w}));
  torch::Tensor out = dec->forward(emb, torch::zeros({2}));
  CHECK(out.sizes() == torch::IntArrayRef({2, 3, c.coded_height(), c.coded_width()}));
  CHECK(out.min().item<float>() >= 0.0f);
  CHECK(out.max().item<float>() <= 1.0f);
}

TEST_CASE("model description round trip and hostile values", "[tnerv]") {
  const TNervConfig c = auto_config(192, 144, 30, 30000);
  bitstream::SequenceHeader seq;
  seq.width = 192;
  seq.height = 144;
  seq.frame_count = 30;
  const TNervConfig d = TNervConfig::from_description(c.to_description(), seq);
  CHECK(d.strides == c.strides);
  CHECK(d.channels == c.channels);
  CHECK(d.kernels == c.kernels);
  CHECK(d.emb_channels == c.emb_channels);
  CHECK(d.decoder_params() == c.decoder_params());

  auto bad = c.to_description();
  bad.ints["channels"][2] = 100000;
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);
  bad = c.to_description();
  bad.ints["kernels"][1] = 4;
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);
  bad = c.to_description();
  bad.ints["emb"] = {4, 1, 1};  // too small to cover the frame
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);
  bad = c.to_description();
  bad.ints.erase("strides");
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);
  bad = c.to_description();
  bad.kind = "nerf";
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);
}
