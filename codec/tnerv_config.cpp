#include "codec/tnerv_config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace nvc {
namespace {

const double kChannelTaper[6] = {1.0, 0.85, 0.70, 0.60, 0.50, 0.40};
// The paper's grids at 600 frames; auto_config keeps this density of cells per frame.
const int kPaperGridRes[3] = {64, 128, 256};
constexpr double kPaperFrames = 600.0;
// Share of the stored parameters in the paper's 9.3M compression config (Table 8), for large budgets.
constexpr double kEmbeddingShare = 0.24, kGridShare = 0.27;

int64_t conv_params(int64_t cin, int64_t cout, int64_t k) { return cin * cout * k * k + cout; }

void check_range(const std::string& what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    std::ostringstream m;
    m << "model parameter '" << what << "' = " << v << " is outside [" << lo << ", " << hi << "]";
    throw bitstream::FormatError(m.str());
  }
}

std::vector<int> to_ints(const std::vector<int64_t>& v) { return std::vector<int>(v.begin(), v.end()); }
std::vector<int64_t> to_i64(const std::vector<int>& v) { return std::vector<int64_t>(v.begin(), v.end()); }

void set_cells(TNervConfig& c, int rows) {
  c.strides = choose_strides(c.width, c.height, rows);
  const int s = c.total_stride();
  c.emb_h = (c.height + s - 1) / s;
  c.emb_w = (c.width + s - 1) / s;
}

void apply_encoder_variant(TNervConfig& c, const TNervVariant& v) {
  if (v.tiny_encoder) {
    c.enc_channels = {64, 64, 64, 64};
    c.enc_blocks = {1, 1, 1, 1, 1};
  }
  if (!v.augmentation) c.aug_hidden = 0;
}

void apply_block_variant(TNervConfig& c, const TNervVariant& v) {
  c.block = v.block == "auto" ? "hnerv" : v.block;
  if (v.regular_5x5) c.kernels = {5, 5, 5, 5, 5};
  else if (c.block == "compact") c.kernels = {5, 5, 5, 5, 5};  // depthwise: a wide kernel costs next to nothing
}

}  // namespace

int TNervConfig::total_stride() const {
  int s = 1;
  for (int f : strides) s *= f;
  return s;
}

int64_t TNervConfig::decoder_params() const {
  int64_t n = conv_params(decoder_input_channels(), channels[0], pre_kernel);
  for (size_t i = 0; i < strides.size(); ++i) {
    const int64_t cin = channels[i], cout = int64_t(channels[i + 1]) * strides[i] * strides[i];
    if (block == "compact") n += cin * kernels[i] * kernels[i] + cin + conv_params(cin, cout, 1);
    else n += conv_params(cin, cout, kernels[i]);
    if (tcode_dim > 0) n += int64_t(tcode_dim) * 2 * cin + 2 * cin;  // AdaIN projection
  }
  if (flow) n += conv_params(channels[kFlowBlock + 1], 12, 1);
  n += conv_params(channels.back(), flow ? 5 : 3, head_kernel);
  return n;
}

int64_t TNervConfig::decoder_macs_per_frame() const {
  int64_t h = emb_h, w = emb_w;
  int64_t macs = int64_t(decoder_input_channels()) * channels[0] * pre_kernel * pre_kernel * h * w;
  for (size_t i = 0; i < strides.size(); ++i) {
    const int64_t cin = channels[i], cout = int64_t(channels[i + 1]) * strides[i] * strides[i], k = kernels[i];
    if (tcode_dim > 0) macs += int64_t(tcode_dim) * 2 * cin;  // AdaIN projection (once per frame)
    // The convolution runs at the block's input size; PixelShuffle then trades channels for resolution.
    if (block == "compact") macs += (cin * k * k + cin * cout) * h * w;
    else macs += cin * cout * k * k * h * w;
    h *= strides[i];
    w *= strides[i];
    if (flow && int(i) == kFlowBlock) macs += int64_t(channels[i + 1]) * 12 * h * w;
  }
  macs += int64_t(channels.back()) * (flow ? 5 : 3) * head_kernel * head_kernel * h * w;
  return macs;
}

int64_t TNervConfig::grid_params() const {
  int64_t cells = 0;
  for (int r : grid_res) cells += r;
  return cells * grid_channels * emb_h * emb_w;
}

bitstream::ModelDescription TNervConfig::to_description() const {
  bitstream::ModelDescription d;
  d.kind = "tnerv";
  d.ints["strides"] = to_i64(strides);
  d.ints["emb"] = {emb_channels, emb_h, emb_w};
  d.ints["channels"] = to_i64(channels);
  d.ints["kernels"] = to_i64(kernels);
  d.ints["pre_head_kernels"] = {pre_kernel, head_kernel};
  if (!grid_res.empty()) {
    std::vector<int64_t> g{grid_channels};
    for (int r : grid_res) g.push_back(r);
    d.ints["grids"] = g;
  }
  if (tcode_dim > 0) d.ints["tcode"] = {tcode_dim};
  if (flow) d.ints["flow"] = {1};
  d.strings["block"] = block;
  d.strings["config"] = name;
  return d;
}

