#include "codec/cuda/nvp_render.h"

#include <cuda_fp16.h>
#include <cuda_pipeline.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <climits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "codec/cuda/yuv420_quad.cuh"

// One block renders one tile of 16 x `warps` pixels (warps = 8, or 4 when 8 do not fit in shared memory) of one
// frame; warp w owns the tile's pixel row w, i.e. rows 16w .. 16w+15 of every activation matrix. Per block:
//   1. the first weight chunk of modulator layer 0 starts copying (cp.async) while
//   2. the frame's first sine layer sin(omega_0 (B_0 s + b_0)) (one vector per frame, fp32, accurate sinf) and the
//      tile's latent z (keyframe + sparse lookups with nvp_math, the same per-element maths as the lookup kernels and
//      the CPU path, computed in fp32 and stored as fp16) go to shared memory, every thread on any pixel;
//   3. layer by layer: the weights stream through two shared-memory chunks of kNvpRenderChunkK rows (the next chunk
//      copies while the warps multiply the current one: cp.async double buffering, one __syncthreads on each side of
//      a chunk); each warp multiplies its 16 rows by all hidden columns on tensor cores (WMMA 16x16x16, fp16 in,
//      fp32 accumulate, the whole row strip held in registers) and then applies bias and activation in fp32 through
//      a per-warp 16x16 fp32 scratch tile (store_matrix_sync: the fragment layout is opaque), storing fp16 back:
//        modulator k: m_k = lrelu(A_k [m_{k-1}, z] + a_k) into M (in place: the warp reads and writes only its rows,
//                     and all its products are done before its epilogue), and for k = 0 h_0 = s0 * m_0 into Hs;
//        synthesizer k >= 1: h_k = sin(omega (B_k h_{k-1} + b_k)) * m_k into Hs (in place, likewise);
//   4. the RGB head (3 x H dot products in fp32 from the fp16 h), (rgb + 1) / 2 clamped, written as planar float RGB
//      or, through a small shared RGB tile, as 4:2:0 bytes per 2x2 quad (yuv420_quad.cuh).
// Synchronisation: __syncthreads separates the block-wide phases (lookups -> first products, chunk copies ->
// products -> next copy into the same buffer, last layer -> head -> quads); between a warp's products and its own
// epilogue, and between scratch tiles, __syncwarp.

