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

#include "entropy/range_coder.h"
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
    REQUIRE(roundtrip(std::vector<int32_t>(100000, 7)) <= 16);
    REQUIRE(roundtrip(std::vector<int32_t>(100000, -1000)) <= 24);
    REQUIRE(roundtrip(std::vector<int32_t>(3000, 1000)) <= 24);  // small tensor: exhaustive header choice
    // With the header's flag the low Rice suffix bits are context-coded, so even a huge repeated value is cheap.
    REQUIRE(roundtrip(std::vector<int32_t>(100000, 1 << 20)) <= 64);
    REQUIRE(roundtrip(std::vector<int32_t>(100000, -(1 << 24))) <= 64);
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
  SECTION("jumps between tiny and huge magnitudes (Rice parameter 0..16, escapes)") {
    // The running mean climbs to its maximum (r = 16) and falls back; values >= 2^16 with r = 0 take the
    // Exp-Golomb escape.
    std::vector<int32_t> v;
    for (int rep = 0; rep < 3; ++rep) {
      for (int i = 0; i < 400; ++i) v.push_back((i & 1) ? (1 << 24) - i : -(1 << 24) + i);
      for (int i = 0; i < 400; ++i) v.push_back(i % 3 - 1);
      v.push_back(1 << 24);
      v.push_back(-(1 << 24));
      for (int i = 0; i < 200; ++i) v.push_back(0);
      for (int32_t x : {1 << 16, 1 << 17, 12, 13, 11, (1 << 24) - 1}) v.push_back(x);
    }
    roundtrip(v);
    std::vector<int32_t> big(20000);  // > the exhaustive-header limit: heuristic header, both suffix modes
    for (size_t i = 0; i < big.size(); ++i) big[i] = (i / 1000) % 2 ? int32_t(i * 837) % (1 << 24) : int32_t(i % 5) - 2;
    roundtrip(big);
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

TEST_CASE("tensor coder: a small per-channel quantized decoder beats zstd -19 tensor by tensor", "[entropy][compression]") {
  // A realistic small decoder (the layer shapes of a fitted NeRV-style model): conv weights [Cout, Cin, kh, kw] with
  // a per-output-channel spread, quantized symmetric per output channel (max |w| of the channel -> 127), 20% pruned
  // to exact zeros; memory order [Cout, Cin, kh, kw], so each channel is one run. Biases: one 11-bit tensor each.
  std::mt19937 rng(7);
  const size_t layers[][2] = {{38, 18}, {76, 7}, {38, 25}, {128, 38}, {64, 7}, {32, 25}, {108, 32}, {54, 7},
                              {27, 25}, {92, 27}, {46, 7}, {3, 135}};
  size_t ours = 0, zs = 0, weight_ours = 0, weight_zs = 0;
  double h0 = 0;
  for (const auto& l : layers) {
    std::vector<int32_t> q;
    for (size_t c = 0; c < l[0]; ++c) {
      const double sigma = std::exp(2.0 * syn::uniform01(rng) - 1.0);
      std::vector<double> w(l[1]);
      double mx = 0;
      for (auto& x : w) {
        const double u1 = syn::uniform01(rng), u2 = syn::uniform01(rng);
        x = sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        if (syn::uniform01(rng) < 0.2) x = 0;
        mx = std::max(mx, std::fabs(x));
      }
      for (double x : w) q.push_back(static_cast<int32_t>(std::lround(x / mx * 127.0)));
    }
    std::vector<int32_t> bias;
    for (size_t c = 0; c < l[0]; ++c) bias.push_back(static_cast<int32_t>(std::lround(90.0 * std::tan(1.4 * (syn::uniform01(rng) - 0.5)))));
    const size_t ow = roundtrip(q), zw = zstd19(q);
    weight_ours += ow;
    weight_zs += zw;
    ours += ow + roundtrip(bias);
    zs += zw + zstd19(bias);
    h0 += order0_entropy_bytes(q.data(), q.size());
  }
  INFO("decoder: ours " << ours << " zstd " << zs << "; weights: ours " << weight_ours << " zstd " << weight_zs
                        << " order0 " << h0);
  // Measured 2026-11-21: 14644 vs 15278 (0.959), weights 13958 vs 14464 (0.965). Dense Gaussian 8-bit weights leave
  // zstd little to lose; the margin comes from the small tensors and the wide biases.
  CHECK(static_cast<double>(ours) <= 0.97 * static_cast<double>(zs));
  CHECK(static_cast<double>(weight_ours) <= 0.975 * static_cast<double>(weight_zs));
  CHECK(static_cast<double>(weight_ours) <= 1.06 * h0);
  WARN("decoder: ours " << ours << " zstd " << zs << "; weights: ours " << weight_ours << " zstd " << weight_zs
                        << " order0 " << h0);
}

TEST_CASE("tensor coder: hostile streams end in a clear error", "[entropy]") {
  // A forged stream (docs/entropy.md §4): header 0 (r = 0), sig 1, sign 0, 12 unary ones, an Exp-Golomb escape with
  // 23 prefix ones (no terminating zero) and 23 suffix ones: x = 2^24 - 1, so |v| = x + 12 > 2^24. Every context is
  // used once, so fresh models reproduce the decoder's probabilities.
  auto forge = [](int eg_suffix_ones) {
    RangeEncoder enc;
    enc.bypass_bits(0, 5);
    auto bin = [&enc](int b) {
      BitModel fresh;
      enc.encode(fresh, b);
    };
    bin(1);                                 // sig
    bin(0);                                 // sign
    for (int j = 0; j < 12; ++j) bin(1);    // unary prefix
    for (int j = 0; j < 23; ++j) bin(1);    // escape prefix, n = 23
    enc.bypass_bits((1u << eg_suffix_ones) - 1, 23);
    return enc.finish();
  };
  const std::vector<uint8_t> bad = forge(23);
  try {
    decode_ints(bad.data(), bad.size(), 1);
    FAIL("no error");
  } catch (const DecodeError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("out of range") != std::string::npos);
  }
  // The same stream with a smaller suffix is the largest magnitude a escape at r = 0 can give that is still valid.
  const std::vector<uint8_t> ok = forge(0);  // x = 2^23: |v| = 2^23 + 12
  const auto dec = decode_ints(ok.data(), ok.size(), 1);
  REQUIRE(dec == std::vector<int32_t>{(1 << 23) + 12});
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
  CHECK(hex == "c4ff3c94f40531ec839068cd25767ecc36cb03700ff863c4a061af9fffdb3199e43d9b911d838dd445e70f0e93ec");
  REQUIRE(decode_ints(enc.data(), enc.size(), v.size()) == v);
}
