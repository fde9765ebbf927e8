// CUDA colour conversion for the decode path: the network's RGB output -> 4:2:0 bytes on the GPU, so only 1.5 bytes
// per pixel cross PCIe instead of 12. Bit-identical to nvc::video::rgb_to_frame (same double-precision operations in
// the same order, with explicit round-to-nearest intrinsics so nvcc cannot contract them into FMAs).
#pragma once
#include <cstdint>

namespace nvc::cuda {

struct YuvCoefficients {
  double kr, kg, kb;        // luma weights
  double yoff, yscale;      // Y = yoff + yscale * Y'
  double cscale;            // C = 128 + cscale * P
  double su, sv;            // Pb = (B - Y') * su, Pr = (R - Y') * sv
};
YuvCoefficients yuv_coefficients(int matrix, bool full_range);

// rgb: device pointer, planar float [batch][3][coded_h][coded_w]. out: device pointer, [batch][width*height*3/2]
// (Y plane, then U, then V, rows packed). Crops the top-left width x height (both even). stream: cudaStream_t.
void launch_rgb_to_yuv420(const float* rgb, int batch, int coded_h, int coded_w, int width, int height,
                          const YuvCoefficients& c, uint8_t* out, void* stream);

}  // namespace nvc::cuda
