// Round trips, exact dequantization, byte split, versioning and section rules of the .nvc container.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "bitstream/nvc_file.h"
#include "entropy/tensor_coder.h"
#include "nvc_test_util.h"

namespace bs = nvc::bitstream;
using namespace nvc_test;

namespace {

// Byte offset where the section with this type starts (first match after the 10-byte file header).
size_t find_section(const std::vector<uint8_t>& f, const std::string& type) {
  size_t pos = 10;
  while (pos + 4 <= f.size()) {
    const std::string t(f.begin() + long(pos), f.begin() + long(pos) + 4);
    uint64_t len = 0;
    size_t p = pos + 4;
    for (int sh = 0;; sh += 7) {
      const uint8_t b = f[p++];
      len |= uint64_t(b & 0x7F) << sh;
      if (!(b & 0x80)) break;
    }
    if (t == type) return pos;
    pos = p + size_t(len) + 4;
  }
  FAIL("section " << type << " not found");
  return 0;
}

void insert_at(std::vector<uint8_t>& f, size_t pos, const std::vector<uint8_t>& bytes) {
  f.insert(f.begin() + long(pos), bytes.begin(), bytes.end());
}

}  // namespace

TEST_CASE("scale_from_code is 2^(code/16), exact and monotonic", "[bitstream]") {
  CHECK(bs::scale_from_code(0) == 1.0f);
  CHECK(bs::scale_from_code(16) == 2.0f);
  CHECK(bs::scale_from_code(-16) == 0.5f);
  CHECK(bs::scale_from_code(-160) == std::ldexp(1.0f, -10));
  CHECK(bs::scale_from_code(8) == float(std::sqrt(2.0)));
  CHECK(bs::scale_from_code(-8) == std::ldexp(float(std::sqrt(2.0)), -1));
  CHECK(bs::scale_from_code(std::numeric_limits<int32_t>::min()) == 0.0f);  // out of the format's range: no UB
  CHECK(std::isinf(bs::scale_from_code(std::numeric_limits<int32_t>::max())));
  float prev = 0;
  for (int32_t c = -2048; c <= 2047; ++c) {
    const float s = bs::scale_from_code(c);
    REQUIRE(s > prev);
    REQUIRE(std::isfinite(s));
    if (c >= -2000) REQUIRE(std::fabs(double(s) / std::exp2(c / 16.0) - 1) < 1e-7);
    prev = s;
  }
}

TEST_CASE("a realistic file round-trips bit-exactly", "[bitstream]") {
  for (bool big : {false, true}) {
    const bs::NvcFile f = sample_file(big);
    bs::ByteSplit ws, rs;
    const std::vector<uint8_t> bytes = bs::serialize(f, &ws);
    const bs::NvcFile g = bs::parse(bytes.data(), bytes.size(), &rs);
    CHECK(g.major == 2);
    CHECK(g.minor == bs::kMinorVersion);
    CHECK(g.seq == f.seq);
    CHECK(g.model == f.model);
    CHECK(std::signbit(g.model.reals.at("odd")[0]));
    CHECK(g.encoder_info == f.encoder_info);
    REQUIRE(g.tensors.size() == f.tensors.size());
    for (size_t i = 0; i < f.tensors.size(); ++i) CHECK(g.tensors[i] == f.tensors[i]);
    CHECK(bs::serialize(g) == bytes);
    CHECK(ws.total == bytes.size());
    CHECK(rs.total == bytes.size());
    CHECK(ws.headers == rs.headers);
    for (int c = 0; c < 4; ++c) CHECK(ws.component[c] == rs.component[c]);
    if (!big) CHECK(bytes.size() < 4000);
  }
}

