#include "codec/flow_tail.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec/cuda/flow_tail_math.h"
#include "codec/video/color.h"

#ifdef NVC_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "codec/cuda/flow_tail.h"
#endif

namespace nvc {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument("flow_tail: " + msg); }

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream o;
  o << t.sizes();
  return o.str();
}

// Checks t against the expected sizes (-1 = any) and returns them; `expect` is the human-readable form.
void check_shape(const torch::Tensor& t, const char* name, std::vector<int64_t> sizes, const std::string& expect) {
  if (!t.defined()) fail(std::string("'") + name + "' is undefined");
  bool ok = t.dim() == int64_t(sizes.size());
  for (size_t i = 0; ok && i < sizes.size(); ++i) ok = sizes[i] < 0 || t.size(int64_t(i)) == sizes[i];
  if (!ok) fail(std::string("'") + name + "' has shape " + shape_of(t) + ", expected " + expect);
}

flow_tail::View4 view_of(const torch::Tensor& t) {
  flow_tail::View4 v;
  v.data = t.data_ptr();
  v.s0 = t.stride(0);
  v.s1 = t.stride(1);
  v.s2 = t.stride(2);
  v.s3 = t.stride(3);
  return v;
}

// The validated inputs: the type-erased views (slots still to be pointed at the compute device's copy).
struct Prepared {
  flow_tail::Inputs args;
  torch::Tensor slots;  // [B, 4] int32 contiguous on the compute device (checked to be in [-1, R) when given on the CPU)
  torch::ScalarType dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
};