TNervConfig TNervConfig::from_description(const bitstream::ModelDescription& d, const bitstream::SequenceHeader& seq) {
  if (d.kind != "tnerv") throw bitstream::FormatError("unsupported model kind '" + d.kind + "'");
  TNervConfig c;
  c.width = int(seq.width);
  c.height = int(seq.height);
  c.frames = int(seq.frame_count);
  c.strides = to_ints(d.get_ints("strides"));
  const auto& emb = d.get_ints("emb");
  c.channels = to_ints(d.get_ints("channels"));
  c.kernels = to_ints(d.get_ints("kernels"));
  const auto& ph = d.get_ints("pre_head_kernels");
  if (c.strides.size() != 5 || emb.size() != 3 || c.channels.size() != 6 || c.kernels.size() != 5 || ph.size() != 2)
    throw bitstream::FormatError("T-NeRV description has the wrong number of values");
  for (int s : c.strides) check_range("strides", s, 1, 16);
  for (int ch : c.channels) check_range("channels", ch, 1, 1024);
  for (int k : c.kernels) check_range("kernels", k, 1, 7);
  check_range("pre kernel", ph[0], 1, 7);
  check_range("head kernel", ph[1], 1, 7);
  c.pre_kernel = int(ph[0]);
  c.head_kernel = int(ph[1]);
  check_range("embedding channels", emb[0], 0, 1024);
  check_range("embedding height", emb[1], 1, 1024);
  check_range("embedding width", emb[2], 1, 1024);
  c.emb_channels = int(emb[0]);
  c.emb_h = int(emb[1]);
  c.emb_w = int(emb[2]);
  c.grid_channels = 0;
  if (d.has("grids")) {
    const auto& g = d.get_ints("grids");
    if (g.size() < 2 || g.size() > 9) throw bitstream::FormatError("T-NeRV grids need a width and 1..8 resolutions");
    check_range("grid channels", g[0], 1, 1024);
    c.grid_channels = int(g[0]);
    for (size_t i = 1; i < g.size(); ++i) {
      check_range("grid resolution", g[i], 1, 65536);
      c.grid_res.push_back(int(g[i]));
    }
  }
  c.tcode_dim = 0;
  if (d.has("tcode")) {
    const int64_t t = d.get_int("tcode");
    check_range("tcode", t, 1, 1024);
    c.tcode_dim = int(t);
  }
  c.flow = false;
  if (d.has("flow")) {
    const int64_t f = d.get_int("flow");
    check_range("flow", f, 0, 1);
    c.flow = f == 1;
  }
  c.block = d.string_or("block", "hnerv");
  if (c.block != "hnerv" && c.block != "compact")
    throw bitstream::FormatError("unknown T-NeRV block type '" + c.block + "'");
  c.name = d.string_or("config", "auto");
  if (c.decoder_input_channels() < 1) throw bitstream::FormatError("T-NeRV model has neither embeddings nor grids");
  for (int k : c.kernels)
    if (k % 2 == 0) throw bitstream::FormatError("T-NeRV kernel sizes must be odd");
  if (c.pre_kernel % 2 == 0 || c.head_kernel % 2 == 0) throw bitstream::FormatError("T-NeRV kernel sizes must be odd");
  const int64_t cw = int64_t(c.emb_w) * c.total_stride(), chh = int64_t(c.emb_h) * c.total_stride();
  if (cw < c.width || chh < c.height || cw > 2 * int64_t(c.width) + 4096 || chh > 2 * int64_t(c.height) + 4096)
    throw bitstream::FormatError("T-NeRV output size does not match the sequence size");
  // 2^27 stored parameters is 14x the paper's largest model; beyond that a file is hostile, not ambitious.
  if (c.stored_params() > (int64_t(1) << 27)) throw bitstream::FormatError("T-NeRV model is implausibly large");
  return c;
}

std::string TNervConfig::summary() const {
  std::ostringstream s;
  s << "T-NeRV " << name << ": strides";
  for (int f : strides) s << ' ' << f;
  s << ", cells " << emb_h << 'x' << emb_w << ", embeddings " << emb_channels;
  if (!grid_res.empty()) {
    s << ", grids " << grid_channels << "x(";
    for (size_t i = 0; i < grid_res.size(); ++i) s << (i ? "," : "") << grid_res[i];
    s << ')';
  }
  s << ", channels";
  for (int c : channels) s << ' ' << c;
  s << ", " << block << " kernels";
  for (int k : kernels) s << ' ' << k;
  s << (tcode_dim > 0 ? ", AdaIN " + std::to_string(tcode_dim) : ", no AdaIN") << (flow ? ", flow" : ", no flow");
  s << "; params: decoder " << decoder_params() << " + grids " << grid_params() << " + embeddings "
    << embedding_params() << " = " << stored_params();
  return s.str();
}

