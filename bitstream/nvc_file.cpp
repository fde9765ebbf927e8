// .nvc container: serialize() and parse(). The byte layout is specified in docs/format.md; keep the two in step.
#include "bitstream/nvc_file.h"

#include <zlib.h>

#include <cstring>

#include "bitstream/byte_io.h"
#include "entropy/tensor_coder.h"

namespace nvc::bitstream {

namespace {

using detail::OutOfData;
using detail::Reader;
using detail::Writer;

constexpr uint8_t kMagic[8] = {0x8B, 'N', 'V', 'C', 0x0D, 0x0A, 0x1A, 0x0A};
constexpr size_t kFileHeaderBytes = 10;  // magic + major + minor

uint32_t crc_of(const char type[4], const uint8_t* payload, size_t len) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(type), 4);
  crc = crc32_z(crc, payload, len);
  return uint32_t(crc);
}

void write_section(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& payload) {
  Writer w(out);
  w.bytes(type, 4);
  w.varint(payload.size());
  w.bytes(payload.data(), payload.size());
  w.u32le(crc_of(type, payload.data(), payload.size()));
}

bool printable(const std::string& s) {
  for (char c : s)
    if (uint8_t(c) < 0x20 || uint8_t(c) > 0x7E) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------- validation (writer)

template <class Map>
void validate_keys(const Map& m, const char* what) {
  if (m.size() > limits::kMaxKeysPerMap)
    throw FormatError(std::string("model description: more than 256 ") + what + " parameters");
  for (const auto& kv : m)
    if (kv.first.empty() || kv.first.size() > limits::kMaxKeyBytes || !printable(kv.first))
      throw FormatError("model description: invalid parameter key '" + kv.first + "' (1..256 printable ASCII bytes)");
}

void validate_model(const ModelDescription& m) {
  if (m.kind.size() > limits::kMaxKindBytes || !printable(m.kind))
    throw FormatError("model description: invalid kind (at most 256 printable ASCII bytes)");
  validate_keys(m.ints, "integer");
  validate_keys(m.reals, "real");
  validate_keys(m.strings, "string");
  for (const auto& kv : m.ints)
    if (kv.second.size() > limits::kMaxValuesPerKey)
      throw FormatError("model parameter '" + kv.first + "' has more than 65536 values");
  for (const auto& kv : m.reals)
    if (kv.second.size() > limits::kMaxValuesPerKey)
      throw FormatError("model parameter '" + kv.first + "' has more than 65536 values");
  for (const auto& kv : m.strings)
    if (kv.second.size() > limits::kMaxStringBytes)
      throw FormatError("model parameter '" + kv.first + "' is longer than 65536 bytes");
}

// ------------------------------------------------------------------------------------------------ tensor records

// Scale codes then zero points, each as deltas from the previous value (the first from 0).
std::vector<int32_t> side_deltas(const TensorRecord& rec) {
  std::vector<int32_t> d;
  d.reserve(rec.scale_code.size() + rec.zero_point.size());
  for (const auto* v : {&rec.scale_code, &rec.zero_point}) {
    int32_t prev = 0;
    for (int32_t x : *v) {
      d.push_back(x - prev);
      prev = x;
    }
  }
  return d;
}

// Returns (mode, bytes): mode 0 = zigzag varints, mode 1 = nvc::entropy::encode_ints. The shorter wins, ties mode 0.
std::pair<int, std::vector<uint8_t>> encode_side(const TensorRecord& rec) {
  const std::vector<int32_t> d = side_deltas(rec);
  std::vector<uint8_t> plain;
  Writer w(plain);
  for (int32_t x : d) w.svarint(x);
  std::vector<uint8_t> ent = entropy::encode_ints(d.data(), d.size());
  if (ent.size() < plain.size()) return {1, std::move(ent)};
  return {0, std::move(plain)};
}

void write_tensor(Writer& w, const TensorRecord& rec, ByteSplit& split) {
  w.str(rec.name);
  w.u8(uint8_t(uint8_t(rec.component) | uint8_t(rec.coder) << 2 | uint8_t(rec.bits - 1) << 4));
  w.u8(uint8_t(rec.shape.size() | size_t(rec.axis + 1) << 4));
  for (uint32_t d : rec.shape) w.varint(d);
  uint64_t coded = 0;
  if (rec.coder == Coder::Float32) {
    w.bytes(rec.payload.data(), rec.payload.size());
    coded = rec.payload.size();
  } else if (rec.coder == Coder::Pictures) {
    w.varint(rec.payload.size());
    w.bytes(rec.payload.data(), rec.payload.size());
    coded = rec.payload.size();
  } else {
    auto side = encode_side(rec);
    w.varint(uint64_t(side.second.size()) << 2 | uint64_t(side.first) << 1 | (rec.zero_point.empty() ? 0 : 1));
    w.bytes(side.second.data(), side.second.size());
    w.varint(rec.payload.size());
    w.bytes(rec.payload.data(), rec.payload.size());
    coded = side.second.size() + rec.payload.size();
  }
  split.component[uint8_t(rec.component)] += coded;
}

struct Totals {
  uint64_t elements = 0, channels = 0;
};

// Reads one record. `index` only names it in messages. Adds its coded bytes to split->component if split.
TensorRecord read_tensor(Reader& r, size_t index, Totals& totals, ByteSplit* split) {
  TensorRecord rec;
  r.set_context("tensor #" + std::to_string(index));
  rec.name = r.str(limits::kMaxNameBytes, "tensor name", true);
  if (!rec.name.empty()) r.set_context("tensor '" + rec.name + "'");

  size_t at = r.pos();
  const uint8_t b0 = r.u8();
  rec.component = Component(b0 & 3);
  const uint8_t coder = (b0 >> 2) & 3;
  rec.coder = Coder(coder);
  rec.bits = uint8_t((b0 >> 4) + 1);

  at = r.pos();
  const uint8_t b1 = r.u8();
  const size_t ndim = b1 & 15;
  if (ndim > limits::kMaxDims) r.fail(std::to_string(ndim) + " dimensions (at most 8)", at);
  const int axis1 = b1 >> 4;
  if (size_t(axis1) > ndim)
    r.fail("channel axis " + std::to_string(axis1 - 1) + " out of range for " + std::to_string(ndim) + " dimensions",
           at);
  rec.axis = int8_t(axis1 - 1);

  uint64_t n = 1;
  rec.shape.reserve(ndim);
  for (size_t d = 0; d < ndim; ++d) {
    at = r.pos();
    rec.shape.push_back(uint32_t(r.varint_in(1, 0xFFFFFFFFu, "dimension " + std::to_string(d))));
    n *= rec.shape.back();
    if (n > limits::kMaxElements) r.fail("element count exceeds 2^31", at);
  }
  totals.elements += n;
  if (totals.elements > limits::kMaxElements) r.fail("the tensors together exceed 2^31 elements", at);

  if (rec.coder == Coder::Float32) {
    if (rec.axis != -1) r.fail("float32 tensor with a channel axis", at);
    const uint8_t* p = r.take(4 * n);
    rec.payload.assign(p, p + 4 * n);
    if (split) split->component[uint8_t(rec.component)] += 4 * n;
    return rec;
  }
  if (rec.coder == Coder::Pictures) {
    if (rec.bits != 8) r.fail("pictures tensor with bit depth " + std::to_string(rec.bits) + " (must be 8)", at);
    const size_t nch = rec.channel_count();
    if (nch > limits::kMaxChannels)
      r.fail(std::to_string(nch) + " channels (at most " + std::to_string(limits::kMaxChannels) + ")", at);
    const uint64_t plen = r.varint();
    const uint8_t* p = r.take(plen);
    rec.payload.assign(p, p + plen);
    parse_pictures(rec, index);  // the pieces' structure, checked now so that a parsed file is a valid one
    if (split) split->component[uint8_t(rec.component)] += plen;
    return rec;
  }

  const size_t nch = rec.channel_count();
  if (nch > limits::kMaxChannels)
    r.fail(std::to_string(nch) + " channels (at most " + std::to_string(limits::kMaxChannels) + ")", at);
  totals.channels += nch;
  if (totals.channels > limits::kMaxTotalChannels) r.fail("the tensors together have more than 2^22 channels", at);

  at = r.pos();
  const uint64_t s = r.varint();
  const bool has_zp = s & 1;
  const int mode = int((s >> 1) & 1);
  const uint64_t side_len = s >> 2;
  const uint8_t* side = r.take(side_len);
  const size_t count = nch * (has_zp ? 2 : 1);
  std::vector<int64_t> d(count);
  if (mode == 0) {
    if (count > side_len) r.fail("scale data too short", at);
    const size_t side_start = r.pos() - size_t(side_len);
    Reader sr(r.base(), side_start, side_start + size_t(side_len), r.context());
    try {
      for (size_t i = 0; i < count; ++i) d[i] = sr.svarint();
    } catch (const OutOfData&) {
      r.fail("scale data too short", at);
    }
    if (sr.left()) r.fail("scale data too long", at);
  } else {
    std::vector<int32_t> v;
    try {
      v = entropy::decode_ints(side, size_t(side_len), count);
    } catch (const std::exception& e) {
      r.fail(std::string("corrupt scale data (") + e.what() + ")", at);
    }
    if (v.size() != count) r.fail("corrupt scale data", at);
    for (size_t i = 0; i < count; ++i) d[i] = v[i];
  }
  const int64_t zlim = int64_t(1) << rec.bits;
  rec.scale_code.resize(nch);
  int64_t prev = 0;
  for (size_t c = 0; c < nch; ++c) {
    if (d[c] < -(int64_t(1) << 40) || d[c] > (int64_t(1) << 40)) r.fail("scale code out of range", at);
    prev += d[c];
    if (prev < limits::kMinScaleCode || prev > limits::kMaxScaleCode)
      r.fail("scale code " + std::to_string(prev) + " of channel " + std::to_string(c) + " out of range [-2048, 2047]",
             at);
    rec.scale_code[c] = int32_t(prev);
  }
  if (has_zp) {
    rec.zero_point.resize(nch);
    prev = 0;
    for (size_t c = 0; c < nch; ++c) {
      const int64_t dz = d[nch + c];
      if (dz < -(int64_t(1) << 40) || dz > (int64_t(1) << 40)) r.fail("zero point out of range", at);
      prev += dz;
      if (prev < -zlim || prev > zlim)
        r.fail("zero point " + std::to_string(prev) + " of channel " + std::to_string(c) + " exceeds 2^" +
                   std::to_string(rec.bits),
               at);
      rec.zero_point[c] = int32_t(prev);
    }
  }
  const uint64_t plen = r.varint();
  const uint8_t* p = r.take(plen);
  rec.payload.assign(p, p + plen);
  if (split) split->component[uint8_t(rec.component)] += side_len + plen;
  return rec;
}

// TENS payload: count, then the records. Leaves r at the end of the last record.
std::vector<TensorRecord> read_tensors(Reader& r, ByteSplit* split) {
  const size_t at = r.pos();
  const uint64_t count = r.varint();
  if (count > limits::kMaxTensors)
    r.fail(std::to_string(count) + " tensors (at most " + std::to_string(limits::kMaxTensors) + ")", at);
  std::vector<TensorRecord> t;
  t.reserve(size_t(count));
  Totals totals;
  for (size_t i = 0; i < count; ++i) t.push_back(read_tensor(r, i, totals, split));
  return t;
}

// ------------------------------------------------------------------------------------------------ other sections

void read_seqh(Reader& r, SequenceHeader& s) {
  s.width = uint32_t(r.varint_in(0, 0xFFFFFFFFu, "width"));
  s.height = uint32_t(r.varint_in(0, 0xFFFFFFFFu, "height"));
  s.fps_num = uint32_t(r.varint_in(0, 0xFFFFFFFFu, "frame rate numerator"));
  s.fps_den = uint32_t(r.varint_in(0, 0xFFFFFFFFu, "frame rate denominator"));
  s.frame_count = uint32_t(r.varint_in(0, 0xFFFFFFFFu, "frame count"));
  s.chroma_format = r.u8();
  s.bit_depth = r.u8();
  s.full_range = r.u8();
  s.matrix = r.u8();
  validate(s);
}

void write_seqh(Writer& w, const SequenceHeader& s) {
  w.varint(s.width);
  w.varint(s.height);
  w.varint(s.fps_num);
  w.varint(s.fps_den);
  w.varint(s.frame_count);
  w.u8(s.chroma_format);
  w.u8(s.bit_depth);
  w.u8(s.full_range);
  w.u8(s.matrix);
}

// Reads one map's keys (strictly increasing) and hands each value to read_value.
template <class F>
void read_map(Reader& r, const char* what, F read_value) {
  const std::string ctx = r.context();
  const uint64_t n = r.varint_in(0, limits::kMaxKeysPerMap, std::string("number of ") + what + " parameters");
  std::string prev;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t at = r.pos();
    std::string key = r.str(limits::kMaxKeyBytes, "parameter key", true);
    if (key.empty()) r.fail("empty parameter key", at);
    if (i > 0 && !(prev < key)) r.fail("parameter key '" + key + "' not in increasing order", at);
    r.set_context("model parameter '" + key + "'");
    read_value(key);
    r.set_context(ctx);
    prev = std::move(key);
  }
}

