// Entropy coding of real fitted models: for every .nvc file given, the quantized ints of each tensor class
// (decoder weights, embeddings, ...) coded by nvc's coder vs zstd -19 on the same symbols vs their order-0 entropy.
//   nvc_tensor_bench a.nvc [b.nvc ...]
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "bench/zstd_baseline.h"
#include "bitstream/nvc_file.h"
#include "entropy/tensor_coder.h"

namespace bs = nvc::bitstream;
using nvc::bench::zstd19_bytes;

namespace {

struct Row {
  size_t tensors = 0, count = 0, ours = 0, zstd_per_tensor = 0;
  double order0_per_tensor = 0;
  std::vector<int32_t> all;  // every value of the class, for zstd over the concatenation
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: nvc_tensor_bench FILE.nvc [...]\n");
    return 2;
  }
  std::printf("| file | class | tensors | values | order-0 B | nvc B | zstd-19 B (per tensor) | zstd-19 B (concatenated) |"
              " nvc/zstd (per tensor) | nvc/zstd (concat) | nvc/order-0 |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  Row total;
  size_t total_concat = 0;
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bs::NvcFile f;
    try {
      f = bs::parse(bytes.data(), bytes.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", argv[a], e.what());
      return 1;
    }
    Row rows[4];
    for (size_t i = 0; i < f.tensors.size(); ++i) {
      const bs::TensorRecord& t = f.tensors[i];
      if (t.coder == bs::Coder::Float32) continue;
      const std::vector<int32_t> q = bs::decode_tensor_ints(t, i);
      Row& r = rows[int(t.component)];
      r.tensors++;
      r.count += q.size();
      r.ours += t.payload.size();
      r.zstd_per_tensor += zstd19_bytes(q);
      r.order0_per_tensor += nvc::entropy::order0_entropy_bytes(q.data(), q.size());
      r.all.insert(r.all.end(), q.begin(), q.end());
    }
    for (int c = 0; c < 4; ++c) {
      const Row& r = rows[c];
      if (!r.tensors) continue;
      const size_t concat = zstd19_bytes(r.all);
      total_concat += concat;
      std::printf("| %s | %s | %zu | %zu | %.0f | %zu | %zu | %zu | %.3f | %.3f | %.3f |\n", argv[a],
                  bs::component_name(bs::Component(c)), r.tensors, r.count, r.order0_per_tensor, r.ours,
                  r.zstd_per_tensor, concat, double(r.ours) / double(r.zstd_per_tensor),
                  double(r.ours) / double(concat), double(r.ours) / r.order0_per_tensor);
      total.tensors += r.tensors;
      total.count += r.count;
      total.ours += r.ours;
      total.zstd_per_tensor += r.zstd_per_tensor;
      total.order0_per_tensor += r.order0_per_tensor;
    }
  }
  std::printf("| **all** | | %zu | %zu | %.0f | %zu | %zu | %zu | %.3f | %.3f | %.3f |\n", total.tensors, total.count,
              total.order0_per_tensor, total.ours, total.zstd_per_tensor, total_concat,
              double(total.ours) / double(total.zstd_per_tensor), double(total.ours) / double(total_concat),
              double(total.ours) / total.order0_per_tensor);
  return 0;
}
