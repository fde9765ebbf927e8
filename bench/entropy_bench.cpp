// entropy_bench [file.i32 ...]: compares nvc::entropy against zstd -19 and the order-0 entropy on synthetic
// distributions and on raw little-endian int32 tensor files. Prints a markdown table.
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "entropy/synthetic.h"
#include "entropy/tensor_coder.h"

namespace en = nvc::entropy;
namespace syn = nvc::entropy::synthetic;

namespace {

// Values packed as the smallest little-endian fixed-width type that holds them: zstd's fair input.
std::vector<uint8_t> pack_min_width(const std::vector<int32_t>& v) {
  int32_t lo = 0, hi = 0;
  for (int32_t x : v) {
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
  int width = (lo >= -128 && hi <= 127) ? 1 : (lo >= -32768 && hi <= 32767) ? 2 : 4;
  std::vector<uint8_t> out;
  out.reserve(v.size() * width);
  for (int32_t x : v) {
    uint32_t u = static_cast<uint32_t>(x);
    for (int b = 0; b < width; ++b) out.push_back(static_cast<uint8_t>(u >> (8 * b)));
  }
  return out;
}

size_t zstd19_size(const std::vector<int32_t>& v) {
  std::vector<uint8_t> src = pack_min_width(v);
  std::vector<uint8_t> dst(ZSTD_compressBound(src.size()));
  size_t r = ZSTD_compress(dst.data(), dst.size(), src.data(), src.size(), 19);
  if (ZSTD_isError(r)) {
    std::fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(r));
    std::exit(1);
  }
  return r;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void row(const std::string& name, const std::vector<int32_t>& v) {
  const double h0 = en::order0_entropy_bytes(v.data(), v.size());
  const size_t zs = zstd19_size(v);
  // Repeat small inputs so that timings are meaningful.
  int reps = static_cast<int>(std::max<size_t>(1, 2000000 / std::max<size_t>(v.size(), 1)));
  std::vector<uint8_t> enc;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) enc = en::encode_ints(v.data(), v.size());
  double te = seconds_since(t0) / reps;
  std::vector<int32_t> dec;
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) dec = en::decode_ints(enc.data(), enc.size(), v.size());
  double td = seconds_since(t0) / reps;
  if (dec != v) {
    std::fprintf(stderr, "round trip FAILED for %s\n", name.c_str());
    std::exit(1);
  }
  const double mb = 4.0 * static_cast<double>(v.size()) / 1e6;
  std::printf("| %s | %zu | %.0f | %zu | %zu | %.3f | %.3f | %.0f | %.0f |\n", name.c_str(), v.size(), h0, enc.size(),
              zs, static_cast<double>(enc.size()) / static_cast<double>(zs),
              h0 > 0 ? static_cast<double>(enc.size()) / h0 : 0.0, mb / te, mb / td);
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("| input | count | order-0 B | nvc B | zstd-19 B | nvc/zstd | nvc/order-0 | enc MB/s | dec MB/s |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream f(argv[i], std::ios::binary);
      if (!f) {
        std::fprintf(stderr, "cannot open %s\n", argv[i]);
        return 1;
      }
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      std::vector<int32_t> v(bytes.size() / 4);
      for (size_t j = 0; j < v.size(); ++j)
        v[j] = static_cast<int32_t>(uint32_t{bytes[4 * j]} | uint32_t{bytes[4 * j + 1]} << 8 |
                                    uint32_t{bytes[4 * j + 2]} << 16 | uint32_t{bytes[4 * j + 3]} << 24);
      row(argv[i], v);
    }
    return 0;
  }
  const size_t n = 1 << 20;
  for (double b : {0.5, 2.0, 8.0, 30.0}) row("laplace b=" + std::to_string(b).substr(0, 4), syn::laplace_vec(n, b, 1));
  row("gaussian sigma=4", syn::gaussian_vec(n, 4.0, 2));
  row("sparse 50% (b=4)", syn::sparse_vec(n, 0.5, 4.0, 3));
  row("sparse 90% (b=4)", syn::sparse_vec(n, 0.9, 4.0, 4));
  row("sparse 99% (b=4)", syn::sparse_vec(n, 0.99, 4.0, 5));
  row("uniform 8-bit [-127,127]", syn::uniform_vec(n, -127, 127, 6));
  {
    auto v = syn::laplace_vec(n, 30.0, 11);
    for (auto& x : v) x = x < -127 ? -127 : (x > 127 ? 127 : x);
    row("8-bit laplace b=30 clipped", v);
    v = syn::gaussian_vec(n, 40.0, 12);
    for (auto& x : v) x = x < -127 ? -127 : (x > 127 ? 127 : x);
    row("8-bit gaussian s=40 clipped", v);
  }
  row("channel-scaled b=0.5..16", syn::channel_scaled_vec(n, 576, 0.5, 16.0, 7));
  row("all zero", std::vector<int32_t>(n, 0));
  row("small laplace b=2 n=100", syn::laplace_vec(100, 2.0, 8));
  row("small laplace b=2 n=1000", syn::laplace_vec(1000, 2.0, 9));
  row("small uniform 8-bit n=1000", syn::uniform_vec(1000, -127, 127, 10));
  return 0;
}
