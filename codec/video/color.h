#pragma once
// YUV 4:2:0 <-> float RGB. RGB is planar [3][H][W] (R, G, B planes), nominal range [0,1], NOT clipped, so that the
// conversion is exactly invertible: rgb_to_frame(frame_to_rgb(f)) == f for every 8-bit frame.
// Chroma is up-sampled by pixel replication (nearest) and down-sampled by 2x2 averaging.
// Matrices (H.273 codes): 1 BT.709, 4 FCC, 5/6 BT.601, 7 SMPTE 240M, 9/10 BT.2020; any other code uses BT.709.
// Limited range: Y 16..235, C 16..240; full range: Y 0..255, C 0..255 (128 = zero chroma, scale 255).
#include <cstdint>
#include <vector>

#include "codec/video/frame.h"

namespace nvc::video {

void frame_to_rgb(const Frame& f, int matrix, bool full_range, float* rgb_out);  // rgb_out: 3*W*H floats
// rgb: 3*width*height floats; values are rounded and clipped to 0..255 per YUV sample. width/height must be even.
Frame rgb_to_frame(const float* rgb, int width, int height, int matrix, bool full_range);

// 8-bit RGB of a frame as a viewer would show it: frame_to_rgb, then round and clip to 0..255.
// planar = true: [3][H][W]; false: interleaved RGB24 [H][W][3].
std::vector<uint8_t> frame_to_rgb8(const Frame& f, int matrix, bool full_range, bool planar);

// Luma/chroma weights Kr, Kb of a matrix code (fallback BT.709).
void matrix_coefficients(int matrix, double& kr, double& kb);

}  // namespace nvc::video