void read_modl(Reader& r, ModelDescription& m) {
  m.kind = r.str(limits::kMaxKindBytes, "model kind", true);
  read_map(r, "integer", [&](const std::string& key) {
    const uint64_t n = r.varint_in(0, limits::kMaxValuesPerKey, "value count");
    if (n > r.left()) r.out_of_data();  // every value takes at least one byte
    std::vector<int64_t>& v = m.ints[key];
    v.resize(size_t(n));
    for (auto& x : v) x = r.svarint();
  });
  read_map(r, "real", [&](const std::string& key) {
    const uint64_t n = r.varint_in(0, limits::kMaxValuesPerKey, "value count");
    if (8 * n > r.left()) r.out_of_data();
    std::vector<double>& v = m.reals[key];
    v.resize(size_t(n));
    for (auto& x : v) {
      const uint64_t bits = r.u64le();
      std::memcpy(&x, &bits, 8);
    }
  });
  read_map(r, "string", [&](const std::string& key) {
    m.strings[key] = r.str(limits::kMaxStringBytes, "value", false);
  });
}

void write_modl(Writer& w, const ModelDescription& m) {
  w.str(m.kind);
  w.varint(m.ints.size());
  for (const auto& kv : m.ints) {
    w.str(kv.first);
    w.varint(kv.second.size());
    for (int64_t x : kv.second) w.svarint(x);
  }
  w.varint(m.reals.size());
  for (const auto& kv : m.reals) {
    w.str(kv.first);
    w.varint(kv.second.size());
    for (double x : kv.second) {
      uint64_t bits;
      std::memcpy(&bits, &x, 8);
      w.u64le(bits);
    }
  }
  w.varint(m.strings.size());
  for (const auto& kv : m.strings) {
    w.str(kv.first);
    w.str(kv.second);
  }
}

