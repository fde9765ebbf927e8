// Shared helpers for the bitstream tests: sample files and an independent section writer (own CRC-32, own LEB128),
// written from docs/format.md rather than from the library, so the tests also check the documented layout.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bitstream/nvc_file.h"

namespace nvc_test {

namespace bs = nvc::bitstream;

// The message parse() throws for these bytes, or "" if it accepts them.
inline std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    bs::parse(bytes.data(), bytes.size());
  } catch (const bs::FormatError& e) {
    return e.what();
  }
  return "";
}

inline uint32_t crc32_ref(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline void put_varint(std::vector<uint8_t>& o, uint64_t v) {
  while (v >= 0x80) {
    o.push_back(uint8_t(v) | 0x80);
    v >>= 7;
  }
  o.push_back(uint8_t(v));
}
inline void put_svarint(std::vector<uint8_t>& o, int64_t v) {
  put_varint(o, (uint64_t(v) << 1) ^ (v < 0 ? ~uint64_t(0) : 0));
}
inline void put_str(std::vector<uint8_t>& o, const std::string& s) {
  put_varint(o, s.size());
  o.insert(o.end(), s.begin(), s.end());
}

// type + LEB128 length + payload + CRC-32(type + payload) little-endian.
inline std::vector<uint8_t> section(const std::string& type, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> o(type.begin(), type.end());
  put_varint(o, payload.size());
  o.insert(o.end(), payload.begin(), payload.end());
  std::vector<uint8_t> tp(type.begin(), type.end());
  tp.insert(tp.end(), payload.begin(), payload.end());
  const uint32_t crc = crc32_ref(tp.data(), tp.size());
  for (int i = 0; i < 4; ++i) o.push_back(uint8_t(crc >> (8 * i)));
  return o;
}

inline std::vector<uint8_t> file_header(uint8_t major = nvc::bitstream::kMajorVersion, uint8_t minor = nvc::bitstream::kMinorVersion) {
  return {0x8B, 'N', 'V', 'C', 0x0D, 0x0A, 0x1A, 0x0A, major, minor};
}

// A valid SEQH payload: 64x48, 25/1, 10 frames, 4:2:0, 8 bit, limited, BT.709.
inline std::vector<uint8_t> seqh_payload() {
  std::vector<uint8_t> p;
  for (uint64_t v : {64, 48, 25, 1, 10}) put_varint(p, v);
  for (uint8_t b : {1, 8, 0, 1}) p.push_back(b);
  return p;
}

// A valid MODL payload: kind "test", no parameters.
inline std::vector<uint8_t> modl_payload() {
  std::vector<uint8_t> p;
  put_str(p, "test");
  p.push_back(0);
  p.push_back(0);
  p.push_back(0);
  return p;
}

// magic + SEQH + MODL + TENS(tens) + NEND, all with valid checksums.
inline std::vector<uint8_t> file_with_tens(const std::vector<uint8_t>& tens) {
  std::vector<uint8_t> f = file_header();
  for (const auto& s : {section("SEQH", seqh_payload()), section("MODL", modl_payload()), section("TENS", tens),
                        section("NEND", {})})
    f.insert(f.end(), s.begin(), s.end());
  return f;
}

inline std::vector<int32_t> random_ints(std::mt19937& rng, size_t n, int32_t lim) {
  std::vector<int32_t> q(n);
  // Laplacian-ish, mostly small, like quantized weights.
  std::geometric_distribution<int32_t> g(0.35);
  std::bernoulli_distribution sign(0.5);
  for (auto& v : q) {
    int32_t m = std::min(g(rng), lim);
    v = sign(rng) ? -m : m;
  }
  return q;
}

inline bs::TensorRecord quantized(std::mt19937& rng, std::string name, bs::Component comp, std::vector<uint32_t> shape,
                                  int axis, uint8_t bits, bool zero_points) {
  bs::TensorRecord r;
  r.name = std::move(name);
  r.component = comp;
  r.shape = std::move(shape);
  r.bits = bits;
  r.axis = int8_t(axis);
  const size_t nch = r.channel_count();
  std::uniform_int_distribution<int32_t> code(-200, -40);
  std::uniform_int_distribution<int32_t> zp(-(1 << bits), 1 << bits);
  int32_t c0 = code(rng);
  for (size_t c = 0; c < nch; ++c) {
    r.scale_code.push_back(c0 + int32_t(c % 7) - 3);  // smooth, like real per-channel scales
    if (zero_points) r.zero_point.push_back(zp(rng));
  }
  auto q = random_ints(rng, size_t(r.element_count()), 1 << bits);
  bs::encode_tensor_ints(r, q.data(), q.size());
  return r;
}

// A realistic file. big = false keeps it a few KB so every byte / bit can be damaged in a test.
inline bs::NvcFile sample_file(bool big) {
  std::mt19937 rng(big ? 1234 : 99);
  bs::NvcFile f;
  f.seq.width = 1920;
  f.seq.height = 1080;
  f.seq.fps_num = 30000;
  f.seq.fps_den = 1001;
  f.seq.frame_count = big ? 600 : 30;
  f.seq.full_range = 1;
  f.seq.matrix = 9;
  f.model.kind = "tnerv";
  f.model.ints["strides"] = {5, 3, 2, 2, 2};
  f.model.ints["emb"] = {16, 9, 16};
  f.model.ints["extremes"] = {std::numeric_limits<int64_t>::min(), -1, 0, std::numeric_limits<int64_t>::max()};
  f.model.ints["empty"] = {};
  f.model.reals["lr"] = {1e-3};
  f.model.reals["odd"] = {-0.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::denorm_min(),
                          0.1, -1e300};
  f.model.strings["activation"] = "gelu";
  f.model.strings["note"] = "";
  f.model.strings["utf8"] = "\xc3\xa9t\xc3\xa9";
  const uint32_t c = big ? 64 : 8;
  f.tensors.push_back(quantized(rng, "dec.0.weight", bs::Component::Decoder, {c, 4, 3, 3}, 0, 8, false));
  {
    bs::TensorRecord b;
    b.name = "dec.0.bias";
    b.shape = {c};
    std::vector<float> x(c);
    for (uint32_t i = 0; i < c; ++i) x[i] = 0.01f * float(i) - 0.03f;
    bs::encode_tensor_floats(b, x.data(), x.size());
    f.tensors.push_back(b);
  }
  f.tensors.push_back(quantized(rng, "", bs::Component::Other, {}, -1, 1, true));  // unnamed scalar
  f.tensors.push_back(quantized(rng, "grid.0", bs::Component::Grids, {2, big ? 32u : 8u, 8, 4}, 3, 6, true));
  f.tensors.push_back(quantized(rng, "dec.1.weight", bs::Component::Decoder, {big ? 300u : 40u, 5}, 0, 10, false));
  f.tensors.push_back(quantized(rng, "dec.2.weight", bs::Component::Decoder, {3, c, 3, 3}, 1, 4, true));
  f.tensors.push_back(quantized(rng, "embeddings", bs::Component::Embeddings,
                                {big ? 600u : 30u, 16, big ? 9u : 3u, big ? 16u : 4u}, -1, 6, false));
  {
    // Pictures (coder 3): the container checks only the pieces' structure, so any bytes stand in for the JPEG and
    // HEVC data here. Channel 0 (axis 1) is a 2x2 and a 1x1 JPEG, channel 1 a 1x1 HEVC stream of 5 frames.
    bs::TensorRecord k;
    k.name = "keyframes_xy";
    k.component = bs::Component::Grids;
    k.shape = {5, 2};
    k.axis = 1;
    std::vector<bs::PicturePiece> pieces(3);
    pieces[0] = {bs::PictureCodec::Jpeg, 2, 2, 1, -0.25f, 0.5f, {0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9}};
    pieces[1] = {bs::PictureCodec::Jpeg, 1, 1, 1, 0.0f, 0.0f, {0xFF, 0xD8, 0xFF, 0xD9}};
    pieces[2] = {bs::PictureCodec::Hevc, 1, 1, 5, -1e-4f, 3.0f, {0, 0, 0, 1, 0x40, 0x01, 0x0C}};
    bs::encode_tensor_pictures(k, pieces);
    f.tensors.push_back(k);
  }
  f.encoder_info = "nvenc 0.1.0 --bpp 0.1 (test)";
  return f;
}

}  // namespace nvc_test
