#include "codec/video/frame.h"

#include <algorithm>

namespace nvc::video {

void Frame::alloc(int w, int h, uint8_t val_y, uint8_t val_c) {
  width = w;
  height = h;
  y.assign(size_t(w) * size_t(h), val_y);
  u.assign(size_t(w / 2) * size_t(h / 2), val_c);
  v.assign(size_t(w / 2) * size_t(h / 2), val_c);
}

bool Frame::valid() const {
  if (width <= 0 || height <= 0 || (width & 1) || (height & 1)) return false;
  const size_t cs = size_t(width / 2) * size_t(height / 2);
  return y.size() == size_t(width) * size_t(height) && u.size() == cs && v.size() == cs;
}

bool operator==(const Frame& a, const Frame& b) {
  return a.width == b.width && a.height == b.height && a.y == b.y && a.u == b.u && a.v == b.v;
}

int default_matrix(int height) { return height < 720 ? 6 : 1; }

const char* matrix_name(int matrix) {
  switch (matrix) {
    case 0: return "gbr";
    case 1: return "bt709";
    case 2: return "unspecified";
    case 4: return "fcc";
    case 5: return "bt470bg";
    case 6: return "bt601";
    case 7: return "smpte240m";
    case 9: return "bt2020nc";
    case 10: return "bt2020c";
    default: return "other";
  }
}

}  // namespace nvc::video
