#pragma once
// Entropy coding of quantized tensors (signed integers in memory order), DeepCABAC-style: each value is binarized
// into a significance flag, a sign flag and an adaptive Rice code of |v| - 1 whose parameter follows an integer
// running mean of the magnitudes (Exp-Golomb escape for large quotients), coded with context-adaptive binary
// arithmetic coding (entropy/range_coder.h). Byte format and decoding process: docs/entropy.md.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "entropy/decode_error.h"

namespace nvc::entropy {

// Largest magnitude that can be coded: |v| <= kMaxAbsValue.
inline constexpr int32_t kMaxAbsValue = 1 << 24;

// Codes `count` signed integers (a quantized tensor in memory order). The output does not store `count`: the caller
// knows it. Throws std::invalid_argument if some |v| > kMaxAbsValue. count == 0 gives an empty vector.
std::vector<uint8_t> encode_ints(const int32_t* values, size_t count);

// Decodes exactly `count` integers from [data, data+size). Never reads outside that range; time is O(count + size).
// Throws DecodeError when the data is truncated (more than kMaxPadding implicit zero bytes needed), when bytes are
// left over after the last value, or when a value is out of range.
std::vector<int32_t> decode_ints(const uint8_t* data, size_t size, size_t count);

// Order-0 (memoryless) empirical entropy of the values, in bytes (sum over symbols of -log2 p / 8).
double order0_entropy_bytes(const int32_t* values, size_t count);

}  // namespace nvc::entropy
