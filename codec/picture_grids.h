// Feature grids as 8-bit pictures (.nvc coder Pictures, docs/format.md §6.4): the grid coding of the NVP paper
// (keyframe levels min-max scaled to 8 bits and coded as JPEG, the sparse grid as 8-bit frames through HEVC), done
// with libavcodec (codec/video/picture_codec.h) inside the .nvc file. No LibTorch: values are plain float arrays in
// the tensor's row-major order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bitstream/nvc_file.h"

namespace nvc {

// How one channel of a tensor (its elements along `axis`, in row-major order of the other dimensions) is cut into
// pictures: the pieces in order, each `frames` pictures of width x height samples, together exactly the channel.
struct PicturePieceShape {
  bitstream::PictureCodec codec = bitstream::PictureCodec::Jpeg;
  uint32_t width = 1, height = 1, frames = 1;
};

struct PictureQuality {
  int jpeg_qscale = 2;               // ffmpeg -qscale:v, 1 (finest) .. 31
  int hevc_crf = 21;                 // x265 constant rate factor, 0 (finest) .. 51
  std::string hevc_preset = "slow";  // the paper's
};

// Codes `values` (row-major, shape `shape`) as a Pictures record: every channel along `axis` (-1: the whole tensor
// is one channel) cut by `channel_pieces`, each piece min-max scaled to 0..255 (round half up) with its own range.
// Throws std::invalid_argument when the pieces do not tile a channel, video::IoError when the codecs are missing.
bitstream::TensorRecord encode_picture_record(const std::string& name, bitstream::Component component,
                                              const std::vector<uint32_t>& shape, int axis, const float* values,
                                              const std::vector<PicturePieceShape>& channel_pieces,
                                              const PictureQuality& quality);

// Decodes a Pictures record to its element_count values in row-major order. Throws bitstream::FormatError naming
// the tensor and the piece for corrupt pictures (and for a build without FFmpeg, saying so).
std::vector<float> decode_picture_record(const bitstream::TensorRecord& rec, size_t index_for_errors = 0);

// Sample v of a piece with range [min, max] -> value: min + (float(v) / 255) * (max - min), binary32 throughout.
float picture_sample_value(uint8_t v, float min, float max);

}  // namespace nvc