TEST_CASE("dequantize gives (q + zp) * 2^(code/16) per channel", "[bitstream]") {
  std::mt19937 rng(7);
  for (int axis : {-1, 0, 1, 2}) {
    for (bool zp : {false, true}) {
      bs::TensorRecord r = quantized(rng, "t", bs::Component::Grids, {3, 4, 5}, axis, 7, zp);
      const std::vector<int32_t> q = bs::decode_tensor_ints(r);
      const std::vector<float> x = bs::dequantize(r);
      REQUIRE(q.size() == 60);
      REQUIRE(x.size() == 60);
      for (size_t i = 0; i < 60; ++i) {
        const size_t idx[3] = {i / 20, (i / 5) % 4, i % 5};
        const size_t c = axis < 0 ? 0 : idx[axis];
        const int32_t z = zp ? r.zero_point[c] : 0;
        const double expect = double(q[i] + z) * std::exp2(r.scale_code[c] / 16.0);
        REQUIRE(x[i] == float(q[i] + z) * bs::scale_from_code(r.scale_code[c]));
        REQUIRE(std::fabs(double(x[i]) - expect) <= std::fabs(expect) * 2e-7);
      }
    }
  }
  // Float32 records give back the floats bit for bit.
  bs::TensorRecord f;
  f.shape = {2, 3};
  const float v[6] = {0.f, -0.f, 1.5f, -3.25e-20f, 1e30f, std::numeric_limits<float>::denorm_min()};
  bs::encode_tensor_floats(f, v, 6);
  CHECK(f.payload.size() == 24);
  CHECK(f.payload[8] == 0x00);  // 1.5f = 0x3FC00000, little-endian
  CHECK(f.payload[11] == 0x3F);
  const std::vector<float> back = bs::dequantize(f);
  CHECK(std::memcmp(back.data(), v, sizeof v) == 0);
  CHECK_THROWS_AS(bs::decode_tensor_ints(f), bs::FormatError);
}

TEST_CASE("ByteSplit sums to the total and attributes tensor bytes per component", "[bitstream]") {
  const bs::NvcFile f = sample_file(false);
  bs::ByteSplit s;
  const auto bytes = bs::serialize(f, &s);
  CHECK(s.total == bytes.size());
  CHECK(s.headers + s.component[0] + s.component[1] + s.component[2] + s.component[3] == s.total);
  uint64_t payload[4] = {0, 0, 0, 0}, scales[4] = {0, 0, 0, 0};
  for (const auto& t : f.tensors) {
    payload[int(t.component)] += t.payload.size();
    scales[int(t.component)] += t.scale_code.size() + t.zero_point.size();
  }
  for (int c = 0; c < 4; ++c) {
    CHECK(s.component[c] >= payload[c]);
    CHECK(s.component[c] <= payload[c] + 3 * scales[c]);  // scale/zp data: at most 3 bytes a value here
  }
  CHECK(s.component[int(bs::Component::Embeddings)] > 0);
  CHECK(s.headers < 500);

  // Exact attribution for a file with one per-tensor-scale tensor per component.
  bs::NvcFile g;
  g.seq.width = 64;
  g.seq.height = 64;
  g.seq.frame_count = 1;
  g.model.kind = "x";
  std::mt19937 rng(3);
  for (auto comp : {bs::Component::Grids, bs::Component::Embeddings}) {
    g.tensors.push_back(quantized(rng, "", comp, {100}, -1, 8, false));
    g.tensors.back().scale_code = {-5};  // zigzag 9: one varint byte of scale data
  }
  bs::ByteSplit gs;
  bs::serialize(g, &gs);
  CHECK(gs.component[0] == 0);
  CHECK(gs.component[1] == g.tensors[0].payload.size() + 1);
  CHECK(gs.component[2] == g.tensors[1].payload.size() + 1);
  CHECK(gs.component[3] == 0);
  bs::ByteSplit ps;
  const auto gb = bs::serialize(g);
  bs::parse(gb.data(), gb.size(), &ps);
  CHECK(ps.headers == gs.headers);
}

