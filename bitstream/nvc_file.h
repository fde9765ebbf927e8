// The .nvc container: reader and writer. Byte layout: docs/format.md.
//
// Pure C++17 (uses nvc_entropy for the quantized tensors and zlib for CRC-32). parse() never trusts its input:
// every length is checked against the bytes left and every count against the limits in nvc::bitstream::limits
// before anything is allocated; any defect is reported as FormatError naming the place ("truncated at byte 1234 in
// tensor 'dec.3.weight'"). Messages carry no file name: the caller prefixes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace nvc::bitstream {

struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Version this code writes and reads. A file with a higher major is refused; a higher minor is accepted.
constexpr uint8_t kMajorVersion = 2;
constexpr uint8_t kMinorVersion = 1;  // minor 1 added Coder::Pictures

// Sanity limits, checked by parse() (before allocating) and by serialize() (so it never writes what parse refuses).
namespace limits {
constexpr uint32_t kMaxDimension = 16384;            // width, height
constexpr uint32_t kMaxFrames = 1000000;             // frame_count
constexpr size_t kMaxKindBytes = 256;                // ModelDescription::kind
constexpr size_t kMaxKeyBytes = 256;                 // a parameter key
constexpr size_t kMaxKeysPerMap = 256;               // entries in each of ints / reals / strings
constexpr size_t kMaxValuesPerKey = 65536;           // values in one ints / reals entry
constexpr size_t kMaxStringBytes = 65536;            // a strings value, the encoder info
constexpr size_t kMaxTensors = 4096;                 // tensor records per file
constexpr size_t kMaxNameBytes = 256;                // a tensor name
constexpr size_t kMaxDims = 8;                       // dimensions of a tensor
constexpr uint64_t kMaxElements = uint64_t(1) << 31; // elements of one tensor, and of all tensors together
constexpr uint32_t kMaxChannels = 65536;             // shape[axis] of a per-channel quantized tensor
constexpr uint64_t kMaxTotalChannels = uint64_t(1) << 22;  // scale codes of all tensors together
constexpr int32_t kMinScaleCode = -2048, kMaxScaleCode = 2047;
}  // namespace limits

struct SequenceHeader {
  uint32_t width = 0, height = 0;        // size of the decoded frames (even, 2..16384)
  uint32_t fps_num = 25, fps_den = 1;    // both >= 1
  uint32_t frame_count = 0;              // 1..1,000,000
  uint8_t chroma_format = 1;             // 1 = 4:2:0 (only value in v1)
  uint8_t bit_depth = 8;                 // 8 in v1
  uint8_t full_range = 0;                // 0 limited (tv), 1 full (pc)
  uint8_t matrix = 1;                    // ITU-T H.273 MatrixCoefficients: 1 BT.709, 5/6 BT.601, 9 BT.2020nc
  bool operator==(const SequenceHeader& o) const;
  bool operator!=(const SequenceHeader& o) const { return !(*this == o); }
};
// Throws FormatError if the header breaks a rule of docs/format.md (e.g. "sequence header: width 7 is odd").
void validate(const SequenceHeader& seq);

// The model kind and its hyper-parameters, generic key/value. Keys: 1..256 printable ASCII bytes.
struct ModelDescription {
  std::string kind;                                   // e.g. "tnerv"
  std::map<std::string, std::vector<int64_t>> ints;
  std::map<std::string, std::vector<double>> reals;   // stored exactly (IEEE-754 binary64 bits)
  std::map<std::string, std::string> strings;