namespace nvc::cuda {

namespace {

using namespace nvcuda;
using namespace nvp_math;

constexpr int KC = kNvpRenderChunkK;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

template <int FT>
__device__ __forceinline__ int feat(int f) {
  return FT > 0 ? FT : f;
}

// sin(x) for the hidden sine layers: x reduced to [-pi, pi] by a two-constant Cody-Waite step, then the SFU's
// __sinf (absolute error below 2^-21.4 on [-pi, pi]). Error well under 1e-6 for |x| < 1e4, far below the fp16
// rounding of the result; NaN stays NaN.
__device__ __forceinline__ float reduced_sin(float x) {
  const float k = rintf(x * 0.15915494309189535f);  // x / (2 pi)
  float r = fmaf(-k, 6.28318548202514648f, x);      // float(2 pi)
  r = fmaf(-k, -1.7484556000744487e-07f, r);         // 2 pi - float(2 pi)
  return __sinf(r);
}

// Copies weight rows [row_begin, row_begin + nrows) of a [K][H] fp16 matrix into a shared chunk (row stride ldw
// halves), 16 bytes per cp.async. Callers commit.
__device__ __forceinline__ void stage_rows(__half* dst, const uint16_t* __restrict__ src, int row_begin, int nrows,
                                           int H, int ldw) {
  const int per_row = H / 8;
  const int n = nrows * per_row;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int r = i / per_row, q = i - r * per_row;
    __pipeline_memcpy_async(dst + size_t(r) * ldw + q * 8, src + (size_t(row_begin) + r) * H + q * 8, 16);
  }
}

// acc[j] (j < nf) = rows row0 .. row0+15 of [a0 | a1] times W ([K][H] fp16, global), K a multiple of 16: k-steps
// below `split` read a0 (stride lda0), the rest a1 at k - split (stride lda1). Weights stream through wbuf (two
// chunks of KC rows, stride ldw). `issued`: chunk 0 was already copied and committed by the caller. Every thread
// of the block must call this (it synchronises the block).
template <int NF>
__device__ __forceinline__ void mma_layer(FragC (&acc)[NF], int nf, const uint16_t* __restrict__ W, int K, int split,
                                          const __half* a0, int lda0, const __half* a1, int lda1, __half* wbuf,
                                          int ldw, int H, int row0, bool issued) {
#pragma unroll
  for (int j = 0; j < NF; ++j) wmma::fill_fragment(acc[j], 0.0f);
  const int nc = (K + KC - 1) / KC;
  if (!issued) {
    stage_rows(wbuf, W, 0, min(KC, K), H, ldw);
    __pipeline_commit();
  }
  for (int c = 0; c < nc; ++c) {
    // The buffer the next chunk goes to was last read in chunk c - 1, which ended with __syncthreads.
    if (c + 1 < nc) stage_rows(wbuf + ((c + 1) & 1) * KC * ldw, W, (c + 1) * KC, min(KC, K - (c + 1) * KC), H, ldw);
    __pipeline_commit();       // (an empty group on the last chunk keeps the count uniform)
    __pipeline_wait_prior(1);  // this thread's copies of chunk c have landed ...
    __syncthreads();           // ... and every thread's (also: the block's earlier shared writes are visible)
    const __half* wc = wbuf + (c & 1) * KC * ldw;
    const int steps = min(KC, K - c * KC) / 16;
    for (int s = 0; s < steps; ++s) {
      const int kk = c * KC + s * 16;
      const bool first = kk < split;
      const __half* ap = first ? a0 + size_t(row0) * lda0 + kk : a1 + size_t(row0) * lda1 + (kk - split);
      FragA a;
      wmma::load_matrix_sync(a, ap, first ? lda0 : lda1);
#pragma unroll
      for (int j = 0; j < NF; ++j) {
        if (j < nf) {
          FragB b;
          wmma::load_matrix_sync(b, wc + size_t(s) * 16 * ldw + j * 16, ldw);
          wmma::mma_sync(acc[j], a, b, acc[j]);
        }
      }
    }
    __syncthreads();  // chunk c's buffer may be overwritten from here on
  }
}

enum class Epilogue { kModFirst, kMod, kSyn };

// Bias + activation of the warp's 16 x H strip, through the warp's fp32 scratch tile; writes fp16 rows.
template <int NF>
__device__ __forceinline__ void epilogue(const FragC (&acc)[NF], int nf, Epilogue kind, float* scratch,
                                         const float* __restrict__ bias, const float* s0, float omega, __half* Ms,
                                         __half* Hs, int ldh, int row0, int lane) {
#pragma unroll
  for (int j = 0; j < NF; ++j) {
    if (j < nf) {
      __syncwarp();  // the previous tile's reads of scratch are done (and the products before the first tile)
      wmma::store_matrix_sync(scratch, acc[j], 16, wmma::mem_row_major);
      __syncwarp();
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int e = i * 32 + lane;
        const int n = j * 16 + (e & 15);
        const size_t at = size_t(row0 + (e >> 4)) * ldh + n;
        float v = __fadd_rn(scratch[e], __ldg(bias + n));
        if (kind == Epilogue::kSyn) {
          v = __fmul_rn(reduced_sin(__fmul_rn(omega, v)), __half2float(Ms[at]));
          Hs[at] = __float2half_rn(v);
        } else {
          v = v > 0.0f ? v : __fmul_rn(v, 0.01f);  // LeakyReLU, NvpConfig::kLeakySlope
          const __half m = __float2half_rn(v);
          Ms[at] = m;
          if (kind == Epilogue::kModFirst) Hs[at] = __float2half_rn(__fmul_rn(s0[n], __half2float(m)));
        }
      }
    }
  }
  __syncwarp();
}

