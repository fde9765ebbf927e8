#include "codec/nvp_lookup.h"

#include <climits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec/nvp_model.h"

#ifdef NVC_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "codec/cuda/nvp_lookup.h"
#endif

namespace nvc {

namespace {

constexpr int kMaxLevels = 24, kMaxFeatures = 16;  // NvpConfig's (and the kernels') bounds

[[noreturn]] void fail(const char* fn, const std::string& msg) { throw std::invalid_argument(std::string(fn) + ": " + msg); }

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream o;
  o << t.sizes();
  return o.str();
}

void check_coords(const char* fn, const torch::Tensor& xyt) {
  if (!xyt.defined()) fail(fn, "'xyt' is undefined");
  if (xyt.dim() != 2 || xyt.size(1) != 3) fail(fn, "'xyt' has shape " + shape_of(xyt) + ", expected [N, 3]");
  if (!xyt.is_floating_point())
    fail(fn, std::string("'xyt' is ") + c10::toString(xyt.scalar_type()) + "; floating-point coordinates expected");
}

void check_table(const char* fn, const char* name, const torch::Tensor& t, const torch::Tensor& xyt) {
  if (!t.defined()) fail(fn, std::string("'") + name + "' is undefined");
  if (t.scalar_type() != torch::kFloat32)
    fail(fn, std::string("'") + name + "' is " + c10::toString(t.scalar_type()) + "; float32 expected");
  if (t.device() != xyt.device())
    fail(fn, std::string("'") + name + "' is on " + t.device().str() + " but 'xyt' is on " + xyt.device().str());
  const auto dev = t.device();
  if (!dev.is_cpu() && !dev.is_cuda()) fail(fn, "tensors on " + dev.str() + ": only CPU and CUDA are supported");
#ifndef NVC_HAVE_CUDA
  if (dev.is_cuda()) fail(fn, "tensors on " + dev.str() + " but this build has no CUDA kernels");
#endif
}

#ifdef NVC_HAVE_CUDA
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void* current_stream(const torch::Device& d) { return c10::cuda::getCurrentCUDAStream(d.index()).stream(); }

cuda::NvpKeyframeLevels levels_of(const std::vector<double>& scales, const std::vector<int64_t>& res, int64_t F) {
  cuda::NvpKeyframeLevels lv;
  lv.levels = int(scales.size());
  lv.features = int(F);
  lv.offset[0] = 0;
  for (size_t l = 0; l < scales.size(); ++l) {
    lv.scale[l] = float(scales[l]);  // as the reference: c * float(scale_l)
    lv.resolution[l] = int(res[l]);
    lv.offset[l + 1] = lv.offset[l] + res[l] * res[l];
  }
  return lv;
}

// Inputs: the three planes (xy, yt, xt) and the coordinates already float32, contiguous, on one CUDA device.
struct KeyframeFn : torch::autograd::Function<KeyframeFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& xy, const torch::Tensor& yt,
                               const torch::Tensor& xt, const torch::Tensor& xyt, std::vector<double> scales,
                               std::vector<int64_t> res) {
    const c10::cuda::CUDAGuard guard(xyt.device());
    const int64_t n = xyt.size(0), F = xy.size(1);
    const cuda::NvpKeyframeLevels lv = levels_of(scales, res, F);
    torch::Tensor out = torch::empty({n, 3 * int64_t(lv.levels) * F}, xyt.options());
    cuda::launch_nvp_keyframe_forward(xyt.data_ptr<float>(), n, xy.data_ptr<float>(), yt.data_ptr<float>(),
                                      xt.data_ptr<float>(), lv, out.data_ptr<float>(), current_stream(xyt.device()));
    ctx->save_for_backward({xyt});
    ctx->saved_data["scales"] = scales;
    ctx->saved_data["res"] = res;
    ctx->saved_data["cells"] = xy.size(0);
    ctx->saved_data["F"] = F;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor xyt = ctx->get_saved_variables()[0];
    const c10::cuda::CUDAGuard guard(xyt.device());
    const auto scales = ctx->saved_data["scales"].toDoubleVector();
    const auto res = ctx->saved_data["res"].toIntVector();
    const int64_t cells = ctx->saved_data["cells"].toInt(), F = ctx->saved_data["F"].toInt();
    const cuda::NvpKeyframeLevels lv = levels_of(scales, res, F);
    const torch::Tensor g = grads[0].to(torch::kFloat32).contiguous();
    const auto opts = xyt.options();
    torch::Tensor gxy = torch::zeros({cells, F}, opts), gyt = torch::zeros({cells, F}, opts),
                  gxt = torch::zeros({cells, F}, opts);
    cuda::launch_nvp_keyframe_backward(xyt.data_ptr<float>(), xyt.size(0), g.data_ptr<float>(), lv,
                                       gxy.data_ptr<float>(), gyt.data_ptr<float>(), gxt.data_ptr<float>(),
                                       current_stream(xyt.device()));
    // No gradient for the coordinates (inputs, not learnt) nor for the level description.
    return {gxy, gyt, gxt, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

struct SparseFn : torch::autograd::Function<SparseFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& grid, const torch::Tensor& xyt) {
    const c10::cuda::CUDAGuard guard(xyt.device());
    const int64_t n = xyt.size(0), T = grid.size(0), H = grid.size(1), W = grid.size(2), F = grid.size(3);
    torch::Tensor out = torch::empty({n, 9 * F}, xyt.options());
    cuda::launch_nvp_sparse_forward(xyt.data_ptr<float>(), n, grid.data_ptr<float>(), int(T), int(H), int(W), int(F),
                                    out.data_ptr<float>(), current_stream(xyt.device()));
    ctx->save_for_backward({xyt});
    ctx->saved_data["shape"] = std::vector<int64_t>{T, H, W, F};
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor xyt = ctx->get_saved_variables()[0];
    const c10::cuda::CUDAGuard guard(xyt.device());
    const auto s = ctx->saved_data["shape"].toIntVector();
    const torch::Tensor g = grads[0].to(torch::kFloat32).contiguous();
    torch::Tensor gg = torch::zeros({s[0], s[1], s[2], s[3]}, xyt.options());
    cuda::launch_nvp_sparse_backward(xyt.data_ptr<float>(), xyt.size(0), g.data_ptr<float>(), int(s[0]), int(s[1]),
                                     int(s[2]), int(s[3]), gg.data_ptr<float>(), current_stream(xyt.device()));
    return {gg, torch::Tensor()};
  }
};
#endif

}  // namespace

