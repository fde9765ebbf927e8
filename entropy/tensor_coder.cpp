#include "entropy/tensor_coder.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "entropy/range_coder.h"

namespace nvc::entropy {
namespace {

// Binarization of v (a = |v|), driven by m, an integer running mean of the previous magnitudes (Q4, an exponential
// moving average with weight 1/32, started from a 4-bit header value chosen by the encoder). docs/entropy.md §4.
//   sig   a != 0                   ctx: bucket of m (9, two per octave), min(|prev|, 2)              (27)
//   sign  v < 0                    ctx: sign of the previous nonzero value                           (3)
//   magnitude b = a - 1 as adaptive Rice code with parameter r = min(floor(log2(max(m / 16, 1))), 24):
//     prefix u = b >> r unary, kUnary context-coded bins per r; u >= kUnary escapes to an Exp-Golomb-0 code of
//     u - kUnary + 1 (context-coded prefix, bypass suffix);
//     suffix: the r low bits of b, the top one context-coded by (r, min(u, 3)); the others bypass, or, when the
//     header's flag is set, context-coded by (r, bit position) (the encoder's choice: flat low bits cost less as
//     bypass, degenerate ones, e.g. a constant tensor, as contexts).
// Measured on the tensors of real fitted models and on synthetic data (docs/entropy.md §8): the scale-relative
// binarization lets few contexts serve every magnitude, so small tensors learn quickly, and the running mean follows
// the local scale of per-channel data.
constexpr int kHeaderBits = 5;  // 1 flag (low suffix bits context-coded) + 4 bits of the initial mean class
constexpr int kMeanShift = 5;     // EMA weight 1/32
constexpr int kSigBuckets = 9;
constexpr int kMaxRice = 24;
constexpr int kUnary = 12;
// x = u - kUnary + 1 <= 2^24 - 1 + ... < 2^24 when valid, so n <= 23: the 24th prefix bit is never sent.
constexpr int kEgMaxPrefix = 23;
// Encoder: tensors up to this many values try every header value and keep the shortest output.
constexpr size_t kExhaustiveHeader = 8192;

struct Models {
  BitModel sig[kSigBuckets][3];
  BitModel sign[3];
  BitModel prefix[kMaxRice + 1][kUnary];
  BitModel eg_prefix[kEgMaxPrefix];
  BitModel suffix[kMaxRice + 1][4];
  BitModel low[kMaxRice + 1][kMaxRice - 1];
};

// x >= 1.
inline int floor_log2(uint32_t x) {
#if defined(__GNUC__) || defined(__clang__)
  return 31 - __builtin_clz(x);
#else
  int n = 0;
  while (x >>= 1) ++n;
  return n;
#endif
}

// The per-value state shared by encoder and decoder.
struct State {
  uint32_t m;       // Q4 running mean of |v|
  uint32_t a1 = 0;  // previous magnitude
  int last_sign = 0;

  // h = the header's 4 low bits: m starts at 0 (h = 0) or 2^(h-1) (x 16).
  explicit State(uint32_t h) : m(h == 0 ? 0u : 1u << (h + 3)) {}

