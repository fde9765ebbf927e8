#include "codec/nvp_render.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "codec/cuda/nvp_lookup.h"  // nvp_math: the lookups' per-element maths (plain C++)
#include "codec/cuda/nvp_render.h"  // the fused kernel's planning (plain C++) and, with CUDA, its launchers
#include "codec/model_io.h"         // rgb_batch_to_yuv420

#ifdef NVC_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#endif

namespace nvc {

namespace {

void check_range(const NvpConfig& cfg, int first, int count) {
  if (first < 0 || count < 0 || first > cfg.frames || count > cfg.frames - first)
    throw std::out_of_range("frame range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") is outside the model's " + std::to_string(cfg.frames) + " frames");
}

cuda::NvpRenderShape shape_of(const NvpConfig& cfg) {
  cuda::NvpRenderShape s;
  s.latent = cfg.latent_dim();
  s.hidden = cfg.hidden;
  s.layers = cfg.layers;
  s.levels = cfg.levels;
  s.features = cfg.features;
  s.sparse_features = cfg.sparse_features;
  return s;
}

torch::Tensor to_half_and_back(const torch::Tensor& t) { return t.to(torch::kHalf).to(torch::kFloat32); }

const torch::nn::LinearImpl& linear(torch::nn::ModuleList& list, int k) {
  return *list[size_t(k)]->as<torch::nn::Linear>();
}

std::string fmt_err(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2e", v);
  return b;
}

}  // namespace

const char* nvp_render_path_name(NvpRenderPath p) {
  switch (p) {
    case NvpRenderPath::kAuto: return "auto";
    case NvpRenderPath::kFused: return "fused";
    case NvpRenderPath::kReference: return "reference";
    case NvpRenderPath::kCpu: return "cpu";
  }
  return "?";
}

NvpRenderPath parse_nvp_render_path(const std::string& name) {
  for (NvpRenderPath p : {NvpRenderPath::kAuto, NvpRenderPath::kFused, NvpRenderPath::kReference, NvpRenderPath::kCpu})
    if (name == nvp_render_path_name(p)) return p;
  throw std::invalid_argument("NVP render path '" + name + "' is not auto, fused, reference or cpu");
}

std::string nvp_fused_unsupported(const NvpConfig& cfg, size_t max_smem, int* warps) {
  return cuda::nvp_render_unsupported(shape_of(cfg), max_smem, warps);
}

// ---- cpu path --------------------------------------------------------------------------------------------------

// The network, transposed for addmm (x [n, in] @ W^T), fp16-rounded where the fused kernel rounds when emulating.
struct NvpCpuNet {
  int Z = 0, H = 0, L = 0;
  float omega_first = 30, omega_hidden = 1;
  bool emulate = false;
  std::vector<torch::Tensor> mod_m, mod_z, mod_b;  // A_k^T: the m_{k-1} rows [H, H] (k >= 1), the z rows [Z, H]
  torch::Tensor syn_w0, syn_b0;                    // B_0 [H], b_0 [H]
  std::vector<torch::Tensor> syn_t, syn_b;         // B_k^T [H, H], b_k (k >= 1)
  torch::Tensor head_t, head_b;                    // [H, 3], [3]

  NvpCpuNet(NvpModel& model, bool emulate_fp16) : emulate(emulate_fp16) {
    const NvpConfig& c = model->cfg;
    Z = c.latent_dim();
    H = c.hidden;
    L = c.layers;
    omega_first = float(c.omega_first);  // the reference multiplies float tensors by the double omega: float maths
    omega_hidden = float(c.omega_hidden);
    auto f32 = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32).contiguous(); };
    auto tc = [&](const torch::Tensor& t) { return emulate ? to_half_and_back(f32(t)) : f32(t); };
    for (int k = 0; k < L; ++k) {
      const auto& lin = linear(model->modulator, k);
      if (k == 0) {
        mod_m.emplace_back();
        mod_z.push_back(tc(lin.weight.t()));
      } else {
        mod_m.push_back(tc(lin.weight.narrow(1, 0, H).t()));
        mod_z.push_back(tc(lin.weight.narrow(1, H, Z).t()));
      }
      mod_b.push_back(f32(lin.bias));
    }
    const auto& first = linear(model->synthesizer, 0);
    syn_w0 = f32(first.weight.reshape({H}));
    syn_b0 = f32(first.bias);
    syn_t.emplace_back();
    syn_b.emplace_back();
    for (int k = 1; k < L; ++k) {
      const auto& lin = linear(model->synthesizer, k);
      syn_t.push_back(tc(lin.weight.t()));
      syn_b.push_back(f32(lin.bias));
    }
    const auto& head = linear(model->synthesizer, L);
    head_t = f32(head.weight.t());
    head_b = f32(head.bias);
  }
};

