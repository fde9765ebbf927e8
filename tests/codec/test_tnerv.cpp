#include "codec/tnerv_config.h"
#include "codec/tnerv_decoder.h"
#include "codec/tnerv_encoder.h"

// Catch2 after LibTorch: both define CHECK, and the tests need Catch2's.
#include <catch2/catch.hpp>

using namespace nvc;

// Every part of T-NeRV whatever the budget (auto_config drops some below 1M parameters).
static TNervVariant full_variant() {
  TNervVariant v;
  v.size_adaptive = false;
  return v;
}

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
    // Decoder + grid parameter count matches the module that is built.
    TNervDecoder dec(c);
    int64_t n = 0;
    for (auto& p : dec->parameters()) n += p.numel();
    CHECK(n == c.decoder_params() + c.grid_params());
  }
}

TEST_CASE("decoder and encoder shapes for odd sizes", "[tnerv]") {
  TNervConfig c = auto_config(100, 62, 4, 20000);
  c.enc_blocks = {1, 1, 1, 1, 1};
  c.enc_channels = {8, 8, 8, 8};
  TNervDecoder dec(c);
  TNervEncoder enc(c);
  torch::Tensor frames = torch::rand({2, 3, c.coded_height(), c.coded_width()});
  torch::Tensor emb = enc->embed(frames, torch::tensor({0.0f, 1.0f}));
  CHECK(emb.sizes() == torch::IntArrayRef({2, c.emb_channels, c.emb_h, c.emb_w}));
  torch::Tensor out = dec->forward(emb, torch::zeros({2}), enc->temporal_code(torch::zeros({2})));
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

TEST_CASE("temporal grid sampling is exact at cells and linear between them", "[tnerv][grid]") {
  torch::manual_seed(3);
  const torch::Tensor grid = torch::randn({5, 2, 3, 4});
  // tau = k / 4 lands exactly on cell k of a 5-cell grid.
  for (int k = 0; k < 5; ++k) {
    const torch::Tensor s = sample_temporal_grid(grid, torch::tensor({float(k) / 4.0f}));
    CHECK(torch::equal(s[0], grid[k]));
  }
  // A quarter of the way from cell 1 to cell 2.
  const torch::Tensor s = sample_temporal_grid(grid, torch::tensor({(1.0f + 0.25f) / 4.0f}));
  const torch::Tensor expect = grid[1] * 0.75 + grid[2] * 0.25;
  CHECK((s[0] - expect).abs().max().item<float>() < 1e-6f);
  // Out-of-range times clamp to the ends; a single-cell grid is constant.
  CHECK(torch::equal(sample_temporal_grid(grid, torch::tensor({1.5f}))[0], grid[4]));
  const torch::Tensor one = torch::randn({1, 2, 3, 4});
  CHECK(torch::equal(sample_temporal_grid(one, torch::tensor({0.7f}))[0], one[0]));
}

TEST_CASE("zero flow warps to the identity and a whole-pixel flow shifts", "[tnerv][flow]") {
  torch::manual_seed(4);
  const torch::Tensor img = torch::rand({2, 3, 7, 9});
  const torch::Tensor same = warp(img, torch::zeros({2, 2, 7, 9}));
  CHECK((same - img).abs().max().item<float>() < 1e-5f);
  // dx = +1: out(x) = img(x + 1), the last column repeats (border padding).
  torch::Tensor flow = torch::zeros({2, 2, 7, 9});
  flow.select(1, 0).fill_(1.0);
  const torch::Tensor shifted = warp(img, flow);
  using torch::indexing::Slice;
  CHECK((shifted.index({Slice(), Slice(), Slice(), Slice(0, 8)}) - img.index({Slice(), Slice(), Slice(), Slice(1, 9)}))
            .abs().max().item<float>() < 1e-5f);
  CHECK((shifted.select(3, 8) - img.select(3, 8)).abs().max().item<float>() < 1e-5f);
}

TEST_CASE("AdaIN normalises each channel and applies the temporal scale and shift", "[tnerv][adain]") {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({3, 4, 6, 8}) * 5.0 + 2.0;
  const torch::Tensor zero = torch::zeros({3, 8});
  const torch::Tensor n = adain(x, zero);
  CHECK(n.mean({2, 3}).abs().max().item<float>() < 1e-5f);
  CHECK((n.square().mean({2, 3}) - 1.0).abs().max().item<float>() < 1e-3f);
  // gamma = 1 (scale 2), beta = 3 for every channel: mean 3, standard deviation 2.
  torch::Tensor gb = torch::cat({torch::ones({3, 4}), torch::full({3, 4}, 3.0)}, 1);
  const torch::Tensor m = adain(x, gb);
  CHECK((m.mean({2, 3}) - 3.0).abs().max().item<float>() < 1e-4f);
  CHECK(((m - 3.0).square().mean({2, 3}).sqrt() - 2.0).abs().max().item<float>() < 1e-3f);
}

TEST_CASE("every part of the model has the right shape for odd sizes", "[tnerv]") {
  for (auto [w, h, t] : std::vector<std::tuple<int, int, int>>{{100, 62, 4}, {66, 38, 1}, {30, 18, 7}}) {
    TNervConfig c = auto_config(w, h, t, 20000, full_variant());
    c.enc_blocks = {1, 1, 1, 1, 1};
    c.enc_channels = {8, 8, 8, 8};
    c.aug_hidden = 16;
    c.tmlp_hidden = 16;
    TNervDecoder dec(c);
    TNervEncoder enc(c);
    const torch::Tensor tau = torch::linspace(0, 1, t);
    const torch::Tensor emb = enc->embed(torch::rand({t, 3, c.coded_height(), c.coded_width()}), tau);
    const torch::Tensor tcode = enc->temporal_code(tau);
    CHECK(emb.sizes() == torch::IntArrayRef({t, c.emb_channels, c.emb_h, c.emb_w}));
    CHECK(tcode.sizes() == torch::IntArrayRef({t, c.tcode_dim}));
    const TNervPass p = dec->pass(emb, tau, tcode);
    const int f = c.flow_upsampling();
    CHECK(p.independent.sizes() == torch::IntArrayRef({t, 3, c.coded_height(), c.coded_width()}));
    CHECK(p.flows.sizes() == torch::IntArrayRef({t, 8, c.coded_height() / f, c.coded_width() / f}));
    CHECK(p.weights.sizes() == torch::IntArrayRef({t, 4, c.coded_height() / f, c.coded_width() / f}));
    CHECK(p.blend.sizes() == torch::IntArrayRef({t, 2, c.coded_height(), c.coded_width()}));
    const torch::Tensor nb = torch::rand({t, 4, 3, c.coded_height(), c.coded_width()});
    torch::Tensor valid = torch::ones({t, 4}, torch::kBool);
    valid[0].fill_(false);  // the first frame has no neighbour: its output is its independent frame
    const TNervAggregate a = dec->aggregate(p, nb, valid);
    CHECK(a.output.sizes() == p.independent.sizes());
    CHECK(torch::equal(a.output[0], p.independent[0]));
    CHECK(a.output.min().item<float>() >= 0.0f);
    CHECK(a.output.max().item<float>() <= 1.0f);
  }
}

TEST_CASE("the paper's configurations have the published sizes", "[tnerv][params]") {
  struct Named { const char* name; int w, h; double published; };
  for (const Named n : {Named{"12.4m", 1280, 720, 12.4e6}, Named{"3.0m", 1920, 960, 3.0e6},
                        Named{"9.3m", 1920, 1080, 9.3e6}}) {
    const TNervConfig c = named_config(n.name, n.w, n.h, 600);
    INFO(c.summary());
    CHECK(std::abs(double(c.stored_params()) / n.published - 1.0) < 0.03);
    CHECK(c.emb_h * c.total_stride() == n.h);
    CHECK(c.emb_w * c.total_stride() == n.w);
  }
  const TNervConfig c = named_config("9.3m", 1920, 1080, 600);
  const double total = double(c.stored_params());
  CHECK(std::abs(c.decoder_params() / total - 0.48) < 0.01);
  CHECK(std::abs(c.grid_params() / total - 0.27) < 0.01);
  CHECK(std::abs(c.embedding_params() / total - 0.24) < 0.01);
  CHECK((c.strides == std::vector<int>{5, 3, 2, 2, 2}));
  CHECK((c.channels == std::vector<int>{160, 136, 112, 96, 80, 64}));
  CHECK_THROWS_AS(named_config("1m", 64, 64, 4), std::invalid_argument);
}

TEST_CASE("parameter counts match the modules that are built", "[tnerv][params]") {
  for (const char* ablation : {"", "E1", "E2", "D1", "D2", "D3", "E1,D1,D2"}) {
    for (const char* block : {"hnerv", "compact"}) {
      TNervVariant v = full_variant();
      v.block = block;
      v.apply_ablations(ablation);
      const TNervConfig c = auto_config(320, 180, 20, 150000, v);
      INFO(v.describe() << ": " << c.summary());
      CHECK(c.stored_params() <= 150000);
      CHECK(c.stored_params() > 150000 * 85 / 100);  // equal size: switched-off parts give their share away
      TNervDecoder dec(c);
      int64_t decoder = 0, grids = 0;
      for (auto& p : dec->named_parameters()) (p.key().rfind("grid", 0) == 0 ? grids : decoder) += p.value().numel();
      CHECK(decoder == c.decoder_params());
      CHECK(grids == c.grid_params());
      CHECK((c.grid_params() == 0) == (std::string(ablation).find("E1") != std::string::npos));
      CHECK((c.emb_channels == 0) == (std::string(ablation) == "E2"));
      CHECK(c.flow == (std::string(ablation).find("D1") == std::string::npos));
    }
  }
  TNervVariant v;
  CHECK_THROWS_AS(v.apply_ablations("E9"), std::invalid_argument);
  CHECK_THROWS_AS(v.apply_ablations("E1,E2"), std::invalid_argument);
}

TEST_CASE("full model description round trip and backbone-only descriptions", "[tnerv]") {
  bitstream::SequenceHeader seq;
  seq.width = 192;
  seq.height = 144;
  seq.frame_count = 30;
  TNervVariant compact = full_variant();
  compact.block = "compact";
  for (const TNervVariant& v : {full_variant(), compact}) {
    const TNervConfig c = auto_config(192, 144, 30, 60000, v);
    const TNervConfig d = TNervConfig::from_description(c.to_description(), seq);
    CHECK(d.grid_res == c.grid_res);
    CHECK(d.grid_channels == c.grid_channels);
    CHECK(d.tcode_dim == c.tcode_dim);
    CHECK(d.flow == c.flow);
    CHECK(d.block == c.block);
    CHECK(d.stored_params() == c.stored_params());
  }
  // A description without the optional keys is the plain backbone (grids, AdaIN and flow off).
  auto desc = auto_config(192, 144, 30, 60000).to_description();
  desc.ints.erase("grids");
  desc.ints.erase("tcode");
  desc.ints.erase("flow");
  desc.strings.clear();
  const TNervConfig b = TNervConfig::from_description(desc, seq);
  CHECK(b.grid_res.empty());
  CHECK(b.tcode_dim == 0);
  CHECK_FALSE(b.flow);
  CHECK(b.block == "hnerv");
  auto bad = auto_config(192, 144, 30, 60000).to_description();
  bad.ints["grids"] = {3, 0, 4};
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);
  bad = auto_config(192, 144, 30, 60000).to_description();
  bad.strings["block"] = "transformer";
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);
  bad = auto_config(192, 144, 30, 60000).to_description();
  bad.ints["emb"][0] = 0;
  bad.ints.erase("grids");
  CHECK_THROWS_AS(TNervConfig::from_description(bad, seq), bitstream::FormatError);  // no decoder input
}

