#pragma once
// Binary arithmetic (range) coder with adaptive bit models. Integer-only, so every machine produces and decodes
// exactly the same bytes.
//
// Coder: 32-bit range kept in [2^24, 2^32), byte-wise output, carries propagated back into the output buffer.
// Probabilities are P(bit == 1) in Q16, strictly inside (0, 65536).
// The flush writes the value with the most trailing zero bits and then drops up to kMaxPadding trailing zero
// bytes; the decoder reads zeros past the end, but at most kMaxPadding of them, and checks that it consumed
// the whole buffer.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "entropy/decode_error.h"

namespace nvc::entropy {

inline constexpr int kMaxPadding = 4;

// Adaptive probability of a binary event: average of a fast and a slow exponential estimator, with a warm-up that
// starts near 1/(n+2) adaptation so that contexts which see few events (small tensors) still learn quickly.
class BitModel {
 public:
  static constexpr int kFastShift = 5;
  static constexpr int kSlowShift = 10;

  // P(bit == 1) in Q16, in [1, 65535].
  uint32_t p1() const {
    uint32_t p = (fast_ + slow_) >> (kPrec + 1 - 16);
    return p < 1 ? 1 : (p > 65535 ? 65535 : p);
  }

  void update(int bit) {
    // w = floor(log2(n + 2)) after n updates, capped by the final (slow) rate.
    const int sf = w_ < kFastShift ? w_ : kFastShift;
    const int ss = w_;
    if (w_ < kSlowShift && static_cast<uint32_t>(++n_) + 2u >= (2u << w_)) ++w_;
    if (bit) {
      fast_ += (kOne - fast_) >> sf;
      slow_ += (kOne - slow_) >> ss;
    } else {
      fast_ -= fast_ >> sf;
      slow_ -= slow_ >> ss;
    }
  }

 private:
  // Q26 state: the extra bits below Q16 keep very skewed contexts (e.g. all-zero tensors) from flooring at ~1/500.
  static constexpr int kPrec = 26;
  static constexpr uint32_t kOne = 1u << kPrec;
  uint32_t fast_ = kOne / 2;
  uint32_t slow_ = kOne / 2;
  uint16_t n_ = 0;
  uint8_t w_ = 1;
};

class RangeEncoder {
 public:
  void encode(int bit, uint32_t p1) {
    uint32_t split = static_cast<uint32_t>((static_cast<uint64_t>(range_) * p1) >> 16);
    if (bit) {
      range_ = split;
    } else {
      low_ += split;
      range_ -= split;
      if (low_ >> 32) carry();
    }
    normalize();
  }
  void encode(BitModel& m, int bit) {
    encode(bit, m.p1());
    m.update(bit);
  }
  void bypass(int bit) {
    uint32_t half = range_ >> 1;
    if (bit) {
      low_ += half;
      range_ -= half;
      if (low_ >> 32) carry();
    } else {
      range_ = half;
    }
    normalize();
  }
  // n <= 32 raw bits, most significant first.
  void bypass_bits(uint32_t value, int n) {
    for (int i = n - 1; i >= 0; --i) bypass((value >> i) & 1);
  }
  // Terminates the stream and returns it; the encoder is reset afterwards.
  std::vector<uint8_t> finish();

 private:
  void carry() {
    low_ &= 0xFFFFFFFFu;
    for (size_t i = out_.size(); i-- > 0;) {
      if (++out_[i] != 0) break;
    }
  }
  void normalize() {
    while (range_ < (1u << 24)) {
      out_.push_back(static_cast<uint8_t>(low_ >> 24));
      low_ = (low_ << 8) & 0xFFFFFFFFu;
      range_ <<= 8;
    }
  }

  uint64_t low_ = 0;  // < 2^32 between calls
  uint32_t range_ = 0xFFFFFFFFu;
  std::vector<uint8_t> out_;
};

class RangeDecoder {
 public:
  RangeDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
    for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | next();
    // The encoder's value is always below its initial range; anything else is not our stream.
    if (code_ >= range_) throw DecodeError("entropy: invalid range-coder start");
  }

  int decode(uint32_t p1) {
    uint32_t split = static_cast<uint32_t>((static_cast<uint64_t>(range_) * p1) >> 16);
    int bit;
    if (code_ < split) {
      range_ = split;
      bit = 1;
    } else {
      code_ -= split;
      range_ -= split;
      bit = 0;
    }
    normalize();
    return bit;
  }
  int decode(BitModel& m) {
    int bit = decode(m.p1());
    m.update(bit);
    return bit;
  }
  int bypass() {
    uint32_t half = range_ >> 1;
    int bit;
    if (code_ < half) {
      range_ = half;
      bit = 0;
    } else {
      code_ -= half;
      range_ -= half;
      bit = 1;
    }
    normalize();
    return bit;
  }
  uint32_t bypass_bits(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 1) | static_cast<uint32_t>(bypass());
    return v;
  }
  // Throws if bytes were left unread: a stream from RangeEncoder is consumed exactly.
  void finish() const {
    if (pos_ != size_) throw DecodeError("entropy: trailing bytes after the coded data");
  }
  size_t overrun() const { return overrun_; }

 private:
  uint32_t next() {
    if (pos_ < size_) return data_[pos_++];
    if (++overrun_ > static_cast<size_t>(kMaxPadding)) throw DecodeError("entropy: truncated data");
    return 0;
  }
  void normalize() {
    while (range_ < (1u << 24)) {
      code_ = (code_ << 8) | next();
      range_ <<= 8;
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t overrun_ = 0;
  uint32_t code_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
};

}  // namespace nvc::entropy