namespace {

// Pixels [start, start + n) of frame f (row-major) -> the latent rows z [n][Z]: the lookup kernels' per-element
// maths (bit-identical to keyframe_lookup / sparse_lookup), in parallel over pixels.
void cpu_latent(NvpModel& model, int f, int64_t start, int64_t n, float* z) {
  const NvpConfig& c = model->cfg;
  const int W = c.width, Hh = c.height, Lv = c.levels, F = c.features, SF = c.sparse_features;
  const int Z = c.latent_dim();
  const float* tables[3] = {model->keyframes_xy.data_ptr<float>(), model->keyframes_yt.data_ptr<float>(),
                            model->keyframes_xt.data_ptr<float>()};
  const float* sparse = model->sparse.data_ptr<float>();
  std::vector<float> scale(static_cast<size_t>(Lv));
  std::vector<int> res(static_cast<size_t>(Lv));
  std::vector<int64_t> offset(static_cast<size_t>(Lv));
  int64_t off = 0;
  for (int l = 0; l < Lv; ++l) {
    scale[size_t(l)] = float(model->scales[size_t(l)]);  // c * float(scale_l), as the reference
    res[size_t(l)] = model->resolutions[size_t(l)];
    offset[size_t(l)] = off;
    off += int64_t(res[size_t(l)]) * res[size_t(l)];
  }
  // Coordinates as nvp_pixel_coords: i / float(n - 1), 0 along a side of one.
  const float t = c.frames > 1 ? float(f) / float(c.frames - 1) : 0.0f;
  at::parallel_for(0, n, 256, [&](int64_t b, int64_t e) {
    using namespace cuda::nvp_math;
    for (int64_t i = b; i < e; ++i) {
      const int64_t pix = start + i;
      const int r = int(pix / W), col = int(pix % W);
      const float x = Hh > 1 ? float(r) / float(Hh - 1) : 0.0f;
      const float y = W > 1 ? float(col) / float(W - 1) : 0.0f;
      float* zr = z + i * Z;
      for (int plane = 0; plane < 3; ++plane) {
        float c0, c1;
        plane_coords(x, y, t, plane, c0, c1);
        const float* tb = tables[plane];
        for (int l = 0; l < Lv; ++l) {
          const Corners k = keyframe_corners(c0, c1, scale[size_t(l)], res[size_t(l)], offset[size_t(l)]);
          const float *q0 = tb + k.row[0] * F, *q1 = tb + k.row[1] * F, *q2 = tb + k.row[2] * F,
                      *q3 = tb + k.row[3] * F;
          float* o = zr + (plane * Lv + l) * F;
          for (int ff = 0; ff < F; ++ff) o[ff] = blend(q0[ff], q1[ff], q2[ff], q3[ff], k.w);
        }
      }
      float* o = zr + 3 * Lv * F;
      for (int k = 0; k < 9; ++k) {
        const float* src = sparse + sparse_cell(x, y, t, k, c.sparse_t, c.sparse_h, c.sparse_w) * SF;
        for (int ff = 0; ff < SF; ++ff) o[k * SF + ff] = src[ff];
      }
    }
  });
}

torch::Tensor cpu_render(NvpModel& model, const NvpCpuNet& net, int first, int count, int64_t chunk) {
  const NvpConfig& c = model->cfg;
  check_range(c, first, count);
  if (!model->sparse.device().is_cpu()) throw std::invalid_argument("the cpu NVP render path needs a CPU model");
  torch::NoGradGuard no_grad;
  const int64_t P = int64_t(c.width) * c.height;
  chunk = std::max<int64_t>(1, chunk);
  torch::Tensor out = torch::empty({count, 3, c.height, c.width});
  auto round = [&](torch::Tensor& t) {
    if (net.emulate) t = to_half_and_back(t);
  };
  torch::Tensor z = torch::empty({std::min(chunk, P), net.Z});
  for (int f = first; f < first + count; ++f) {
    // The first sine layer depends on the frame only: sin(omega_0 (B_0 s + b_0)), s = (t (N - 1) + 0.5) / N.
    const float t = c.frames > 1 ? float(f) / float(c.frames - 1) : 0.0f;
    const float s = (t * (float(c.frames) - 1.0f) + 0.5f) / float(c.frames);
    const torch::Tensor s0 = torch::sin((net.syn_w0 * s + net.syn_b0) * net.omega_first);
    const torch::Tensor frame_out = out[f - first].view({3, P});
    for (int64_t start = 0; start < P; start += chunk) {
      const int64_t n = std::min(chunk, P - start);
      torch::Tensor zc = z.narrow(0, 0, n);
      cpu_latent(model, f, start, n, zc.data_ptr<float>());
      if (net.emulate) zc = to_half_and_back(zc);
      torch::Tensor m = torch::addmm(net.mod_b[0], zc, net.mod_z[0]);
      torch::leaky_relu_(m, NvpConfig::kLeakySlope);
      round(m);
      torch::Tensor h = m * s0;
      round(h);
      for (int k = 1; k < net.L; ++k) {
        torch::Tensor mk = torch::addmm(net.mod_b[size_t(k)], m, net.mod_m[size_t(k)]);
        mk.addmm_(zc, net.mod_z[size_t(k)]);
        torch::leaky_relu_(mk, NvpConfig::kLeakySlope);
        round(mk);
        m = mk;
        torch::Tensor hk = torch::addmm(net.syn_b[size_t(k)], h, net.syn_t[size_t(k)]);
        hk.mul_(net.omega_hidden).sin_().mul_(m);
        round(hk);
        h = hk;
      }
      torch::Tensor rgb = torch::addmm(net.head_b, h, net.head_t);
      rgb.add_(1.0).mul_(0.5).clamp_(0.0, 1.0);
      frame_out.narrow(1, start, n).copy_(rgb.t());
    }
  }
  return out;
}

}  // namespace