template <int NF, int FT>
__global__ void __launch_bounds__(256, 1)
    nvp_render_kernel(NvpRenderGrids g, NvpRenderNet net, NvpRenderFrames fr, NvpRenderSmem L, YuvCoefficients yc,
                      float* __restrict__ out_rgb, uint8_t* __restrict__ out_yuv) {
  extern __shared__ unsigned char nvp_render_smem_raw[];
  unsigned char* base =
      reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(nvp_render_smem_raw) + 127) & ~uintptr_t(127));
  __half* Zs = reinterpret_cast<__half*>(base + L.z);
  __half* Ms = reinterpret_cast<__half*>(base + L.m);
  __half* Hs = reinterpret_cast<__half*>(base + L.h);
  __half* Ws = reinterpret_cast<__half*>(base + L.w);
  float* scratch_all = reinterpret_cast<float*>(base + L.scratch);
  float* s0 = reinterpret_cast<float*>(base + L.s0);
  float* rgbs = reinterpret_cast<float*>(base + L.rgb);

  const int tid = threadIdx.x, nthreads = blockDim.x, warps = nthreads >> 5, warp = tid >> 5, lane = tid & 31;
  const int rows = L.rows, ldz = L.ldz, ldh = L.ldh;
  const int H = net.hidden, nf = H / 16, Z = net.latent, Zp = (Z + 15) / 16 * 16;
  const int W = fr.width, Hh = fr.height;

  // The tile: frame fl of the batch, pixel rows r0 .. r0+warps-1, columns c0 .. c0+15.
  const int tiles_x = (W + kNvpRenderTileW - 1) / kNvpRenderTileW, tiles_y = (Hh + warps - 1) / warps;
  const int per_frame = tiles_x * tiles_y;
  const int fl = int(blockIdx.x) / per_frame;
  const int rem = int(blockIdx.x) - fl * per_frame;
  const int ty = rem / tiles_x, tx = rem - ty * tiles_x;
  const int r0 = ty * warps, c0 = tx * kNvpRenderTileW;
  const int frame = fr.first + fl;

  // 1. Modulator layer 0's first weight chunk, in flight during the lookups.
  stage_rows(Ws, net.mod_w[0], 0, min(KC, Zp), H, ldh);
  __pipeline_commit();

  // 2a. Time: t = f / (N - 1) (nvp_pixel_coords), s = (t (N - 1) + 0.5) / N (synth_time), then the first sine layer.
  const float t = fr.frames > 1 ? __fdiv_rn(float(frame), float(fr.frames - 1)) : 0.0f;
  const float s = __fdiv_rn(__fadd_rn(__fmul_rn(t, float(fr.frames) - 1.0f), 0.5f), float(fr.frames));
  for (int n = tid; n < H; n += nthreads)
    s0[n] = sinf(__fmul_rn(net.omega_first, __fadd_rn(__fmul_rn(s, __ldg(net.syn_w0 + n)), __ldg(net.syn_b[0] + n))));

  // 2b. The latent. Pixel p of the tile is row p / 16, column p % 16; pixels outside the frame are computed at the
  // nearest pixel inside it (finite values everywhere) and not written.
  auto pixel_xy = [&](int p, float& x, float& y) {
    const int r = min(r0 + (p >> 4), Hh - 1), c = min(c0 + (p & 15), W - 1);
    x = Hh > 1 ? __fdiv_rn(float(r), float(Hh - 1)) : 0.0f;
    y = W > 1 ? __fdiv_rn(float(c), float(W - 1)) : 0.0f;
  };
  const int Lv = g.lv.levels, F = feat<FT>(g.lv.features);
  const int nkey = rows * 3 * Lv;