Prepared prepare(const FlowTailInputs& in) {
  check_shape(in.independent, "independent", {-1, 3, -1, -1}, "[B, 3, Hc, Wc]");
  const int64_t B = in.independent.size(0), Hc = in.independent.size(2), Wc = in.independent.size(3);
  if (Hc < 1 || Wc < 1) fail("'independent' has an empty frame: " + shape_of(in.independent));
  check_shape(in.flows, "flows", {B, 8, -1, -1}, "[" + std::to_string(B) + ", 8, h, w]");
  const int64_t h = in.flows.size(2), w = in.flows.size(3);
  if (h < 1 || w < 1) fail("'flows' has an empty grid: " + shape_of(in.flows));
  const std::string low = std::to_string(h) + ", " + std::to_string(w) + "]";
  const std::string full = std::to_string(Hc) + ", " + std::to_string(Wc) + "]";
  check_shape(in.weights, "weights", {B, 4, h, w}, "[" + std::to_string(B) + ", 4, " + low + " (the flows' grid)");
  check_shape(in.blend, "blend", {B, 2, Hc, Wc}, "[" + std::to_string(B) + ", 2, " + full);
  check_shape(in.pool, "pool", {-1, 3, Hc, Wc}, "[R, 3, " + full);
  check_shape(in.slots, "slots", {B, 4}, "[" + std::to_string(B) + ", 4]");
  const int64_t R = in.pool.size(0);
  for (int64_t v : {B, Hc, Wc, h, w, R})
    if (v > INT_MAX / 4) fail("sizes too large: independent " + shape_of(in.independent) + ", pool " + shape_of(in.pool));

  const auto dtype = in.independent.scalar_type();
  if (dtype != torch::kFloat32 && dtype != torch::kFloat16 && dtype != torch::kBFloat16)
    fail(std::string("'independent' is ") + c10::toString(dtype) + "; float32, float16 or bfloat16 expected");
  const torch::Device device = in.independent.device();
  const std::pair<const char*, const torch::Tensor*> floats[] = {
      {"flows", &in.flows}, {"weights", &in.weights}, {"blend", &in.blend}, {"pool", &in.pool}};
  for (const auto& [name, t] : floats) {
    if (t->scalar_type() != dtype)
      fail(std::string("'") + name + "' is " + c10::toString(t->scalar_type()) + " but 'independent' is " +
           c10::toString(dtype) + ": every float input must have the same dtype");
    if (t->device() != device)
      fail(std::string("'") + name + "' is on " + t->device().str() + " but 'independent' is on " + device.str());
  }
  if (!device.is_cpu() && !device.is_cuda()) fail("inputs on " + device.str() + ": only CPU and CUDA are supported");
#ifndef NVC_HAVE_CUDA
  if (device.is_cuda()) fail("inputs on " + device.str() + " but this build has no CUDA kernels");
#endif
  if (in.slots.scalar_type() != torch::kInt32 && in.slots.scalar_type() != torch::kInt64)
    fail(std::string("'slots' is ") + c10::toString(in.slots.scalar_type()) + "; int32 expected");
  if (!in.slots.device().is_cpu() && in.slots.device() != device)
    fail("'slots' is on " + in.slots.device().str() + "; expected the CPU or " + device.str());
  if (!std::isfinite(in.flow_scale) || in.flow_scale <= 0)
    fail("flow_scale must be finite and positive, got " + std::to_string(in.flow_scale));

  Prepared p;
  if (in.slots.device().is_cpu()) {
    // Slot values: checked here so that no kernel ever indexes outside the pool.
    const torch::Tensor slots64 = in.slots.to(torch::kInt64).contiguous();
    const int64_t* s = slots64.data_ptr<int64_t>();
    for (int64_t i = 0; i < slots64.numel(); ++i)
      if (s[i] < -1 || s[i] >= R)
        fail("slots[" + std::to_string(i / 4) + "][" + std::to_string(i % 4) + "] = " + std::to_string(s[i]) +
             " is outside [-1, " + std::to_string(R) + ") (pool of " + std::to_string(R) + " frames)");
    p.slots = slots64.to(torch::kInt32).contiguous();
    // To the GPU without waiting for it: a pageable source is staged at once, the stream is not synchronised.
    if (device.is_cuda()) p.slots = p.slots.to(device, /*non_blocking=*/true);
  } else {
    // Device-side slots (nvdec computes them on the GPU) are not read back, which would stall the pipeline: the
    // kernel itself treats any value outside [0, R) as a missing neighbour, so nothing outside the pool is read.
    p.slots = in.slots.to(torch::kInt32).contiguous();
  }
  p.dtype = dtype;
  p.device = device;
  flow_tail::Inputs& a = p.args;
  a.independent = view_of(in.independent);
  a.flows = view_of(in.flows);
  a.weights = view_of(in.weights);
  a.blend = view_of(in.blend);
  a.pool = view_of(in.pool);
  a.slots = p.slots.data_ptr<int32_t>();
  a.batch = int(B);
  a.coded_h = int(Hc);
  a.coded_w = int(Wc);
  a.low_h = int(h);
  a.low_w = int(w);
  a.pool_size = int(R);
  a.flow_scale = float(in.flow_scale);
  return p;
}

struct CpuLoad {
  template <typename T>
  float operator()(const T& v) const {
    return static_cast<float>(v);
  }
};

// RGB of the top-left cols x rows of every frame into out: contiguous float [batch][3][rows][cols].
template <typename T>
void cpu_rgb(const flow_tail::Inputs& in, int rows, int cols, float* out) {
  const int64_t total = int64_t(in.batch) * rows;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max(1, cols));  // >= ~4k pixels per task
  // Column taps once for all rows.
  std::vector<flow_tail::AxisTaps> tx(static_cast<size_t>(cols));
  for (int x = 0; x < cols; ++x) tx[size_t(x)] = flow_tail::axis_taps(x, in.low_w, in.coded_w);
  at::parallel_for(0, total, grain, [&](int64_t begin, int64_t end) {
    const CpuLoad load;
    const size_t plane = size_t(rows) * cols;
    for (int64_t r = begin; r < end; ++r) {
      const int b = int(r / rows), y = int(r % rows);
      const flow_tail::AxisTaps ty = flow_tail::axis_taps(y, in.low_h, in.coded_h);
      float* o = out + size_t(b) * 3 * plane + size_t(y) * cols;
      for (int x = 0; x < cols; ++x) {
        float rgb[3];
        flow_tail::pixel_rgb<T>(in, load, b, y, x, ty, tx[size_t(x)], rgb);
        o[x] = rgb[0];
        o[plane + x] = rgb[1];
        o[2 * plane + x] = rgb[2];
      }
    }
  });
}