torch::Tensor nvp_render_frames_cpu(NvpModel& model, int first, int count, bool emulate_fp16, int64_t chunk_pixels) {
  const NvpCpuNet net(model, emulate_fp16);
  return cpu_render(model, net, first, count, chunk_pixels);
}

// ---- fused CUDA kernel -------------------------------------------------------------------------------------------

struct NvpRenderer::Fused {
  std::vector<torch::Tensor> keep;  // packed weights and fp32 parameters on the device
  int warps = 0;
  size_t smem = 0;
#ifdef NVC_HAVE_CUDA
  cuda::NvpRenderNet net;
  cuda::NvpRenderGrids grids;
#endif
};

NvpRenderer::NvpRenderer(NvpModel model, const NvpRenderOptions& options) : model_(std::move(model)), opt_(options) {
  const torch::Device dev = model_->sparse.device();
  const auto prec = opt_.precision;
  if (prec != c10::ScalarType::Undefined && prec != torch::kFloat32 && prec != torch::kFloat16 &&
      prec != torch::kBFloat16)
    throw std::invalid_argument("NVP decode precision must be fp32, fp16 or bf16");
  for (auto* t : {&model_->keyframes_xy, &model_->keyframes_yt, &model_->keyframes_xt, &model_->sparse})
    if (t->scalar_type() != torch::kFloat32 || !t->is_contiguous())
      throw std::invalid_argument("NvpRenderer: the model's grids must be contiguous float32");

  if (dev.is_cpu()) {
    if (opt_.path == NvpRenderPath::kReference) {
      path_ = NvpRenderPath::kReference;
    } else {
      if (opt_.path == NvpRenderPath::kFused) note_ = "the fused kernel needs a CUDA device";
      path_ = NvpRenderPath::kCpu;
      emulate_fp16_ = prec == torch::kFloat16;
      cpu_ = std::make_unique<NvpCpuNet>(model_, emulate_fp16_);
    }
    return;
  }
  if (opt_.path == NvpRenderPath::kCpu) throw std::invalid_argument("the cpu NVP render path needs a CPU model");
  path_ = NvpRenderPath::kReference;
  if (opt_.path == NvpRenderPath::kReference) return;
  if (opt_.path == NvpRenderPath::kAuto && prec == torch::kFloat32) return;  // fp32 asked: LibTorch's fp32 path
#ifndef NVC_HAVE_CUDA
  fall_back("this build has no CUDA kernels");
#else
  if (!dev.is_cuda()) {
    fall_back("the fused kernel needs a CUDA device, the model is on " + dev.str());
    return;
  }
  const NvpConfig& cfg = model_->cfg;
  const c10::cuda::CUDAGuard guard(dev);
  const int di = dev.index() < 0 ? c10::cuda::current_device() : dev.index();
  const int cc = cuda::nvp_render_compute_capability(di);
  if (cc < 80) {
    fall_back("compute capability " + std::to_string(cc / 10) + "." + std::to_string(cc % 10) +
              " (the kernel needs 8.0 or newer)");
    return;
  }
  auto f = std::make_unique<Fused>();
  const std::string why = nvp_fused_unsupported(cfg, cuda::nvp_render_max_smem(di), &f->warps);
  if (!why.empty()) {
    fall_back(why);
    return;
  }
  f->smem = cuda::nvp_render_smem(shape_of(cfg), f->warps).total;

  // Pack the network once: tensor-core weights as fp16 [K][H] (transposed, K zero-padded), the rest fp32.
  torch::NoGradGuard no_grad;
  const int64_t Z = cfg.latent_dim(), H = cfg.hidden, Zp = cuda::nvp_render_pad16(int(Z));
  auto put = [&](const torch::Tensor& t) {
    f->keep.push_back(t.to(dev).contiguous());
    return f->keep.back();
  };
  auto half_ptr = [](const torch::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr<at::Half>()); };
  auto f32 = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32); };
  cuda::NvpRenderNet& net = f->net;
  net.latent = int(Z);
  net.hidden = int(H);
  net.layers = cfg.layers;
  net.omega_first = float(cfg.omega_first);
  net.omega_hidden = float(cfg.omega_hidden);
  for (int k = 0; k < cfg.layers; ++k) {
    const auto& lin = linear(model_->modulator, k);
    const torch::Tensor w = f32(lin.weight);  // [H, in]
    torch::Tensor p = torch::zeros({k == 0 ? Zp : H + Zp, H});
    if (k == 0) {
      p.narrow(0, 0, Z).copy_(w.t());
    } else {
      p.narrow(0, 0, H).copy_(w.narrow(1, 0, H).t());
      p.narrow(0, H, Z).copy_(w.narrow(1, H, Z).t());
    }
    net.mod_w[k] = half_ptr(put(p.to(torch::kHalf)));
    net.mod_b[k] = put(f32(lin.bias)).data_ptr<float>();
    const auto& syn = linear(model_->synthesizer, k);
    if (k > 0) net.syn_w[k] = half_ptr(put(f32(syn.weight).t().contiguous().to(torch::kHalf)));
    net.syn_b[k] = put(f32(syn.bias)).data_ptr<float>();
  }
  net.syn_w0 = put(f32(linear(model_->synthesizer, 0).weight).reshape({H})).data_ptr<float>();
  const auto& head = linear(model_->synthesizer, cfg.layers);
  net.head_w = put(f32(head.weight)).data_ptr<float>();  // [3, H]
  net.head_b = put(f32(head.bias)).data_ptr<float>();

  cuda::NvpRenderGrids& g = f->grids;
  g.xy = model_->keyframes_xy.data_ptr<float>();
  g.yt = model_->keyframes_yt.data_ptr<float>();
  g.xt = model_->keyframes_xt.data_ptr<float>();
  g.lv.levels = cfg.levels;
  g.lv.features = cfg.features;
  g.lv.offset[0] = 0;
  for (int l = 0; l < cfg.levels; ++l) {
    g.lv.scale[l] = float(model_->scales[size_t(l)]);
    g.lv.resolution[l] = model_->resolutions[size_t(l)];
    g.lv.offset[l + 1] = g.lv.offset[l] + int64_t(g.lv.resolution[l]) * g.lv.resolution[l];
  }
  g.sparse = model_->sparse.data_ptr<float>();
  g.st = cfg.sparse_t;
  g.sh = cfg.sparse_h;
  g.sw = cfg.sparse_w;
  g.sf = cfg.sparse_features;
  fused_ = std::move(f);
  path_ = NvpRenderPath::kFused;
