// Entropy coding of real fitted models: for every .nvc file given, the quantized ints of each tensor class
// (decoder weights, embeddings, ...) coded by nvc's coder vs zstd -19 on the same symbols vs their order-0 entropy.
//   nvc_tensor_bench a.nvc [b.nvc ...]            sizes of the payloads stored in the files
//   nvc_tensor_bench --dump out.tens a.nvc [...]   also writes the quantized ints of every tensor as text
//   nvc_tensor_bench x.tens [...]                  re-codes dumped tensors with this build's coder
//                                                  (encode_tensor_ints: Cabac or CabacDelta) and reports those sizes
// A .tens dump keeps the ints of files of an older format version measurable after a format change. Text format, one
// tensor per line: "file component coder bits axis ndims shape... payload_bytes count v0 v1 ...".
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
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

struct Tensor {
  std::string file;
  bs::TensorRecord rec;  // metadata and payload (as stored, or re-coded for a .tens input)
  std::vector<int32_t> q;
};

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Tensors of a .nvc file (stored payloads) or of a .tens dump (re-coded with this build's coder).
bool load(const std::string& path, std::vector<Tensor>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", path.c_str());
    return false;
  }
  if (ends_with(path, ".tens")) {
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      Tensor t;
      int comp = 0, coder = 0, bits = 0, axis = 0;
      size_t ndims = 0, payload = 0, count = 0;
      ls >> t.file >> comp >> coder >> bits >> axis >> ndims;
      t.rec.component = bs::Component(comp);
      t.rec.bits = uint8_t(bits);
      t.rec.axis = int8_t(axis);
      t.rec.shape.resize(ndims);
      for (auto& d : t.rec.shape) ls >> d;
      ls >> payload >> count;
      t.q.resize(count);
      for (auto& v : t.q) ls >> v;
      if (!ls) {
        std::fprintf(stderr, "%s: bad line\n", path.c_str());
        return false;
      }
      t.rec.scale_code.assign(t.rec.channel_count(), 0);
      bs::encode_tensor_ints(t.rec, t.q.data(), t.q.size());
      out.push_back(std::move(t));
    }
    return true;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bs::NvcFile f;
  try {
    f = bs::parse(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
    return false;
  }
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    if (f.tensors[i].coder == bs::Coder::Float32) continue;
    Tensor t;
    t.file = path;
    t.q = bs::decode_tensor_ints(f.tensors[i], i);
    t.rec = std::move(f.tensors[i]);
    out.push_back(std::move(t));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int a = 1;
  std::FILE* dump = nullptr;
  if (argc > 2 && std::strcmp(argv[1], "--dump") == 0) {
    dump = std::fopen(argv[2], "w");
    if (!dump) {
      std::fprintf(stderr, "cannot write %s\n", argv[2]);
      return 1;
    }
    a = 3;
  }
  if (a >= argc) {
    std::fprintf(stderr, "usage: nvc_tensor_bench [--dump OUT.tens] FILE.nvc|FILE.tens [...]\n");
    return 2;
  }
  std::printf("| file | class | tensors | values | order-0 B | nvc B | zstd-19 B (per tensor) | zstd-19 B (concatenated) |"
              " nvc/zstd (per tensor) | nvc/zstd (concat) | nvc/order-0 |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  Row total;
  size_t total_concat = 0;
  for (; a < argc; ++a) {
    std::vector<Tensor> ts;
    if (!load(argv[a], ts)) return 1;
    // A .tens dump may hold several files: one group of rows per file, in order of appearance.
    std::vector<std::string> files;
    for (const Tensor& t : ts)
      if (files.empty() || files.back() != t.file) files.push_back(t.file);
    for (const std::string& file : files) {
      Row rows[4];
      for (const Tensor& t : ts) {
        if (t.file != file) continue;
        const std::vector<int32_t>& q = t.q;
        if (dump) {
          std::fprintf(dump, "%s %d %d %d %d %zu", t.file.c_str(), int(t.rec.component), int(t.rec.coder),
                       int(t.rec.bits), int(t.rec.axis), t.rec.shape.size());
          for (uint32_t d : t.rec.shape) std::fprintf(dump, " %u", d);
          std::fprintf(dump, " %zu %zu", t.rec.payload.size(), q.size());
          for (int32_t v : q) std::fprintf(dump, " %d", v);
          std::fprintf(dump, "\n");
        }
        Row& r = rows[int(t.rec.component)];
        r.tensors++;
        r.count += q.size();
        r.ours += t.rec.payload.size();
        r.zstd_per_tensor += zstd19_bytes(q);
        r.order0_per_tensor += nvc::entropy::order0_entropy_bytes(q.data(), q.size());
        r.all.insert(r.all.end(), q.begin(), q.end());
      }
      for (int c = 0; c < 4; ++c) {
        const Row& r = rows[c];
        if (!r.tensors) continue;
        const size_t concat = zstd19_bytes(r.all);
        total_concat += concat;
        std::printf("| %s | %s | %zu | %zu | %.0f | %zu | %zu | %zu | %.3f | %.3f | %.3f |\n", file.c_str(),
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
  }
  if (dump) std::fclose(dump);
  std::printf("| **all** | | %zu | %zu | %.0f | %zu | %zu | %zu | %.3f | %.3f | %.3f |\n", total.tensors, total.count,
              total.order0_per_tensor, total.ours, total.zstd_per_tensor, total_concat,
              double(total.ours) / double(total.zstd_per_tensor), double(total.ours) / double(total_concat),
              double(total.ours) / total.order0_per_tensor);
  return 0;
}
