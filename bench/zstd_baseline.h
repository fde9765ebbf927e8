// The fair zstd baseline for quantized integers: zstd -19 of the values packed in the narrowest little-endian width
// that holds them (int8, int16 or int32). Used by the benchmarks and by the test that keeps our coder below it.
#pragma once
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace nvc::bench {

inline size_t zstd19_bytes(const std::vector<int32_t>& v) {
  int32_t lo = 0, hi = 0;
  for (int32_t x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  const int width = (lo >= -128 && hi <= 127) ? 1 : (lo >= -32768 && hi <= 32767) ? 2 : 4;
  std::vector<uint8_t> raw(v.size() * size_t(width));
  for (size_t i = 0; i < v.size(); ++i)
    for (int b = 0; b < width; ++b) raw[i * size_t(width) + size_t(b)] = uint8_t(uint32_t(v[i]) >> (8 * b));
  std::vector<uint8_t> out(ZSTD_compressBound(raw.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 19);
  return ZSTD_isError(n) ? raw.size() : n;
}

}  // namespace nvc::bench