std::vector<int> choose_strides(int width, int height, int max_rows) {
  (void)width;
  // The smallest total stride S = 2^a 3^b 5^c (b, c <= 2) that puts at most max_rows embedding rows on the frame:
  // 720p -> 80 and 1080p -> 120 (9 rows), 960p -> 120 (8 rows), as in the paper.
  max_rows = std::max(1, max_rows);
  int best = 0;
  for (int a = 0; a <= 12; ++a)
    for (int b = 0; b <= 2; ++b)
      for (int c = 0; c <= 2; ++c) {
        const int64_t s = (int64_t(1) << a) * (b == 0 ? 1 : b == 1 ? 3 : 9) * (c == 0 ? 1 : c == 1 ? 5 : 25);
        if (s * max_rows < height || s > 4096) continue;
        if (best == 0 || s < best) best = int(s);
      }
  if (best == 0) best = 4096;
  std::vector<int> f;
  for (int p : {5, 3, 2})
    while (best % p == 0) {
      f.push_back(p);
      best /= p;
    }
  std::sort(f.begin(), f.end());
  while (f.size() > 5) {  // merge the two smallest factors (2*2 -> 4, 2*3 -> 6)
    f[1] *= f[0];
    f.erase(f.begin());
    std::sort(f.begin(), f.end());
  }
  while (f.size() < 5) f.insert(f.begin(), 1);
  std::sort(f.rbegin(), f.rend());
  return f;
}

void TNervVariant::apply_ablations(const std::string& list) {
  std::string item;
  std::istringstream in(list);
  while (std::getline(in, item, ',')) {
    std::string k;
    for (char ch : item)
      if (!std::isspace(static_cast<unsigned char>(ch))) k += char(std::toupper(static_cast<unsigned char>(ch)));
    if (k.empty()) continue;
    if (k == "E1") grids = false;
    else if (k == "E2") embeddings = false;
    else if (k == "E3") augmentation = false;
    else if (k == "E4") tiny_encoder = true;
    else if (k == "E5") augmentation = false, tiny_encoder = true;
    else if (k == "D1") flow = false;
    else if (k == "D2") adain = false;
    else if (k == "D3") regular_5x5 = true;
    else throw std::invalid_argument("unknown ablation '" + item + "' (expected E1..E5, D1..D3)");
  }
  if (!embeddings && !grids) throw std::invalid_argument("ablations E1 and E2 together leave the decoder no input");
}

std::string TNervVariant::describe() const {
  std::vector<std::string> on;
  if (!grids) on.push_back("E1");
  if (!embeddings) on.push_back("E2");
  if (!augmentation && tiny_encoder) on.push_back("E5");
  else {
    if (!augmentation) on.push_back("E3");
    if (tiny_encoder) on.push_back("E4");
  }
  if (!flow) on.push_back("D1");
  if (!adain) on.push_back("D2");
  if (regular_5x5) on.push_back("D3");
  std::string s;
  for (const auto& x : on) s += (s.empty() ? "" : "+") + x;
  if (block != "auto") s += (s.empty() ? "" : "+") + block;
  return s.empty() ? "full" : s;
}