TEST_CASE("the documented layout: a minimal file byte by byte", "[bitstream]") {
  bs::NvcFile f;
  f.seq.width = 64;
  f.seq.height = 48;
  f.seq.frame_count = 10;
  f.model.kind = "test";
  const auto bytes = bs::serialize(f);
  std::vector<uint8_t> tens;
  put_varint(tens, 0);
  std::vector<uint8_t> expect = file_header();
  for (const auto& s : {section("SEQH", seqh_payload()), section("MODL", modl_payload()), section("TENS", tens),
                        section("NEND", {})})
    expect.insert(expect.end(), s.begin(), s.end());
  CHECK(bytes == expect);
  CHECK(bytes.size() == 10 + (4 + 1 + 9 + 4) + (4 + 1 + 8 + 4) + (4 + 1 + 1 + 4) + (4 + 1 + 0 + 4));

  // One tensor, written by hand from docs/format.md: name "w", decoder, cabac, bits 8, shape [2, 3], axis 0,
  // scale codes {-100, -98} (deltas -100, +2), no zero points.
  bs::TensorRecord r;
  r.name = "w";
  r.shape = {2, 3};
  r.axis = 0;
  r.bits = 8;
  r.scale_code = {-100, -98};
  const int32_t q[6] = {1, -2, 0, 0, 5, -1};
  bs::encode_tensor_ints(r, q, 6);
  f.tensors.push_back(r);
  std::vector<uint8_t> t;
  put_varint(t, 1);
  put_str(t, "w");
  t.push_back(uint8_t(0 | 1 << 2 | 7 << 4));  // component 0, coder 1, bits-1 = 7
  t.push_back(uint8_t(2 | 1 << 4));           // 2 dims, axis + 1 = 1
  put_varint(t, 2);
  put_varint(t, 3);
  std::vector<uint8_t> side;
  put_svarint(side, -100);
  put_svarint(side, 2);
  put_varint(t, side.size() << 2);  // mode 0 (varints), no zero points
  t.insert(t.end(), side.begin(), side.end());
  put_varint(t, r.payload.size());
  t.insert(t.end(), r.payload.begin(), r.payload.end());
  expect = file_header();
  for (const auto& s : {section("SEQH", seqh_payload()), section("MODL", modl_payload()), section("TENS", t),
                        section("NEND", {})})
    expect.insert(expect.end(), s.begin(), s.end());
  CHECK(bs::serialize(f) == expect);
  CHECK(bs::decode_tensor_ints(bs::parse(expect.data(), expect.size()).tensors[0]) ==
        std::vector<int32_t>(q, q + 6));
}

TEST_CASE("scale data uses the entropy coder when that is shorter", "[bitstream]") {
  bs::TensorRecord r;
  r.name = "w";
  r.shape = {2000, 2};
  r.axis = 0;
  r.bits = 4;
  r.scale_code.assign(2000, -1500);  // deltas: -1500 then 1999 zeros
  r.zero_point.assign(2000, 3);
  std::vector<int32_t> q(4000, 1);
  bs::encode_tensor_ints(r, q.data(), q.size());
  bs::NvcFile f;
  f.seq.width = f.seq.height = 16;
  f.seq.frame_count = 1;
  f.tensors.push_back(r);
  bs::ByteSplit s;
  const auto bytes = bs::serialize(f, &s);
  CHECK(s.component[0] < r.payload.size() + 200);  // far less than 4000 varint bytes
  const auto g = bs::parse(bytes.data(), bytes.size());
  CHECK(g.tensors[0] == r);
}