#endif
}

NvpRenderer::~NvpRenderer() = default;

void NvpRenderer::fall_back(const std::string& why) {
  note_ = why;
  path_ = NvpRenderPath::kReference;
  fused_.reset();
}

torch::Tensor NvpRenderer::reference_rgb(int first, int count) { return nvp_render_frames(model_, first, count); }

torch::Tensor NvpRenderer::cpu_rgb(int first, int count) { return cpu_render(model_, *cpu_, first, count, opt_.chunk_pixels); }

torch::Tensor NvpRenderer::fused_rgb(int first, int count) {
#ifdef NVC_HAVE_CUDA
  const NvpConfig& cfg = model_->cfg;
  const torch::Device dev = model_->sparse.device();
  const c10::cuda::CUDAGuard guard(dev);
  torch::Tensor out = torch::empty({count, 3, cfg.height, cfg.width}, torch::TensorOptions().device(dev));
  cuda::NvpRenderFrames fr{cfg.width, cfg.height, cfg.frames, first, count};
  cuda::launch_nvp_render_rgb(fused_->grids, fused_->net, fr, out.data_ptr<float>(),
                              c10::cuda::getCurrentCUDAStream(dev.index()).stream());
  return out;
#else
  (void)first;
  (void)count;
  throw std::logic_error("NvpRenderer: no CUDA kernels in this build");
#endif
}

