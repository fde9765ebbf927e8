#include "codec/picture_grids.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "codec/video/frame.h"
#include "codec/video/picture_codec.h"

namespace nvc {

namespace bs = bitstream;

namespace {

// Row-major index of the element at position `pos` of the channel-major order (docs/format.md §6.4).
struct ChannelMajor {
  uint64_t outer = 1, channels = 1, inner = 1;
  ChannelMajor(const std::vector<uint32_t>& shape, int axis) {
    if (axis < 0) {
      for (uint32_t d : shape) inner *= d;
      return;
    }
    for (int d = 0; d < axis; ++d) outer *= shape[size_t(d)];
    channels = shape[size_t(axis)];
    for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  }
  uint64_t per_channel() const { return outer * inner; }
  uint64_t row_major(uint64_t pos) const {
    const uint64_t c = pos / per_channel(), r = pos % per_channel();
    return ((r / inner) * channels + c) * inner + r % inner;
  }
};

}  // namespace

float picture_sample_value(uint8_t v, float min, float max) {
  const float t = float(v) / 255.0f;
  const float range = max - min;
  return min + t * range;
}

bs::TensorRecord encode_picture_record(const std::string& name, bs::Component component,
                                       const std::vector<uint32_t>& shape, int axis, const float* values,
                                       const std::vector<PicturePieceShape>& channel_pieces,
                                       const PictureQuality& quality) {
  if (axis >= int(shape.size())) throw std::invalid_argument("picture record '" + name + "': axis out of range");
  const ChannelMajor cm(shape, axis);
  uint64_t per_piece_sum = 0;
  for (const auto& p : channel_pieces) {
    if (p.codec == bs::PictureCodec::Jpeg && p.frames != 1)
      throw std::invalid_argument("picture record '" + name + "': a JPEG piece holds one picture");
    per_piece_sum += uint64_t(p.width) * p.height * p.frames;
  }
  if (per_piece_sum != cm.per_channel())
    throw std::invalid_argument("picture record '" + name + "': the pieces hold " + std::to_string(per_piece_sum) +
                                " samples, a channel has " + std::to_string(cm.per_channel()));
  std::vector<bs::PicturePiece> pieces;
  std::vector<float> x;
  std::vector<uint8_t> q;
  uint64_t pos = 0;
  for (uint64_t c = 0; c < cm.channels; ++c) {
    for (const auto& shape_k : channel_pieces) {
      const uint64_t n = uint64_t(shape_k.width) * shape_k.height * shape_k.frames;
      x.resize(n);
      for (uint64_t i = 0; i < n; ++i) x[i] = values[cm.row_major(pos + i)];
      pos += n;
      bs::PicturePiece p;
      p.codec = shape_k.codec;
      p.width = shape_k.width;
      p.height = shape_k.height;
      p.frames = shape_k.frames;
      const auto mm = std::minmax_element(x.begin(), x.end());
      p.min = *mm.first;
      p.max = *mm.second;
      if (!std::isfinite(p.min) || !std::isfinite(p.max))
        throw std::invalid_argument("picture record '" + name + "': non-finite values");
      // The reference's 8-bit quantization: (x - min) / (max - min) * 255, rounded half up, in 0..255.
      const double range = double(p.max) - double(p.min);
      q.resize(n);
      for (uint64_t i = 0; i < n; ++i) {
        const double v = range > 0 ? std::floor((double(x[i]) - p.min) / range * 255.0 + 0.5) : 0.0;
        q[i] = uint8_t(std::min(255.0, std::max(0.0, v)));
      }
      p.data = p.codec == bs::PictureCodec::Jpeg
                   ? video::encode_gray_jpeg(q.data(), int(p.width), int(p.height), quality.jpeg_qscale)
                   : video::encode_gray_hevc(q.data(), int(p.width), int(p.height), int(p.frames), quality.hevc_crf,
                                             quality.hevc_preset);
      pieces.push_back(std::move(p));
    }
  }
  bs::TensorRecord rec;
  rec.name = name;
  rec.component = component;
  rec.shape = shape;
  rec.axis = int8_t(axis);
  bs::encode_tensor_pictures(rec, pieces);
  return rec;
}

std::vector<float> decode_picture_record(const bs::TensorRecord& rec, size_t index) {
  const std::vector<bs::PicturePiece> pieces = bs::parse_pictures(rec, index);  // structure and sizes checked
  const ChannelMajor cm(rec.shape, rec.axis);
  std::vector<float> out(size_t(rec.element_count()));
  std::vector<uint8_t> samples;
  uint64_t pos = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const bs::PicturePiece& p = pieces[k];
    samples.resize(size_t(p.sample_count()));
    try {
      if (p.codec == bs::PictureCodec::Jpeg)
        video::decode_gray_jpeg(p.data.data(), p.data.size(), int(p.width), int(p.height), samples.data());
      else
        video::decode_gray_hevc(p.data.data(), p.data.size(), int(p.width), int(p.height), int(p.frames),
                                samples.data());
    } catch (const video::IoError& e) {
      throw bs::FormatError(std::string(e.what()) + " in piece " + std::to_string(k) + " (" +
                            bs::picture_codec_name(p.codec) + ") of " + bs::tensor_label(rec, index));
    }
    for (size_t i = 0; i < samples.size(); ++i)
      out[size_t(cm.row_major(pos + i))] = picture_sample_value(samples[i], p.min, p.max);
    pos += samples.size();
  }
  return out;
}

}  // namespace nvc