TEST_CASE("versions: higher minor accepted, other majors refused", "[bitstream]") {
  const auto bytes = bs::serialize(sample_file(false));
  auto newer = bytes;
  newer[9] = 7;
  const bs::NvcFile g = bs::parse(newer.data(), newer.size());
  CHECK(g.minor == 7);
  CHECK(g.tensors == bs::parse(bytes.data(), bytes.size()).tensors);

  for (uint8_t major : {0, 1, 3, 255}) {
    auto b = bytes;
    b[8] = major;
    CHECK(error_of(b) == "unsupported major version " + std::to_string(major) + " (this decoder reads 2)");
  }

  // A newer minor may append fields to a critical section; an equal minor may not.
  std::vector<uint8_t> seq = seqh_payload();
  seq.push_back(42);
  std::vector<uint8_t> tens;
  put_varint(tens, 0);
  for (uint8_t minor : {0, int(bs::kMinorVersion), bs::kMinorVersion + 1}) {
    std::vector<uint8_t> f = file_header(bs::kMajorVersion, minor);
    for (const auto& s : {section("SEQH", seq), section("MODL", modl_payload()), section("TENS", tens),
                          section("NEND", {})})
      f.insert(f.end(), s.begin(), s.end());
    if (minor <= bs::kMinorVersion) {
      CHECK_THAT(error_of(f), Catch::Contains("1 unexpected bytes at its end") && Catch::Contains("'SEQH'"));
    } else {
      CHECK(bs::parse(f.data(), f.size()).seq.width == 64);
    }
  }
}

TEST_CASE("unknown sections: non-critical skipped, critical refused", "[bitstream]") {
  const bs::NvcFile f = sample_file(false);
  const auto bytes = bs::serialize(f);
  const std::vector<uint8_t> payload = {1, 2, 3, 0, 0xFF};
  for (const std::string anchor : {"SEQH", "MODL", "TENS", "NEND"}) {
    auto b = bytes;
    insert_at(b, find_section(b, anchor), section("zzEX", payload));
    insert_at(b, find_section(b, anchor), section("tIME", {}));
    const bs::NvcFile g = bs::parse(b.data(), b.size());
    CHECK(g.tensors == f.tensors);
    CHECK(g.model == f.model);
    CHECK(bs::serialize(g) == bytes);

    b = bytes;
    insert_at(b, find_section(b, anchor), section("ZzEX", payload));
    CHECK_THAT(error_of(b), Catch::StartsWith("unknown critical section 'ZzEX' at byte "));
  }
  // A damaged unknown non-critical section is still an error (its checksum is verified).
  auto b = bytes;
  const size_t at = find_section(b, "NEND");
  insert_at(b, at, section("zzEX", payload));
  b[at + 6] ^= 0x10;
  CHECK_THAT(error_of(b), Catch::StartsWith("checksum mismatch in section 'zzEX' at byte " + std::to_string(at)));
}

TEST_CASE("section order: missing, duplicate and misplaced sections", "[bitstream]") {
  const auto seqh = section("SEQH", seqh_payload()), modl = section("MODL", modl_payload());
  std::vector<uint8_t> t0;
  put_varint(t0, 0);
  const auto tens = section("TENS", t0), nend = section("NEND", {}), info = section("info", {'h', 'i'});
  auto build = [](std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> f = file_header();
    for (const auto& p : parts) f.insert(f.end(), p.begin(), p.end());
    return f;
  };
  CHECK(bs::parse(build({seqh, modl, tens, nend}).data(), build({seqh, modl, tens, nend}).size()).tensors.empty());
  {
    auto f = build({info, seqh, modl, tens, nend});
    CHECK(bs::parse(f.data(), f.size()).encoder_info == "hi");
  }
  CHECK_THAT(error_of(build({modl, tens, nend})), Catch::StartsWith("missing section 'SEQH' (found section 'MODL'"));
  CHECK_THAT(error_of(build({seqh, modl, nend})), Catch::StartsWith("missing section 'TENS' (found section 'NEND'"));
  CHECK_THAT(error_of(build({seqh, seqh, modl, tens, nend})), Catch::StartsWith("duplicate section 'SEQH' at byte 28"));
  CHECK_THAT(error_of(build({seqh, modl, tens, modl, nend})), Catch::StartsWith("duplicate section 'MODL'"));
  CHECK_THAT(error_of(build({seqh, modl, tens, info, info, nend})), Catch::StartsWith("duplicate section 'info'"));
  CHECK_THAT(error_of(build({seqh, modl, tens})), Catch::Contains("ends before its 'NEND' section"));
  CHECK_THAT(error_of(build({seqh, modl, tens, nend, nend})), Catch::Contains("trailing data after the 'NEND'"));
  {
    auto f = build({seqh, modl, tens, nend});
    f.push_back(0);
    CHECK_THAT(error_of(f), Catch::StartsWith("1 bytes of trailing data"));
  }
  CHECK_THAT(error_of(build({seqh, modl, tens, section("NEND", {0})})), Catch::Contains("is not empty"));
}

