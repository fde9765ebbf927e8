#include <catch2/catch.hpp>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "entropy/synthetic.h"
#include "entropy/tensor_coder.h"

using namespace nvc::entropy;
namespace syn = nvc::entropy::synthetic;

namespace {

// Encodes, decodes from an exactly sized heap buffer (so ASan sees any overread), checks bit-exactness.
size_t roundtrip(const std::vector<int32_t>& v) {
  const std::vector<uint8_t> enc = encode_ints(v.data(), v.size());
  const std::vector<int32_t> dec = decode_ints(enc.data(), enc.size(), v.size());
  REQUIRE(dec == v);
  return enc.size();
}

// zstd -19 of the values as the smallest little-endian fixed-width type that holds them.
size_t zstd19(const std::vector<int32_t>& v) {
  int32_t lo = 0, hi = 0;
  for (int32_t x : v) lo = std::min(lo, x), hi = std::max(hi, x);
  const int w = (lo >= -128 && hi <= 127) ? 1 : (lo >= -32768 && hi <= 32767) ? 2 : 4;
  std::vector<uint8_t> src;
  for (int32_t x : v)
    for (int b = 0; b < w; ++b) src.push_back(static_cast<uint8_t>(static_cast<uint32_t>(x) >> (8 * b)));
  std::vector<uint8_t> dst(ZSTD_compressBound(src.size()));
  const size_t r = ZSTD_compress(dst.data(), dst.size(), src.data(), src.size(), 19);
  REQUIRE(!ZSTD_isError(r));
  return r;
}

}  // namespace

TEST_CASE("tensor coder: uniform values in several ranges round-trip", "[entropy]") {
  const int32_t ranges[][2] = {{0, 1}, {-1, 1}, {-8, 8}, {-127, 127}, {0, 255}, {-1000, 5000}, {-70000, 70000},
                               {-(1 << 24), 1 << 24}};
  uint32_t seed = 1;
  for (const auto& r : ranges) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{100}, size_t{20000}}) {
      INFO("range [" << r[0] << ", " << r[1] << "] n=" << n);
      roundtrip(syn::uniform_vec(n, r[0], r[1], seed++));
    }
  }
}

TEST_CASE("tensor coder: Laplacian, Gaussian, sparse and channel-scaled tensors round-trip", "[entropy]") {
  for (double b : {0.1, 0.5, 2.0, 8.0, 30.0, 300.0, 1e5}) {
    INFO("laplace b=" << b);
    roundtrip(syn::laplace_vec(30000, b, 11));
  }
  {
    auto v = syn::laplace_vec(30000, 30.0, 12);  // dense 8-bit-like
    for (auto& x : v) x = std::max(-127, std::min(127, x));
    roundtrip(v);
  }
  roundtrip(syn::gaussian_vec(30000, 4.0, 13));
  for (double z : {0.5, 0.9, 0.99, 0.999}) roundtrip(syn::sparse_vec(30000, z, 4.0, 14));
  roundtrip(syn::channel_scaled_vec(30000, 64, 0.2, 50.0, 15));
}

TEST_CASE("tensor coder: degenerate inputs", "[entropy]") {
  SECTION("empty") {
    const auto enc = encode_ints(nullptr, 0);
    REQUIRE(enc.empty());
    REQUIRE(decode_ints(nullptr, 0, 0).empty());
    const uint8_t junk[1] = {1};
    REQUIRE_THROWS_AS(decode_ints(junk, 1, 0), DecodeError);
  }
  SECTION("all zero is nearly free") {
    REQUIRE(roundtrip(std::vector<int32_t>(100000, 0)) <= 4);
    REQUIRE(roundtrip(std::vector<int32_t>(100, 0)) <= 1);
  }
  SECTION("single symbol repeated") {
    REQUIRE(roundtrip(std::vector<int32_t>(100000, 5)) <= 16);
    REQUIRE(roundtrip(std::vector<int32_t>(100000, -3)) <= 16);
    // Exp-Golomb suffix bits below the top 3 are bypass-coded, so a huge repeated value still costs them.
    REQUIRE(roundtrip(std::vector<int32_t>(1000, 1 << 20)) <= 1000 * 17 / 8 + 64);
  }
  SECTION("single values") {
    for (int32_t x : {0, 1, -1, 2, -2, 8, 9, -9, 127, -128, 1000, -65536, (1 << 24) - 1, 1 << 24, -(1 << 24)}) {
      INFO("value " << x);
      // A lone small value fits in a byte or two; the flush is minimal.
      const size_t sz = roundtrip({x});
      if (x >= -2 && x <= 2) REQUIRE(sz <= 1);
      if (x >= -9 && x <= 9) REQUIRE(sz <= 2);
      REQUIRE(sz <= 8);
    }
  }
  SECTION("extreme values") {
    std::vector<int32_t> v;
    std::mt19937 rng(3);
    for (int i = 0; i < 5000; ++i) {
      const int32_t choices[] = {1 << 24, -(1 << 24), (1 << 24) - 1, -(1 << 24) + 1, 0, 1, -1, 9, -9};
      v.push_back(choices[rng() % 9]);
    }
    roundtrip(v);
  }
  SECTION("every small tensor length") {
    std::mt19937 rng(5);
    for (size_t n = 1; n <= 300; ++n) roundtrip(syn::laplace_vec(n, 1.5, static_cast<uint32_t>(rng())));
  }
}

TEST_CASE("tensor coder: large input", "[entropy]") {
  const auto v = syn::laplace_vec(size_t{1} << 22, 2.0, 21);
  const auto t0 = std::chrono::steady_clock::now();
  const size_t sz = roundtrip(v);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("4M Laplace(2) values: " << sz << " bytes, encode+decode " << s << " s");
  REQUIRE(static_cast<double>(sz) <= 1.03 * order0_entropy_bytes(v.data(), v.size()) + 16);
}

