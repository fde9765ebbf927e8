// The fused flow-guided tail of T-NeRV decoding: from one pass's outputs straight to the final RGB or 4:2:0 bytes in
// one pass over memory, instead of aggregate()'s ~15 full-resolution LibTorch ops followed by the colour
// conversion. Same maths as TNervDecoderImpl::aggregate (see codec/cuda/flow_tail_math.h): CUDA kernel on CUDA
// inputs (when built with CUDA), at::parallel_for loops on CPU inputs.
#pragma once
#include <torch/torch.h>

namespace nvc {

struct FlowTailInputs {
  torch::Tensor independent;  // [B,3,Hc,Wc] float32/float16/bfloat16 (same dtype for all the float tensors below)
  torch::Tensor flows;        // [B,8,h,w] (dx,dy) per neighbour in kWindow order, low-res pixels
  torch::Tensor weights;      // [B,4,h,w] neighbour logits
  torch::Tensor blend;        // [B,2,Hc,Wc] logits: independent vs aggregated
  torch::Tensor pool;         // [R,3,Hc,Wc] independent frames available as neighbours
  torch::Tensor slots;        // [B,4] int32 (CPU or same device): pool slot of neighbour k of frame b, -1 = missing
  double flow_scale = 1;      // cfg.flow_upsampling(): low-res pixels -> full-res pixels
};

// Any memory layout (contiguous, channels_last, narrowed views); all float tensors on one device. Throws
// std::invalid_argument (naming the tensor) on a wrong shape, dtype or device, a CPU slot outside [-1, R), or a
// non-positive / non-finite flow_scale. Slots already on the GPU are not read back (that would stall the decode
// pipeline); the kernel treats any of them outside [0, R) as a missing neighbour.
// [B,3,Hc,Wc] float32 on the inputs' device: aggregate(...).output.
torch::Tensor flow_tail_rgb(const FlowTailInputs& in);
// [B, W*H*3/2] uint8 on the inputs' device: Y, U, V planes (rows packed) of the top-left width x height (both even,
// at most Wc x Hc), converted as nvc::video::rgb_to_frame(flow_tail_rgb(in)) with matrix / full_range (bit-exact on
// CPU; the CUDA kernel uses the same colour maths as codec/cuda/color_convert.cu).
torch::Tensor flow_tail_yuv420(const FlowTailInputs& in, int width, int height, int matrix, bool full_range);

}  // namespace nvc
