#include "codec/nvp_config.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace nvc {
namespace {

// The paper's sparse grid at 1920 x 1080 (appendix A.2).
constexpr int kPaperSparseCells = 300;
constexpr int kPaperWidth = 1920, kPaperHeight = 1080;
// Keyframes' share of the grids in NVP-S at 1080p x 600 frames: 27,696,672 / (27,696,672 + 108,000,000).
constexpr double kKeyframeShare = 0.204;

// Limits of a valid configuration; a description outside them is hostile rather than ambitious.
constexpr int kMaxLevels = 24, kMaxFeatures = 16, kMaxResolution = 16384, kMaxHidden = 1024, kMaxLayers = 16;
// The container's own bound on all tensor elements together (NVP-L at 1080p x 600 frames is 2^28).
constexpr int64_t kMaxStoredParams = int64_t(1) << 31;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("NVP configuration: " + what);
}

void range(const std::string& what, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi)) {  // also refuses NaN
    std::ostringstream m;
    m << "'" << what << "' = " << v << " is outside [" << lo << ", " << hi << "]";
    require(false, m.str());
  }
}

int64_t linear_params(int64_t in, int64_t out) { return in * out + out; }

}  // namespace

double NvpConfig::level_scale(int l) const {
  return std::exp(double(l) * std::log(per_level_scale)) * double(base_resolution) - 1.0;
}

int NvpConfig::level_resolution(int l) const { return int(std::ceil(level_scale(l))) + 1; }

std::vector<int> NvpConfig::level_resolutions() const {
  std::vector<int> r;
  for (int l = 0; l < levels; ++l) r.push_back(level_resolution(l));
  return r;
}

std::vector<int64_t> NvpConfig::level_offsets() const {
  std::vector<int64_t> o{0};
  for (int l = 0; l < levels; ++l) {
    const int64_t r = level_resolution(l);
    o.push_back(o.back() + r * r);
  }
  return o;
}

int64_t NvpConfig::plane_cells() const { return level_offsets().back(); }

int64_t NvpConfig::modulator_params() const {
  // Layer 0 reads z; layer k > 0 reads [h_{k-1}, z].
  int64_t n = linear_params(latent_dim(), hidden);
  for (int k = 1; k < layers; ++k) n += linear_params(int64_t(hidden) + latent_dim(), hidden);
  return n;
}

int64_t NvpConfig::synthesizer_params() const {
  return linear_params(1, hidden) + int64_t(layers - 1) * linear_params(hidden, hidden) + linear_params(hidden, 3);
}

double NvpConfig::bpp_at_bits(double bits) const {
  return double(stored_params()) * bits / (double(width) * double(height) * double(frames));
}

double NvpConfig::reference_bpp() const {
  return (8.0 * double(grid_params()) + 32.0 * double(network_params())) /
         (double(width) * double(height) * double(frames));
}

void NvpConfig::validate() const {
  range("width", width, 1, 65536);
  range("height", height, 1, 65536);
  range("frames", frames, 1, 1000000);
  range("levels", levels, 1, kMaxLevels);
  range("base resolution", base_resolution, 2, kMaxResolution);
  range("per-level scale", per_level_scale, 1.0, 4.0);
  range("features per level", features, 1, kMaxFeatures);
  // The finest level is the largest; checking it bounds all of them (scale >= 1).
  range("finest level resolution", level_scale(levels - 1) + 2.0, 2, kMaxResolution);
  range("sparse grid T", sparse_t, 1, 1000000);
  range("sparse grid H", sparse_h, 1, kMaxResolution);
  range("sparse grid W", sparse_w, 1, kMaxResolution);
  range("sparse features", sparse_features, 1, kMaxFeatures);
  range("hidden width", hidden, 1, kMaxHidden);
  range("sine layers", layers, 1, kMaxLayers);
  range("omega first", omega_first, 1e-3, 1e4);
  range("omega hidden", omega_hidden, 1e-3, 1e4);
  // Products in double first: a hostile file must not overflow int64 on the way to the check.
  const double cells = double(sparse_t) * sparse_h * sparse_w * sparse_features;
  require(cells <= double(kMaxStoredParams), "sparse grid is implausibly large");
  require(double(stored_params()) <= double(kMaxStoredParams), "model is implausibly large (" +
                                                                   std::to_string(stored_params()) + " parameters)");
}

bitstream::ModelDescription NvpConfig::to_description() const {
  bitstream::ModelDescription d;
  d.kind = "nvp";
  d.ints["keyframes"] = {levels, base_resolution, features};
  d.reals["per_level_scale"] = {per_level_scale};
  d.ints["sparse"] = {sparse_t, sparse_h, sparse_w, sparse_features};
  d.ints["network"] = {hidden, layers};
  d.reals["omega"] = {omega_first, omega_hidden};
  d.strings["config"] = name;
  return d;
}

