#include "codec/device.h"

#include <ATen/autocast_mode.h>

#include <stdexcept>

#ifdef NVC_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace nvc {

torch::Device resolve_device(const std::string& spec) {
  if (spec.empty() || spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  if (spec == "cpu") return torch::kCPU;
  if (spec.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) throw std::runtime_error("--device " + spec + ": no CUDA device is available");
    int index = 0;
    if (spec.size() > 4) {
      if (spec[4] != ':') throw std::invalid_argument("--device: expected cpu, cuda or cuda:N, got '" + spec + "'");
      try {
        index = std::stoi(spec.substr(5));
      } catch (...) {
        throw std::invalid_argument("--device: bad CUDA index in '" + spec + "'");
      }
    }
    if (index < 0 || index >= int(torch::cuda::device_count()))
      throw std::runtime_error("--device " + spec + ": no such CUDA device");
    return torch::Device(torch::kCUDA, index);
  }
  throw std::invalid_argument("--device: expected cpu, cuda or cuda:N, got '" + spec + "'");
}

std::string describe_device(const torch::Device& d) { return d.str(); }

std::string device_name(const torch::Device& d) {
#ifdef NVC_HAVE_CUDA
  if (d.is_cuda()) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d.has_index() ? d.index() : 0) == cudaSuccess) return prop.name;
    return "cuda";
  }
#endif
  return d.is_cuda() ? "cuda" : "cpu";
}

bool cuda_supports_bf16(const torch::Device& d) {
#ifdef NVC_HAVE_CUDA
  if (d.is_cuda()) {
    cudaDeviceProp prop{};
    return cudaGetDeviceProperties(&prop, d.has_index() ? d.index() : 0) == cudaSuccess && prop.major >= 8;
  }
#endif
  return false;
}

void synchronize(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.has_index() ? d.index() : -1);
}

// ---- DeviceEvent ------------------------------------------------------------------------------------------------
struct DeviceEvent::Impl {
#ifdef NVC_HAVE_CUDA
  std::unique_ptr<at::cuda::CUDAEvent> event;
#endif
};

DeviceEvent::DeviceEvent() : impl_(std::make_unique<Impl>()) {}
DeviceEvent::~DeviceEvent() = default;
DeviceEvent::DeviceEvent(DeviceEvent&&) noexcept = default;
DeviceEvent& DeviceEvent::operator=(DeviceEvent&&) noexcept = default;

void DeviceEvent::record(const torch::Device& d) {
#ifdef NVC_HAVE_CUDA
  if (d.is_cuda()) {
    if (!impl_->event) impl_->event = std::make_unique<at::cuda::CUDAEvent>(cudaEventDisableTiming);
    impl_->event->record(c10::cuda::getCurrentCUDAStream(d.index()));
    return;
  }
  impl_->event.reset();
#endif
  (void)d;
}

bool DeviceEvent::done() const {
#ifdef NVC_HAVE_CUDA
  if (impl_->event) return impl_->event->query();
#endif
  return true;
}

void DeviceEvent::wait() const {
#ifdef NVC_HAVE_CUDA
  if (impl_->event) impl_->event->synchronize();
#endif
}

// ---- CapturedStep -----------------------------------------------------------------------------------------------
struct CapturedStep::Impl {
#ifdef NVC_HAVE_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

CapturedStep::CapturedStep() : impl_(std::make_unique<Impl>()) {}
CapturedStep::~CapturedStep() = default;

bool CapturedStep::captured() const {
#ifdef NVC_HAVE_CUDA
  return impl_->graph != nullptr;
#else
  return false;
#endif
}

bool CapturedStep::capture(const torch::Device& d, const std::function<void()>& body, int warmup, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (!d.is_cuda()) {
    for (int i = 0; i < warmup; ++i) body();
    return fail("CUDA graphs need a CUDA device");
  }
#ifdef NVC_HAVE_CUDA
  const c10::cuda::CUDAGuard device_guard(d);
  const auto main_stream = c10::cuda::getCurrentCUDAStream(d.index());
  // Capture (and the warm-up before it, as PyTorch's whole-network capture recipe does) runs on a side stream: the
  // legacy default stream cannot be captured.
  const auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, d.index());
  {
    at::cuda::CUDAEvent ready;
    ready.record(main_stream);
    ready.block(side);
  }
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  std::string error;
  {
    const c10::cuda::CUDAStreamGuard stream_guard(side);
    for (int i = 0; i < warmup; ++i) body();
    // As torch.cuda.graph does: the graph gets a private memory pool holding a second set of activations, so give
    // the eager steps' cached blocks back first (at 1080p the two sets may not fit together).
    torch::cuda::synchronize(d.index());
    c10::cuda::CUDACachingAllocator::emptyCache();
    try {
      graph->capture_begin();
      try {
        body();
      } catch (...) {
        // End the capture before reporting, or the stream stays in capture mode.
        try {
          graph->capture_end();
        } catch (...) {
        }
        throw;
      }
      graph->capture_end();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  {
    at::cuda::CUDAEvent done;
    done.record(side);
    done.block(main_stream);
  }
  if (!error.empty()) {
    cudaGetLastError();  // clear a sticky capture error so later launches are not blamed for it
    const auto nl = error.find('\n');
    return fail("capture failed: " + error.substr(0, nl));
  }
  impl_->graph = std::move(graph);
  return true;
#else
  return fail("built without CUDA");
#endif
}

void CapturedStep::replay() {
#ifdef NVC_HAVE_CUDA
  if (impl_->graph) {
    impl_->graph->replay();
    return;
  }
#endif
  throw std::logic_error("CapturedStep::replay without a captured graph");
}

// ---- AutocastScope ----------------------------------------------------------------------------------------------
AutocastScope::AutocastScope(const torch::Device& d, torch::ScalarType dtype) {
  if (dtype == torch::kFloat32) return;
  type_ = d.type();
  prev_enabled_ = at::autocast::is_autocast_enabled(type_);
  prev_dtype_ = at::autocast::get_autocast_dtype(type_);
  prev_cache_ = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, dtype);
  at::autocast::set_autocast_cache_enabled(false);
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  at::autocast::set_autocast_enabled(type_, prev_enabled_);
  at::autocast::set_autocast_dtype(type_, prev_dtype_);
  at::autocast::set_autocast_cache_enabled(prev_cache_);
}

void set_conv_memory_format(torch::nn::Module& m, torch::MemoryFormat format) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters())
    if (p.value().dim() == 4 && p.key().find("grid") == std::string::npos)
      p.value().set_data(p.value().contiguous(format));
}

torch::ScalarType parse_precision(const std::string& name) {
  if (name == "fp32") return torch::kFloat32;
  if (name == "fp16") return torch::kFloat16;
  if (name == "bf16") return torch::kBFloat16;
  throw std::invalid_argument("precision must be fp32, fp16 or bf16, got '" + name + "'");
}

std::string precision_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "fp32";
    case torch::kFloat16: return "fp16";
    case torch::kBFloat16: return "bf16";
    default: return c10::toString(t);
  }
}

}  // namespace nvc