std::string section_name(const char type[4]) { return "section '" + std::string(type, 4) + "'"; }

bool is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

std::string hex_bytes(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

[[noreturn]] void bad_magic(const uint8_t* data, size_t size) {
  const size_t n = size < 8 ? size : 8;
  if (n >= 4 && data[0] == 0x0B && std::memcmp(data + 1, "NVC", 3) == 0)
    throw FormatError("not a valid NVC file: the high bit of byte 0 is cleared (damaged by a 7-bit transfer?)");
  if (n >= 4 && data[0] == 0x8B && std::memcmp(data + 1, "NVC", 3) == 0)
    throw FormatError("not a valid NVC file: line endings in the signature were altered (damaged by a text-mode "
                      "transfer?)");
  throw FormatError("not an NVC file (signature " + hex_bytes(data, n) + ")");
}

}  // namespace

// ------------------------------------------------------------------------------------------------ serialize

std::vector<uint8_t> serialize(const NvcFile& f, ByteSplit* split) {
  validate(f.seq);
  validate_model(f.model);
  if (f.tensors.size() > limits::kMaxTensors) throw FormatError("more than 4096 tensors");
  uint64_t elements = 0, channels = 0;
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    validate(f.tensors[i], i);
    elements += f.tensors[i].element_count();
    if (f.tensors[i].coder == Coder::Cabac || f.tensors[i].coder == Coder::CabacDelta)
      channels += f.tensors[i].channel_count();
  }
  if (elements > limits::kMaxElements) throw FormatError("the tensors together exceed 2^31 elements");
  if (channels > limits::kMaxTotalChannels) throw FormatError("the tensors together have more than 2^22 channels");
  if (f.encoder_info.size() > limits::kMaxStringBytes) throw FormatError("encoder info longer than 65536 bytes");

  ByteSplit s;
  std::vector<uint8_t> out(kMagic, kMagic + 8);
  out.push_back(f.major);
  out.push_back(f.minor);
  std::vector<uint8_t> payload;
  {
    Writer w(payload);
    write_seqh(w, f.seq);
    write_section(out, "SEQH", payload);
  }
  {
    payload.clear();
    Writer w(payload);
    write_modl(w, f.model);
    write_section(out, "MODL", payload);
  }
  {
    payload.clear();
    Writer w(payload);
    w.varint(f.tensors.size());
    for (const auto& t : f.tensors) write_tensor(w, t, s);
    write_section(out, "TENS", payload);
  }
  if (!f.encoder_info.empty()) {
    payload.assign(f.encoder_info.begin(), f.encoder_info.end());
    write_section(out, "info", payload);
  }
  payload.clear();
  write_section(out, "NEND", payload);

  s.total = out.size();
  s.headers = s.total - s.component[0] - s.component[1] - s.component[2] - s.component[3];
  if (split) *split = s;
  return out;
}

