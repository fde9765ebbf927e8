#include "codec/tnerv_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace nvc {
namespace {

const double kChannelTaper[6] = {1.0, 0.85, 0.70, 0.60, 0.50, 0.40};

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

}  // namespace

int TNervConfig::total_stride() const {
  int s = 1;
  for (int f : strides) s *= f;
  return s;
}

int64_t TNervConfig::decoder_params() const {
  int64_t n = conv_params(emb_channels, channels[0], pre_kernel);
  for (size_t i = 0; i < strides.size(); ++i)
    n += conv_params(channels[i], int64_t(channels[i + 1]) * strides[i] * strides[i], kernels[i]);
  n += conv_params(channels.back(), 3, head_kernel);
  return n;
}

bitstream::ModelDescription TNervConfig::to_description() const {
  bitstream::ModelDescription d;
  d.kind = "tnerv";
  d.ints["strides"] = to_i64(strides);
  d.ints["emb"] = {emb_channels, emb_h, emb_w};
  d.ints["channels"] = to_i64(channels);
  d.ints["kernels"] = to_i64(kernels);
  d.ints["pre_head_kernels"] = {pre_kernel, head_kernel};
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
  check_range("embedding channels", emb[0], 1, 1024);
  check_range("embedding height", emb[1], 1, 1024);
  check_range("embedding width", emb[2], 1, 1024);
  c.emb_channels = int(emb[0]);
  c.emb_h = int(emb[1]);
  c.emb_w = int(emb[2]);
  for (int k : c.kernels)
    if (k % 2 == 0) throw bitstream::FormatError("T-NeRV kernel sizes must be odd");
  if (c.pre_kernel % 2 == 0 || c.head_kernel % 2 == 0) throw bitstream::FormatError("T-NeRV kernel sizes must be odd");
  const int64_t cw = int64_t(c.emb_w) * c.total_stride(), chh = int64_t(c.emb_h) * c.total_stride();
  if (cw < c.width || chh < c.height || cw > 2 * int64_t(c.width) + 4096 || chh > 2 * int64_t(c.height) + 4096)
    throw bitstream::FormatError("T-NeRV output size does not match the sequence size");
  // The largest activation (channels * S^2 at the last stage) must stay sane.
  // 2^27 stored parameters is 14x the paper's largest model; beyond that a file is hostile, not ambitious.
  if (c.stored_params() > (int64_t(1) << 27)) throw bitstream::FormatError("T-NeRV model is implausibly large");
  return c;
}

std::string TNervConfig::summary() const {
  std::ostringstream s;
  s << "T-NeRV strides";
  for (int f : strides) s << ' ' << f;
  s << ", embeddings " << emb_channels << 'x' << emb_h << 'x' << emb_w << ", channels";
  for (int c : channels) s << ' ' << c;
  s << ", kernels";
  for (int k : kernels) s << ' ' << k;
  s << "; params: decoder " << decoder_params() << " + embeddings " << embedding_params() << " = " << stored_params();
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

TNervConfig auto_config(int width, int height, int frames, int64_t param_budget) {
  if (width <= 0 || height <= 0 || frames <= 0) throw std::invalid_argument("auto_config: empty video");
  TNervConfig c;
  c.width = width;
  c.height = height;
  c.frames = frames;
  c.kernels = {1, 3, 5, 5, 5};  // reproduces the paper's parameter totals
  c.pre_kernel = 3;
  c.head_kernel = 3;
  // About 9 embedding rows as in the paper; fewer when the budget cannot pay for even two channels per cell.
  for (int rows = 9; rows >= 1; --rows) {
    c.strides = choose_strides(width, height, rows);
    const int s = c.total_stride();
    c.emb_h = (height + s - 1) / s;
    c.emb_w = (width + s - 1) / s;
    if (int64_t(frames) * c.emb_h * c.emb_w * 2 <= param_budget / 3) break;
  }
  // Embeddings take about a quarter of the budget (the paper's 9.3M split stores 24% as embeddings).
  const int64_t cells = int64_t(frames) * c.emb_h * c.emb_w;
  c.emb_channels = int(std::clamp<int64_t>(std::llround(0.25 * double(param_budget) / double(cells)), 1, 64));
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
  c.enc_channels = {64, 128, 256, 256};
  c.enc_blocks = {3, 3, 9, 6, 3};
  return c;
}

}  // namespace nvc