TEST_CASE("tensor coder: out-of-range values are rejected at encode", "[entropy]") {
  for (int32_t bad : {(1 << 24) + 1, -(1 << 24) - 1, std::numeric_limits<int32_t>::max(),
                      std::numeric_limits<int32_t>::min()}) {
    std::vector<int32_t> v = {0, 3, bad, 1};
    REQUIRE_THROWS_AS(encode_ints(v.data(), v.size()), std::invalid_argument);
  }
}

TEST_CASE("tensor coder: truncated and extended streams", "[entropy]") {
  const auto v = syn::laplace_vec(500, 3.0, 31);
  const auto enc = encode_ints(v.data(), v.size());
  REQUIRE(enc.size() > 16);
  for (size_t len = 0; len < enc.size(); ++len) {
    std::vector<uint8_t> prefix(enc.begin(), enc.begin() + static_cast<std::ptrdiff_t>(len));
    bool threw = false;
    try {
      const auto dec = decode_ints(prefix.data(), prefix.size(), v.size());
      REQUIRE(dec.size() == v.size());
    } catch (const DecodeError&) {
      threw = true;
    }
    // Only the last kMaxPadding bytes can be indistinguishable from the implicit zero padding.
    if (len + 4 < enc.size()) REQUIRE(threw);
  }
  // Up to kMaxPadding stripped zero bytes may legitimately follow; more than that is trailing junk.
  std::vector<uint8_t> longer = enc;
  longer.insert(longer.end(), 5, 0x5a);
  REQUIRE_THROWS_AS(decode_ints(longer.data(), longer.size(), v.size()), DecodeError);
  // Asking for more values than were coded runs out of data.
  REQUIRE_THROWS_AS(decode_ints(enc.data(), enc.size(), v.size() + 200), DecodeError);
}

TEST_CASE("tensor coder: random garbage never crashes or hangs", "[entropy]") {
  std::mt19937 rng(99);
  size_t threw = 0, trials = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < 3000; ++t) {
    std::vector<uint8_t> junk(rng() % 200);
    const int mode = static_cast<int>(rng() % 3);  // random, all 0xFF, mostly 0xFF (long Exp-Golomb prefixes)
    for (auto& b : junk) b = mode == 0 ? static_cast<uint8_t>(rng()) : mode == 1 ? 0xFF : (rng() % 8 ? 0xFF : 0);
    const size_t count = t % 10 == 0 ? size_t{1} << 20 : rng() % 2000;
    ++trials;
    try {
      const auto dec = decode_ints(junk.data(), junk.size(), count);
      REQUIRE(dec.size() == count);
      for (int32_t x : dec) REQUIRE((x >= -kMaxAbsValue && x <= kMaxAbsValue));
    } catch (const DecodeError&) {
      ++threw;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("garbage: " << threw << "/" << trials << " rejected, " << s << " s");
  REQUIRE(threw > trials / 2);
}

TEST_CASE("tensor coder: beats zstd -19 and stays near order-0 entropy", "[entropy][compression]") {
  for (double b : {0.5, 2.0, 8.0, 30.0}) {
    const auto v = syn::laplace_vec(100000, b, 41);
    const size_t ours = roundtrip(v);
    const double h0 = order0_entropy_bytes(v.data(), v.size());
    const size_t zs = zstd19(v);
    INFO("laplace b=" << b << ": ours " << ours << " zstd " << zs << " order0 " << h0);
    CHECK(ours <= zs);
    CHECK(static_cast<double>(ours) <= 1.03 * h0 + 16);
  }
  {
    const auto v = syn::sparse_vec(100000, 0.9, 4.0, 42);
    const size_t ours = roundtrip(v);
    const size_t zs = zstd19(v);
    INFO("sparse 90%: ours " << ours << " zstd " << zs);
    CHECK(ours <= zs);
  }
  {
    // Small tensors: no table to pay for.
    const auto v = syn::laplace_vec(100, 2.0, 43);
    const size_t ours = roundtrip(v);
    const size_t zs = zstd19(v);
    INFO("100 values: ours " << ours << " zstd " << zs);
    CHECK(ours < zs);
  }
}

TEST_CASE("tensor coder: order-0 entropy", "[entropy]") {
  const std::vector<int32_t> v = {0, 0, 1, 1, -5, -5, 7, 7};
  REQUIRE(order0_entropy_bytes(v.data(), v.size()) == Approx(2.0));  // 8 symbols x 2 bits
  REQUIRE(order0_entropy_bytes(v.data(), 0) == 0.0);
  const std::vector<int32_t> c(10, 3);
  REQUIRE(order0_entropy_bytes(c.data(), c.size()) == 0.0);
}

TEST_CASE("tensor coder: golden bytes (format changes must be deliberate)", "[entropy][golden]") {
  const std::vector<int32_t> v = {0, 1, -1, 2, 0, 0, 5, -3, 100, -1000, 0, 7, 1 << 24, -(1 << 24), 0, 0, 0, 1,
                                  -2, 3, 8, 9, -9, 17, 0, -1, 1, 0, 40000, -127};
  const auto enc = encode_ints(v.data(), v.size());
  std::string hex;
  for (uint8_t b : enc) {
    const char* d = "0123456789abcdef";
    hex += d[b >> 4];
    hex += d[b & 15];
  }
  CHECK(hex == "994ef14338034bc00d5f39f8962c9ca1e0af214507cade612f1e2978d9bcd5c853b0");
  REQUIRE(decode_ints(enc.data(), enc.size(), v.size()) == v);
}
