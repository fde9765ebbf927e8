#pragma once
// Deterministic synthetic "quantized tensor" generators for tests and benchmarks (not used by the coder).
// Own samplers on top of std::mt19937 (whose output is fixed by the standard), because std distributions differ
// between standard libraries.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace nvc::entropy::synthetic {

// Uniform double in (0, 1).
inline double uniform01(std::mt19937& rng) { return (static_cast<double>(rng()) + 0.5) / 4294967296.0; }

// round(Laplace(0, b)).
inline int32_t laplace(std::mt19937& rng, double b) {
  double u = uniform01(rng) - 0.5;
  double x = -b * std::log(1.0 - 2.0 * std::fabs(u));
  return static_cast<int32_t>(std::lround(u < 0 ? -x : x));
}

// round(Normal(0, sigma)), Box-Muller.
inline int32_t gaussian(std::mt19937& rng, double sigma) {
  double u1 = uniform01(rng), u2 = uniform01(rng);
  return static_cast<int32_t>(std::lround(sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2)));
}

inline std::vector<int32_t> laplace_vec(size_t n, double b, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = laplace(rng, b);
  return v;
}

inline std::vector<int32_t> gaussian_vec(size_t n, double sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = gaussian(rng, sigma);
  return v;
}

// Uniform integers in [lo, hi].
inline std::vector<int32_t> uniform_vec(size_t n, int32_t lo, int32_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  const uint64_t span = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo) + 1;
  for (auto& x : v) x = static_cast<int32_t>(lo + static_cast<int64_t>((static_cast<uint64_t>(rng()) * span) >> 32));
  return v;
}

// Pruned tensor: each entry is zero with probability `zero_frac`, otherwise a nonzero round(Laplace(b)).
inline std::vector<int32_t> sparse_vec(size_t n, double zero_frac, double b, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) {
    if (uniform01(rng) < zero_frac) {
      x = 0;
    } else {
      do x = laplace(rng, b); while (x == 0);
    }
  }
  return v;
}

// Conv-weight-like: rows of `row` values, each row with its own Laplace scale drawn log-uniformly from
// [b_lo, b_hi] (per-output-channel variance, as in real networks quantized with one step per tensor).
inline std::vector<int32_t> channel_scaled_vec(size_t n, size_t row, double b_lo, double b_hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  double b = b_lo;
  for (size_t i = 0; i < n; ++i) {
    if (i % row == 0) b = b_lo * std::exp(std::log(b_hi / b_lo) * uniform01(rng));
    v[i] = laplace(rng, b);
  }
  return v;
}

}  // namespace nvc::entropy::synthetic
