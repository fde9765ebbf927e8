#pragma once
#include <string>

#include <torch/torch.h>

namespace nvc {
// "auto" -> first CUDA device when one is present, else CPU; "cpu"; "cuda" / "cuda:N" (error if absent).
torch::Device resolve_device(const std::string& spec);
std::string describe_device(const torch::Device& d);
}  // namespace nvc