TEST_CASE("the signature catches transfer damage", "[bitstream]") {
  const auto bytes = bs::serialize(sample_file(false));
  auto crlf = bytes;  // LF -> CRLF conversion
  crlf.insert(crlf.begin() + 5, 0x0D);
  CHECK_THAT(error_of(crlf), Catch::Contains("text-mode"));
  auto lf = bytes;  // CRLF -> LF
  lf.erase(lf.begin() + 4);
  CHECK_THAT(error_of(lf), Catch::Contains("text-mode"));
  auto seven = bytes;
  seven[0] &= 0x7F;
  CHECK_THAT(error_of(seven), Catch::Contains("7-bit"));
  const std::string png = "\x89PNG\r\n\x1a\n....";
  CHECK_THAT(error_of(std::vector<uint8_t>(png.begin(), png.end())), Catch::StartsWith("not an NVC file"));
  CHECK_THAT(error_of({}), Catch::Contains("empty file"));
}

TEST_CASE("serialize refuses what parse would refuse", "[bitstream]") {
  const bs::NvcFile good = sample_file(false);
  auto refused = [](const bs::NvcFile& f) {
    try {
      bs::serialize(f);
    } catch (const bs::FormatError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  bs::NvcFile f = good;
  f.seq.width = 1921;
  CHECK_THAT(refused(f), Catch::Contains("width 1921"));
  f = good;
  f.seq.matrix = 2;
  CHECK_THAT(refused(f), Catch::Contains("matrix"));
  f = good;
  f.seq.frame_count = 0;
  CHECK_THAT(refused(f), Catch::Contains("frame count"));
  f = good;
  f.tensors[0].scale_code.pop_back();
  CHECK_THAT(refused(f), Catch::Contains("in tensor 'dec.0.weight'") && Catch::Contains("scale codes"));
  f = good;
  f.tensors[2].zero_point[0] = 3;  // bits = 1: |zp| <= 2
  CHECK_THAT(refused(f), Catch::Contains("in tensor #2"));
  f = good;
  f.tensors[0].shape.push_back(0);
  CHECK_THAT(refused(f), Catch::Contains("dimension 4 is 0"));
  f = good;
  f.tensors[0].axis = 4;
  CHECK_THAT(refused(f), Catch::Contains("channel axis 4"));
  f = good;
  f.tensors[1].payload.pop_back();
  CHECK_THAT(refused(f), Catch::Contains("float32 payload"));
  f = good;
  f.model.ints[""] = {1};
  CHECK_THAT(refused(f), Catch::Contains("invalid parameter key"));
  f = good;
  f.tensors[0].name = "tab\there";
  CHECK_THAT(refused(f), Catch::Contains("non-printable"));
}

TEST_CASE("quantized values: range checked on encode and decode", "[bitstream]") {
  bs::TensorRecord r;
  r.name = "w";
  r.shape = {4};
  r.bits = 3;
  r.scale_code = {0};
  const int32_t ok[4] = {8, -8, 0, 1}, bad[4] = {9, 0, 0, 0};
  CHECK_NOTHROW(bs::encode_tensor_ints(r, ok, 4));
  CHECK_THROWS_WITH(bs::encode_tensor_ints(r, bad, 4), Catch::Contains("exceeds 2^3") && Catch::Contains("'w'"));
  CHECK_THROWS_AS(bs::encode_tensor_ints(r, ok, 3), bs::FormatError);
  r.payload = nvc::entropy::encode_ints(bad, 4);  // bypass the encoder's check
  CHECK_THROWS_WITH(bs::decode_tensor_ints(r, 5), Catch::Contains("quantized value 9") && Catch::Contains("'w'"));
  r.name.clear();
  r.payload.assign(64, 0xA5);
  CHECK_THROWS_WITH(bs::dequantize(r, 5), Catch::Contains("tensor #5"));
}

TEST_CASE("ModelDescription accessors", "[bitstream]") {
  bs::ModelDescription m;
  m.ints["a"] = {3};
  m.ints["v"] = {1, 2};
  m.reals["r"] = {0.5};
  m.strings["s"] = "x";
  CHECK(m.get_int("a") == 3);
  CHECK(m.get_ints("v").size() == 2);
  CHECK(m.get_real("r") == 0.5);
  CHECK(m.get_string("s") == "x");
  CHECK(m.int_or("zz", 9) == 9);
  CHECK(m.real_or("zz", 1.5) == 1.5);
  CHECK(m.string_or("zz", "d") == "d");
  CHECK(m.has("r"));
  CHECK_FALSE(m.has("zz"));
  CHECK_THROWS_WITH(m.get_int("zz"), "model parameter 'zz' missing");
  CHECK_THROWS_WITH(m.get_int("v"), "model parameter 'v' has 2 values, expected 1");
  CHECK_THROWS_WITH(m.int_or("v", 0), "model parameter 'v' has 2 values, expected 1");
  CHECK_THROWS_AS(m.get_real("a"), bs::FormatError);
}

TEST_CASE("the worked example of docs/format.md", "[bitstream]") {
  bs::NvcFile f;
  f.seq.width = 64;
  f.seq.height = 48;
  f.seq.frame_count = 10;
  f.model.kind = "test";
  bs::TensorRecord b;
  b.name = "b";
  b.shape = {2};
  const float v[2] = {1.0f, -0.5f};
  bs::encode_tensor_floats(b, v, 2);
  f.tensors.push_back(b);
  const auto bytes = bs::serialize(f);
  static const char* hex =
      "8b4e56430d0a1a0a02015345514809403019010a0108000145dcf4ce4d4f444c0804746573740000006e0325a154454e530e01"
      "01627001020000803f000000bfec7d941d4e454e44003b589533";
  std::string got;
  for (uint8_t x : bytes) {
    got += "0123456789abcdef"[x >> 4];
    got += "0123456789abcdef"[x & 15];
  }
  CHECK(got == hex);
  CHECK(bytes.size() == 77);
}

TEST_CASE("slices that repeat along dimension 0 are coded as differences", "[bitstream]") {
  // 20 "frames" of 6x5 values that change only a little from one frame to the next.
  bs::TensorRecord r;
  r.component = bs::Component::Embeddings;
  r.shape = {20, 6, 5};
  r.bits = 7;
  r.axis = 1;
  r.scale_code.assign(6, -40);
  std::vector<int32_t> q(20 * 30);
  uint32_t seed = 12345;
  for (size_t i = 0; i < 30; ++i) q[i] = int32_t((seed = seed * 1103515245u + 12345u) >> 26) - 32;
  for (size_t i = 30; i < q.size(); ++i) q[i] = q[i - 30] + ((i % 7) == 0 ? 1 : 0);
  bs::encode_tensor_ints(r, q.data(), q.size());
  CHECK(r.coder == bs::Coder::CabacDelta);
  CHECK(bs::decode_tensor_ints(r) == q);

  // Round trip through a whole file.
  bs::NvcFile f;
  f.seq.width = 16;
  f.seq.height = 16;
  f.seq.frame_count = 20;
  f.model.kind = "test";
  f.tensors.push_back(r);
  const std::vector<uint8_t> bytes = bs::serialize(f);
  const bs::NvcFile g = bs::parse(bytes.data(), bytes.size());
  REQUIRE(g.tensors.size() == 1);
  CHECK(g.tensors[0].coder == bs::Coder::CabacDelta);
  CHECK(bs::decode_tensor_ints(g.tensors[0]) == q);

  // Random data stays plain Cabac (the delta would cost more).
  for (size_t i = 0; i < q.size(); ++i) q[i] = int32_t((seed = seed * 1103515245u + 12345u) >> 26) - 32;
  bs::encode_tensor_ints(r, q.data(), q.size());
  CHECK(r.coder == bs::Coder::Cabac);

  // Differences that accumulate past 2^bits are refused.
  std::vector<int32_t> d(q.size(), 0);
  for (size_t i = 30; i < d.size(); i += 30) d[i] = 100;  // element 0 of every slice grows by 100
  r.coder = bs::Coder::CabacDelta;
  r.payload = nvc::entropy::encode_ints(d.data(), d.size());
  CHECK_THROWS_AS(bs::decode_tensor_ints(r), bs::FormatError);
}

TEST_CASE("pictures records: pieces round-trip and are checked on the way in", "[bitstream]") {
  const bs::NvcFile f = sample_file(false);
  const auto bytes = bs::serialize(f);
  const bs::NvcFile g = bs::parse(bytes.data(), bytes.size());
  const bs::TensorRecord& k = g.tensors.back();
  REQUIRE(k.coder == bs::Coder::Pictures);
  CHECK(std::string(bs::coder_name(k.coder)) == "pictures");
  const auto pieces = bs::parse_pictures(k);
  REQUIRE(pieces.size() == 3);
  CHECK(pieces[0].codec == bs::PictureCodec::Jpeg);
  CHECK(pieces[0].width == 2);
  CHECK(pieces[0].height == 2);
  CHECK(pieces[0].min == -0.25f);
  CHECK(pieces[0].max == 0.5f);
  CHECK(pieces[0].data == std::vector<uint8_t>{0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9});
  CHECK(pieces[2].codec == bs::PictureCodec::Hevc);
  CHECK(pieces[2].frames == 5);
  CHECK(pieces[2].sample_count() == 5);
  CHECK(std::string(bs::picture_codec_name(pieces[2].codec)) == "hevc");
  // The bitstream layer cannot decode pictures: it says where they are decoded instead of returning garbage.
  CHECK_THROWS_WITH(bs::dequantize(k, 7), Catch::Contains("codec/picture_grids.h") && Catch::Contains("keyframes_xy"));
  CHECK_THROWS_AS(bs::decode_tensor_ints(k), bs::FormatError);
  CHECK_THROWS_AS(bs::parse_pictures(g.tensors[0]), bs::FormatError);

  // The writer refuses what the reader would refuse.
  bs::TensorRecord r;
  r.name = "t";
  r.shape = {3};
  std::vector<bs::PicturePiece> p(1);
  p[0] = {bs::PictureCodec::Jpeg, 2, 2, 1, 0.f, 1.f, {1}};
  CHECK_THROWS_WITH(bs::encode_tensor_pictures(r, p), Catch::Contains("past the tensor's 3 elements"));
  p[0] = {bs::PictureCodec::Hevc, 3, 1, 1, 1.f, 0.f, {1}};
  CHECK_THROWS_WITH(bs::encode_tensor_pictures(r, p), Catch::Contains("invalid range"));
  p[0] = {bs::PictureCodec::Hevc, 3, 1, 1, 0.f, 1.f, {}};
  CHECK_THROWS_WITH(bs::encode_tensor_pictures(r, p), Catch::Contains("length 0"));
  p[0] = {bs::PictureCodec::Hevc, 3, 1, 1, 0.f, 1.f, {9}};
  bs::encode_tensor_pictures(r, p);
  CHECK(r.bits == 8);
  CHECK(bs::parse_pictures(r)[0].data == std::vector<uint8_t>{9});
}
