#include "entropy/range_coder.h"

namespace nvc::entropy {

std::vector<uint8_t> RangeEncoder::finish() {
  // Pick the value in [low, low + range - 1] with the most trailing zero bits, so that the zero bytes the
  // decoder pads with can stand in for as many of the final bytes as possible.
  const uint64_t lo = low_;
  const uint64_t hi = low_ + range_ - 1;
  uint64_t val = lo;
  for (int k = 32; k >= 0; --k) {
    const uint64_t mask = (uint64_t{1} << k) - 1;
    const uint64_t v = (lo + mask) & ~mask;
    if (v <= hi) {
      val = v;
      break;
    }
  }
  low_ = val;
  if (low_ >> 32) carry();
  for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<uint8_t>(low_ >> s));
  for (int i = 0; i < kMaxPadding && !out_.empty() && out_.back() == 0; ++i) out_.pop_back();
  std::vector<uint8_t> result;
  result.swap(out_);
  low_ = 0;
  range_ = 0xFFFFFFFFu;
  return result;
}

}  // namespace nvc::entropy
