#pragma once
// Video input / output of nvc: y4m, raw .yuv, any FFmpeg container in; y4m, yuv, PNG directory, md5, null out.
// FFmpeg (libavformat/libavcodec/libswscale) is optional: without it y4m/yuv in and y4m/yuv/md5/null out work and the
// other paths throw IoError ("x.mp4: reading .mp4 needs FFmpeg support (build with FFmpeg)").
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/video/color.h"
#include "codec/video/frame.h"
#include "codec/video/metrics.h"

namespace nvc::video {

// True when this build of nvc_video has FFmpeg support.
bool have_ffmpeg();

struct ReaderOptions {
  int input_width = 0, input_height = 0;  // raw .yuv size (--input-res); 0 = from the file name ("foo_1920x1080.yuv")
  int fps_num = 0, fps_den = 0;           // override (raw yuv default 25/1); 0 = from the container
  int64_t seek = 0;                       // skip this many frames first
  int64_t max_frames = -1;                // stop after this many (-1 = all)
  std::string format = "auto";            // auto | y4m | yuv | ffmpeg
};

class FrameReader {
 public:
  virtual ~FrameReader() = default;
  virtual const VideoFormat& format() const = 0;
  // Next frame into out (planes reused / resized); false at the end. Remarks found while reading (e.g. a truncated
  // last frame) are appended to format().notes.
  virtual bool read(Frame& out) = 0;
};

// path "-" = stdin: y4m if it starts with "YUV4MPEG2", else raw yuv (needs input_width/height).
// format "auto": content starting with "YUV4MPEG2" -> y4m, *.yuv -> raw yuv, anything else -> FFmpeg.
std::unique_ptr<FrameReader> open_reader(const std::string& path, const ReaderOptions& opt);
// Reads everything; fmt_out (optional) gets the format with frame_count = number of frames returned.
std::vector<Frame> read_all(const std::string& path, const ReaderOptions& opt, VideoFormat* fmt_out = nullptr);

struct WriterOptions {
  std::string muxer = "auto";  // auto | y4m | yuv | png | md5 | null
};

class FrameWriter {
 public:
  virtual ~FrameWriter();
  virtual void write(const Frame& f) = 0;  // frame size must equal the format's; PipeClosed on EPIPE
  virtual void close() = 0;                // finishes the output (rename of the temporary); idempotent
};

// muxer auto: "-" -> y4m on stdout; *.y4m; *.yuv; an existing directory, a path ending in '/' or without extension
// -> PNG directory (frame_00000.png ...); *.md5 -> md5 (one hex digest over all planes of all frames, "\n"-terminated);
// /dev/null -> null. Regular files are written to a temporary next to the target and renamed in close(); a writer
// destroyed without close() removes its temporary. Non-regular targets (FIFOs, /dev/stdout) are written directly.
// PNG: RGB24 = frame_to_rgb8 of the frame with fmt.matrix / fmt.full_range (the same RGB the metrics use),
// encoded with FFmpeg's PNG encoder; each file via temporary + rename.
std::unique_ptr<FrameWriter> open_writer(const std::string& path, const VideoFormat& fmt, const WriterOptions& opt);

// The muxer "auto" resolves to for a path (y4m, yuv, png, md5, null); throws IoError for unknown extensions.
std::string resolve_muxer(const std::string& path, const std::string& muxer);

// Decodes one still image (PNG, ...) with FFmpeg into interleaved RGB24. Throws IoError (also without FFmpeg).
std::vector<uint8_t> read_image_rgb24(const std::string& path, int* width, int* height);

}  // namespace nvc::video