// ------------------------------------------------------------------------------------------------ parse

NvcFile parse(const uint8_t* data, size_t size, ByteSplit* split) {
  if (size == 0) throw FormatError("empty file (not an NVC file)");
  if (std::memcmp(data, kMagic, size < 8 ? size : 8) != 0) bad_magic(data, size);
  if (size < kFileHeaderBytes) throw FormatError("truncated at byte " + std::to_string(size) + " in the file header");
  NvcFile f;
  f.major = data[8];
  f.minor = data[9];
  if (f.major != kMajorVersion)
    throw FormatError("unsupported major version " + std::to_string(f.major) + " (this decoder reads " +
                      std::to_string(kMajorVersion) + ")");
  const bool newer_minor = f.minor > kMinorVersion;

  static const char* const kOrder[4] = {"SEQH", "MODL", "TENS", "NEND"};
  int stage = 0;  // index in kOrder of the next critical section expected
  bool have_info = false;
  ByteSplit s;
  s.total = size;
  size_t pos = kFileHeaderBytes;
  for (;;) {
    if (pos == size) {
      throw FormatError("truncated at byte " + std::to_string(size) + ": the file ends before its '" +
                        kOrder[stage] + "' section");
    }
    const size_t start = pos;
    if (size - pos < 4) throw FormatError("truncated at byte " + std::to_string(size) + " in a section header");
    char type[4];
    std::memcpy(type, data + pos, 4);
    for (int i = 0; i < 4; ++i)
      if (!is_letter(uint8_t(type[i])))
        throw FormatError("invalid section type (bytes " + hex_bytes(data + pos, 4) + ") at byte " +
                          std::to_string(start));
    const std::string sname = section_name(type);
    const std::string tname(type, 4);
    Reader hdr(data, pos + 4, size, sname);
    uint64_t len = 0;
    try {
      len = hdr.varint();
    } catch (const OutOfData&) {
      throw FormatError("truncated at byte " + std::to_string(size) + " in " + sname);
    }
    const size_t body = hdr.pos();
    if (len > size - body || size - body - size_t(len) < 4) {
      // Truncated (or a damaged length). For TENS, find the tensor the data ends in to name it.
      if (tname == "TENS" && stage == 2) {
        Reader r(data, body, len < size - body ? body + size_t(len) : size, sname);
        try {
          read_tensors(r, nullptr);
        } catch (const OutOfData& e) {
          throw FormatError("truncated at byte " + std::to_string(size) + " in " + e.context);
        } catch (const std::exception&) {
        }
      }
      throw FormatError("truncated at byte " + std::to_string(size) + " in " + sname);
    }
    const size_t body_end = body + size_t(len);
    Reader crc_r(data, body_end, body_end + 4, sname);
    if (crc_r.u32le() != crc_of(type, data + body, size_t(len)))
      throw FormatError("checksum mismatch in " + sname + " at byte " + std::to_string(start));
    pos = body_end + 4;

    const bool critical = type[0] >= 'A' && type[0] <= 'Z';
    int which = -1;
    for (int k = 0; k < 4; ++k)
      if (tname == kOrder[k]) which = k;
    if (which < 0) {
      if (tname == "info") {
        if (have_info) throw FormatError("duplicate section 'info' at byte " + std::to_string(start));
        have_info = true;
        if (len > limits::kMaxStringBytes)
          throw FormatError("section 'info' at byte " + std::to_string(start) + " longer than 65536 bytes");
        f.encoder_info.assign(reinterpret_cast<const char*>(data + body), size_t(len));
        continue;
      }
      if (critical)
        throw FormatError("unknown critical " + sname + " at byte " + std::to_string(start) +
                          " (written by a newer encoder?)");
      continue;  // unknown non-critical: skip
    }
    if (which < stage) throw FormatError("duplicate " + sname + " at byte " + std::to_string(start));
    if (which > stage)
      throw FormatError(std::string("missing section '") + kOrder[stage] + "' (found " + sname + " at byte " +
                        std::to_string(start) + ")");
    ++stage;

    Reader r(data, body, body_end, sname);
    try {
      switch (which) {
        case 0: read_seqh(r, f.seq); break;
        case 1: read_modl(r, f.model); break;
        case 2: f.tensors = read_tensors(r, &s); break;
        default:
          if (len != 0) throw FormatError("section 'NEND' at byte " + std::to_string(start) + " is not empty");
          if (pos != size)
            throw FormatError(std::to_string(size - pos) + " bytes of trailing data after the 'NEND' section at byte " +
                              std::to_string(pos));
          break;
      }
    } catch (const OutOfData& e) {
      throw FormatError("malformed " + sname + " at byte " + std::to_string(start) + ": " + e.context +
                        " runs past the end of the section");
    }
    if (r.left() && !newer_minor)
      throw FormatError("malformed " + sname + " at byte " + std::to_string(start) + ": " + std::to_string(r.left()) +
                        " unexpected bytes at its end");
    if (which == 3) break;
  }
  for (size_t i = 0; i < f.tensors.size(); ++i) validate(f.tensors[i], i);  // belt and braces: never fires
  s.headers = s.total - s.component[0] - s.component[1] - s.component[2] - s.component[3];
  if (split) *split = s;
  return f;
}

}  // namespace nvc::bitstream