torch::Tensor keyframe_lookup_fused(const torch::Tensor& keyframes_xy, const torch::Tensor& keyframes_yt,
                                    const torch::Tensor& keyframes_xt, const torch::Tensor& xyt, const NvpConfig& cfg) {
  const char* fn = "keyframe_lookup_fused";
  check_coords(fn, xyt);
  if (cfg.levels < 1 || cfg.levels > kMaxLevels)
    fail(fn, "cfg.levels = " + std::to_string(cfg.levels) + " is outside [1, " + std::to_string(kMaxLevels) + "]");
  if (cfg.features < 1 || cfg.features > kMaxFeatures)
    fail(fn, "cfg.features = " + std::to_string(cfg.features) + " is outside [1, " + std::to_string(kMaxFeatures) +
                 "]");
  std::vector<double> scales;
  std::vector<int> resolutions;
  std::vector<int64_t> res64;
  for (int l = 0; l < cfg.levels; ++l) {
    const double s = cfg.level_scale(l);
    // The kernels' bound; also refuses NaN (a broken per-level scale or base resolution).
    if (!(s >= 0.0 && s <= double(1 << 20) - 2.0))
      fail(fn, "level " + std::to_string(l) + " of cfg has scale " + std::to_string(s) + " (bad base resolution or "
                                                                                          "per-level scale)");
    scales.push_back(s);
    resolutions.push_back(cfg.level_resolution(l));
    res64.push_back(resolutions.back());
  }
  const int64_t cells = cfg.plane_cells(), F = cfg.features;
  const std::string expect = "[" + std::to_string(cells) + ", " + std::to_string(F) + "] (cfg's plane cells, F)";
  const std::pair<const char*, const torch::Tensor*> planes[] = {
      {"keyframes_xy", &keyframes_xy}, {"keyframes_yt", &keyframes_yt}, {"keyframes_xt", &keyframes_xt}};
  for (const auto& [name, t] : planes) {
    check_table(fn, name, *t, xyt);
    if (t->dim() != 2 || t->size(0) != cells || t->size(1) != F)
      fail(fn, std::string("'") + name + "' has shape " + shape_of(*t) + ", expected " + expect);
  }

  if (xyt.device().is_cpu()) {
    // The reference, exactly as NvpModelImpl::latent composes it.
    const torch::Tensor c = xyt.to(torch::kFloat);
    const torch::Tensor x = c.select(1, 0), y = c.select(1, 1), t = c.select(1, 2);
    return torch::cat({keyframe_lookup(keyframes_xy, torch::stack({x, y}, 1), scales, resolutions),
                       keyframe_lookup(keyframes_yt, torch::stack({t, y}, 1), scales, resolutions),
                       keyframe_lookup(keyframes_xt, torch::stack({t, x}, 1), scales, resolutions)},
                      1);
  }
#ifdef NVC_HAVE_CUDA
  return KeyframeFn::apply(keyframes_xy.contiguous(), keyframes_yt.contiguous(), keyframes_xt.contiguous(),
                           xyt.to(torch::kFloat32).contiguous(), scales, res64);
#else
  fail(fn, "CUDA tensors but this build has no CUDA kernels");
#endif
}

torch::Tensor sparse_lookup_fused(const torch::Tensor& grid, const torch::Tensor& xyt) {
  const char* fn = "sparse_lookup_fused";
  check_coords(fn, xyt);
  check_table(fn, "grid", grid, xyt);
  if (grid.dim() != 4) fail(fn, "'grid' has shape " + shape_of(grid) + ", expected [T', H', W', F']");
  for (int d = 0; d < 3; ++d)
    if (grid.size(d) < 1 || grid.size(d) > INT_MAX)
      fail(fn, "'grid' has shape " + shape_of(grid) + ": every axis must have 1 .. 2^31 - 1 cells");
  if (grid.size(3) < 1 || grid.size(3) > kMaxFeatures)
    fail(fn, "'grid' has shape " + shape_of(grid) + ": F' must be in [1, " + std::to_string(kMaxFeatures) + "]");
  if (xyt.device().is_cpu()) return sparse_lookup(grid, xyt);
#ifdef NVC_HAVE_CUDA
  return SparseFn::apply(grid.contiguous(), xyt.to(torch::kFloat32).contiguous());
#else
  fail(fn, "CUDA tensors but this build has no CUDA kernels");
#endif
}

}  // namespace nvc
