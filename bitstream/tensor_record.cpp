// TensorRecord: validation, scale table, quantized int coding and dequantization.
#include <cmath>
#include <cstring>
#include <new>

#include "bitstream/byte_io.h"
#include "bitstream/nvc_file.h"
#include "entropy/tensor_coder.h"

namespace nvc::bitstream {

namespace {

// 2^(j/16), j = 0..15, rounded to nearest binary32; given as bit patterns so no compiler can round differently.
constexpr uint32_t kScaleTableBits[16] = {0x3f800000, 0x3f85aac3, 0x3f8b95c2, 0x3f91c3d3, 0x3f9837f0, 0x3f9ef532,
                                          0x3fa5fed7, 0x3fad583f, 0x3fb504f3, 0x3fbd08a4, 0x3fc5672a, 0x3fce248c,
                                          0x3fd744fd, 0x3fe0ccdf, 0x3feac0c7, 0x3ff5257d};

[[noreturn]] void fail(const TensorRecord& rec, size_t index, const std::string& what) {
  throw FormatError(what + " in " + tensor_label(rec, index));
}

}  // namespace

float scale_from_code(int32_t code) {
  // floor division / modulo by 16 (code may be negative); int64 so that no int32 code can overflow
  const int64_t c = code;
  const int64_t e = (c >= 0) ? c / 16 : -((15 - c) / 16);
  const int64_t j = c - 16 * e;
  float m;
  std::memcpy(&m, &kScaleTableBits[j], sizeof m);
  return std::ldexp(m, int(e));
}

std::string tensor_label(const TensorRecord& rec, size_t index) {
  if (rec.name.empty()) return "tensor #" + std::to_string(index);
  return "tensor '" + rec.name + "'";
}

const char* component_name(Component c) {
  switch (c) {
    case Component::Decoder: return "decoder";
    case Component::Grids: return "grids";
    case Component::Embeddings: return "embeddings";
    case Component::Other: return "other";
  }
  return "invalid";
}

const char* coder_name(Coder c) {
  switch (c) {
    case Coder::Float32: return "float32";
    case Coder::Cabac: return "cabac";
    case Coder::CabacDelta: return "cabac-delta";
    case Coder::Pictures: return "pictures";
  }
  return "invalid";
}

const char* picture_codec_name(PictureCodec c) {
  switch (c) {
    case PictureCodec::Jpeg: return "jpeg";
    case PictureCodec::Hevc: return "hevc";
  }
  return "invalid";
}

uint64_t TensorRecord::element_count() const {
  uint64_t n = 1;
  for (uint32_t d : shape) {
    n *= d;
    if (n > (uint64_t(1) << 32)) return n;  // above every limit; stopping here keeps n * dim below 2^64
  }
  return n;
}

size_t TensorRecord::channel_count() const {
  if (axis < 0 || size_t(axis) >= shape.size()) return 1;
  return shape[size_t(axis)];
}

bool TensorRecord::operator==(const TensorRecord& o) const {
  return name == o.name && component == o.component && shape == o.shape && coder == o.coder && bits == o.bits &&
         axis == o.axis && scale_code == o.scale_code && zero_point == o.zero_point && payload == o.payload;
}

void validate(const TensorRecord& rec, size_t index) {
  if (rec.name.size() > limits::kMaxNameBytes)
    fail(rec, index, "name longer than " + std::to_string(limits::kMaxNameBytes) + " bytes");
  for (char ch : rec.name)
    if (uint8_t(ch) < 0x20 || uint8_t(ch) > 0x7E) fail(rec, index, "non-printable byte in the name");
  if (uint8_t(rec.component) > 3) fail(rec, index, "invalid component " + std::to_string(int(rec.component)));
  if (uint8_t(rec.coder) > 3) fail(rec, index, "invalid coder " + std::to_string(int(rec.coder)));
  if (rec.shape.size() > limits::kMaxDims)
    fail(rec, index, std::to_string(rec.shape.size()) + " dimensions (at most " + std::to_string(limits::kMaxDims) + ")");
  uint64_t n = 1;
  for (size_t d = 0; d < rec.shape.size(); ++d) {
    if (rec.shape[d] == 0) fail(rec, index, "dimension " + std::to_string(d) + " is 0");
    n *= rec.shape[d];
    if (n > limits::kMaxElements) fail(rec, index, "more than 2^31 elements");
  }
  if (rec.bits < 1 || rec.bits > 16) fail(rec, index, "bit depth " + std::to_string(rec.bits) + " out of range [1, 16]");
  if (rec.coder == Coder::Float32) {
    if (rec.axis != -1) fail(rec, index, "float32 tensor with a channel axis");
    if (!rec.scale_code.empty() || !rec.zero_point.empty()) fail(rec, index, "float32 tensor with scales");
    if (rec.payload.size() != 4 * n)
      fail(rec, index, "float32 payload of " + std::to_string(rec.payload.size()) + " bytes, expected " +
                           std::to_string(4 * n));
    return;
  }
  if (rec.axis < -1 || (rec.axis >= 0 && size_t(rec.axis) >= rec.shape.size()))
    fail(rec, index, "channel axis " + std::to_string(int(rec.axis)) + " out of range for " +
                         std::to_string(rec.shape.size()) + " dimensions");
  const size_t nch = rec.channel_count();
  if (nch > limits::kMaxChannels)
    fail(rec, index, std::to_string(nch) + " channels (at most " + std::to_string(limits::kMaxChannels) + ")");
  if (rec.coder == Coder::Pictures) {
    if (rec.bits != 8) fail(rec, index, "pictures tensor with bit depth " + std::to_string(rec.bits) + " (must be 8)");
    if (!rec.scale_code.empty() || !rec.zero_point.empty()) fail(rec, index, "pictures tensor with scales");
    parse_pictures(rec, index);
    return;
  }
  if (rec.scale_code.size() != nch)
    fail(rec, index, std::to_string(rec.scale_code.size()) + " scale codes, expected " + std::to_string(nch));
  for (int32_t c : rec.scale_code)
    if (c < limits::kMinScaleCode || c > limits::kMaxScaleCode)
      fail(rec, index, "scale code " + std::to_string(c) + " out of range [-2048, 2047]");
  if (!rec.zero_point.empty()) {
    if (rec.zero_point.size() != nch)
      fail(rec, index, std::to_string(rec.zero_point.size()) + " zero points, expected " + std::to_string(nch));
    const int64_t lim = int64_t(1) << rec.bits;
    for (int32_t z : rec.zero_point)
      if (z < -lim || z > lim)
        fail(rec, index, "zero point " + std::to_string(z) + " exceeds 2^" + std::to_string(rec.bits));
  }
}

std::vector<PicturePiece> parse_pictures(const TensorRecord& rec, size_t index) {
  if (rec.coder != Coder::Pictures) fail(rec, index, "pictures requested from a " + std::string(coder_name(rec.coder)) + " tensor");
  const uint64_t n = rec.element_count();
  detail::Reader r(rec.payload.data(), 0, rec.payload.size(), "the pictures of " + tensor_label(rec, index));
  std::vector<PicturePiece> pieces;
  try {
    const uint64_t count = r.varint_in(1, kMaxPicturePieces, "piece count");
    uint64_t samples = 0;
    for (uint64_t k = 0; k < count; ++k) {
      const std::string what = "piece " + std::to_string(k) + " ";
      PicturePiece p;
      size_t at = r.pos();
      const uint8_t codec = r.u8();
      if (codec > 1) r.fail(what + "has unknown picture codec " + std::to_string(codec), at);
      p.codec = PictureCodec(codec);
      p.width = uint32_t(r.varint_in(1, limits::kMaxDimension, what + "width"));
      p.height = uint32_t(r.varint_in(1, limits::kMaxDimension, what + "height"));
      at = r.pos();
      p.frames = uint32_t(r.varint_in(1, limits::kMaxFrames, what + "frame count"));
      if (p.codec == PictureCodec::Jpeg && p.frames != 1) r.fail(what + "is a JPEG of " + std::to_string(p.frames) + " frames", at);
      samples += p.sample_count();  // each term < 2^58, the running sum is checked at every step
      if (samples > n)
        r.fail(what + "takes the pictures past the tensor's " + std::to_string(n) + " elements", at);
      at = r.pos();
      const uint32_t lo = r.u32le(), hi = r.u32le();
      std::memcpy(&p.min, &lo, 4);
      std::memcpy(&p.max, &hi, 4);
      if (!std::isfinite(p.min) || !std::isfinite(p.max) || !(p.min <= p.max))
        r.fail(what + "has an invalid range [" + std::to_string(p.min) + ", " + std::to_string(p.max) + "]", at);
      const uint64_t len = r.varint_in(1, r.left(), what + "length");
      const uint8_t* d = r.take(len);
      p.data.assign(d, d + len);
      pieces.push_back(std::move(p));
    }
    if (samples != n)
      r.fail("pictures of " + std::to_string(samples) + " samples for " + std::to_string(n) + " elements", r.pos());
    if (r.left()) r.fail(std::to_string(r.left()) + " bytes after the last piece", r.pos());
  } catch (const detail::OutOfData&) {
    throw FormatError("truncated pictures in " + tensor_label(rec, index));
  }
  return pieces;
}

void encode_tensor_pictures(TensorRecord& rec, const std::vector<PicturePiece>& pieces) {
  rec.coder = Coder::Pictures;
  rec.bits = 8;
  rec.scale_code.clear();
  rec.zero_point.clear();
  rec.payload.clear();
  detail::Writer w(rec.payload);
  w.varint(pieces.size());
  for (const PicturePiece& p : pieces) {
    w.u8(uint8_t(p.codec));
    w.varint(p.width);
    w.varint(p.height);
    w.varint(p.frames);
    uint32_t lo, hi;
    std::memcpy(&lo, &p.min, 4);
    std::memcpy(&hi, &p.max, 4);
    w.u32le(lo);
    w.u32le(hi);
    w.varint(p.data.size());
    w.bytes(p.data.data(), p.data.size());
  }
  validate(rec, 0);  // the same checks as parse, so nothing is written that a decoder refuses
}

std::vector<int32_t> decode_tensor_ints(const TensorRecord& rec, size_t index) {
  validate(rec, index);
  if (rec.coder == Coder::Float32) fail(rec, index, "quantized ints requested from a float32 tensor");
  if (rec.coder == Coder::Pictures) fail(rec, index, "quantized ints requested from a pictures tensor");
  const size_t n = size_t(rec.element_count());
  std::vector<int32_t> q;
  try {
    q = entropy::decode_ints(rec.payload.data(), rec.payload.size(), n);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {  // entropy::DecodeError, or anything else the coder reports
    fail(rec, index, std::string("corrupt payload (") + e.what() + ")");
  }
  if (q.size() != n)
    fail(rec, index, "payload decoded to " + std::to_string(q.size()) + " values, expected " + std::to_string(n));
  const int64_t lim = int64_t(1) << rec.bits;
  // CabacDelta: undo the prediction from the previous slice. Every partial value is checked, so with |q| <= 2^16
  // and coded differences <= 2^24 + 7 nothing can overflow.
  const size_t slice = (rec.coder == Coder::CabacDelta && n) ? n / rec.shape[0] : n;
  for (size_t i = 0; i < n; ++i) {
    if (i >= slice) q[i] += q[i - slice];
    if (q[i] < -lim || q[i] > lim)
      fail(rec, index, "quantized value " + std::to_string(q[i]) + " at element " + std::to_string(i) + " exceeds 2^" +
                           std::to_string(rec.bits));
  }
  return q;
}

std::vector<float> dequantize(const TensorRecord& rec, size_t index) {
  validate(rec, index);
  const size_t n = size_t(rec.element_count());
  std::vector<float> x(n);
  if (rec.coder == Coder::Float32) {
    const uint8_t* p = rec.payload.data();
    for (size_t i = 0; i < n; ++i, p += 4) {
      const uint32_t u = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
      std::memcpy(&x[i], &u, 4);
    }
    return x;
  }
  if (rec.coder == Coder::Pictures)
    fail(rec, index, "pictures-coded values need the codec layer's picture decoders (codec/picture_grids.h)");
  const std::vector<int32_t> q = decode_tensor_ints(rec, index);
  const size_t nch = rec.channel_count();
  size_t inner = 1;
  if (rec.axis >= 0)
    for (size_t d = size_t(rec.axis) + 1; d < rec.shape.size(); ++d) inner *= rec.shape[d];
  const size_t outer = n / (nch * inner);
  std::vector<float> scale(nch);
  for (size_t c = 0; c < nch; ++c) scale[c] = scale_from_code(rec.scale_code[c]);
  size_t i = 0;
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < nch; ++c) {
      const int32_t zp = rec.zero_point.empty() ? 0 : rec.zero_point[c];
      const float s = scale[c];
      for (size_t k = 0; k < inner; ++k, ++i) x[i] = float(q[i] + zp) * s;
    }
  return x;
}

void encode_tensor_ints(TensorRecord& rec, const int32_t* q, size_t count) {
  rec.coder = Coder::Cabac;
  rec.payload.clear();
  validate(rec, 0);
  if (count != rec.element_count())
    throw FormatError(std::to_string(count) + " values given for " + tensor_label(rec, 0) + " of " +
                      std::to_string(rec.element_count()) + " elements");
  const int64_t lim = int64_t(1) << rec.bits;
  for (size_t i = 0; i < count; ++i)
    if (q[i] < -lim || q[i] > lim)
      fail(rec, 0, "quantized value " + std::to_string(q[i]) + " exceeds 2^" + std::to_string(rec.bits));
  rec.payload = entropy::encode_ints(q, count);
  if (!rec.shape.empty() && rec.shape[0] >= 2) {
    const size_t slice = count / rec.shape[0];
    std::vector<int32_t> d(q, q + count);
    for (size_t i = count; i-- > slice;) d[i] -= d[i - slice];
    std::vector<uint8_t> delta = entropy::encode_ints(d.data(), count);
    if (delta.size() < rec.payload.size()) {
      rec.coder = Coder::CabacDelta;
      rec.payload = std::move(delta);
    }
  }
}

void encode_tensor_floats(TensorRecord& rec, const float* x, size_t count) {
  rec.coder = Coder::Float32;
  rec.axis = -1;
  rec.scale_code.clear();
  rec.zero_point.clear();
  if (count != rec.element_count())
    throw FormatError(std::to_string(count) + " values given for " + tensor_label(rec, 0) + " of " +
                      std::to_string(rec.element_count()) + " elements");
  rec.payload.resize(4 * count);
  uint8_t* p = rec.payload.data();
  for (size_t i = 0; i < count; ++i, p += 4) {
    uint32_t u;
    std::memcpy(&u, &x[i], 4);
    for (int b = 0; b < 4; ++b) p[b] = uint8_t(u >> (8 * b));
  }
  validate(rec, 0);
}

}  // namespace nvc::bitstream
