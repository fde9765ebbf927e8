// The fused NVP decode kernel (docs/nvp.md, "Decoding"): for a tile of pixels, the keyframe and sparse lookups, the
// modulator and the modulated SIREN in one kernel, the matrix products on fp16 tensor cores (WMMA, fp32
// accumulate) with each layer's weights staged through shared memory, and the output written as planar float RGB
// or straight as 4:2:0 bytes. Plain C++ interface like flow_tail.h: raw device pointers, cudaStream_t passed as
// void*, no LibTorch or CUDA header needed by the caller. The LibTorch side (weight packing, self-check, fallback)
// is codec/nvp_render.h.
//
// The planning functions below (which configurations the kernel takes, its shared memory) are inline host code, so
// that builds without CUDA and the CPU tests can use them; the launchers exist only in CUDA builds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/cuda/color_convert.h"
#include "codec/cuda/nvp_lookup.h"

namespace nvc::cuda {

constexpr int kNvpRenderMaxLayers = 16;    // NvpConfig's bound on layers
constexpr int kNvpRenderMaxHidden = 256;   // the kernel's bound on the hidden width (a multiple of 16)
constexpr int kNvpRenderTileW = 16;        // tile width in pixels; the tile height is the number of warps
constexpr int kNvpRenderChunkK = 64;       // weight rows staged per shared-memory chunk (double buffered)
constexpr int kNvpRenderPad = 8;           // halves added to every shared-memory row (bank-conflict skew)

// Sizes of a network the kernel is asked to run.
struct NvpRenderShape {
  int latent = 0;   // Z = 3 L F + 9 F'
  int hidden = 0;   // H
  int layers = 0;   // sine layers = modulator layers
  int levels = 0, features = 0, sparse_features = 0;
};

inline int nvp_render_pad16(int v) { return (v + 15) / 16 * 16; }
inline size_t nvp_render_align128(size_t v) { return (v + 127) / 128 * 128; }

// Shared-memory regions of one block (byte offsets from a 128-byte aligned base). warps = tile height; every
// activation buffer has rows = 16 * warps (one row per pixel of the tile), row strides in halves padded by
// kNvpRenderPad (a multiple of 8 halves = 16 bytes: WMMA's ldm rule; 16-row steps then move by a multiple of 32
// bytes, so every fragment pointer stays 32-byte aligned).
struct NvpRenderSmem {
  int rows = 0, ldz = 0, ldh = 0;
  size_t z = 0, m = 0, h = 0, w = 0, scratch = 0, s0 = 0, rgb = 0, total = 0;
};

inline NvpRenderSmem nvp_render_smem(const NvpRenderShape& s, int warps) {
  NvpRenderSmem l;
  l.rows = 16 * warps;
  l.ldz = nvp_render_pad16(s.latent) + kNvpRenderPad;
  l.ldh = s.hidden + kNvpRenderPad;
  size_t off = 0;
  auto take = [&](size_t bytes) {
    const size_t at = off;
    off += nvp_render_align128(bytes);
    return at;
  };
  l.z = take(size_t(l.rows) * l.ldz * 2);                   // latent (fp16)
  l.m = take(size_t(l.rows) * l.ldh * 2);                   // modulator output m_k (fp16)
  l.h = take(size_t(l.rows) * l.ldh * 2);                   // synthesizer activation h_k (fp16)
  l.w = take(size_t(2) * kNvpRenderChunkK * l.ldh * 2);     // two chunks of weight rows (fp16)
  l.scratch = take(size_t(warps) * 256 * 4);                // one 16x16 fp32 accumulator tile per warp
  l.s0 = take(size_t(s.hidden) * 4);                        // sin(omega_0 (B_0 s + b_0)), the tile's frame
  l.rgb = take(size_t(l.rows) * 3 * 4);                     // the tile's RGB before 4:2:0
  l.total = off + 128;                                      // + slack to align the base
  return l;
}

// Why the kernel cannot run this network with at most max_smem bytes of dynamic shared memory per block (the
// device's opt-in limit), or "" when it can; *warps receives the tile height it would use (8, else 4).
inline std::string nvp_render_unsupported(const NvpRenderShape& s, size_t max_smem, int* warps = nullptr) {
  if (s.hidden < 16 || s.hidden > kNvpRenderMaxHidden || s.hidden % 16 != 0)
    return "hidden width " + std::to_string(s.hidden) + " is not a multiple of 16 in [16, " +
           std::to_string(kNvpRenderMaxHidden) + "]";
  if (s.layers < 1 || s.layers > kNvpRenderMaxLayers)
    return std::to_string(s.layers) + " layers (1.." + std::to_string(kNvpRenderMaxLayers) + " supported)";
  if (s.levels < 1 || s.levels > kNvpMaxLevels || s.features < 1 || s.features > kNvpMaxFeatures ||
      s.sparse_features < 1 || s.sparse_features > kNvpMaxFeatures)
    return "grid sizes outside the lookups' bounds";
  if (s.latent != 3 * s.levels * s.features + 9 * s.sparse_features) return "latent width does not match the grids";
  for (int w : {8, 4}) {
    if (nvp_render_smem(s, w).total <= max_smem) {
      if (warps) *warps = w;
      return "";
    }
  }
  return "needs " + std::to_string(nvp_render_smem(s, 4).total / 1024) + " KB of shared memory per block (the "
         "device allows " + std::to_string(max_smem / 1024) + " KB)";
}

// The network as the kernel reads it (device pointers). Weights of the tensor-core layers are fp16 (IEEE binary16
// bits), row-major [K][hidden] (the transpose of torch's Linear weight), K padded with zero rows:
//   mod_w[0]  [Zp][H]       rows 0..Z-1 = A_0^T                       (Zp = Z rounded up to 16)
//   mod_w[k]  [H + Zp][H]   rows 0..H-1 = A_k^T for m_{k-1}, rows H..H+Z-1 for z      (k >= 1)
//   syn_w[k]  [H][H]        B_k^T                                     (k >= 1; syn_w[0] unused)
// Every other parameter is fp32: mod_b[k] [H], syn_w0 [H] (B_0, 1 -> H), syn_b[k] [H] (k = 0 .. layers-1),
// head_w [3][H] (torch's layout), head_b [3]. Pointers 16-byte aligned.
struct NvpRenderNet {
  int latent = 0, hidden = 0, layers = 0;
  float omega_first = 30.0f, omega_hidden = 1.0f;
  const uint16_t* mod_w[kNvpRenderMaxLayers] = {};
  const uint16_t* syn_w[kNvpRenderMaxLayers] = {};
  const float* mod_b[kNvpRenderMaxLayers] = {};
  const float* syn_b[kNvpRenderMaxLayers] = {};
  const float* syn_w0 = nullptr;
  const float* head_w = nullptr;
  const float* head_b = nullptr;
};

// The grids (device pointers, fp32, contiguous): the three keyframe planes [cells][F] and the sparse grid
// [t][h][w][f], as for the lookup kernels.
struct NvpRenderGrids {
  const float *xy = nullptr, *yt = nullptr, *xt = nullptr;
  NvpKeyframeLevels lv;
  const float* sparse = nullptr;
  int st = 0, sh = 0, sw = 0, sf = 0;
};

// Frames [first, first + count) of a width x height x frames video.
struct NvpRenderFrames {
  int width = 0, height = 0, frames = 0, first = 0, count = 0;
};

#ifdef NVC_HAVE_CUDA
// The device's opt-in limit of dynamic shared memory per block and its compute capability (major * 10 + minor).
size_t nvp_render_max_smem(int device);
int nvp_render_compute_capability(int device);

// out: [count][3][height][width] float, RGB in [0, 1] (clamped).
void launch_nvp_render_rgb(const NvpRenderGrids& g, const NvpRenderNet& net, const NvpRenderFrames& fr, float* out,
                           void* stream);
// out: [count][width * height * 3 / 2] bytes (Y, then U, then V, rows packed), width and height even; the colour
// maths of yuv420_quad.cuh (bit-identical to rgb_to_frame of the same float RGB).
void launch_nvp_render_yuv420(const NvpRenderGrids& g, const NvpRenderNet& net, const NvpRenderFrames& fr,
                              const YuvCoefficients& c, uint8_t* out, void* stream);
#endif

}  // namespace nvc::cuda
