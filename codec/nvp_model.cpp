#include "codec/nvp_model.h"

#include "codec/nvp_lookup.h"

#include <cmath>
#include <stdexcept>

namespace nvc {

torch::Tensor keyframe_lookup(const torch::Tensor& table, const torch::Tensor& uv, const std::vector<double>& scales,
                              const std::vector<int>& resolutions) {
  TORCH_CHECK(table.dim() == 2, "keyframe_lookup: table must be [cells, F]");
  TORCH_CHECK(uv.dim() == 2 && uv.size(1) == 2, "keyframe_lookup: uv must be [N, 2]");
  TORCH_CHECK(scales.size() == resolutions.size(), "keyframe_lookup: one scale per resolution");
  const torch::Tensor c = uv.to(table.scalar_type());
  std::vector<torch::Tensor> out;
  out.reserve(scales.size());
  int64_t offset = 0;
  for (size_t l = 0; l < scales.size(); ++l) {
    const int64_t R = resolutions[l];
    const torch::Tensor p = c * float(scales[l]) + 0.5f;  // float scale, as tiny-cuda-nn computes it
    const torch::Tensor fl = torch::floor(p);
    const torch::Tensor w = p - fl;  // [N, 2]
    const torch::Tensor i = fl.to(torch::kLong);
    const torch::Tensor lo = i.clamp(0, R - 1), hi = (i + 1).clamp(0, R - 1);
    const torch::Tensor u0 = lo.select(1, 0), u1 = hi.select(1, 0), v0 = lo.select(1, 1), v1 = hi.select(1, 1);
    const torch::Tensor wu = w.select(1, 0).unsqueeze(1), wv = w.select(1, 1).unsqueeze(1);
    auto at = [&](const torch::Tensor& a, const torch::Tensor& b) {
      return table.index_select(0, offset + a + b * R);
    };
    out.push_back(at(u0, v0) * ((1 - wu) * (1 - wv)) + at(u1, v0) * (wu * (1 - wv)) + at(u0, v1) * ((1 - wu) * wv) +
                  at(u1, v1) * (wu * wv));
    offset += R * R;
  }
  TORCH_CHECK(offset == table.size(0), "keyframe_lookup: table has ", table.size(0), " cells, levels need ", offset);
  return torch::cat(out, 1);
}

torch::Tensor sparse_lookup(const torch::Tensor& grid, const torch::Tensor& xyt) {
  TORCH_CHECK(grid.dim() == 4, "sparse_lookup: grid must be [T', H', W', F']");
  TORCH_CHECK(xyt.dim() == 2 && xyt.size(1) == 3, "sparse_lookup: xyt must be [N, 3]");
  const int64_t T = grid.size(0), H = grid.size(1), W = grid.size(2), F = grid.size(3);
  const torch::Tensor c = xyt.to(torch::kFloat);
  auto nearest = [&](int col, int64_t R) {
    return torch::floor(c.select(1, col) * float(R - 1) + 0.5f).to(torch::kLong).clamp(0, R - 1);
  };
  const torch::Tensor ix = nearest(0, H), iy = nearest(1, W), it = nearest(2, T);
  const torch::Tensor flat = grid.reshape({T * H * W, F});
  std::vector<torch::Tensor> out;
  for (int di = -1; di <= 1; ++di)
    for (int dj = -1; dj <= 1; ++dj) {
      const torch::Tensor vx = (ix + di).clamp(0, H - 1), vy = (iy + dj).clamp(0, W - 1);
      out.push_back(flat.index_select(0, (it * H + vx) * W + vy));
    }
  return torch::cat(out, 1);
}

torch::Tensor nvp_pixel_coords(const torch::Tensor& frame, const torch::Tensor& row, const torch::Tensor& col,
                               int width, int height, int frames) {
  auto norm = [](const torch::Tensor& i, int n) {
    return n > 1 ? i.to(torch::kFloat) / float(n - 1) : torch::zeros_like(i, torch::kFloat);
  };
  return torch::stack({norm(row, height), norm(col, width), norm(frame, frames)}, 1);
}

NvpModelImpl::NvpModelImpl(const NvpConfig& c) : cfg(c) {
  cfg.validate();
  for (int l = 0; l < cfg.levels; ++l) {
    scales.push_back(cfg.level_scale(l));
    resolutions.push_back(cfg.level_resolution(l));
  }
  torch::NoGradGuard no_grad;
  auto grid = [&](std::vector<int64_t> shape) { return torch::empty(shape).uniform_(-1e-4, 1e-4); };
  keyframes_xy = register_parameter("keyframes_xy", grid({cfg.plane_cells(), cfg.features}));
  keyframes_xt = register_parameter("keyframes_xt", grid({cfg.plane_cells(), cfg.features}));
  keyframes_yt = register_parameter("keyframes_yt", grid({cfg.plane_cells(), cfg.features}));
  sparse = register_parameter("sparse", grid({cfg.sparse_t, cfg.sparse_h, cfg.sparse_w, cfg.sparse_features}));

  // Modulator: Kaiming normal (fan in, ReLU gain) weights, PyTorch's default biases (the reference's init).
  const int64_t zd = cfg.latent_dim(), H = cfg.hidden;
  modulator = register_module("modulator", torch::nn::ModuleList());
  for (int k = 0; k < cfg.layers; ++k) {
    torch::nn::Linear lin(k == 0 ? zd : H + zd, H);
    torch::nn::init::kaiming_normal_(lin->weight, 0.0, torch::kFanIn, torch::kReLU);
    modulator->push_back(lin);
  }
  // SIREN (lucidrains-style, as the reference): first layer weights and biases U(-1/in, 1/in); the others
  // U(-sqrt(6/in)/omega, sqrt(6/in)/omega) with omega = omega_hidden (the head uses it too).
  synthesizer = register_module("synthesizer", torch::nn::ModuleList());
  for (int k = 0; k <= cfg.layers; ++k) {
    const int64_t in = k == 0 ? 1 : H, out = k == cfg.layers ? 3 : H;
    torch::nn::Linear lin(in, out);
    const double b = k == 0 ? 1.0 / double(in) : std::sqrt(6.0 / double(in)) / cfg.omega_hidden;
    lin->weight.uniform_(-b, b);
    lin->bias.uniform_(-b, b);
    synthesizer->push_back(lin);
  }
}

torch::Tensor NvpModelImpl::latent(const torch::Tensor& xyt) {
  TORCH_CHECK(xyt.dim() == 2 && xyt.size(1) == 3, "NvpModel: coordinates must be [N, 3]");
  const torch::Tensor c = xyt.to(torch::kFloat);
  if (c.is_cuda()) {
    // The fused kernels (codec/nvp_lookup.h): one pass over the points for the three planes and one for the 3x3
    // sparse neighbourhood, forward and backward, instead of ~10 LibTorch ops per level and plane.
    return torch::cat({keyframe_lookup_fused(keyframes_xy, keyframes_yt, keyframes_xt, c, cfg),
                       sparse_lookup_fused(sparse, c)},
                      1);
  }
  const torch::Tensor x = c.select(1, 0), y = c.select(1, 1), t = c.select(1, 2);
  return torch::cat({keyframe_lookup(keyframes_xy, torch::stack({x, y}, 1), scales, resolutions),
                     keyframe_lookup(keyframes_yt, torch::stack({t, y}, 1), scales, resolutions),
                     keyframe_lookup(keyframes_xt, torch::stack({t, x}, 1), scales, resolutions),
                     sparse_lookup(sparse, c)},
                    1);
}

torch::Tensor NvpModelImpl::synth_time(const torch::Tensor& t) const {
  const float n = float(cfg.frames);
  return (t * (n - 1.0f) + 0.5f) / n;
}

torch::Tensor NvpModelImpl::forward(const torch::Tensor& xyt) {
  const torch::Tensor z = latent(xyt);
  torch::Tensor m = z, h = synth_time(xyt.to(torch::kFloat).select(1, 2)).unsqueeze(1);
  for (int k = 0; k < cfg.layers; ++k) {
    const auto& mod = modulator[k]->as<torch::nn::Linear>();
    m = torch::leaky_relu(mod->forward(k == 0 ? z : torch::cat({m, z}, 1)), NvpConfig::kLeakySlope);
    const auto& lin = synthesizer[k]->as<torch::nn::Linear>();
    h = torch::sin((k == 0 ? cfg.omega_first : cfg.omega_hidden) * lin->forward(h)) * m;
  }
  return synthesizer[cfg.layers]->as<torch::nn::Linear>()->forward(h);
}

torch::Tensor nvp_render_frames(NvpModel& model, int first, int count, int64_t chunk_pixels) {
  const auto& cfg = model->cfg;
  if (first < 0 || count < 0 || first > cfg.frames || count > cfg.frames - first)
    throw std::out_of_range("frame range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") is outside the model's " + std::to_string(cfg.frames) + " frames");
  torch::NoGradGuard no_grad;
  const auto dev = model->sparse.device();
  const int64_t H = cfg.height, W = cfg.width, n = int64_t(count) * H * W;
  const auto lopt = torch::TensorOptions().dtype(torch::kLong).device(dev);
  torch::Tensor out = torch::empty({n, 3}, torch::TensorOptions().dtype(torch::kFloat32).device(dev));
  for (int64_t s = 0; s < n; s += chunk_pixels) {
    const int64_t m = std::min(chunk_pixels, n - s);
    const torch::Tensor index = torch::arange(s, s + m, lopt);
    const torch::Tensor frame = index.div(H * W, "floor") + first;
    const torch::Tensor rest = index.remainder(H * W);
    const torch::Tensor xyt = nvp_pixel_coords(frame, rest.div(W, "floor"), rest.remainder(W), int(W), int(H),
                                               cfg.frames);
    out.narrow(0, s, m).copy_((model->forward(xyt) + 1.0) * 0.5);
  }
  return out.clamp_(0.0, 1.0).view({count, H, W, 3}).permute({0, 3, 1, 2}).contiguous();
}

}  // namespace nvc