TEST_CASE("auto keeps embeddings and AdaIN for small budgets and every part from 1M parameters", "[tnerv]") {
  const TNervConfig small = auto_config(192, 144, 30, 26000);
  CHECK(small.grid_res.empty());
  CHECK_FALSE(small.flow);
  CHECK(small.aug_hidden == 0);
  CHECK(small.tcode_dim > 0);
  CHECK(small.emb_channels > 0);
  CHECK(small.block == "compact");
  const TNervConfig forced = auto_config(192, 144, 30, 26000, full_variant());
  CHECK(forced.grid_res.size() == 3);
  CHECK(forced.flow);
  CHECK(forced.aug_hidden > 0);
  const TNervConfig large = auto_config(1280, 720, 300, 4000000);
  CHECK(large.grid_res == std::vector<int>{32, 64, 128});
  CHECK(large.flow);
  CHECK(large.aug_hidden == 512);
  CHECK(large.block == "hnerv");
  CHECK(named_config("9.3m", 1920, 1080, 600).block == "hnerv");
  CHECK(large.stored_params() <= 4000000);
  CHECK(large.stored_params() > 3800000);
}

TEST_CASE("decoder MACs per frame match the convolutions that run", "[tnerv][params]") {
  for (const std::string block : {"hnerv", "compact"}) {
    TNervVariant v;
    v.size_adaptive = false;
    v.block = block;
    const TNervConfig c = auto_config(96, 64, 4, 40000, v);
    TNervDecoder dec(c);
    torch::NoGradGuard ng;
    // Independent count: every conv's weight elements times the size of the map it runs on, observed by running
    // the blocks one at a time.
    const auto tau = torch::zeros({1});
    const auto tcode = torch::zeros({1, c.tcode_dim});
    std::vector<torch::Tensor> in{torch::zeros({1, c.emb_channels, c.emb_h, c.emb_w})};
    for (const auto& g : dec->grids) in.push_back(sample_temporal_grid(g, tau));
    const auto x0 = torch::cat(in, 1);
    int64_t macs = dec->pre->weight.numel() * x0.size(2) * x0.size(3);
    torch::Tensor x = dec->pre->forward(x0);
    for (size_t i = 0; i < dec->blocks->size(); ++i) {
      auto b = dec->blocks[i]->as<TNervBlock>();
      const int64_t area = x.size(2) * x.size(3);
      macs += b->conv->weight.numel() * area;
      if (b->depthwise) macs += b->depthwise->weight.numel() * area;
      if (b->modulation) macs += b->modulation->weight.numel();
      x = b->forward(x, tcode);
      if (c.flow && int(i) == TNervConfig::kFlowBlock) macs += dec->flow_head->weight.numel() * x.size(2) * x.size(3);
    }
    macs += dec->head->weight.numel() * x.size(2) * x.size(3);
    CHECK(x.size(2) == c.coded_height());
    CHECK(c.decoder_macs_per_frame() == macs);
  }
  // The paper's 3.0M model at 1080p: tens of GMACs per frame, the scale a GPU decodes in milliseconds.
  const TNervConfig p = named_config("3.0m", 1920, 1080, 600);
  CHECK(p.decoder_macs_per_frame() > 10'000'000'000LL);
  CHECK(p.decoder_macs_per_frame() < 1'000'000'000'000LL);
}
