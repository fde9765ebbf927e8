// CUDA launchers of the fused flow-guided tail: T-NeRV pass outputs -> final float RGB, or straight to 4:2:0 bytes
// (the colour maths of color_convert.cu, bit for bit). Plain C++ interface like color_convert.h: raw device
// pointers, cudaStream_t passed as void*, no LibTorch or CUDA header needed by the caller. The per-pixel maths is
// codec/cuda/flow_tail_math.h, shared with the CPU path (codec/flow_tail.cpp).
#pragma once
#include <cstdint>

#include "codec/cuda/color_convert.h"
#include "codec/cuda/flow_tail_math.h"

namespace nvc::cuda {

// Element type of every float view of flow_tail::Inputs.
enum class TailDType { kFloat32, kFloat16, kBFloat16 };

// in: device pointers (slots too: [batch][4] int32, each -1 or < pool_size; the kernel treats any other value as
// missing). out: device pointer, contiguous float [batch][3][coded_h][coded_w]. Throws std::invalid_argument on
// bad sizes, std::runtime_error when the launch fails.
void launch_flow_tail_rgb(const flow_tail::Inputs& in, TailDType dtype, float* out, void* stream);

// out: device pointer, [batch][width*height*3/2] (Y plane, then U, then V, rows packed) of the top-left
// width x height (both even, at most the coded size); one thread per 2x2 quad.
void launch_flow_tail_yuv420(const flow_tail::Inputs& in, TailDType dtype, int width, int height,
                             const YuvCoefficients& c, uint8_t* out, void* stream);

}  // namespace nvc::cuda
