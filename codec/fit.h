// Fitting a T-NeRV to a video (encode side only).
#pragma once
#include <functional>

#include <torch/torch.h>

#include "codec/tnerv_decoder.h"
#include "codec/tnerv_encoder.h"

namespace nvc {

struct FitProgress {
  int64_t step = 0, total_steps = 0;
  int epoch = 0, epochs = 0;
  double loss = 0;     // mean MSE over the steps since the last report (RGB in [0,1])
  double psnr = 0;     // PSNR of that loss
  double elapsed_s = 0, steps_per_s = 0, eta_s = 0;
};

struct FitOptions {
  int epochs = 100;
  int batch = 1;                 // frames per step
  double lr = 1e-2;
  double warmup_fraction = 0.1;  // linear warm-up, then cosine decay
  double final_lr_fraction = 0.01;
  double temporal_lr_scale = 0.1;  // learning rate of the time-conditioning modules relative to lr
  torch::Device device = torch::kCPU;
  uint64_t seed = 1;
  double report_interval_s = 0.5;
  std::function<void(const FitProgress&)> on_progress;
  std::function<bool()> should_stop;  // polled every step: true ends fitting early (Ctrl-C), keeping what was learnt
};

struct FitResult {
  // What is stored per frame, on the CPU (undefined when the model has none):
  torch::Tensor embeddings;      // [T, Ce, h, w] E_t = encoder(frame) + augmentation(t) after fitting
  torch::Tensor temporal_codes;  // [T, Dt] the temporal MLP at each frame's time
  double final_psnr = 0;     // PSNR of the last epoch's training loss
  int64_t steps = 0;
  double seconds = 0;
  bool stopped_early = false;
};

// frames: [T, 3, H, W] float RGB (display size). The decoder output is cropped to H x W for the loss; the encoder
// sees the frames edge-padded to the coded size. Both modules stay on opt.device.
// With the flow-guided decoder, neighbours come from a detached buffer of the latest independent frame of every
// frame (a neighbour not yet decoded in this fit counts as missing), and the loss is
// MSE(output) + 0.1 * (MSE(independent) + MSE(aggregated)) as in FFNeRV.
FitResult fit_tnerv(TNervDecoder& decoder, TNervEncoder& encoder, const torch::Tensor& frames, const FitOptions& opt);

// Learning rate at a given step for the warm-up + cosine schedule (exposed for tests).
double scheduled_lr(const FitOptions& opt, int64_t step, int64_t total_steps);

}  // namespace nvc
