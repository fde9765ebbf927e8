#include "codec/cuda/color_convert.h"

#include "codec/cuda/yuv420_quad.cuh"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace nvc::cuda {

namespace {

// One thread per chroma sample: the 2x2 luma block and its U, V.
__global__ void rgb_to_yuv420_kernel(const float* __restrict__ rgb, int coded_h, int coded_w, int width, int height,
                                     YuvCoefficients c, uint8_t* __restrict__ out) {
  const int cw = width / 2, ch = height / 2;
  const int cx = blockIdx.x * blockDim.x + threadIdx.x;
  const int cy = blockIdx.y * blockDim.y + threadIdx.y;
  const int b = blockIdx.z;
  if (cx >= cw || cy >= ch) return;
  const size_t plane = size_t(coded_h) * coded_w;
  const float* R = rgb + size_t(b) * 3 * plane;
  const float* G = R + plane;
  const float* B = G + plane;
  uint8_t* Y = out + size_t(b) * (size_t(width) * height * 3 / 2);
  uint8_t* U = Y + size_t(width) * height;
  uint8_t* V = U + size_t(cw) * ch;
  Quad420 q;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const int yy = 2 * cy + dy, xx = 2 * cx + dx;
      const size_t i = size_t(yy) * coded_w + xx;
      Y[size_t(yy) * width + xx] = q.add(c, R[i], G[i], B[i]);
    }
  }
  U[size_t(cy) * cw + cx] = q.u(c);
  V[size_t(cy) * cw + cx] = q.v(c);
}

}  // namespace

void launch_rgb_to_yuv420(const float* rgb, int batch, int coded_h, int coded_w, int width, int height,
                          const YuvCoefficients& c, uint8_t* out, void* stream) {
  if (batch <= 0 || width <= 0 || height <= 0 || (width & 1) || (height & 1) || width > coded_w || height > coded_h)
    throw std::invalid_argument("launch_rgb_to_yuv420: bad sizes");
  const dim3 block(32, 8);
  const dim3 grid((width / 2 + block.x - 1) / block.x, (height / 2 + block.y - 1) / block.y, batch);
  rgb_to_yuv420_kernel<<<grid, block, 0, static_cast<cudaStream_t>(stream)>>>(rgb, coded_h, coded_w, width, height, c,
                                                                              out);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("rgb_to_yuv420 kernel: ") + cudaGetErrorString(err));
}

}  // namespace nvc::cuda