void cpu_rgb_dispatch(const Prepared& p, int rows, int cols, float* out) {
  switch (p.dtype) {
    case torch::kFloat32: cpu_rgb<float>(p.args, rows, cols, out); break;
    case torch::kFloat16: cpu_rgb<c10::Half>(p.args, rows, cols, out); break;
    case torch::kBFloat16: cpu_rgb<c10::BFloat16>(p.args, rows, cols, out); break;
    default: fail("unsupported dtype");
  }
}

#ifdef NVC_HAVE_CUDA
cuda::TailDType tail_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat16: return cuda::TailDType::kFloat16;
    case torch::kBFloat16: return cuda::TailDType::kBFloat16;
    default: return cuda::TailDType::kFloat32;
  }
}
#endif

}  // namespace

torch::Tensor flow_tail_rgb(const FlowTailInputs& in) {
  Prepared p = prepare(in);
  const auto& a = p.args;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(p.device);
  torch::Tensor out = torch::empty({a.batch, 3, a.coded_h, a.coded_w}, opts);
  if (a.batch == 0) return out;
  if (p.device.is_cuda()) {
#ifdef NVC_HAVE_CUDA
    const c10::cuda::CUDAGuard guard(p.device);
    const flow_tail::Inputs& args = a;
    cuda::launch_flow_tail_rgb(args, tail_dtype(p.dtype), out.data_ptr<float>(),
                               c10::cuda::getCurrentCUDAStream(p.device.index()).stream());
#endif
    return out;
  }
  cpu_rgb_dispatch(p, a.coded_h, a.coded_w, out.data_ptr<float>());
  return out;
}

torch::Tensor flow_tail_yuv420(const FlowTailInputs& in, int width, int height, int matrix, bool full_range) {
  Prepared p = prepare(in);
  const auto& a = p.args;
  if (width <= 0 || height <= 0 || (width & 1) || (height & 1) || width > a.coded_w || height > a.coded_h)
    fail("output size " + std::to_string(width) + "x" + std::to_string(height) +
         " must be even, positive and at most the coded size " + std::to_string(a.coded_w) + "x" +
         std::to_string(a.coded_h));
  const int64_t frame_bytes = int64_t(width) * height * 3 / 2;
  torch::Tensor out = torch::empty({a.batch, frame_bytes}, torch::TensorOptions().dtype(torch::kUInt8).device(p.device));
  if (a.batch == 0) return out;
  if (p.device.is_cuda()) {
#ifdef NVC_HAVE_CUDA
    const c10::cuda::CUDAGuard guard(p.device);
    const flow_tail::Inputs& args = a;
    cuda::launch_flow_tail_yuv420(args, tail_dtype(p.dtype), width, height, cuda::yuv_coefficients(matrix, full_range),
                                  out.data_ptr<uint8_t>(), c10::cuda::getCurrentCUDAStream(p.device.index()).stream());
#endif
    return out;
  }
  // CPU: the cropped RGB, then nvc::video::rgb_to_frame per frame (bit-exact with converting flow_tail_rgb's output).
  torch::Tensor rgb = torch::empty({a.batch, 3, height, width}, torch::kFloat32);
  cpu_rgb_dispatch(p, height, width, rgb.data_ptr<float>());
  const float* src = rgb.data_ptr<float>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const size_t n = size_t(width) * height, cs = n / 4;
  at::parallel_for(0, a.batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const video::Frame f = video::rgb_to_frame(src + size_t(b) * 3 * n, width, height, matrix, full_range);
      uint8_t* o = dst + size_t(b) * size_t(frame_bytes);
      std::memcpy(o, f.y.data(), n);
      std::memcpy(o + n, f.u.data(), cs);
      std::memcpy(o + n + cs, f.v.data(), cs);
    }
  });
  return out;
}

}  // namespace nvc
