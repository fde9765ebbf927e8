#pragma once
// Basic video types shared by the readers, writers, colour conversion and metrics of nvc_video.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace nvc::video {

// An I/O problem. The message is one line that names the file ("in.y4m: truncated header").
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Writing to a pipe whose reader went away (EPIPE, e.g. ffplay quit). Callers treat it as a normal end.
struct PipeClosed : std::runtime_error {
  using std::runtime_error::runtime_error;
  PipeClosed() : std::runtime_error("output pipe closed by the reader") {}
};

// One picture, YUV 4:2:0 8-bit planar. width/height are even, chroma planes are (width/2) x (height/2), rows packed
// (stride == width of the plane).
struct Frame {
  int width = 0, height = 0;
  std::vector<uint8_t> y, u, v;

  // Allocates the planes for w x h (w, h even) and fills them with val_y / val_c.
  void alloc(int w, int h, uint8_t val_y = 0, uint8_t val_c = 128);
  int chroma_width() const { return width / 2; }
  int chroma_height() const { return height / 2; }
  // True when the planes have the sizes width/height imply.
  bool valid() const;
};

bool operator==(const Frame& a, const Frame& b);
inline bool operator!=(const Frame& a, const Frame& b) { return !(a == b); }

struct VideoFormat {
  int width = 0, height = 0;
  int fps_num = 25, fps_den = 1;
  bool full_range = false;
  int matrix = 1;            // ITU-T H.273 matrix_coefficients: 1 BT.709, 6 BT.601 (5 also 601), 9 BT.2020
  int64_t frame_count = -1;  // frames the reader will deliver (after seek / max_frames), -1 if unknown
  std::vector<std::string> notes;  // human-readable remarks for the user ("cropped 720x405 to 720x404 (...)")
};

// The matrix assumed when the input does not say: BT.601 (6) below 720 rows, BT.709 (1) otherwise.
int default_matrix(int height);
// Short name of a matrix code ("bt709", "bt601", "bt2020", ...).
const char* matrix_name(int matrix);

}  // namespace nvc::video
