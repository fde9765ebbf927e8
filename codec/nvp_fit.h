// Fitting an NVP to a video (encode side only): random pixels of the whole video per step, as the paper does.
#pragma once
#include <functional>

#include <torch/torch.h>

#include "codec/fit.h"
#include "codec/nvp_model.h"

namespace nvc {

struct NvpFitOptions {
  int64_t iterations = 1000;
  // > 0: fit for this many seconds of wall time instead (iterations is then only an upper bound): the cosine runs over
  // the time, p = elapsed / time_budget_s, and the fit stops when the time is up.
  double time_budget_s = 0;
  // Pixels per step: the paper uses about 1.2M on a GPU; nvenc picks fewer on a CPU (a step is one pass over them).
  int64_t batch_pixels = 1 << 20;
  // AdamW, cosine from lr to final_lr over the iterations (the paper: 1e-2 -> 1e-5, weight decay 1e-3).
  double lr = 1e-2, final_lr = 1e-5, weight_decay = 1e-3;
  torch::Device device = torch::kCPU;
  uint64_t seed = 1;
  double report_interval_s = 0.5;
  std::function<void(const FitProgress&)> on_progress;  // stage "nvp"; PSNR of RGB in [0, 1]
  std::function<bool()> should_stop;                    // polled every step
};

struct NvpFitResult {
  double final_psnr = 0;  // PSNR (RGB in [0, 1]) of the last report's mean training loss
  int64_t steps = 0;
  double seconds = 0;
  bool stopped_early = false;
};

// frames: [T, 3, H, W] RGB in [0, 1]. The model's size must be the frames'. The video stays on opt.device (fp16 on
// CUDA); each step draws batch_pixels (frame, row, column) triples uniformly and regresses 2 v - 1 (the model's
// [-1, 1] range) with MSE.
NvpFitResult fit_nvp(NvpModel& model, const torch::Tensor& frames, const NvpFitOptions& opt);

}  // namespace nvc
