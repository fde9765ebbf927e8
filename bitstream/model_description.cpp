// ModelDescription accessors and SequenceHeader validation.
#include <cstring>

#include "bitstream/nvc_file.h"

namespace nvc::bitstream {

namespace {

[[noreturn]] void missing(const std::string& key) { throw FormatError("model parameter '" + key + "' missing"); }

[[noreturn]] void wrong_count(const std::string& key, size_t n, size_t expected) {
  throw FormatError("model parameter '" + key + "' has " + std::to_string(n) + " values, expected " +
                    std::to_string(expected));
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

}  // namespace

const std::vector<int64_t>& ModelDescription::get_ints(const std::string& key) const {
  auto it = ints.find(key);
  if (it == ints.end()) missing(key);
  return it->second;
}

int64_t ModelDescription::get_int(const std::string& key) const {
  const auto& v = get_ints(key);
  if (v.size() != 1) wrong_count(key, v.size(), 1);
  return v[0];
}

const std::vector<double>& ModelDescription::get_reals(const std::string& key) const {
  auto it = reals.find(key);
  if (it == reals.end()) missing(key);
  return it->second;
}

double ModelDescription::get_real(const std::string& key) const {
  const auto& v = get_reals(key);
  if (v.size() != 1) wrong_count(key, v.size(), 1);
  return v[0];
}

std::string ModelDescription::get_string(const std::string& key) const {
  auto it = strings.find(key);
  if (it == strings.end()) missing(key);
  return it->second;
}

int64_t ModelDescription::int_or(const std::string& key, int64_t fallback) const {
  return ints.count(key) ? get_int(key) : fallback;
}

double ModelDescription::real_or(const std::string& key, double fallback) const {
  return reals.count(key) ? get_real(key) : fallback;
}

std::string ModelDescription::string_or(const std::string& key, const std::string& fallback) const {
  auto it = strings.find(key);
  return it == strings.end() ? fallback : it->second;
}

bool ModelDescription::has(const std::string& key) const {
  return ints.count(key) || reals.count(key) || strings.count(key);
}

bool ModelDescription::operator==(const ModelDescription& o) const {
  if (kind != o.kind || ints != o.ints || strings != o.strings || reals.size() != o.reals.size()) return false;
  for (auto a = reals.begin(), b = o.reals.begin(); a != reals.end(); ++a, ++b)
    if (a->first != b->first || !same_bits(a->second, b->second)) return false;
  return true;
}

bool SequenceHeader::operator==(const SequenceHeader& o) const {
  return width == o.width && height == o.height && fps_num == o.fps_num && fps_den == o.fps_den &&
         frame_count == o.frame_count && chroma_format == o.chroma_format && bit_depth == o.bit_depth &&
         full_range == o.full_range && matrix == o.matrix;
}

void validate(const SequenceHeader& s) {
  auto bad = [](const std::string& what) { throw FormatError("sequence header: " + what); };
  if (s.width < 2 || s.width > limits::kMaxDimension || s.width % 2)
    bad("width " + std::to_string(s.width) + " is not an even number in [2, 16384]");
  if (s.height < 2 || s.height > limits::kMaxDimension || s.height % 2)
    bad("height " + std::to_string(s.height) + " is not an even number in [2, 16384]");
  if (s.fps_num < 1 || s.fps_den < 1)
    bad("frame rate " + std::to_string(s.fps_num) + "/" + std::to_string(s.fps_den) + " is not positive");
  if (s.frame_count < 1 || s.frame_count > limits::kMaxFrames)
    bad("frame count " + std::to_string(s.frame_count) + " out of range [1, 1000000]");
  if (s.chroma_format != 1) bad("chroma format " + std::to_string(s.chroma_format) + " (only 1 = 4:2:0 in v1)");
  if (s.bit_depth != 8) bad("bit depth " + std::to_string(s.bit_depth) + " (only 8 in v1)");
  if (s.full_range > 1) bad("colour range flag " + std::to_string(s.full_range) + " (0 or 1)");
  if (s.matrix != 1 && s.matrix != 5 && s.matrix != 6 && s.matrix != 9)
    bad("matrix coefficients " + std::to_string(s.matrix) + " (1, 5, 6 or 9)");
}

}  // namespace nvc::bitstream