NvpConfig NvpConfig::from_description(const bitstream::ModelDescription& d, const bitstream::SequenceHeader& seq) {
  if (d.kind != "nvp") throw bitstream::FormatError("unsupported model kind '" + d.kind + "' (expected nvp)");
  const auto& kf = d.get_ints("keyframes");
  const auto& sp = d.get_ints("sparse");
  const auto& net = d.get_ints("network");
  const auto& om = d.get_reals("omega");
  if (kf.size() != 3 || sp.size() != 4 || net.size() != 2 || om.size() != 2)
    throw bitstream::FormatError("NVP description has the wrong number of values");
  // Range-check the int64 values before narrowing them to int.
  auto narrow = [](const char* what, int64_t v) {
    if (v < 0 || v > 1000000) {
      std::ostringstream m;
      m << "model parameter '" << what << "' = " << v << " is outside [0, 1000000]";
      throw bitstream::FormatError(m.str());
    }
    return int(v);
  };
  NvpConfig c;
  c.width = int(seq.width);
  c.height = int(seq.height);
  c.frames = int(seq.frame_count);
  c.levels = narrow("keyframe levels", kf[0]);
  c.base_resolution = narrow("base resolution", kf[1]);
  c.features = narrow("keyframe features", kf[2]);
  c.per_level_scale = d.get_real("per_level_scale");
  c.sparse_t = narrow("sparse T", sp[0]);
  c.sparse_h = narrow("sparse H", sp[1]);
  c.sparse_w = narrow("sparse W", sp[2]);
  c.sparse_features = narrow("sparse features", sp[3]);
  c.hidden = narrow("hidden width", net[0]);
  c.layers = narrow("sine layers", net[1]);
  c.omega_first = om[0];
  c.omega_hidden = om[1];
  c.name = d.string_or("config", "auto");
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw bitstream::FormatError(e.what());
  }
  return c;
}

std::string NvpConfig::summary() const {
  std::ostringstream s;
  s << "NVP " << name << ": keyframes 3 x " << levels << " levels (base " << base_resolution << ", scale "
    << per_level_scale << ", " << level_resolution(0) << ".." << level_resolution(levels - 1) << ") x F " << features
    << ", sparse " << sparse_t << 'x' << sparse_h << 'x' << sparse_w << 'x' << sparse_features << ", latent "
    << latent_dim() << ", SIREN " << layers << 'x' << hidden << " (omega " << omega_first << ") modulated"
    << "; params: keyframes " << keyframe_params() << " + sparse " << sparse_params() << " + network "
    << network_params() << " = " << stored_params();
  return s.str();
}

void paper_sparse_grid(int width, int height, int frames, int& t, int& h, int& w) {
  require(width > 0 && height > 0 && frames > 0, "empty video");
  h = int((int64_t(kPaperSparseCells) * height + kPaperHeight - 1) / kPaperHeight);
  w = int((int64_t(kPaperSparseCells) * width + kPaperWidth - 1) / kPaperWidth);
  t = frames;
}

std::vector<std::string> named_nvp_config_names() { return {"nvp-s", "nvp-l"}; }

NvpConfig named_nvp_config(const std::string& name, int width, int height, int frames) {
  NvpConfig c;
  if (name == "nvp-s") c.features = c.sparse_features = 2;
  else if (name == "nvp-l") c.features = c.sparse_features = 4;
  else throw std::invalid_argument("unknown NVP configuration '" + name + "' (expected auto, nvp-s or nvp-l)");
  c.name = name;
  c.width = width;
  c.height = height;
  c.frames = frames;
  paper_sparse_grid(width, height, frames, c.sparse_t, c.sparse_h, c.sparse_w);
  c.validate();
  return c;
}

NvpConfig auto_nvp_config(int width, int height, int frames, int64_t budget) {
  require(width > 0 && height > 0 && frames > 0, "empty video");
  NvpConfig c = named_nvp_config("nvp-l", width, height, frames);
  c.name = "auto";
  if (c.stored_params() > budget) c.features = c.sparse_features = 2;
  // 2. network width.
  while (c.hidden > 16 && c.network_params() * 4 > budget) c.hidden /= 2;
  // 3. keyframe levels within their share of what the network leaves.
  const int64_t grids = budget - c.network_params();
  if (grids < 3 * 16 * 16 * c.features + c.sparse_features) {
    std::ostringstream m;
    m << "a budget of " << budget << " parameters cannot pay for an NVP model of a " << width << "x" << height
      << " video (the network alone takes " << c.network_params() << ")";
    throw std::invalid_argument(m.str());
  }
  c.levels = 16;
  while (c.levels > 1 && double(c.keyframe_params()) > kKeyframeShare * double(grids)) --c.levels;
  // 4. sparse grid: the largest common factor s on the paper's cell shape (at most one cell per pixel).
  const int64_t left = (budget - c.network_params() - c.keyframe_params()) / c.sparse_features;
  const double h0 = double(kPaperSparseCells) * height / kPaperHeight, w0 = double(kPaperSparseCells) * width / kPaperWidth;
  auto cells_at = [&](double s, int& h, int& w) {
    h = std::clamp(int(std::floor(s * h0)), 1, height);
    w = std::clamp(int(std::floor(s * w0)), 1, width);
    return int64_t(h) * w * frames;
  };
  double lo = 0.0, hi = 1080.0 / 300.0 * 2.0;  // beyond hi both sides are clamped to the pixel size anyway
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    int h, w;
    if (cells_at(mid, h, w) <= left) lo = mid; else hi = mid;
  }
  int h, w;
  cells_at(lo, h, w);
  c.sparse_h = h;
  c.sparse_w = w;
  c.sparse_t = frames;
  if (int64_t(h) * w * frames > left) c.sparse_t = int(std::max<int64_t>(1, left / (int64_t(h) * w)));
  c.validate();
  return c;
}

}  // namespace nvc
