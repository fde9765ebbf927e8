#pragma once
// Internal helpers of nvc_video (not part of the public API).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "codec/video/video_io.h"

namespace nvc::video::detail {

// Sequential byte input from a file or stdin ("-"), with a small push-back buffer for peeked bytes.
class ByteSource {
 public:
  explicit ByteSource(const std::string& path);  // throws IoError
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  const std::string& name() const { return name_; }  // for messages: the path, or "<stdin>"
  size_t read(void* dst, size_t n);                   // < n only at end of input; IoError on read errors
  int getc();                                         // -1 at end
  void unread(const void* data, size_t n);            // push bytes back (after peeking at the start)
  uint64_t skip(uint64_t n);                          // fseek on regular files, read+discard otherwise; bytes skipped
  int64_t remaining() const;                          // bytes left for regular files, -1 otherwise
  bool is_regular() const { return regular_; }

 private:
  std::string name_;
  FILE* f_ = nullptr;
  bool own_ = false, regular_ = false;
  std::string pb_;
  size_t pb_pos_ = 0;
};

// Copies a contiguous 4:2:0 picture of w x h (chroma ceil(w/2) x ceil(h/2)) into out, cropped to even size.
void crop_copy_420(const uint8_t* y, int ystride, const uint8_t* u, const uint8_t* v, int cstride, int w, int h,
                   Frame& out);
std::string crop_note(int w, int h);
// "WxH" in a file name (last match, as x264 does); false if none.
bool size_from_name(const std::string& path, int& w, int& h);
void check_dimensions(const std::string& name, int w, int h);  // sane limits, IoError otherwise
// Extension of a path's last component, lower-cased, without the dot ("" if none).
std::string lower_ext(const std::string& path);

// ---- FFmpeg-backed parts (ffmpeg_io.cpp); without FFmpeg they throw IoError -------------------------------------
std::unique_ptr<FrameReader> open_ffmpeg_reader(const std::string& path, const ReaderOptions& opt);
// Bytes of one picture of an FFmpeg pixel format (by name, e.g. "yuv422p10le") stored with packed planes.
size_t ffmpeg_picture_size(const std::string& pix_fmt, int w, int h);
// Converts such a picture into a contiguous yuv420p 8-bit picture of the same w x h (chroma rounded up), keeping
// the colour range (no range conversion).
void ffmpeg_convert_to_yuv420p(const std::string& pix_fmt, const uint8_t* data, int w, int h, bool full_range,
                               std::vector<uint8_t>& out);
// Encodes interleaved RGB24 into a PNG file image.
std::vector<uint8_t> ffmpeg_encode_png(const uint8_t* rgb24, int w, int h);

}  // namespace nvc::video::detail