#pragma unroll 2
  for (int i = tid; i < nkey; i += nthreads) {
    const int p = i % rows, pl = i / rows;
    const int plane = pl / Lv, l = pl - plane * Lv;
    float x, y, c0f, c1f;
    pixel_xy(p, x, y);
    plane_coords(x, y, t, plane, c0f, c1f);
    const Corners k = keyframe_corners(c0f, c1f, g.lv.scale[l], g.lv.resolution[l], g.lv.offset[l]);
    const float* __restrict__ table = plane == 0 ? g.xy : (plane == 1 ? g.yt : g.xt);
    const float* q0 = table + k.row[0] * F;
    const float* q1 = table + k.row[1] * F;
    const float* q2 = table + k.row[2] * F;
    const float* q3 = table + k.row[3] * F;
    __half* zr = Zs + size_t(p) * ldz + (plane * Lv + l) * F;
#pragma unroll
    for (int f = 0; f < F; ++f)
      zr[f] = __float2half_rn(blend(__ldg(q0 + f), __ldg(q1 + f), __ldg(q2 + f), __ldg(q3 + f), k.w));
  }
  const int SF = g.sf, sparse_col = 3 * Lv * F;
  for (int i = tid; i < rows * 9; i += nthreads) {
    const int p = i % rows, k = i / rows;
    float x, y;
    pixel_xy(p, x, y);
    const float* src = g.sparse + sparse_cell(x, y, t, k, g.st, g.sh, g.sw) * SF;
    __half* zr = Zs + size_t(p) * ldz + sparse_col + k * SF;
    for (int f = 0; f < SF; ++f) zr[f] = __float2half_rn(__ldg(src + f));
  }
  const int zpad = Zp - Z;  // zero columns up to the 16-multiple (0 * garbage could be NaN)
  for (int i = tid; i < rows * zpad; i += nthreads) Zs[size_t(i / zpad) * ldz + Z + i % zpad] = __float2half_rn(0.0f);

  // 3. The layers (mma_layer's first __syncthreads publishes z and s0).
  const int row0 = warp * 16;
  float* scratch = scratch_all + warp * 256;
  FragC acc[NF];
  for (int k = 0; k < net.layers; ++k) {
    if (k == 0) {
      mma_layer<NF>(acc, nf, net.mod_w[0], Zp, 0, Zs, ldz, Zs, ldz, Ws, ldh, H, row0, true);
      epilogue<NF>(acc, nf, Epilogue::kModFirst, scratch, net.mod_b[0], s0, 0.0f, Ms, Hs, ldh, row0, lane);
    } else {
      mma_layer<NF>(acc, nf, net.mod_w[k], H + Zp, H, Ms, ldh, Zs, ldz, Ws, ldh, H, row0, false);
      epilogue<NF>(acc, nf, Epilogue::kMod, scratch, net.mod_b[k], s0, 0.0f, Ms, Hs, ldh, row0, lane);
      mma_layer<NF>(acc, nf, net.syn_w[k], H, H, Hs, ldh, Hs, ldh, Ws, ldh, H, row0, false);
      epilogue<NF>(acc, nf, Epilogue::kSyn, scratch, net.syn_b[k], s0, net.omega_hidden, Ms, Hs, ldh, row0, lane);
    }
  }
  __syncthreads();  // every warp's h rows are written

  // 4. Head, (rgb + 1) / 2, clamp (NaN stays NaN, as torch's clamp), output.
  const size_t plane_px = size_t(W) * Hh;
  for (int i = tid; i < rows * 3; i += nthreads) {
    const int p = i % rows, ch = i / rows;
    const __half* hr = Hs + size_t(p) * ldh;
    const float* wr = net.head_w + size_t(ch) * H;
    float a = 0.0f;
    for (int n = 0; n < H; ++n) a = fmaf(__half2float(hr[n]), __ldg(wr + n), a);
    float v = __fmul_rn(__fadd_rn(__fadd_rn(a, __ldg(net.head_b + ch)), 1.0f), 0.5f);
    v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    if (out_yuv) {
      rgbs[p * 3 + ch] = v;
    } else {
      const int r = r0 + (p >> 4), c = c0 + (p & 15);
      if (r < Hh && c < W) out_rgb[(size_t(fl) * 3 + ch) * plane_px + size_t(r) * W + c] = v;
    }
  }
  if (out_yuv) {
    __syncthreads();
    uint8_t* Y = out_yuv + size_t(fl) * (plane_px * 3 / 2);
    uint8_t* U = Y + plane_px;
    uint8_t* V = U + plane_px / 4;
    const int cw = W / 2;
    for (int q = tid; q < rows / 4; q += nthreads) {  // 8 quads a tile row pair
      const int pr = 2 * (q >> 3), pc = 2 * (q & 7);
      const int gr = r0 + pr, gc = c0 + pc;
      if (gr >= Hh || gc >= W) continue;  // even sizes: a quad is all inside or all outside
      Quad420 quad;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const float* px = rgbs + ((pr + dy) * kNvpRenderTileW + pc + dx) * 3;
          Y[size_t(gr + dy) * W + gc + dx] = quad.add(yc, px[0], px[1], px[2]);
        }
      U[size_t(gr / 2) * cw + gc / 2] = quad.u(yc);
      V[size_t(gr / 2) * cw + gc / 2] = quad.v(yc);
    }
  }
}

[[noreturn]] void bad(const char* what, const std::string& msg) {
  throw std::invalid_argument(std::string(what) + ": " + msg);
}

int current_device() {
  int d = 0;
  if (cudaGetDevice(&d) != cudaSuccess) throw std::runtime_error("nvp render: no current CUDA device");
  return d;
}

using KernelFn = void (*)(NvpRenderGrids, NvpRenderNet, NvpRenderFrames, NvpRenderSmem, YuvCoefficients, float*,
                          uint8_t*);

template <int NF>
KernelFn pick_features(int f) {
  switch (f) {
    case 2: return nvp_render_kernel<NF, 2>;
    case 4: return nvp_render_kernel<NF, 4>;
    default: return nvp_render_kernel<NF, 0>;
  }
}