TNervConfig auto_config(int width, int height, int frames, int64_t param_budget, const TNervVariant& v) {
  if (width <= 0 || height <= 0 || frames <= 0) throw std::invalid_argument("auto_config: empty video");
  if (!v.embeddings && !v.grids) throw std::invalid_argument("auto_config: neither embeddings nor grids");
  if (v.size_adaptive && param_budget < kFullModelMinParams && v.embeddings) {
    TNervVariant small = v;
    small.size_adaptive = false;
    small.grids = false;
    small.flow = false;
    small.augmentation = false;
    if (small.block == "auto") small.block = "compact";
    return auto_config(width, height, frames, param_budget, small);
  }
  TNervConfig c;
  c.name = "auto";
  c.width = width;
  c.height = height;
  c.frames = frames;
  c.kernels = {1, 3, 5, 5, 5};  // HNeRV's kernels; they reproduce the paper's parameter totals
  c.pre_kernel = 3;
  c.head_kernel = 3;
  c.flow = v.flow;
  apply_block_variant(c, v);
  c.enc_channels = {64, 128, 256, 256};
  c.enc_blocks = {3, 3, 9, 6, 3};
  apply_encoder_variant(c, v);

  if (v.grids)
    for (int base : kPaperGridRes) {
      const int r = int(std::lround(double(frames) * base / kPaperFrames));
      c.grid_res.push_back(std::clamp(r, std::min(2, frames), std::max(2, frames)));
    }
  int64_t grid_cells_per_channel = 0;
  for (int r : c.grid_res) grid_cells_per_channel += r;

  // The paper's split is for millions of parameters. Small models need a larger decoder share: on the 192x144 clip
  // at 26k parameters, halving the embedding and grid shares gains 1.5 dB (20 epochs). The shares move from half
  // the paper's at 25k parameters to the paper's at 5M, linearly in log(budget).
  const double scale = 0.5 + 0.5 * std::clamp(std::log(double(param_budget) / 25e3) / std::log(5e6 / 25e3), 0.0, 1.0);
  const double kES = kEmbeddingShare * scale, kGS = kGridShare * scale;
  double emb_share = v.embeddings ? kES : 0.0, grid_share = v.grids ? kGS : 0.0;
  if (!v.grids) emb_share += kGS;
  if (!v.embeddings) grid_share += kES;
  // About 9 cells per column as in the paper; fewer when the budget cannot pay for two channels per cell.
  for (int rows = 9; rows >= 1; --rows) {
    set_cells(c, rows);
    const int64_t cells = int64_t(v.embeddings ? frames : grid_cells_per_channel) * c.emb_h * c.emb_w;
    if (cells * 2 <= param_budget / 3) break;
  }
  const double cells = double(c.emb_h) * c.emb_w;
  c.emb_channels = v.embeddings
                       ? int(std::clamp<int64_t>(std::llround(emb_share * param_budget / (frames * cells)), 1, 256))
                       : 0;
  c.grid_channels =
      v.grids ? int(std::clamp<int64_t>(
                    std::llround(grid_share * param_budget / (double(grid_cells_per_channel) * cells)), 1, 256))
              : 0;
  // The paper's 128-value temporal code at 9.3M parameters, shrinking with the square root of the budget.
  c.tcode_dim = v.adain ? int(std::clamp<int64_t>(std::llround(128.0 * std::sqrt(param_budget / 9.3e6)), 4, 128)) : 0;

  // Largest C0 whose decoder fits the rest of the budget.
  auto set_channels = [&](int c0) {
    c.channels.resize(6);
    for (int i = 0; i < 6; ++i) c.channels[i] = std::max(2, int(std::lround(c0 * kChannelTaper[i])));
  };
  int lo = 2, hi = 1024;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    set_channels(mid);
    if (c.stored_params() <= param_budget) lo = mid; else hi = mid - 1;
  }
  set_channels(lo);
  return c;
}

std::vector<std::string> named_config_names() { return {"12.4m", "3.0m", "9.3m"}; }

TNervConfig named_config(const std::string& name, int width, int height, int frames, const TNervVariant& v) {
  if (width <= 0 || height <= 0 || frames <= 0) throw std::invalid_argument("named_config: empty video");
  TNervConfig c;
  c.name = name;
  c.width = width;
  c.height = height;
  c.frames = frames;
  c.kernels = {1, 3, 5, 5, 5};
  c.pre_kernel = 3;
  c.head_kernel = 3;
  c.enc_blocks = {3, 3, 9, 6, 3};
  c.grid_res = {64, 128, 256};
  c.tcode_dim = 128;
  c.flow = true;
  if (name == "12.4m") {  // Table 6: video representation at 1280x720
    c.emb_channels = 35;
    c.grid_channels = 30;
    c.enc_channels = {64, 128, 256, 512};
    c.channels = {231, 192, 160, 134, 111, 93};
  } else if (name == "3.0m") {  // Table 7: video representation at 1920x960
    c.emb_channels = 8;
    c.grid_channels = 11;
    c.enc_channels = {64, 128, 256, 256};
    c.channels = {102, 85, 71, 59, 49, 41};
  } else if (name == "9.3m") {  // Table 8: video compression at 1920x1080
    c.emb_channels = 26;
    c.grid_channels = 40;
    c.enc_channels = {64, 128, 256, 256};
    c.channels = {160, 136, 112, 96, 80, 64};
  } else {
    throw std::invalid_argument("unknown T-NeRV configuration '" + name + "' (expected auto, 12.4m, 3.0m or 9.3m)");
  }
  // The tables' strides (5,2,2,2,2) at 720p and (5,3,2,2,2) at 960p/1080p are what choose_strides picks there.
  set_cells(c, 9);
  if (!v.grids) c.grid_res.clear(), c.grid_channels = 0;
  if (!v.embeddings) c.emb_channels = 0;
  if (!v.adain) c.tcode_dim = 0;
  c.flow = v.flow;
  apply_block_variant(c, v);
  apply_encoder_variant(c, v);
  return c;
}

}  // namespace nvc
