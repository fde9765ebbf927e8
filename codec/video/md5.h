#pragma once
// Small self-contained MD5 (RFC 1321) for the md5 muxer and golden hashes.
#include <cstddef>
#include <cstdint>
#include <string>

namespace nvc::video {

class Md5 {
 public:
  Md5();
  void update(const void* data, size_t n);
  std::string hex_digest();  // finalizes; 32 lowercase hex digits
 private:
  void block(const uint8_t* p);
  uint32_t s_[4];
  uint64_t len_ = 0;
  uint8_t buf_[64];
  size_t fill_ = 0;
};

}  // namespace nvc::video