void launch(const char* what, const NvpRenderGrids& g, const NvpRenderNet& net, const NvpRenderFrames& fr,
            const YuvCoefficients& yc, float* rgb, uint8_t* yuv, void* stream) {
  NvpRenderShape shape;
  shape.latent = net.latent;
  shape.hidden = net.hidden;
  shape.layers = net.layers;
  shape.levels = g.lv.levels;
  shape.features = g.lv.features;
  shape.sparse_features = g.sf;
  int warps = 0;
  const std::string why = nvp_render_unsupported(shape, nvp_render_max_smem(current_device()), &warps);
  if (!why.empty()) bad(what, why);
  if (fr.width < 1 || fr.height < 1 || fr.frames < 1 || fr.first < 0 || fr.count < 0 || fr.first > fr.frames ||
      fr.count > fr.frames - fr.first)
    bad(what, "bad frame range or size");
  if (yuv && ((fr.width & 1) || (fr.height & 1))) bad(what, "4:2:0 output needs even sizes");
  if (g.st < 1 || g.sh < 1 || g.sw < 1) bad(what, "bad sparse grid size");
  for (int l = 0; l < g.lv.levels; ++l) {
    const int R = g.lv.resolution[l];
    if (R < 1 || R > (1 << 20) || g.lv.offset[l + 1] != g.lv.offset[l] + int64_t(R) * R ||
        !(g.lv.scale[l] >= 0.0f && g.lv.scale[l] <= float(R)))
      bad(what, "bad keyframe level " + std::to_string(l));
  }
  if (g.lv.offset[0] != 0) bad(what, "offset[0] must be 0");
  if (!g.xy || !g.yt || !g.xt || !g.sparse || !net.syn_w0 || !net.head_w || !net.head_b || (!rgb && !yuv))
    bad(what, "null pointer");
  for (int k = 0; k < net.layers; ++k)
    if (!net.mod_w[k] || !net.mod_b[k] || !net.syn_b[k] || (k > 0 && !net.syn_w[k])) bad(what, "null layer pointer");
  if (fr.count == 0) return;
  const int64_t tiles = int64_t((fr.width + kNvpRenderTileW - 1) / kNvpRenderTileW) * ((fr.height + warps - 1) / warps) *
                        fr.count;
  if (tiles > INT_MAX) bad(what, "too many tiles in one launch; render fewer frames at a time");

  const NvpRenderSmem L = nvp_render_smem(shape, warps);
  const KernelFn k = net.hidden <= 128 ? pick_features<8>(g.lv.features) : pick_features<16>(g.lv.features);
  // The attribute belongs to the kernel function, shared by every renderer: only ever raise it, so that another
  // thread's smaller model cannot lower it between this call and this launch.
  cudaError_t err = cudaSuccess;
  {
    static std::mutex smem_mutex;
    static std::map<const void*, size_t> smem_set;
    const std::lock_guard<std::mutex> lock(smem_mutex);
    size_t& set = smem_set[reinterpret_cast<const void*>(k)];
    if (L.total > set) {
      err = cudaFuncSetAttribute(reinterpret_cast<const void*>(k), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 int(L.total));
      if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
      set = L.total;
    }
  }
  k<<<unsigned(tiles), unsigned(warps * 32), L.total, static_cast<cudaStream_t>(stream)>>>(g, net, fr, L, yc, rgb,
                                                                                           yuv);
  err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + " kernel: " + cudaGetErrorString(err));
}

}  // namespace

size_t nvp_render_max_smem(int device) {
  int v = 0;
  if (cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) return 48 * 1024;
  // sm_90 binaries of these kernels carry 1 KB of reserved shared memory (.nv.reservedSmem) that may count against
  // the opt-in limit: plan without it, so a model that would land in that last KB takes the smaller tile instead of
  // failing to launch.
  return v > 1024 ? size_t(v) - 1024 : size_t(v);
}

int nvp_render_compute_capability(int device) {
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  return major * 10 + minor;
}

void launch_nvp_render_rgb(const NvpRenderGrids& g, const NvpRenderNet& net, const NvpRenderFrames& fr, float* out,
                           void* stream) {
  launch("launch_nvp_render_rgb", g, net, fr, YuvCoefficients{}, out, nullptr, stream);
}

void launch_nvp_render_yuv420(const NvpRenderGrids& g, const NvpRenderNet& net, const NvpRenderFrames& fr,
                              const YuvCoefficients& c, uint8_t* out, void* stream) {
  launch("launch_nvp_render_yuv420", g, net, fr, c, nullptr, out, stream);
}

}  // namespace nvc::cuda
