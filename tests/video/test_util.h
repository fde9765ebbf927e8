#pragma once
// Helpers shared by the nvc_video tests.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "codec/video/video_io.h"

namespace nvc_video_test {

namespace fs = std::filesystem;
using nvc::video::Frame;

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = fs::temp_directory_path() / ("nvc_video_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline std::string data_dir() { return NVC_TEST_DATA_DIR; }
inline bool have_data() { return fs::exists(fs::path(data_dir()) / "vtest_192x144_10fps_30f.y4m"); }
inline std::string clip(const std::string& name) { return (fs::path(data_dir()) / name).string(); }

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}
inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Deterministic synthetic frame with texture in all planes.
inline Frame synthetic_frame(int w, int h, int seed) {
  Frame f;
  f.alloc(w, h);
  uint32_t s = 2463534242u + uint32_t(seed) * 7919u;
  auto rnd = [&s]() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) f.y[size_t(y) * w + x] = uint8_t((x * 7 + y * 3 + seed * 11 + (rnd() & 15)) & 255);
  for (size_t i = 0; i < f.u.size(); ++i) {
    f.u[i] = uint8_t(64 + (rnd() % 128));
    f.v[i] = uint8_t(64 + (rnd() % 128));
  }
  return f;
}

inline std::string planes(const Frame& f) {
  std::string s(f.y.begin(), f.y.end());
  s.append(f.u.begin(), f.u.end());
  s.append(f.v.begin(), f.v.end());
  return s;
}

// Frames for writer / metric tests: the real y4m clip when present, else synthetic ones.
inline std::vector<Frame> sample_frames(int n, nvc::video::VideoFormat* fmt) {
  if (have_data()) {
    nvc::video::ReaderOptions o;
    o.max_frames = n;
    return nvc::video::read_all(clip("vtest_192x144_10fps_30f.y4m"), o, fmt);
  }
  std::vector<Frame> v;
  for (int i = 0; i < n; ++i) v.push_back(synthetic_frame(64, 48, i));
  if (fmt) {
    *fmt = nvc::video::VideoFormat{};
    fmt->width = 64;
    fmt->height = 48;
    fmt->matrix = 6;
    fmt->frame_count = n;
  }
  return v;
}

}  // namespace nvc_video_test
