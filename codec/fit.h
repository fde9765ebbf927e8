// Fitting a T-NeRV to a video (encode side only).
#pragma once
#include <functional>

#include <torch/torch.h>

#include "codec/compress.h"
#include "codec/tnerv_decoder.h"
#include "codec/tnerv_encoder.h"

namespace nvc {

struct FitProgress {
  const char* stage = "fit";  // fit | prune | qat (the compression stages are fine-tuning runs of their own)
  int64_t step = 0, total_steps = 0;
  int epoch = 0, epochs = 0;
  double loss = 0;     // mean MSE over the steps since the last report (RGB in [0,1])
  double psnr = 0;     // PSNR of that loss
  double elapsed_s = 0, steps_per_s = 0, eta_s = 0;
};

// How fitting runs. None of these change what is learnt beyond arithmetic precision; they change how fast.
// reference() is plain fp32 eager LibTorch (the baseline bench/perf.py measures against); fast() turns on what pays
// on the device. Each switch is explained where codec/fit.cpp uses it and in docs/architecture.md.
struct FitSpeed {
  torch::ScalarType autocast = torch::kFloat32;  // kBFloat16: bf16 autocast (weights, gradients, Adam stay fp32)
  bool channels_last = false;   // NHWC convolution weights and activations (cuDNN's tensor-core layout)
  bool fused_adam = false;      // one fused ATen Adam kernel per group, state on the device (else torch::optim::Adam)
  bool async_progress = false;  // the loss is summed on the device and read back behind an event: no host sync
  bool half_frames = false;     // the video is held on the device in fp16 (half the memory of fp32)
  bool cuda_graphs = false;     // the steady-state step of the main fit replays one captured CUDA graph
  static FitSpeed reference() { return {}; }
  static FitSpeed fast(const torch::Device& device);
  std::string describe() const;  // e.g. "bf16,channels_last,fused_adam,async,half_frames,graphs" or "fp32 eager"
};

struct FitOptions {
  int epochs = 100;
  int batch = 1;                 // frames per step
  double lr = 1e-2;
  double warmup_fraction = 0.1;  // linear warm-up, then cosine decay
  double final_lr_fraction = 0.01;
  // Adam's second-moment decay. 0.999 (the usual) let the 13k-parameter model collapse at its peak learning rate
  // (training PSNR 20.9 -> 17.0 dB in one epoch) because the slow average trails a sudden rise of the gradients.
  // vtest 192x144x30, 40 epochs, PSNR-YUV at 0.05 / 0.1 / 0.2 bpp: 0.999 25.52 / 27.27 / 32.49 dB, 0.99 26.40 / 29.92 /
  // 32.91, 0.95 - / 30.04 / 33.04. 0.99 is the conservative pick for larger models.
  double adam_beta2 = 0.99;
  double temporal_lr_scale = 0.1;  // learning rate of the time-conditioning modules relative to lr
  torch::Device device = torch::kCPU;
  FitSpeed speed;
  uint64_t seed = 1;
  double report_interval_s = 0.5;
  std::function<void(const FitProgress&)> on_progress;
  std::function<bool()> should_stop;  // polled every step: true ends fitting early (Ctrl-C), keeping what was learnt
  // Compression-aware fine-tuning (codec/compress.h): pruned weights, fake quantization, rate term. Not owned.
  CompressionAwareStep* compression = nullptr;
  const char* stage = "fit";
  // Decode every frame once before the first step so the flow-guided decoder starts with all neighbours (a
  // fine-tuning stage starts from a fitted model; the main fit starts with none).
  bool prefill_neighbours = false;
  // One learning-rate schedule across the main fit and the compression stages: this run covers steps
  // [schedule_offset, schedule_offset + its own steps) of a schedule of schedule_total steps (0 = its own).
  int64_t schedule_offset = 0, schedule_total = 0;
};

struct FitResult {
  // What is stored per frame, on the CPU (undefined when the model has none):
  torch::Tensor embeddings;      // [T, Ce, h, w] E_t = encoder(frame) + augmentation(t) after fitting
  torch::Tensor temporal_codes;  // [T, Dt] the temporal MLP at each frame's time
  double final_psnr = 0;     // PSNR of the last epoch's training loss
  int64_t steps = 0;
  double seconds = 0;
  bool stopped_early = false;
  // Whether the steady-state steps ran as a CUDA graph, and why not when they were asked to and did not.
  bool graphed = false;
  std::string graph_fallback;
};

// frames: [T, 3, H, W] float RGB (display size). The decoder output is cropped to H x W for the loss; the encoder
// sees the frames edge-padded to the coded size. Both modules stay on opt.device.
// With the flow-guided decoder, neighbours come from a detached buffer of the latest independent frame of every
// frame (a neighbour not yet decoded in this fit counts as missing), and the loss is
// MSE(output) + 0.1 * (MSE(independent) + MSE(aggregated)) as in FFNeRV.
FitResult fit_tnerv(TNervDecoder& decoder, TNervEncoder& encoder, const torch::Tensor& frames, const FitOptions& opt);

// Steps of a fit of `epochs` epochs over `frames` frames at `batch` frames per step.
int64_t fit_steps(int64_t frames, int batch, int epochs);

// Learning rate at a given step for the warm-up + cosine schedule (exposed for tests).
double scheduled_lr(const FitOptions& opt, int64_t step, int64_t total_steps);

}  // namespace nvc
