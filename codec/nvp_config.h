// NVP (Kim et al., "Scalable Neural Video Representations with Learnable Positional Features", NeurIPS 2022):
// every dimension of the model. docs/nvp.md is the specification; the numbers below follow the paper's appendix
// (A.2) and the public reference implementation (subin-kim-cv/NVP: tiny-cuda-nn grid encodings, sparsegrid.py,
// modulation.py, dataio.py).
//
// What is stored (and counted as the model size):
//   keyframes  three multi-resolution dense 2D grids (planes xy, xt, yt): L levels, level l is R_l x R_l cells of
//              F features, R_l = ceil(base * scale^l - 1) + 1; every plane has the same levels;
//   sparse     the sparse positional features, a dense 3D grid [T', H', W', F'] (cells per frame, rows, columns);
//   network    the modulator (LeakyReLU MLP, each layer re-reading the latent) and the SIREN synthesizer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bitstream/nvc_file.h"

namespace nvc {

struct NvpConfig {
  std::string name = "auto";  // configuration it was built from (informational)
  int width = 0, height = 0, frames = 0;

  // Learnable keyframes (the three planes share these).
  int levels = 16;
  int base_resolution = 16;
  double per_level_scale = 1.35;
  int features = 2;           // F per level: 2 (NVP-S), 4 (NVP-L)

  // Sparse positional features [sparse_t, sparse_h, sparse_w, sparse_features].
  int sparse_t = 0, sparse_h = 0, sparse_w = 0;
  int sparse_features = 2;

  // Modulated SIREN: `layers` hidden sine layers of width `hidden` (the first reads the 1-D time input), then a
  // linear RGB head; the modulator has one LeakyReLU layer per hidden sine layer.
  int hidden = 128;
  int layers = 3;
  double omega_first = 30.0;  // sin(omega_first * (W t + b)) in the first layer
  double omega_hidden = 1.0;  // sin(omega_hidden * (W h + b)) in the others

  static constexpr int kSparseNeighbours = 9;  // 3x3 spatial neighbourhood at the nearest time cell
  static constexpr double kLeakySlope = 0.01;  // torch.nn.LeakyReLU's default, as in the reference

  // Level l: scale_l = base * per_level_scale^l - 1 (in double, as the reference's compression script computes
  // it), R_l = ceil(scale_l) + 1. A coordinate c in [0, 1] maps to p = c * scale_l + 0.5.
  double level_scale(int l) const;
  int level_resolution(int l) const;
  std::vector<int> level_resolutions() const;
  std::vector<int64_t> level_offsets() const;  // first row of level l in a plane's [cells, F] table; L+1 values

  int64_t plane_cells() const;          // sum over levels of R_l^2
  int64_t keyframe_plane_params() const { return plane_cells() * features; }
  int64_t keyframe_params() const { return 3 * keyframe_plane_params(); }
  int64_t sparse_params() const { return int64_t(sparse_t) * sparse_h * sparse_w * sparse_features; }
  int latent_dim() const { return 3 * levels * features + kSparseNeighbours * sparse_features; }
  int64_t modulator_params() const;
  int64_t synthesizer_params() const;
  int64_t network_params() const { return modulator_params() + synthesizer_params(); }
  int64_t grid_params() const { return keyframe_params() + sparse_params(); }
  int64_t stored_params() const { return grid_params() + network_params(); }
  // Bits per pixel with every stored parameter at `bits` bits (no entropy coding, no headers).
  double bpp_at_bits(double bits) const;
  // The reference's "quantized bpp": grids at 8 bits, modulator and synthesizer at 32 bits. This is the formula
  // behind the paper's 0.875 (NVP-S) and 1.056 (ShakeNDry, 300 frames).
  double reference_bpp() const;

  // Throws std::invalid_argument naming the first out-of-range value (also used by from_description).
  void validate() const;

  // .nvc model description, kind "nvp". from_description refuses hostile values with bitstream::FormatError.
  bitstream::ModelDescription to_description() const;
  static NvpConfig from_description(const bitstream::ModelDescription& d, const bitstream::SequenceHeader& seq);

  std::string summary() const;  // one line for logs
};

// Sparse grid of the paper scaled to a video: 300 x 300 cells for 1920 x 1080 (rows: 1080/300 = 3.6 pixels a
// cell, columns: 1920/300 = 6.4), i.e. H' = ceil(300 H / 1080), W' = ceil(300 W / 1920), and one cell per frame
// (T' = frames: 600 for the 600-frame UVG videos, 300 for the 300-frame ShakeNDry).
void paper_sparse_grid(int width, int height, int frames, int& t, int& h, int& w);

// "nvp-s" (F = F' = 2) or "nvp-l" (F = F' = 4): the paper's architecture for a video of the given size and length
// (keyframes fixed as in the paper, sparse grid by paper_sparse_grid). Throws std::invalid_argument otherwise.
NvpConfig named_nvp_config(const std::string& name, int width, int height, int frames);
std::vector<std::string> named_nvp_config_names();

// A configuration within a budget of stored parameters (see docs/nvp.md, "auto"):
//  1. F = F' = 4 when the budget pays for NVP-L at this size, else 2;
//  2. network width 128 (the paper's), halved while the modulator + synthesizer exceed a quarter of the budget
//     (down to 16);
//  3. keyframes: the most levels (<= 16, finest dropped first) whose three planes fit in the paper's NVP-S share of
//     the grids (keyframes / (keyframes + sparse) = 20.4% at 1080p x 600), at least one level;
//  4. sparse grid: what is left, T' = frames and H', W' the paper's cell shape scaled by one factor (at most one
//     cell per pixel); when even a 1 x 1 grid per frame does not fit, T' shrinks.
// Throws std::invalid_argument when the budget cannot pay for the smallest such model.
NvpConfig auto_nvp_config(int width, int height, int frames, int64_t param_budget);

}  // namespace nvc
