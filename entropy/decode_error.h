#pragma once
#include <stdexcept>

namespace nvc::entropy {

// Thrown by every decoder in this layer on corrupt, truncated or out-of-range data.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace nvc::entropy
