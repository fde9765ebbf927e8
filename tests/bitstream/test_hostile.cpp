// Damaged and hostile input: truncation at every byte, bit flips, crafted lengths and counts, a small mutation fuzz.
// The parser must answer FormatError every time, quickly, without large allocations.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include <atomic>
#include <cstdlib>
#include <new>

#include "bitstream/nvc_file.h"
#include "nvc_test_util.h"

// ---- allocation probe: the largest single allocation while a Probe is alive ------------------------------------
// Replaces the global operator new. Not under AddressSanitizer, which owns operator new itself (mixing the two makes
// it report alloc/dealloc mismatches); the plain build runs the same tests with the probe active.
#if defined(__SANITIZE_ADDRESS__)
#define NVC_ALLOC_PROBE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NVC_ALLOC_PROBE 0
#endif
#endif
#ifndef NVC_ALLOC_PROBE
#define NVC_ALLOC_PROBE 1
#endif

namespace {
std::atomic<bool> g_probe{false};
std::atomic<size_t> g_largest{0};
#if NVC_ALLOC_PROBE
// Out of line so that GCC does not pair an inlined free() with operator new (-Wmismatched-new-delete).
[[gnu::noinline]] void* probe_alloc(size_t n) {
  if (g_probe.load(std::memory_order_relaxed) && n > g_largest.load(std::memory_order_relaxed)) g_largest = n;
  return std::malloc(n ? n : 1);
}
[[gnu::noinline]] void probe_free(void* p) { std::free(p); }
#endif
}  // namespace