bool NvpRenderer::fused_first_batch(int first, int count, torch::Tensor* rgb) {
  torch::Tensor out;
  try {
    out = fused_rgb(first, count);
  } catch (const std::exception& e) {
    fall_back(std::string("the kernel did not launch: ") + e.what());
    return false;
  }
  if (count == 0) {  // nothing rendered, nothing checked: the next batch is the first one
    *rgb = out;
    return true;
  }
#ifdef NVC_HAVE_CUDA
  // A fault inside the kernel (an illegal address) surfaces only at the next synchronisation; wait here so that it
  // is reported as the kernel's, not as an error of the reference path below. Such errors poison the CUDA context,
  // so there is no falling back: the message says how to decode without the kernel.
  {
    const cudaError_t err = cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream(out.device().index()).stream());
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("the fused NVP kernel failed on the GPU: ") + cudaGetErrorString(err) +
                               " (nvdec --precision fp32 decodes through LibTorch instead)");
  }
#endif
  checked_ = true;
  if (!opt_.self_check) {
    *rgb = out;
    return true;
  }
  // A sample of the batch's pixels through the LibTorch path (fp32): the corners of the range and a golden-ratio
  // scatter over it (no stride that could line up with a row).
  const NvpConfig& cfg = model_->cfg;
  const int64_t HW = int64_t(cfg.width) * cfg.height, total = HW * count;
  const int64_t m = std::min<int64_t>(std::max(2, opt_.check_pixels), total);
  std::vector<int64_t> idx(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i)
    idx[size_t(i)] = int64_t((uint64_t(i) * 0x9E3779B97F4A7C15ull) % uint64_t(total));
  idx[size_t(m - 1)] = total - 1;
  torch::NoGradGuard no_grad;
  const torch::Device dev = out.device();
  const torch::Tensor index = torch::tensor(idx, torch::kLong).to(dev);
  const torch::Tensor frame = index.div(HW, "floor") + first, rest = index.remainder(HW);
  const torch::Tensor xyt = nvp_pixel_coords(frame, rest.div(cfg.width, "floor"), rest.remainder(cfg.width),
                                             cfg.width, cfg.height, cfg.frames);
  const torch::Tensor ref = ((model_->forward(xyt) + 1.0) * 0.5).clamp(0.0, 1.0);               // [m, 3]
  const torch::Tensor got = out.permute({0, 2, 3, 1}).reshape({total, 3}).index_select(0, index);  // [m, 3]
  check_error_ = (got - ref).abs().max().item<double>();  // NaN anywhere -> NaN
  check_count_ = int(m);
  if (!(check_error_ <= opt_.tolerance)) {
    fall_back("self-check on " + std::to_string(m) + " pixels of frames [" + std::to_string(first) + ", " +
              std::to_string(first + count) + "): max error " + fmt_err(check_error_) + " > tolerance " +
              fmt_err(opt_.tolerance));
    return false;
  }
  *rgb = out;
  return true;
}

