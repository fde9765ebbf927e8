#include "entropy/tensor_coder.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "entropy/range_coder.h"

namespace nvc::entropy {
namespace {

// Binarization of v (a = |v|):
//   sig   a != 0                  ctx: min(|prev1|,2), min(|prev2|,2)              (9)
//   sign  v < 0                   ctx: sign of the previous nonzero value          (3)
//   gt_k  a > k, k = 1..kGt       ctx: k, and neighbours' magnitude relative to k  (kGt * 3)
//   rem   x = a - kGt >= 1 as Exp-Golomb-0: unary prefix n = floor(log2 x), one context per position; the top
//         kEgCtxSuffix suffix bits through a binary context tree per n (models the slope and the clipped end of
//         each bucket, which matters for dense 8-bit weights); the remaining suffix bits bypass.
// Tuned on synthetic Laplace/Gaussian/sparse/dense-8-bit data (bench/entropy_bench.cpp): kGt = 8 with a 3-bit
// suffix tree keeps dense 8-bit tensors within ~1% of their order-0 entropy; larger kGt only adds adaptive bins.
constexpr int kGt = 8;
constexpr int kGtCls = 3;
// x <= kMaxAbsValue - kGt < 2^24, so n <= 23: the 24th prefix bit is never sent, which also caps the decoder.
constexpr int kEgMaxPrefix = 23;
constexpr int kEgCtxSuffix = 3;

struct Models {
  BitModel sig[9];
  BitModel sign[3];
  BitModel gt[kGt][kGtCls];
  BitModel eg_prefix[kEgMaxPrefix];
  BitModel eg_suffix[kEgMaxPrefix + 1][1 << kEgCtxSuffix];
};

inline int sig_ctx(uint32_t a1, uint32_t a2) {
  return static_cast<int>(std::min<uint32_t>(a1, 2) * 3 + std::min<uint32_t>(a2, 2));
}

// Neighbourhood class for gt_k: local magnitude (a1 + a2 ~ twice the mean) relative to k.
inline int gt_cls(uint32_t m, uint32_t k) { return m < k ? 0 : (m < 3 * k ? 1 : 2); }

inline int floor_log2(uint32_t x) {
  int n = 0;
  while (x >>= 1) ++n;
  return n;
}

}  // namespace

std::vector<uint8_t> encode_ints(const int32_t* values, size_t count) {
  Models m;
  RangeEncoder enc;
  uint32_t a1 = 0, a2 = 0;
  int last_sign = 0;
  for (size_t i = 0; i < count; ++i) {
    int32_t v = values[i];
    if (v < -kMaxAbsValue || v > kMaxAbsValue)
      throw std::invalid_argument("entropy: value " + std::to_string(v) + " at index " + std::to_string(i) +
                                  " exceeds +-2^24");
    uint32_t a = static_cast<uint32_t>(v < 0 ? -v : v);
    enc.encode(m.sig[sig_ctx(a1, a2)], a != 0);
    if (a) {
      int neg = v < 0;
      enc.encode(m.sign[last_sign], neg);
      last_sign = neg ? 2 : 1;
      uint32_t nb = a1 + a2;
      uint32_t k = 1;
      for (; k <= static_cast<uint32_t>(kGt); ++k) {
        int g = a > k;
        enc.encode(m.gt[k - 1][gt_cls(nb, k)], g);
        if (!g) break;
      }
      if (k > static_cast<uint32_t>(kGt)) {
        uint32_t x = a - kGt;
        int n = floor_log2(x);
        for (int j = 0; j < n; ++j) enc.encode(m.eg_prefix[j], 1);
        if (n < kEgMaxPrefix) enc.encode(m.eg_prefix[n], 0);
        // The top kEgCtxSuffix suffix bits through a per-n binary context tree, the rest bypass.
        const int nc = n < kEgCtxSuffix ? n : kEgCtxSuffix;
        uint32_t node = 1;
        for (int j = n - 1; j >= n - nc; --j) {
          const int b = (x >> j) & 1;
          enc.encode(m.eg_suffix[n][node], b);
          node = 2 * node + b;
        }
        enc.bypass_bits(x & ((1u << (n - nc)) - 1), n - nc);
      }
    }
    a2 = a1;
    a1 = a;
  }
  if (count == 0) return {};
  return enc.finish();
}

std::vector<int32_t> decode_ints(const uint8_t* data, size_t size, size_t count) {
  if (count == 0) {
    if (size != 0) throw DecodeError("entropy: trailing bytes after the coded data");
    return {};
  }
  std::vector<int32_t> out(count);
  Models m;
  RangeDecoder dec(data, size);
  uint32_t a1 = 0, a2 = 0;
  int last_sign = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t a = 0;
    int neg = 0;
    if (dec.decode(m.sig[sig_ctx(a1, a2)])) {
      neg = dec.decode(m.sign[last_sign]);
      last_sign = neg ? 2 : 1;
      uint32_t nb = a1 + a2;
      uint32_t k = 1;
      for (; k <= static_cast<uint32_t>(kGt); ++k) {
        if (!dec.decode(m.gt[k - 1][gt_cls(nb, k)])) break;
      }
      if (k > static_cast<uint32_t>(kGt)) {
        int n = 0;
        while (n < kEgMaxPrefix && dec.decode(m.eg_prefix[n])) ++n;
        const int nc = n < kEgCtxSuffix ? n : kEgCtxSuffix;
        uint32_t node = 1;
        for (int j = 0; j < nc; ++j) node = 2 * node + static_cast<uint32_t>(dec.decode(m.eg_suffix[n][node]));
        // node = 1 followed by the nc context-coded bits = the top nc + 1 bits of x.
        const uint32_t x = (node << (n - nc)) | dec.bypass_bits(n - nc);
        a = x + kGt;
        if (a > static_cast<uint32_t>(kMaxAbsValue)) throw DecodeError("entropy: decoded value out of range");
      } else {
        a = k;
      }
    }
    out[i] = neg ? -static_cast<int32_t>(a) : static_cast<int32_t>(a);
    a2 = a1;
    a1 = a;
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