#if NVC_ALLOC_PROBE
void* operator new(size_t n) {
  if (void* p = probe_alloc(n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { probe_free(p); }
void operator delete(void* p, size_t) noexcept { probe_free(p); }
#endif

namespace bs = nvc::bitstream;
using namespace nvc_test;

namespace {

struct Probe {
  Probe() {
    g_largest = 0;
    g_probe = true;
  }
  ~Probe() { g_probe = false; }
  size_t largest() const { return g_largest; }
};

// Recomputes the CRC of the section starting at `pos`; returns the position after it.
size_t refresh_crc(std::vector<uint8_t>& f, size_t pos) {
  uint64_t len = 0;
  size_t p = pos + 4;
  for (int sh = 0;; sh += 7) {
    const uint8_t b = f[p++];
    len |= uint64_t(b & 0x7F) << sh;
    if (!(b & 0x80)) break;
  }
  std::vector<uint8_t> tp(f.begin() + long(pos), f.begin() + long(pos) + 4);
  tp.insert(tp.end(), f.begin() + long(p), f.begin() + long(p + len));
  const uint32_t crc = crc32_ref(tp.data(), tp.size());
  for (int i = 0; i < 4; ++i) f[p + len + size_t(i)] = uint8_t(crc >> (8 * i));
  return p + len + 4;
}

struct SectionSpan {
  size_t start, body, end;  // end = position of the CRC
};

std::vector<SectionSpan> sections_of(const std::vector<uint8_t>& f) {
  std::vector<SectionSpan> out;
  size_t pos = 10;
  while (pos < f.size()) {
    size_t p = pos + 4;
    uint64_t len = 0;
    for (int sh = 0;; sh += 7) {
      const uint8_t b = f[p++];
      len |= uint64_t(b & 0x7F) << sh;
      if (!(b & 0x80)) break;
    }
    out.push_back({pos, p, p + size_t(len)});
    pos = p + size_t(len) + 4;
  }
  return out;
}

std::vector<uint8_t> tens_with(std::initializer_list<std::vector<uint8_t>> records, uint64_t count) {
  std::vector<uint8_t> t;
  put_varint(t, count);
  for (const auto& r : records) t.insert(t.end(), r.begin(), r.end());
  return t;
}

// A tensor record header: name, descriptor byte, shape byte, dims.
std::vector<uint8_t> record_head(const std::string& name, int coder, int bits, std::vector<uint64_t> dims, int axis) {
  std::vector<uint8_t> r;
  put_str(r, name);
  r.push_back(uint8_t(coder << 2 | (bits - 1) << 4));
  r.push_back(uint8_t(dims.size() | size_t(axis + 1) << 4));
  for (uint64_t d : dims) put_varint(r, d);
  return r;
}

}  // namespace

TEST_CASE("a file truncated at every byte offset is refused", "[bitstream][hostile]") {
  const bs::NvcFile f = sample_file(false);
  const auto bytes = bs::serialize(f);
  const auto secs = sections_of(bytes);
  Probe probe;
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string e = error_of(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(n)));
    INFO("cut at " << n << ": " << e);
    if (n == 0) {
      REQUIRE(e == "empty file (not an NVC file)");
    } else {
      REQUIRE_THAT(e, Catch::StartsWith("truncated at byte " + std::to_string(n)));
    }
  }
  CHECK(probe.largest() < 2 * bytes.size() + 4096);

  // Cut inside a tensor: the message names it.
  const SectionSpan tens = secs[2];
  const bs::NvcFile g = bs::parse(bytes.data(), bytes.size());
  size_t named = 0;
  for (size_t n = tens.body + 1; n < tens.end; ++n) {
    const std::string e = error_of(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(n)));
    if (e.find(" in tensor '") != std::string::npos || e.find(" in tensor #") != std::string::npos) ++named;
  }
  CHECK(named + 4 >= tens.end - tens.body);  // all but the count byte and the last few
  const size_t last_end = tens.end - 1;  // inside the last tensor's payload
  CHECK(error_of(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(last_end))) ==
        "truncated at byte " + std::to_string(last_end) + " in tensor 'keyframes_xy'");
  CHECK(error_of(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(tens.end + 2))) ==
        "truncated at byte " + std::to_string(tens.end + 2) + " in section 'TENS'");

  // A large file: every byte of the framing and a dense sample of the rest.
  const auto big = bs::serialize(sample_file(true));
  std::vector<size_t> cuts;
  for (size_t n = 1; n < 400; ++n) cuts.push_back(n);
  for (size_t n = 400; n < big.size(); n += 997) cuts.push_back(n);
  for (size_t k = 1; k < 64; ++k) cuts.push_back(big.size() - k);
  for (const auto& s : sections_of(big))
    for (size_t n = s.start; n < s.body + 8 && n < big.size(); ++n) cuts.push_back(n);
  for (size_t n : cuts)
    REQUIRE_THAT(error_of(std::vector<uint8_t>(big.begin(), big.begin() + long(n))),
                 Catch::StartsWith("truncated at byte " + std::to_string(n)));
}

TEST_CASE("every single-bit flip is detected", "[bitstream][hostile]") {
  const auto bytes = bs::serialize(sample_file(false));
  const auto ref = bs::parse(bytes.data(), bytes.size());
  auto b = bytes;
  size_t flips = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      b[i] ^= uint8_t(1 << bit);
      if (i == 9) {
        // The minor version is not under a checksum: a damaged minor reads as an older or a newer minor, which by
        // design changes nothing a decoder of this version reads.
        const auto g = bs::parse(b.data(), b.size());
        REQUIRE(g.minor == (bs::kMinorVersion ^ (1 << bit)));
        REQUIRE(g.tensors == ref.tensors);
      } else {
        INFO("byte " << i << " bit " << bit);
        REQUIRE_THROWS_AS(bs::parse(b.data(), b.size()), bs::FormatError);
        ++flips;
      }
      b[i] ^= uint8_t(1 << bit);
    }
  }
  CHECK(flips == 8 * (bytes.size() - 1));

  // Larger file: a dense sample.
  auto big = bs::serialize(sample_file(true));
  for (size_t i = 0; i < big.size(); i += (i < 512 ? 1 : 401)) {
    if (i == 9) continue;
    const uint8_t bit = uint8_t(1 << (i % 8));
    big[i] ^= bit;
    REQUIRE_THROWS_AS(bs::parse(big.data(), big.size()), bs::FormatError);
    big[i] ^= bit;
  }
}