torch::Tensor NvpRenderer::render_rgb(int first, int count) {
  check_range(model_->cfg, first, count);
  if (path_ == NvpRenderPath::kFused) {
    if (!checked_) {
      torch::Tensor rgb;
      if (fused_first_batch(first, count, &rgb)) return rgb;
    } else {
      return fused_rgb(first, count);
    }
  }
  if (path_ == NvpRenderPath::kCpu) return cpu_rgb(first, count);
  return reference_rgb(first, count);
}

torch::Tensor NvpRenderer::render_yuv420(int first, int count, int matrix, bool full_range) {
  const NvpConfig& cfg = model_->cfg;
  check_range(cfg, first, count);
#ifdef NVC_HAVE_CUDA
  if (path_ == NvpRenderPath::kFused && checked_ && cfg.width % 2 == 0 && cfg.height % 2 == 0) {
    const torch::Device dev = model_->sparse.device();
    const c10::cuda::CUDAGuard guard(dev);
    torch::Tensor out = torch::empty({count, int64_t(cfg.width) * cfg.height * 3 / 2},
                                     torch::TensorOptions().dtype(torch::kUInt8).device(dev));
    cuda::NvpRenderFrames fr{cfg.width, cfg.height, cfg.frames, first, count};
    cuda::launch_nvp_render_yuv420(fused_->grids, fused_->net, fr, cuda::yuv_coefficients(matrix, full_range),
                                   out.data_ptr<uint8_t>(), c10::cuda::getCurrentCUDAStream(dev.index()).stream());
    return out;
  }
#endif
  // The first fused batch (it is checked in RGB) and the other paths: RGB, then the shared conversion.
  return rgb_batch_to_yuv420(render_rgb(first, count), cfg.width, cfg.height, matrix, full_range);
}

std::string NvpRenderer::describe() const {
  std::string d;
  switch (path_) {
    case NvpRenderPath::kFused: {
      d = "fused CUDA kernel (fp16 tensor cores, fp32 accumulate; tiles of 16x" + std::to_string(fused_->warps) +
          " pixels, " + std::to_string(fused_->smem / 1024) + " KB shared memory";
      if (check_error_ >= 0)
        d += "; self-check on " + std::to_string(check_count_) + " pixels: max error " + fmt_err(check_error_) +
             ", tolerance " + fmt_err(opt_.tolerance);
      else if (!opt_.self_check)
        d += "; no self-check";
      d += ")";
      if (opt_.precision == torch::kBFloat16) d += ", bf16 asked: fp16 used";
      break;
    }
    case NvpRenderPath::kCpu:
      d = std::string("cpu path (parallel lookups + addmm), ") + (emulate_fp16_ ? "fp16 emulated" : "fp32");
      break;
    default:
      d = "LibTorch path (nvp_render_frames), fp32";
      break;
  }
  if (!note_.empty()) d += "; fused kernel off: " + note_;
  return d;
}

}  // namespace nvc
