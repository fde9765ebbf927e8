#include "codec/cuda/flow_tail.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "codec/cuda/yuv420_quad.cuh"

#include <stdexcept>
#include <string>

namespace nvc::cuda {

namespace {

struct Load {
  __host__ __device__ __forceinline__ float operator()(float v) const { return v; }
  __host__ __device__ __forceinline__ float operator()(const __half& v) const { return __half2float(v); }
  __host__ __device__ __forceinline__ float operator()(const __nv_bfloat16& v) const { return __bfloat162float(v); }
};

template <typename T>
__global__ void flow_tail_rgb_kernel(flow_tail::Inputs in, float* __restrict__ out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int b = blockIdx.z;
  if (x >= in.coded_w || y >= in.coded_h) return;
  float rgb[3];
  flow_tail::pixel_rgb<T>(in, Load{}, b, y, x, flow_tail::axis_taps(y, in.low_h, in.coded_h),
                          flow_tail::axis_taps(x, in.low_w, in.coded_w), rgb);
  const size_t plane = size_t(in.coded_h) * in.coded_w;
  float* o = out + size_t(b) * 3 * plane + size_t(y) * in.coded_w + x;
  o[0] = rgb[0];
  o[plane] = rgb[1];
  o[2 * plane] = rgb[2];
}

// One thread per chroma sample: the four pixels of its 2x2 luma block, then rgb_to_yuv420_kernel's maths (Quad420).
template <typename T>
__global__ void flow_tail_yuv420_kernel(flow_tail::Inputs in, int width, int height, YuvCoefficients c,
                                        uint8_t* __restrict__ out) {
  const int cw = width / 2, ch = height / 2;
  const int cx = blockIdx.x * blockDim.x + threadIdx.x;
  const int cy = blockIdx.y * blockDim.y + threadIdx.y;
  const int b = blockIdx.z;
  if (cx >= cw || cy >= ch) return;
  uint8_t* Y = out + size_t(b) * (size_t(width) * height * 3 / 2);
  uint8_t* U = Y + size_t(width) * height;
  uint8_t* V = U + size_t(cw) * ch;
  const flow_tail::AxisTaps tx[2] = {flow_tail::axis_taps(2 * cx, in.low_w, in.coded_w),
                                      flow_tail::axis_taps(2 * cx + 1, in.low_w, in.coded_w)};
  Quad420 q;
#pragma unroll
  for (int dy = 0; dy < 2; ++dy) {
    const flow_tail::AxisTaps ty = flow_tail::axis_taps(2 * cy + dy, in.low_h, in.coded_h);
#pragma unroll
    for (int dx = 0; dx < 2; ++dx) {
      const int yy = 2 * cy + dy, xx = 2 * cx + dx;
      float rgb[3];
      flow_tail::pixel_rgb<T>(in, Load{}, b, yy, xx, ty, tx[dx], rgb);
      Y[size_t(yy) * width + xx] = q.add(c, rgb[0], rgb[1], rgb[2]);
    }
  }
  U[size_t(cy) * cw + cx] = q.u(c);
  V[size_t(cy) * cw + cx] = q.v(c);
}

void check_inputs(const flow_tail::Inputs& in, const char* what) {
  if (in.batch <= 0 || in.batch > 65535 || in.coded_h <= 0 || in.coded_w <= 0 || in.low_h <= 0 || in.low_w <= 0 ||
      in.pool_size < 0 || !in.slots || !in.independent.data || !in.flows.data || !in.weights.data || !in.blend.data ||
      (in.pool_size > 0 && !in.pool.data))
    throw std::invalid_argument(std::string(what) + ": bad sizes or null input");
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + " kernel: " + cudaGetErrorString(err));
}

}  // namespace

void launch_flow_tail_rgb(const flow_tail::Inputs& in, TailDType dtype, float* out, void* stream) {
  check_inputs(in, "launch_flow_tail_rgb");
  const dim3 block(32, 8);
  const dim3 grid((in.coded_w + block.x - 1) / block.x, (in.coded_h + block.y - 1) / block.y, in.batch);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case TailDType::kFloat32: flow_tail_rgb_kernel<float><<<grid, block, 0, s>>>(in, out); break;
    case TailDType::kFloat16: flow_tail_rgb_kernel<__half><<<grid, block, 0, s>>>(in, out); break;
    case TailDType::kBFloat16: flow_tail_rgb_kernel<__nv_bfloat16><<<grid, block, 0, s>>>(in, out); break;
  }
  check_launch("flow_tail_rgb");
}

void launch_flow_tail_yuv420(const flow_tail::Inputs& in, TailDType dtype, int width, int height,
                             const YuvCoefficients& c, uint8_t* out, void* stream) {
  check_inputs(in, "launch_flow_tail_yuv420");
  if (width <= 0 || height <= 0 || (width & 1) || (height & 1) || width > in.coded_w || height > in.coded_h)
    throw std::invalid_argument("launch_flow_tail_yuv420: bad sizes");
  const dim3 block(32, 8);
  const dim3 grid((width / 2 + block.x - 1) / block.x, (height / 2 + block.y - 1) / block.y, in.batch);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case TailDType::kFloat32:
      flow_tail_yuv420_kernel<float><<<grid, block, 0, s>>>(in, width, height, c, out);
      break;
    case TailDType::kFloat16:
      flow_tail_yuv420_kernel<__half><<<grid, block, 0, s>>>(in, width, height, c, out);
      break;
    case TailDType::kBFloat16:
      flow_tail_yuv420_kernel<__nv_bfloat16><<<grid, block, 0, s>>>(in, width, height, c, out);
      break;
  }
  check_launch("flow_tail_yuv420");
}

}  // namespace nvc::cuda