TEST_CASE("hostile lengths, counts and varints are refused without large allocations", "[bitstream][hostile]") {
  struct Case {
    std::string what;
    std::vector<uint8_t> file;
    std::string expect;
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, std::vector<uint8_t> file, std::string expect) {
    cases.push_back({std::move(what), std::move(file), std::move(expect)});
  };

  // Section framing.
  {
    std::vector<uint8_t> f = file_header();
    const std::vector<uint8_t> s = {'S', 'E', 'Q', 'H', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    f.insert(f.end(), s.begin(), s.end());
    add("section length 2^64-1", f, "truncated at byte 24 in section 'SEQH'");
    f.resize(10);
    for (int i = 0; i < 4; ++i) f.push_back("SEQH"[i]);
    for (int i = 0; i < 10; ++i) f.push_back(0xFF);
    f.push_back(0x01);
    add("11-byte varint", f, "varint overflows 64 bits at byte 14 in section 'SEQH'");
    f.resize(14);
    for (int i = 0; i < 9; ++i) f.push_back(0x80);
    f.push_back(0x02);
    f.insert(f.end(), 40, 0);
    add("varint overflow", f, "varint overflows 64 bits at byte 14 in section 'SEQH'");
    f.resize(14);
    f.push_back(0x80);
    f.push_back(0x00);
    f.insert(f.end(), 40, 0);
    add("non-canonical varint", f, "non-canonical varint at byte 14 in section 'SEQH'");
    f.resize(10);
    const std::vector<uint8_t> junk = {'S', 'E', 0x00, 'H', 0};
    f.insert(f.end(), junk.begin(), junk.end());
    add("non-letter type", f, "invalid section type (bytes 53 45 00 48) at byte 10");
  }
  // SEQH values.
  {
    std::vector<uint8_t> p;
    for (uint64_t v : {uint64_t(1) << 33, uint64_t(48), uint64_t(25), uint64_t(1), uint64_t(10)}) put_varint(p, v);
    for (uint8_t b : {1, 8, 0, 1}) p.push_back(b);
    auto f = file_header();
    const auto s = section("SEQH", p);
    f.insert(f.end(), s.begin(), s.end());
    add("width 2^33", f, "width 8589934592 out of range [0, 4294967295] at byte 15 in section 'SEQH'");
    p = seqh_payload();
    p[0] = 63;
    f = file_header();
    const auto s2 = section("SEQH", p);
    f.insert(f.end(), s2.begin(), s2.end());
    add("odd width", f, "sequence header: width 63 is not an even number in [2, 16384]");
  }
  // MODL.
  {
    auto modl_file = [](const std::vector<uint8_t>& m) {
      std::vector<uint8_t> f = file_header();
      for (const auto& s : {section("SEQH", seqh_payload()), section("MODL", m)}) f.insert(f.end(), s.begin(), s.end());
      return f;
    };
    std::vector<uint8_t> m;
    put_varint(m, uint64_t(1) << 40);
    add("kind length 2^40", modl_file(m), "model kind length 1099511627776 out of range [0, 256]");
    m.clear();
    put_str(m, "k");
    put_varint(m, 257);
    add("257 int keys", modl_file(m), "number of integer parameters 257 out of range [0, 256]");
    m.clear();
    put_str(m, "k");
    put_varint(m, 1);
    put_str(m, "key");
    put_varint(m, 65536);
    add("65536 ints, no bytes", modl_file(m), "model parameter 'key' runs past the end of the section");
    m.clear();
    put_str(m, "k");
    put_varint(m, 0);
    put_varint(m, 1);
    put_str(m, "r");
    put_varint(m, 65537);
    add("65537 reals", modl_file(m), "value count 65537 out of range [0, 65536]");
    m.clear();
    put_str(m, "k");
    put_varint(m, 2);
    put_str(m, "b");
    put_varint(m, 0);
    put_str(m, "a");
    put_varint(m, 0);
    m.push_back(0);
    m.push_back(0);
    add("keys out of order", modl_file(m), "parameter key 'a' not in increasing order");
    m.clear();
    put_str(m, "k");
    m.push_back(0);
    m.push_back(0);
    put_varint(m, 1);
    put_str(m, "s");
    put_varint(m, 65537);
    add("string 65537 bytes", modl_file(m), "value length 65537 out of range [0, 65536]");
  }
  // TENS.
  add("2^63 tensors", file_with_tens(tens_with({}, uint64_t(1) << 63)), "tensors (at most 4096)");
  add("4096 tensors, no bytes", file_with_tens(tens_with({}, 4096)),
      "malformed section 'TENS' at byte 45: tensor #0 runs past the end of the section");
  add("name length 2^32", file_with_tens(tens_with({{0x80, 0x80, 0x80, 0x80, 0x10}}, 1)),
      "tensor name length 4294967296 out of range [0, 256] at byte 51 in tensor #0");
  add("dims product > 2^31",
      file_with_tens(tens_with({record_head("t", 1, 8, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, -1)}, 1)),
      "element count exceeds 2^31");
  add("dim 2^32", file_with_tens(tens_with({record_head("t", 1, 8, {uint64_t(1) << 32}, -1)}, 1)),
      "dimension 0 4294967296 out of range [1, 4294967295]");
  add("dim 0", file_with_tens(tens_with({record_head("t", 1, 8, {0}, -1)}, 1)), "dimension 0 0 out of range");
  add("9 dims", file_with_tens(tens_with({record_head("t", 1, 8, {1, 1, 1, 1, 1, 1, 1, 1, 1}, -1)}, 1)),
      "9 dimensions (at most 8)");
  add("axis 2 of 2 dims", file_with_tens(tens_with({record_head("t", 1, 8, {4, 4}, 2)}, 1)),
      "channel axis 2 out of range for 2 dimensions");
  {
    // Pictures records (coder 3): t has 4 elements; `piece` writes one piece header + data.
    auto piece = [](std::vector<uint8_t>& p, uint8_t codec, uint64_t w, uint64_t h, uint64_t frames, float lo,
                    float hi, std::vector<uint8_t> data) {
      p.push_back(codec);
      put_varint(p, w);
      put_varint(p, h);
      put_varint(p, frames);
      for (float v : {lo, hi}) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        for (int i = 0; i < 4; ++i) p.push_back(uint8_t(u >> (8 * i)));
      }
      put_varint(p, data.size());
      p.insert(p.end(), data.begin(), data.end());
    };
    auto pictures = [&](const std::vector<uint8_t>& payload, int bits = 8) {
      auto r = record_head("t", 3, bits, {4}, -1);
      put_varint(r, payload.size());
      r.insert(r.end(), payload.begin(), payload.end());
      return file_with_tens(tens_with({r}, 1));
    };
    // A payload of one piece.
    auto single = [&](uint8_t codec, uint64_t w, uint64_t h, uint64_t frames, float lo, float hi,
                      std::vector<uint8_t> data) {
      std::vector<uint8_t> p;
      put_varint(p, 1);
      piece(p, codec, w, h, frames, lo, hi, std::move(data));
      return p;
    };
    const std::vector<uint8_t> ok = single(0, 2, 2, 1, 0.f, 1.f, {1, 2, 3});
    const std::vector<uint8_t> ok_file = pictures(ok);
    REQUIRE(bs::parse_pictures(bs::parse(ok_file.data(), ok_file.size()).tensors[0]).size() == 1);
    add("pictures at 7 bits", pictures(ok, 7), "pictures tensor with bit depth 7 (must be 8)");
    std::vector<uint8_t> p;
    put_varint(p, 0);
    add("no pieces", pictures(p), "piece count 0 out of range [1, 65536]");
    p.clear();
    put_varint(p, 65537);
    add("65537 pieces", pictures(p), "piece count 65537 out of range");
    add("picture codec 2", pictures(single(2, 2, 2, 1, 0.f, 1.f, {1})), "piece 0 has unknown picture codec 2");
    add("JPEG of 2 frames", pictures(single(0, 1, 2, 2, 0.f, 1.f, {1})), "piece 0 is a JPEG of 2 frames");
    add("pictures past the elements", pictures(single(1, 16384, 16384, 1000000, 0.f, 1.f, {1})),
        "piece 0 takes the pictures past the tensor's 4 elements");
    add("picture width 16385", pictures(single(1, 16385, 1, 1, 0.f, 1.f, {1})),
        "piece 0 width 16385 out of range [1, 16384]");
    add("NaN minimum", pictures(single(1, 2, 2, 1, std::nanf(""), 1.f, {1})), "piece 0 has an invalid range");
    add("minimum above maximum", pictures(single(1, 2, 2, 1, 2.f, 1.f, {1})), "piece 0 has an invalid range");
    add("empty picture data", pictures(single(1, 2, 2, 1, 0.f, 1.f, {})), "piece 0 length 0 out of range");
    p.clear();
    put_varint(p, 2);
    piece(p, 0, 1, 1, 1, 0.f, 1.f, {1});
    add("one piece of two", pictures(p), "truncated pictures in tensor 't'");
    add("too few samples", pictures(single(0, 1, 1, 1, 0.f, 1.f, {1})), "pictures of 1 samples for 4 elements");
    p = ok;
    p.push_back(0);
    add("bytes after the pieces", pictures(p), "1 bytes after the last piece");
    p = ok;
    p.resize(p.size() - 1);
    add("piece data cut short", pictures(p), "truncated pictures in tensor 't'");
  }
  add("float32 2^31 elements", file_with_tens(tens_with({record_head("big", 0, 8, {uint64_t(1) << 31}, -1)}, 1)),
      "tensor 'big' runs past the end of the section");
  add("float32 with axis", file_with_tens(tens_with({record_head("t", 0, 8, {4}, 0)}, 1)),
      "float32 tensor with a channel axis");
  add("65537 channels", file_with_tens(tens_with({record_head("t", 1, 8, {65537}, 0)}, 1)),
      "65537 channels (at most 65536)");
  {
    auto r = record_head("t", 1, 8, {65536}, 0);
    put_varint(r, 2 << 2 | 1 << 1);  // entropy-coded scale data of 2 bytes for 65536 channels
    r.push_back(0);
    r.push_back(0);
    put_varint(r, 0);
    add("65536 channels, 2 bytes of scale data", file_with_tens(tens_with({r}, 1)), "corrupt scale data");
    r = record_head("t", 1, 8, {65536}, 0);
    put_varint(r, 2 << 2);  // varint-coded scale data of 2 bytes for 65536 channels
    r.push_back(0);
    r.push_back(0);
    add("scale data too short", file_with_tens(tens_with({r}, 1)), "scale data too short");
    r = record_head("t", 1, 8, {4}, -1);
    put_varint(r, uint64_t(1) << 62);
    add("scale data 2^60 bytes", file_with_tens(tens_with({r}, 1)), "tensor 't' runs past the end");
    r = record_head("t", 1, 8, {4}, -1);
    put_varint(r, 2 << 2);
    put_svarint(r, 5000);
    add("scale code 5000", file_with_tens(tens_with({r}, 1)), "scale code 5000 of channel 0 out of range");
    r = record_head("t", 1, 8, {4}, -1);
    put_varint(r, 2 << 2);
    put_svarint(r, 1);
    put_svarint(r, 0);
    add("scale data too long", file_with_tens(tens_with({r}, 1)), "scale data too long");
    r = record_head("t", 1, 2, {4}, -1);
    put_varint(r, 2 << 2 | 1);
    put_svarint(r, 1);
    put_svarint(r, 5);
    add("zero point 5 with 2 bits", file_with_tens(tens_with({r}, 1)), "zero point 5 of channel 0 exceeds 2^2");
    r = record_head("t", 1, 8, {4}, -1);
    put_varint(r, 1 << 2);
    put_svarint(r, 1);
    put_varint(r, uint64_t(1) << 50);
    add("payload 2^50 bytes", file_with_tens(tens_with({r}, 1)), "tensor 't' runs past the end");
    // Two tensors of 2^31 elements each (empty payloads): the second breaks the file-wide element limit.
    r = record_head("t", 1, 8, {uint64_t(1) << 31}, -1);
    put_varint(r, 1 << 2);
    put_svarint(r, 1);
    put_varint(r, 0);
    add("2 x 2^31 elements", file_with_tens(tens_with({r, r}, 2)), "the tensors together exceed 2^31 elements");
    r = record_head("t", 1, 8, {4}, -1);
    put_varint(r, 1 << 2);
    put_svarint(r, 1);
    put_varint(r, 0);
    r.push_back(7);
    add("trailing byte in TENS", file_with_tens(tens_with({r}, 1)), "1 unexpected bytes at its end");
  }
  {
    std::vector<uint8_t> f = file_with_tens(tens_with({}, 0));
    const size_t nend = f.size() - 9;
    f.resize(nend);
    const auto info = section("info", std::vector<uint8_t>(65537, 'x'));
    f.insert(f.end(), info.begin(), info.end());
    const auto e = section("NEND", {});
    f.insert(f.end(), e.begin(), e.end());
    add("info 65537 bytes", f, "longer than 65536 bytes");
  }

  Probe probe;
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string e = error_of(c.file);
    CHECK_THAT(e, Catch::Contains(c.expect));
  }
  CHECK(probe.largest() < (size_t(1) << 20));
}