  int sig_ctx() const {
    // The bucket of m, min(2 floor_log2(m + 4) + (bit below the leading one of m + 4) - 4, 8), by table: it is 8
    // for every m >= 60.
    static constexpr uint8_t kBucket[60] = {0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    const int b = m < 60 ? kBucket[m] : kSigBuckets - 1;
    return 3 * b + static_cast<int>(std::min<uint32_t>(a1, 2));
  }
  int rice() const {
    const uint32_t mean = m >> 4;
    return mean ? std::min(floor_log2(mean), kMaxRice) : 0;
  }
  void update(uint32_t a) {
    const uint32_t t = a << 4;  // a <= 2^24: no overflow
    if (t >= m)
      m += (t - m) >> kMeanShift;
    else
      m -= (m - t) >> kMeanShift;
    a1 = a;
  }
};

std::vector<uint8_t> encode_with_header(const int32_t* values, size_t count, uint32_t header) {
  Models md;
  RangeEncoder enc;
  enc.bypass_bits(header, kHeaderBits);
  const bool ctx_low = (header >> 4) & 1;
  State st(header & 15);
  BitModel* sig = &md.sig[0][0];
  for (size_t i = 0; i < count; ++i) {
    const int32_t v = values[i];
    const uint32_t a = static_cast<uint32_t>(v < 0 ? -static_cast<int64_t>(v) : v);
    enc.encode(sig[st.sig_ctx()], a != 0);
    if (a) {
      const int neg = v < 0;
      enc.encode(md.sign[st.last_sign], neg);
      st.last_sign = neg ? 2 : 1;
      const int r = st.rice();
      const uint32_t b = a - 1;
      const uint32_t u = b >> r;
      int j = 0;
      for (; j < kUnary; ++j) {
        const int bit = u > static_cast<uint32_t>(j);
        enc.encode(md.prefix[r][j], bit);
        if (!bit) break;
      }
      if (j == kUnary) {
        const uint32_t x = u - kUnary + 1;
        const int n = floor_log2(x);
        for (int k = 0; k < n; ++k) enc.encode(md.eg_prefix[k], 1);
        if (n < kEgMaxPrefix) enc.encode(md.eg_prefix[n], 0);
        enc.bypass_bits(x & ((1u << n) - 1), n);
      }
      if (r > 0) {
        enc.encode(md.suffix[r][std::min<uint32_t>(u, 3)], (b >> (r - 1)) & 1);
        if (ctx_low) {
          for (int k = r - 2; k >= 0; --k) enc.encode(md.low[r][k], (b >> k) & 1);
        } else {
          enc.bypass_bits(b & ((1u << (r - 1)) - 1), r - 1);
        }
      }
    }
    st.update(a);
  }
  return enc.finish();
}

}  // namespace

std::vector<uint8_t> encode_ints(const int32_t* values, size_t count) {
  if (count == 0) return {};
  uint64_t head_sum = 0;
  const size_t head = std::min<size_t>(count, 64);
  for (size_t i = 0; i < count; ++i) {
    const int32_t v = values[i];
    if (v < -kMaxAbsValue || v > kMaxAbsValue)
      throw std::invalid_argument("entropy: value " + std::to_string(v) + " at index " + std::to_string(i) +
                                  " exceeds +-2^24");
    if (i < head) head_sum += static_cast<uint64_t>(v < 0 ? -static_cast<int64_t>(v) : v);
  }
  if (count <= kExhaustiveHeader) {
    std::vector<uint8_t> best;
    for (uint32_t h = 0; h < (1u << kHeaderBits); ++h) {
      std::vector<uint8_t> out = encode_with_header(values, count, h);
      if (h == 0 || out.size() < best.size()) best.swap(out);
    }
    return best;
  }
  // Large tensors: start the running mean at the power of two at or below the mean magnitude of the first values,
  // and try both suffix modes.
  const uint64_t mean = head_sum / head;
  const uint32_t h = mean == 0 ? 0u : std::min<uint32_t>(floor_log2(static_cast<uint32_t>(mean)) + 1, 15);
  std::vector<uint8_t> best = encode_with_header(values, count, h);
  std::vector<uint8_t> alt = encode_with_header(values, count, 16 | h);
  if (alt.size() < best.size()) best.swap(alt);
  return best;
}

std::vector<int32_t> decode_ints(const uint8_t* data, size_t size, size_t count) {
  if (count == 0) {
    if (size != 0) throw DecodeError("entropy: trailing bytes after the coded data");
    return {};
  }
  std::vector<int32_t> out(count);
  Models md;
  RangeDecoder dec(data, size);
  const uint32_t header = dec.bypass_bits(kHeaderBits);
  const bool ctx_low = (header >> 4) & 1;
  State st(header & 15);
  BitModel* sig = &md.sig[0][0];
  for (size_t i = 0; i < count; ++i) {
    uint32_t a = 0;
    int neg = 0;
    if (dec.decode(sig[st.sig_ctx()])) {
      neg = dec.decode(md.sign[st.last_sign]);
      st.last_sign = neg ? 2 : 1;
      const int r = st.rice();
      uint32_t u = 0;
      while (u < static_cast<uint32_t>(kUnary) && dec.decode(md.prefix[r][u])) ++u;
      if (u == static_cast<uint32_t>(kUnary)) {
        int n = 0;
        while (n < kEgMaxPrefix && dec.decode(md.eg_prefix[n])) ++n;
        const uint32_t x = (1u << n) | dec.bypass_bits(n);  // <= 2^24 - 1
        u = x + kUnary - 1;                                  // < 2^25
      }
      uint64_t b = static_cast<uint64_t>(u) << r;  // < 2^41
      if (r > 0) {
        b |= static_cast<uint64_t>(dec.decode(md.suffix[r][std::min<uint32_t>(u, 3)])) << (r - 1);
        if (ctx_low) {
          for (int k = r - 2; k >= 0; --k) b |= static_cast<uint64_t>(dec.decode(md.low[r][k])) << k;
        } else {
          b |= dec.bypass_bits(r - 1);
        }
      }
      if (b >= static_cast<uint64_t>(kMaxAbsValue)) throw DecodeError("entropy: decoded value out of range");
      a = static_cast<uint32_t>(b) + 1;
    }
    out[i] = neg ? -static_cast<int32_t>(a) : static_cast<int32_t>(a);
    st.update(a);
  }
  dec.finish();
  return out;
}

double order0_entropy_bytes(const int32_t* values, size_t count) {
  if (count == 0) return 0.0;
  std::vector<int32_t> v(values, values + count);
  std::sort(v.begin(), v.end());
  double bits = 0.0;
  const double n = static_cast<double>(count);
  for (size_t i = 0; i < count;) {
    size_t j = i;
    while (j < count && v[j] == v[i]) ++j;
    double c = static_cast<double>(j - i);
    bits -= c * std::log2(c / n);
    i = j;
  }
  return bits / 8.0;
}

}  // namespace nvc::entropy
