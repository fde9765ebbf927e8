// Internal: little-endian / LEB128 writer and a bounds-checked reader for the .nvc container. Not part of the API.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bitstream/nvc_file.h"

namespace nvc::bitstream::detail {

inline uint64_t zigzag(int64_t v) { return (uint64_t(v) << 1) ^ (v < 0 ? ~uint64_t(0) : uint64_t(0)); }
inline int64_t unzigzag(uint64_t u) { return int64_t(u >> 1) ^ -int64_t(u & 1); }

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(uint8_t(v) | 0x80);
      v >>= 7;
    }
    out_.push_back(uint8_t(v));
  }
  void svarint(int64_t v) { varint(zigzag(v)); }
  void bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void str(const std::string& s) {
    varint(s.size());
    bytes(s.data(), s.size());
  }
  void u32le(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(uint8_t(v >> (8 * i)));
  }
  void u64le(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(uint8_t(v >> (8 * i)));
  }
  size_t size() const { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

inline size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Thrown by Reader when a read would pass its end; the parser turns it into "truncated ..." or "malformed ...".
struct OutOfData {
  size_t pos;           // absolute offset of the read that failed
  std::string context;  // e.g. "tensor 'dec.3.weight'"
};

// Reads [pos, end) of a buffer whose byte 0 is byte 0 of the file (so offsets in messages are file offsets).
class Reader {
 public:
  Reader(const uint8_t* file, size_t begin, size_t end, std::string context)
      : file_(file), pos_(begin), end_(end), context_(std::move(context)) {}

  const uint8_t* base() const { return file_; }
  size_t pos() const { return pos_; }
  size_t end() const { return end_; }
  size_t left() const { return end_ - pos_; }
  const std::string& context() const { return context_; }
  void set_context(std::string c) { context_ = std::move(c); }

  [[noreturn]] void fail(const std::string& what, size_t at) const {
    throw FormatError(what + " at byte " + std::to_string(at) + " in " + context_);
  }
  [[noreturn]] void out_of_data() const { throw OutOfData{end_, context_}; }

  uint8_t u8() {
    if (pos_ >= end_) out_of_data();
    return file_[pos_++];
  }
  // LEB128, value < 2^64 (so at most 10 bytes, the 10th <= 1), canonical (no redundant trailing 0x00 group).
  uint64_t varint() {
    const size_t start = pos_;
    uint64_t v = 0;
    for (int i = 0;; ++i) {
      const uint8_t b = u8();
      if (i == 9 && b > 1) fail("varint overflows 64 bits", start);
      v |= uint64_t(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) {
        if (b == 0 && i > 0) fail("non-canonical varint", start);
        return v;
      }
    }
  }
  // A varint that must lie in [lo, hi]; `what` names it in the message.
  uint64_t varint_in(uint64_t lo, uint64_t hi, const std::string& what) {
    const size_t start = pos_;
    const uint64_t v = varint();
    if (v < lo || v > hi)
      fail(what + " " + std::to_string(v) + " out of range [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "]",
           start);
    return v;
  }
  int64_t svarint() { return unzigzag(varint()); }
  // n raw bytes (n already range-checked by the caller or checked here against what is left).
  const uint8_t* take(uint64_t n) {
    if (n > left()) {
      pos_ = end_;
      out_of_data();
    }
    const uint8_t* p = file_ + pos_;
    pos_ += size_t(n);
    return p;
  }
  uint32_t u32le() {
    const uint8_t* p = take(4);
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  }
  uint64_t u64le() {
    const uint8_t* p = take(8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  // varint length (<= max_len) + bytes. If printable, every byte must be in 0x20..0x7E.
  std::string str(size_t max_len, const std::string& what, bool printable) {
    const size_t start = pos_;
    const uint64_t n = varint_in(0, max_len, what + " length");
    const uint8_t* p = take(n);
    if (printable)
      for (uint64_t i = 0; i < n; ++i)
        if (p[i] < 0x20 || p[i] > 0x7E) fail(what + " has a non-printable byte", start);
    return std::string(reinterpret_cast<const char*>(p), size_t(n));
  }

 private:
  const uint8_t* file_;
  size_t pos_, end_;
  std::string context_;
};

}  // namespace nvc::bitstream::detail
