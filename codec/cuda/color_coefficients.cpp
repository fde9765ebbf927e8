#include "codec/cuda/color_convert.h"
#include "codec/video/color.h"

namespace nvc::cuda {

// The same values, computed by the same expressions, as nvc::video's CPU conversion.
YuvCoefficients yuv_coefficients(int matrix, bool full_range) {
  YuvCoefficients c{};
  video::matrix_coefficients(matrix, c.kr, c.kb);
  c.kg = 1.0 - c.kr - c.kb;
  if (full_range) {
    c.yoff = 0;
    c.yscale = 255;
    c.cscale = 255;
  } else {
    c.yoff = 16;
    c.yscale = 219;
    c.cscale = 224;
  }
  c.su = 1.0 / (2 * (1 - c.kb));
  c.sv = 1.0 / (2 * (1 - c.kr));
  return c;
}

}  // namespace nvc::cuda
