// NVP decoding (docs/nvp.md, "Decoding"): an NvpModel (after load_nvp) -> RGB frames or 4:2:0 bytes, through one
// of three paths:
//   fused      CUDA: the fused kernel of codec/cuda/nvp_render.h (lookups + modulator + SIREN per tile of pixels,
//              fp16 tensor cores, fp32 accumulate), weights packed to fp16 on the device once, here. Its first
//              batch is checked against the LibTorch path on a sample of pixels; beyond the tolerance (or when the
//              kernel cannot run the configuration, or fails to launch) the renderer falls back to the LibTorch path
//              for the rest of the stream and describe() says why.
//   reference  nvp_render_frames (codec/nvp_model.h): LibTorch ops in fp32, any device (on CUDA the lookups go
//              through the fused lookup kernels, the matrix products through cuBLAS).
//   cpu        the CPU path: the latent by a parallel loop over pixels with the lookup kernels' per-element maths
//              (nvp_math), the modulator and the SIREN as float32 addmm in pixel chunks; optionally with the fused
//              kernel's fp16 roundings emulated (what the GPU computes, to accumulation order).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "codec/nvp_model.h"

namespace nvc {

struct NvpCpuNet;  // the cpu path's prepared network (codec/nvp_render.cpp)

enum class NvpRenderPath { kAuto, kFused, kReference, kCpu };
const char* nvp_render_path_name(NvpRenderPath p);  // "auto", "fused", "reference", "cpu"
NvpRenderPath parse_nvp_render_path(const std::string& name);  // throws std::invalid_argument

// Largest |fused - LibTorch fp32| on [0, 1] RGB the self-check accepts (docs/nvp.md, "Decoding": the fp16 roundings
// of the latent, the weights and the activations give up to ~1e-3 on NVP-S-shaped models; a wrong kernel gives
// errors of 0.1 and more).
constexpr double kNvpFusedTolerance = 4e-3;

struct NvpRenderOptions {
  NvpRenderPath path = NvpRenderPath::kAuto;  // auto: fused on CUDA (fp16) when it can, else reference; cpu on the CPU
  // Undefined = auto. CUDA: fp16 / bf16 / auto take the fused kernel (fp16), fp32 the LibTorch path. CPU: fp16 runs
  // the cpu path with the fused kernel's fp16 roundings emulated, anything else float32.
  torch::ScalarType precision = c10::ScalarType::Undefined;
  bool self_check = true;                 // compare the first fused batch with the LibTorch path
  double tolerance = kNvpFusedTolerance;  // of that comparison
  int check_pixels = 4096;                // pixels of the first batch compared
  int64_t chunk_pixels = 1 << 13;         // pixels per matrix product on the cpu path
};

// Why the fused kernel cannot run this configuration on a device with max_smem bytes of opt-in shared memory per
// block ("" when it can); *warps: the tile height it would use.
std::string nvp_fused_unsupported(const NvpConfig& cfg, size_t max_smem, int* warps = nullptr);

class NvpRenderer {
 public:
  // The model stays shared (NvpModel is a handle); its device decides what can run.
  explicit NvpRenderer(NvpModel model, const NvpRenderOptions& options = {});
  ~NvpRenderer();
  NvpRenderer(const NvpRenderer&) = delete;
  NvpRenderer& operator=(const NvpRenderer&) = delete;

  // Frames [first, first + count) -> [count, 3, H, W] float RGB in [0, 1] on the model's device. Throws
  // std::out_of_range outside the model's frames.
  torch::Tensor render_rgb(int first, int count);
  // The same as 4:2:0 bytes on the model's device, [count, W * H * 3 / 2] (Y, U, V; even sizes), converted with
  // `matrix` / `full_range` as rgb_batch_to_yuv420 does (the fused kernel writes them directly).
  torch::Tensor render_yuv420(int first, int count, int matrix, bool full_range);

  NvpRenderPath path() const { return path_; }  // the path in use now (never kAuto)
  bool emulates_fp16() const { return emulate_fp16_; }
  double check_error() const { return check_error_; }  // the self-check's max error; -1 before / without one
  std::string describe() const;                        // path, precision, and why the fused kernel is off if it is

 private:
  struct Fused;
  torch::Tensor reference_rgb(int first, int count);
  torch::Tensor cpu_rgb(int first, int count);
  torch::Tensor fused_rgb(int first, int count);
  bool fused_first_batch(int first, int count, torch::Tensor* rgb);  // launch + self-check; false: fell back
  void fall_back(const std::string& why);

  NvpModel model_;
  NvpRenderOptions opt_;
  NvpRenderPath path_ = NvpRenderPath::kReference;
  bool emulate_fp16_ = false;
  bool checked_ = false;
  double check_error_ = -1;
  int check_count_ = 0;
  std::string note_;  // why the fused kernel is not used (empty when it is, or was never wanted)
  std::unique_ptr<NvpCpuNet> cpu_;
  std::unique_ptr<Fused> fused_;
};

// The cpu path as a free function (tests, benchmarks): frames [first, first + count) of a CPU model -> [count, 3, H,
// W] float RGB in [0, 1]. emulate_fp16: round the latent, the tensor-core layers' weights and every stored
// activation to fp16 as the fused kernel does.
torch::Tensor nvp_render_frames_cpu(NvpModel& model, int first, int count, bool emulate_fp16 = false,
                                    int64_t chunk_pixels = 1 << 13);

}  // namespace nvc