  // Accessors: throw FormatError("model parameter 'key' missing" / "model parameter 'key' has N values, expected 1").
  int64_t get_int(const std::string& key) const;
  const std::vector<int64_t>& get_ints(const std::string& key) const;
  double get_real(const std::string& key) const;
  const std::vector<double>& get_reals(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  // Fallback when the key is absent (still throws if present with the wrong number of values).
  int64_t int_or(const std::string& key, int64_t fallback) const;
  double real_or(const std::string& key, double fallback) const;
  std::string string_or(const std::string& key, const std::string& fallback) const;
  bool has(const std::string& key) const;  // in any of the three maps

  bool operator==(const ModelDescription& o) const;  // reals compared bit for bit
  bool operator!=(const ModelDescription& o) const { return !(*this == o); }
};

enum class Component : uint8_t { Decoder = 0, Grids = 1, Embeddings = 2, Other = 3 };
enum class Coder : uint8_t {
  Float32 = 0,  // payload = element_count little-endian IEEE binary32, no quantization
  Cabac = 1,    // payload = nvc::entropy::encode_ints of the quantized ints
  CabacDelta = 2,  // as Cabac, but every slice along dimension 0 after the first is coded as its difference from the
                   // previous slice (per-frame embeddings of a static scene repeat from frame to frame)
  Pictures = 3     // payload = 8-bit grayscale pictures coded by a standard image / video codec (JPEG, HEVC), each
                   // with its own min-max range: NVP's grids as its paper codes them (see PicturePiece)
};
const char* component_name(Component c);  // "decoder", "grids", "embeddings", "other"
const char* coder_name(Coder c);          // "float32", "cabac", "cabac-delta", "pictures"

// A quantized tensor. Dequantized value of element i (row-major) with channel c (index along `axis`, 0 if axis == -1):
//   x = float(q[i] + zero_point[c]) * scale(c),   scale(c) = scale_from_code(scale_code[c]) = 2^(scale_code[c] / 16)
struct TensorRecord {
  std::string name;                      // may be empty (saves bytes); errors then say "tensor #i"
  Component component = Component::Decoder;
  std::vector<uint32_t> shape;           // 0..8 dims, each >= 1; element count <= 2^31
  Coder coder = Coder::Cabac;
  uint8_t bits = 8;                      // quantizer bit depth 1..16; every decoded |q| must be <= 2^bits
  int8_t axis = -1;                      // channel axis for scale/zero point, -1 = per tensor
  std::vector<int32_t> scale_code;       // size = shape[axis] (or 1); each in [-2048, 2047]. Empty for Float32.
  std::vector<int32_t> zero_point;       // empty (all zero) or same size as scale_code; |zp| <= 2^bits
  std::vector<uint8_t> payload;          // coded data
  uint64_t element_count() const;        // product of shape (1 for no dims)
  size_t channel_count() const;          // shape[axis], or 1 when axis == -1
  bool operator==(const TensorRecord& o) const;
  bool operator!=(const TensorRecord& o) const { return !(*this == o); }
};

// 2^(code/16) as a float, identical on every machine: ldexp(kScaleTable[code mod 16], floor(code / 16)).
float scale_from_code(int32_t code);

// "tensor 'dec.3.weight'" or, for an unnamed record, "tensor #3".
std::string tensor_label(const TensorRecord& rec, size_t index);

// Checks the record's metadata (everything but the payload contents) against docs/format.md; throws FormatError.
void validate(const TensorRecord& rec, size_t index_for_errors = 0);

// Quantized ints of a Cabac record (entropy decode + range checks); throws FormatError naming the tensor.
std::vector<int32_t> decode_tensor_ints(const TensorRecord& rec, size_t index_for_errors = 0);
// Dequantized floats (Float32, Cabac, CabacDelta); throws FormatError naming the tensor, also for a Pictures record
// (those need the codec layer's picture decoders: codec/picture_grids.h).
std::vector<float> dequantize(const TensorRecord& rec, size_t index_for_errors = 0);
// Fills rec.payload from ints with coder Cabac or, when it is smaller, CabacDelta (tensors with shape[0] >= 2).
// count must equal rec.element_count() (else FormatError).
void encode_tensor_ints(TensorRecord& rec, const int32_t* q, size_t count);
// Fills rec.payload with raw floats and sets coder = Float32 (clears scale_code / zero_point, axis = -1).
void encode_tensor_floats(TensorRecord& rec, const float* x, size_t count);

// ---- Coder::Pictures (docs/format.md §6.4) ----
// The payload is a list of pieces. Each piece is `frames` 8-bit pictures of width x height samples coded by one
// codec, with one value range: sample v (0..255) stands for min + (v / 255) * (max - min). The pieces, in order,
// fill the tensor's elements in channel-major order: the elements of channel 0 (index 0 along `axis`; the whole
// tensor when axis = -1) in row-major order, then those of channel 1, and so on; inside a piece, frame after frame,
// each row-major. The pieces' samples must add up to element_count. The container checks only this structure; the
// codec layer (codec/picture_grids.h) decodes the pictures, since the bitstream layer has no image codecs.
enum class PictureCodec : uint8_t {
  Jpeg = 0,  // one baseline JPEG (ITU-T T.81) image; its luma is the picture (frames must be 1)
  Hevc = 1   // an HEVC (ITU-T H.265) Annex-B elementary stream of `frames` pictures in output order; their luma
};
const char* picture_codec_name(PictureCodec c);  // "jpeg", "hevc"

struct PicturePiece {
  PictureCodec codec = PictureCodec::Jpeg;
  uint32_t width = 0, height = 0, frames = 1;  // each 1..16384 (frames 1..1,000,000); w * h * frames samples
  float min = 0, max = 0;                      // finite, min <= max
  std::vector<uint8_t> data;                   // the coded pictures
  uint64_t sample_count() const { return uint64_t(width) * height * frames; }
};
constexpr size_t kMaxPicturePieces = 65536;  // per record

// The pieces of a Pictures record (validate() has checked them: any defect is a FormatError naming the tensor).
std::vector<PicturePiece> parse_pictures(const TensorRecord& rec, size_t index_for_errors = 0);
// Sets rec.coder = Pictures, bits = 8, no scales, and the payload from `pieces`; checks them as parse does.
void encode_tensor_pictures(TensorRecord& rec, const std::vector<PicturePiece>& pieces);

struct NvcFile {
  uint8_t major = kMajorVersion, minor = kMinorVersion;
  SequenceHeader seq;
  ModelDescription model;
  std::vector<TensorRecord> tensors;
  std::string encoder_info;             // optional, non-critical section 'info'; omitted when empty
};

// Where the bytes of a file went. headers = everything that is not tensor payload or scale/zero-point data
// (magic, section framing, SEQH, MODL, tensor names/shapes/lengths, info, NEND). headers + sum(component) == total.
struct ByteSplit {
  uint64_t total = 0, headers = 0;
  uint64_t component[4] = {0, 0, 0, 0};  // indexed by Component
};

// Writes the file (major/minor of f are written as given; serialize(parse(x)) == x for every x this code wrote).
// Throws FormatError if f breaks a rule that parse() checks.
std::vector<uint8_t> serialize(const NvcFile& f, ByteSplit* split = nullptr);
// Reads and verifies a whole file; throws FormatError. Unknown non-critical sections are skipped.
NvcFile parse(const uint8_t* data, size_t size, ByteSplit* split = nullptr);

}  // namespace nvc::bitstream
