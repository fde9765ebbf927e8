#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "entropy/range_coder.h"

using namespace nvc::entropy;

TEST_CASE("range coder: adaptive, fixed-probability and bypass bits round-trip", "[entropy][range]") {
  std::mt19937 rng(42);
  struct Op {
    int kind;  // 0 adaptive, 1 fixed p, 2 bypass
    int bit;
    uint32_t p1;
    int ctx;
  };
  std::vector<Op> ops(200000);
  for (auto& op : ops) {
    op.kind = static_cast<int>(rng() % 3);
    op.ctx = static_cast<int>(rng() % 4);
    // Extreme probabilities included: the coder must stay exact at p = 1/65536 and 65535/65536.
    const uint32_t choices[] = {1, 2, 100, 32768, 65000, 65535, static_cast<uint32_t>(1 + rng() % 65535)};
    op.p1 = choices[rng() % 7];
    // Bits mostly follow p (and context 0 is heavily skewed) but sometimes contradict it.
    op.bit = op.ctx == 0 ? (rng() % 50 == 0) : static_cast<int>((rng() & 0xFFFF) < op.p1);
  }
  BitModel em[4], dm[4];
  RangeEncoder enc;
  for (const auto& op : ops) {
    if (op.kind == 0) enc.encode(em[op.ctx], op.bit);
    else if (op.kind == 1) enc.encode(op.bit, op.p1);
    else enc.bypass(op.bit);
  }
  const std::vector<uint8_t> bytes = enc.finish();
  RangeDecoder dec(bytes.data(), bytes.size());
  for (const auto& op : ops) {
    int b = op.kind == 0 ? dec.decode(dm[op.ctx]) : op.kind == 1 ? dec.decode(op.p1) : dec.bypass();
    REQUIRE(b == op.bit);
  }
  REQUIRE_NOTHROW(dec.finish());
  REQUIRE(dec.overrun() <= static_cast<size_t>(kMaxPadding));
}

TEST_CASE("range coder: multi-bit bypass and carry-heavy streams", "[entropy][range]") {
  // Many certain-zero bits with p1 tiny push low upwards: exercises carry propagation through 0xFF runs.
  RangeEncoder enc;
  std::mt19937 rng(7);
  std::vector<uint32_t> vals;
  for (int i = 0; i < 50000; ++i) {
    enc.encode(0, 1);
    uint32_t v = rng();
    vals.push_back(v);
    enc.bypass_bits(v, 32);
    enc.encode(1, 65535);
  }
  auto bytes = enc.finish();
  RangeDecoder dec(bytes.data(), bytes.size());
  for (int i = 0; i < 50000; ++i) {
    REQUIRE(dec.decode(1) == 0);
    REQUIRE(dec.bypass_bits(32) == vals[i]);
    REQUIRE(dec.decode(65535) == 1);
  }
  REQUIRE_NOTHROW(dec.finish());
}

TEST_CASE("range coder: BitModel learns skewed sources cheaply", "[entropy][range]") {
  RangeEncoder enc;
  BitModel m;
  for (int i = 0; i < 100000; ++i) enc.encode(m, 0);
  // A certain event should cost almost nothing (the Q26 state does not floor at a coarse probability).
  REQUIRE(enc.finish().size() <= 8);
}
