// Devices, and the small pieces of CUDA machinery the fast paths share (events, graph capture, autocast), behind an
// interface that compiles and behaves sensibly without CUDA: on the CPU an event is always complete and graph
// capture is refused.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace nvc {
// "auto" -> first CUDA device when one is present, else CPU; "cpu"; "cuda" / "cuda:N" (error if absent).
torch::Device resolve_device(const std::string& spec);
std::string describe_device(const torch::Device& d);
// The GPU's name ("NVIDIA H100 80GB HBM3"), or "cpu".
std::string device_name(const torch::Device& d);
// Whether the GPU does bf16 arithmetic natively (compute capability 8.0 and up); false for the CPU.
bool cuda_supports_bf16(const torch::Device& d);
// Waits for all work queued on the device (no-op on the CPU).
void synchronize(const torch::Device& d);

// A point in the device's current stream. done() polls without blocking; wait() blocks until the work queued before
// record() has finished. On the CPU work is synchronous, so both return at once.
class DeviceEvent {
 public:
  DeviceEvent();
  ~DeviceEvent();
  DeviceEvent(DeviceEvent&&) noexcept;
  DeviceEvent& operator=(DeviceEvent&&) noexcept;
  void record(const torch::Device& d);
  bool done() const;
  void wait() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One captured CUDA graph of a step whose tensors are all static (same shapes and addresses every call).
// capture() runs `body` `warmup` times eagerly on a side stream (cuDNN/cuBLAS pick their algorithms and workspaces,
// autograd and optimizer state get allocated), then captures one more call and returns true; the captured call does
// not execute. It returns false, with the reason in *why, when the device is not CUDA or capture failed (an op that
// syncs with the host, for example); the warm-up calls have run either way. replay() launches the graph on the
// current stream.
class CapturedStep {
 public:
  CapturedStep();
  ~CapturedStep();
  bool capture(const torch::Device& d, const std::function<void()>& body, int warmup, std::string* why);
  bool captured() const;
  void replay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Scoped autocast for the device's type: ops in autocast's lower-precision list (convolutions, matmuls) run in
// `dtype`, the rest in float32. The weight-cast cache is off: weights change in place every step, and a captured
// graph must re-read them. Restores the previous state on exit. dtype == float32 makes it a no-op.
class AutocastScope {
 public:
  AutocastScope(const torch::Device& d, torch::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool prev_enabled_ = false, prev_cache_ = true;
  torch::ScalarType prev_dtype_ = torch::kFloat32;
};

// Convolution weights (4-D parameters whose name does not contain "grid": the feature grids are tables, not
// kernels) put in a memory format. ChannelsLast is cuDNN's tensor-core layout; Contiguous brings them back.
void set_conv_memory_format(torch::nn::Module& m, torch::MemoryFormat format);

// "fp32" | "fp16" | "bf16" -> dtype; throws std::invalid_argument naming the value otherwise.
torch::ScalarType parse_precision(const std::string& name);
std::string precision_name(torch::ScalarType t);
}  // namespace nvc
