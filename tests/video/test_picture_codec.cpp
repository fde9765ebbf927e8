// Grayscale pictures through JPEG and HEVC (codec/video/picture_codec.h): the carriers of NVP's paper-style grids.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "codec/video/frame.h"
#include "codec/video/picture_codec.h"

using namespace nvc::video;

namespace {

// A smooth picture with some texture, like a feature grid: a gradient plus a low-frequency wave plus a little noise.
std::vector<uint8_t> feature_like(int w, int h, int frames, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-3, 3);
  std::vector<uint8_t> p(size_t(w) * h * frames);
  for (int f = 0; f < frames; ++f)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double v = 128 + 60 * std::sin(0.21 * x + 0.05 * f) * std::cos(0.17 * y) + 0.3 * (x - y) + noise(rng);
        p[(size_t(f) * h + y) * w + x] = uint8_t(std::lround(std::min(255.0, std::max(0.0, v))));
      }
  return p;
}

double psnr(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return se == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 * double(a.size()) / se);
}

}  // namespace

TEST_CASE("JPEG pictures: round trip, quantizer, odd and tiny sizes, bad data", "[video][pictures]") {
  std::string why;
  if (!picture_encoders_available(&why)) {
    CHECK_THROWS_AS(encode_gray_jpeg(std::vector<uint8_t>(4).data(), 2, 2, 2), IoError);
    WARN("picture codecs unavailable (" << why << "): only the error path is tested");
    return;
  }
  for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {3, 5}, {16, 16}, {97, 54}}) {
    INFO(w << "x" << h);
    const auto src = feature_like(w, h, 1, unsigned(w * 31 + h));
    const auto jpg = encode_gray_jpeg(src.data(), w, h, 2);
    REQUIRE(jpg.size() > 4);
    CHECK(jpg[0] == 0xFF);
    CHECK(jpg[1] == 0xD8);
    std::vector<uint8_t> back(src.size());
    decode_gray_jpeg(jpg.data(), jpg.size(), w, h, back.data());
    CHECK(psnr(src, back) > 38.0);
    CHECK(encode_gray_jpeg(src.data(), w, h, 2) == jpg);  // deterministic
  }
  // A coarser quantizer costs fewer bytes and more error.
  const auto src = feature_like(128, 128, 1, 7);
  const auto fine = encode_gray_jpeg(src.data(), 128, 128, 2), coarse = encode_gray_jpeg(src.data(), 128, 128, 12);
  CHECK(coarse.size() < fine.size());
  std::vector<uint8_t> a(src.size()), b(src.size());
  decode_gray_jpeg(fine.data(), fine.size(), 128, 128, a.data());
  decode_gray_jpeg(coarse.data(), coarse.size(), 128, 128, b.data());
  CHECK(psnr(src, a) > psnr(src, b) + 3.0);

  // A picture smaller than announced, garbage, and out-of-range arguments are errors, not crashes.
  std::vector<uint8_t> big(200 * 200);
  CHECK_THROWS_WITH(decode_gray_jpeg(fine.data(), fine.size(), 200, 200, big.data()), Catch::Contains("expected at least 200x200"));
  const std::vector<uint8_t> junk = {0xFF, 0xD8, 0x12, 0x34, 0x56, 0xFF, 0xD9};
  CHECK_THROWS_AS(decode_gray_jpeg(junk.data(), junk.size(), 4, 4, big.data()), IoError);
  CHECK_THROWS_AS(decode_gray_jpeg(fine.data(), 0, 4, 4, big.data()), IoError);
  CHECK_THROWS_WITH(encode_gray_jpeg(src.data(), 128, 128, 0), Catch::Contains("outside 1..31"));
}

TEST_CASE("HEVC pictures: round trip, crf, padding of tiny pictures, frame count checks", "[video][pictures]") {
  std::string why;
  if (!picture_encoders_available(&why)) {
    CHECK_THROWS_AS(encode_gray_hevc(std::vector<uint8_t>(4).data(), 2, 2, 1, 21), IoError);
    WARN("picture codecs unavailable (" << why << "): only the error path is tested");
    return;
  }
  for (auto [w, h, n] : std::vector<std::tuple<int, int, int>>{{1, 1, 1}, {7, 5, 3}, {30, 23, 12}, {64, 36, 5}}) {
    INFO(w << "x" << h << " x " << n);
    const auto src = feature_like(w, h, n, unsigned(w + 100 * h + n));
    const auto hevc = encode_gray_hevc(src.data(), w, h, n, 21, "medium");
    std::vector<uint8_t> back(src.size());
    decode_gray_hevc(hevc.data(), hevc.size(), w, h, n, back.data());
    CHECK(psnr(src, back) > 36.0);
    CHECK(encode_gray_hevc(src.data(), w, h, n, 21, "medium") == hevc);  // deterministic
    // The wrong frame count is refused both ways.
    std::vector<uint8_t> more(src.size() + size_t(w) * h);
    CHECK_THROWS_WITH(decode_gray_hevc(hevc.data(), hevc.size(), w, h, n + 1, more.data()),
                      Catch::Contains("expected " + std::to_string(n + 1)));
    if (n > 1)
      CHECK_THROWS_WITH(decode_gray_hevc(hevc.data(), hevc.size(), w, h, n - 1, more.data()),
                        Catch::Contains("more than " + std::to_string(n - 1)));
  }
  const auto src = feature_like(48, 48, 8, 3);
  const auto q21 = encode_gray_hevc(src.data(), 48, 48, 8, 21, "medium");
  const auto q40 = encode_gray_hevc(src.data(), 48, 48, 8, 40, "medium");
  CHECK(q40.size() < q21.size());
  std::vector<uint8_t> junk(100, 0x5A), out(48 * 48 * 8);
  CHECK_THROWS_AS(decode_gray_hevc(junk.data(), junk.size(), 48, 48, 8, out.data()), IoError);
  std::vector<uint8_t> cut(q21.begin(), q21.begin() + long(q21.size() / 2));
  CHECK_THROWS_AS(decode_gray_hevc(cut.data(), cut.size(), 48, 48, 8, out.data()), IoError);
  CHECK_THROWS_WITH(encode_gray_hevc(src.data(), 48, 48, 8, 52), Catch::Contains("outside 0..51"));
}
