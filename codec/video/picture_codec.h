// 8-bit grayscale pictures through standard codecs (libavcodec): JPEG images and HEVC streams. These carry NVP's
// grids the way its paper codes them (docs/format.md §6.4, codec/picture_grids.h). Pure C++17, no LibTorch; needs a
// build with FFmpeg (NVC_HAVE_FFMPEG) and, to encode HEVC, libavcodec's libx265 encoder. Without them every function
// throws IoError saying what is missing; picture_codecs_available() tells beforehand.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nvc::video {

// Whether this build can encode (JPEG and HEVC, so x265 too) or decode (JPEG and HEVC) pictures. `why` gets the
// reason when it cannot ("built without FFmpeg", "libavcodec has no libx265 encoder").
bool picture_encoders_available(std::string* why = nullptr);
bool picture_decoders_available(std::string* why = nullptr);

// One JPEG of a width x height 8-bit picture (row-major), libavcodec's mjpeg at the fixed quantizer scale `qscale`
// (1..31, as `ffmpeg -qscale:v`), 4:2:0 with constant chroma (the encoder has no grayscale mode).
std::vector<uint8_t> encode_gray_jpeg(const uint8_t* pixels, int width, int height, int qscale);

// An HEVC Annex-B stream of `count` width x height 8-bit pictures (frame after frame, each row-major): libx265,
// 4:0:0, constant rate factor `crf` (0..51), no B-frames, `preset` (x265's, e.g. "slow"), 25 fps. Pictures
// smaller than x265's minimum are padded by repeating their last row / column (decode_gray_hevc crops them back).
std::vector<uint8_t> encode_gray_hevc(const uint8_t* frames, int width, int height, int count, int crf,
                                      const std::string& preset = "slow");

// Decoders: write the top-left width x height luma samples of every decoded picture to out (width * height * count
// bytes). Throw IoError on corrupt data, a picture smaller than width x height, or another number of pictures than
// `count`.
void decode_gray_jpeg(const uint8_t* data, size_t size, int width, int height, uint8_t* out);
void decode_gray_hevc(const uint8_t* data, size_t size, int width, int height, int count, uint8_t* out);

}  // namespace nvc::video