TEST_CASE("mutation fuzz: damaged content under a valid checksum never crashes", "[bitstream][hostile]") {
  const auto bytes = bs::serialize(sample_file(false));
  const auto secs = sections_of(bytes);
  std::mt19937 rng(2024);
  size_t refused = 0, accepted = 0;
  Probe probe;
  for (int iter = 0; iter < 4000; ++iter) {
    auto b = bytes;
    const SectionSpan& s = secs[size_t(iter) % 3];  // SEQH, MODL, TENS
    std::uniform_int_distribution<size_t> at(s.body, s.end - 1);
    const int n = 1 + int(rng() % 4);
    for (int k = 0; k < n; ++k) {
      const size_t i = at(rng);
      switch (rng() % 4) {
        case 0: b[i] ^= uint8_t(1 << (rng() % 8)); break;
        case 1: b[i] = uint8_t(rng()); break;
        case 2: b[i] = 0xFF; break;
        default: b[i] = 0; break;
      }
    }
    refresh_crc(b, s.start);
    try {
      const bs::NvcFile g = bs::parse(b.data(), b.size());
      ++accepted;
      for (size_t t = 0; t < g.tensors.size(); ++t) {
        if (g.tensors[t].element_count() > (1u << 20)) continue;  // a real decoder checks shapes against the model
        try {
          (void)bs::dequantize(g.tensors[t], t);
        } catch (const bs::FormatError&) {
        }
      }
      (void)bs::serialize(g);  // whatever parse accepts, serialize accepts
    } catch (const bs::FormatError&) {
      ++refused;
    }
  }
  CHECK(refused > 1000);
  CHECK(accepted > 100);
  CHECK(probe.largest() < (size_t(1) << 24));
}
