#include "codec/device.h"

#include <stdexcept>

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

}  // namespace nvc
