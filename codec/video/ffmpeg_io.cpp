// FFmpeg-backed parts of nvc_video: container/codec input, pixel-format conversion, PNG encoding and decoding.
// Compiled with NVC_HAVE_FFMPEG=1 when libavformat/libavcodec/libswscale/libavutil are found; stubs otherwise.
#include "codec/video/io_internal.h"

#if NVC_HAVE_FFMPEG
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}
#include <algorithm>
#include <cstring>
#endif

namespace nvc::video {

#if NVC_HAVE_FFMPEG

bool have_ffmpeg() { return true; }

namespace detail {
namespace {

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

AVPixelFormat pix_fmt_by_name(const std::string& name) {
  const AVPixelFormat f = av_get_pix_fmt(name.c_str());
  if (f == AV_PIX_FMT_NONE) throw IoError("unknown pixel format " + name);
  return f;
}

bool is_jpeg_fmt(AVPixelFormat f) {
  return f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUVJ422P || f == AV_PIX_FMT_YUVJ444P ||
         f == AV_PIX_FMT_YUVJ440P || f == AV_PIX_FMT_YUVJ411P;
}

AVPixelFormat unjpeg(AVPixelFormat f) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P: return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: return AV_PIX_FMT_YUV411P;
    default: return f;
  }
}

// Any picture -> contiguous yuv420p 8-bit of the same size (chroma rounded up). YUV sources keep their range;
// RGB/gray sources are converted with `matrix` into `full_range`.
struct Converter {
  SwsContext* sws = nullptr;
  ~Converter() { sws_freeContext(sws); }
  void run(const uint8_t* const src[4], const int src_stride[4], AVPixelFormat fmt, int w, int h, bool src_full,
           bool dst_full, int matrix, std::vector<uint8_t>& out) {
    const int cw = (w + 1) / 2, ch = (h + 1) / 2;
    out.resize(size_t(w) * h + 2 * size_t(cw) * ch);
    const AVPixelFormat sfmt = unjpeg(fmt);
    sws = sws_getCachedContext(sws, w, h, sfmt, w, h, AV_PIX_FMT_YUV420P,
                               SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr, nullptr, nullptr);
    if (!sws) throw IoError(std::string("libswscale cannot convert ") + av_get_pix_fmt_name(fmt) + " to yuv420p");
    const int* coefs = sws_getCoefficients(matrix == 6 ? 5 : matrix);
    sws_setColorspaceDetails(sws, coefs, src_full ? 1 : 0, coefs, dst_full ? 1 : 0, 0, 1 << 16, 1 << 16);
    uint8_t* dst[4] = {out.data(), out.data() + size_t(w) * h, out.data() + size_t(w) * h + size_t(cw) * ch, nullptr};
    const int dst_stride[4] = {w, cw, cw, 0};
    sws_scale(sws, src, src_stride, 0, h, dst, dst_stride);
  }
};

int h273_from_av(AVColorSpace cs) {
  switch (cs) {
    case AVCOL_SPC_BT709: return 1;
    case AVCOL_SPC_FCC: return 4;
    case AVCOL_SPC_BT470BG: return 5;
    case AVCOL_SPC_SMPTE170M: return 6;
    case AVCOL_SPC_SMPTE240M: return 7;
    case AVCOL_SPC_BT2020_NCL: return 9;
    case AVCOL_SPC_BT2020_CL: return 10;
    default: return 0;  // unspecified / unsupported -> default by height
  }
}

class FfmpegReader : public FrameReader {
 public:
  FfmpegReader(const std::string& path, const ReaderOptions& opt) : path_(path), opt_(opt) {
    try {
      open();
    } catch (...) {
      cleanup();
      throw;
    }
  }
  ~FfmpegReader() override { cleanup(); }

  const VideoFormat& format() const override { return vf_; }

  bool read(Frame& out) override {
    if (opt_.max_frames >= 0 && delivered_ >= opt_.max_frames) return false;
    if (have_pending_) {
      have_pending_ = false;
      std::swap(out, pending_);
    } else if (!decode_next(out)) {
      return false;
    }
    ++delivered_;
    return true;
  }

 private:
  void fail(const std::string& what, int err) { throw IoError(path_ + ": " + what + ": " + av_error(err)); }

  void open() {
    // Errors come back as one IoError line; keep libav* quiet unless the application chose a log level itself.
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_FATAL);
    const std::string url = path_ == "-" ? "pipe:0" : path_;
    int r = avformat_open_input(&fc_, url.c_str(), nullptr, nullptr);
    if (r < 0) fail("cannot open", r);
    if ((r = avformat_find_stream_info(fc_, nullptr)) < 0) fail("cannot read stream info", r);
    for (unsigned i = 0; i < fc_->nb_streams; ++i) {
      const AVStream* s = fc_->streams[i];
      if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        stream_ = int(i);
        break;
      }
    }
    if (stream_ < 0) throw IoError(path_ + ": no video stream");
    AVStream* st = fc_->streams[stream_];
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) throw IoError(path_ + ": no decoder for video codec " + avcodec_get_name(st->codecpar->codec_id));
    dec_ = avcodec_alloc_context3(codec);
    if (!dec_) throw IoError(path_ + ": out of memory");
    if ((r = avcodec_parameters_to_context(dec_, st->codecpar)) < 0) fail("bad codec parameters", r);
    dec_->thread_count = 0;
    if ((r = avcodec_open2(dec_, codec, nullptr)) < 0) fail(std::string("cannot open decoder ") + codec->name, r);
    pkt_ = av_packet_alloc();
    frm_ = av_frame_alloc();
    if (!pkt_ || !frm_) throw IoError(path_ + ": out of memory");

    // Rate.
    AVRational fr = st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = st->r_frame_rate;
    if (fr.num > 0 && fr.den > 0) {
      const AVRational red = av_mul_q(fr, AVRational{1, 1});
      vf_.fps_num = red.num;
      vf_.fps_den = red.den;
    } else {
      vf_.fps_num = 25;
      vf_.fps_den = 1;
      vf_.notes.push_back("frame rate unknown; assuming 25 fps");
    }
    if (opt_.fps_num > 0) {
      vf_.fps_num = opt_.fps_num;
      vf_.fps_den = opt_.fps_den > 0 ? opt_.fps_den : 1;
    }

    // The first frame fixes size and colour.
    if (!receive_decoded()) throw IoError(path_ + ": no decodable video frame" + (last_err_ ? ": " + av_error(last_err_) : std::string()));
    src_w_ = frm_->width;
    src_h_ = frm_->height;
    check_dimensions(path_, src_w_, src_h_);
    const AVPixelFormat pf = AVPixelFormat(frm_->format);
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(pf);
    const bool rgb_or_gray = !d || (d->flags & AV_PIX_FMT_FLAG_RGB) || d->nb_components < 3;
    AVColorRange range = frm_->color_range != AVCOL_RANGE_UNSPECIFIED ? frm_->color_range : st->codecpar->color_range;
    AVColorSpace cs = frm_->colorspace != AVCOL_SPC_UNSPECIFIED ? frm_->colorspace : st->codecpar->color_space;
    int matrix = h273_from_av(cs);
    if (matrix == 0) matrix = default_matrix(src_h_);
    vf_.matrix = matrix;
    vf_.full_range = !rgb_or_gray && (range == AVCOL_RANGE_JPEG || is_jpeg_fmt(pf));
    if (d && d->flags & AV_PIX_FMT_FLAG_RGB) {
      vf_.full_range = false;
      vf_.notes.push_back(std::string("converted ") + d->name + " to yuv420p (" + matrix_name(matrix) + ", limited range)");
    } else if (pf != AV_PIX_FMT_YUV420P && pf != AV_PIX_FMT_YUVJ420P) {
      vf_.notes.push_back(std::string("converted ") + (d ? d->name : "?") + " to yuv420p 8-bit");
    }
    vf_.width = src_w_ & ~1;
    vf_.height = src_h_ & ~1;
    if ((src_w_ | src_h_) & 1) vf_.notes.push_back(crop_note(src_w_, src_h_));
    if (st->nb_frames > 0) {
      int64_t c = std::max<int64_t>(0, st->nb_frames - opt_.seek);
      if (opt_.max_frames >= 0) c = std::min(c, opt_.max_frames);
      vf_.frame_count = c;
    }
    convert(pending_);
    have_pending_ = true;
    for (int64_t i = 0; i < opt_.seek; ++i) {
      if (have_pending_) {
        have_pending_ = false;
        continue;
      }
      if (!decode_next(pending_)) break;
    }
  }

  // Next decoded picture into frm_; false at the end.
  bool receive_decoded() {
    for (;;) {
      int r = avcodec_receive_frame(dec_, frm_);
      if (r == 0) return true;
      if (r == AVERROR_EOF) return false;
      if (r != AVERROR(EAGAIN)) fail("decoding failed", r);
      if (flushed_) return false;
      r = av_read_frame(fc_, pkt_);
      if (r < 0) {
        if (r != AVERROR_EOF) vf_.notes.push_back("read error (" + av_error(r) + "); stopping there");
        avcodec_send_packet(dec_, nullptr);
        flushed_ = true;
        continue;
      }
      if (pkt_->stream_index == stream_) {
        r = avcodec_send_packet(dec_, pkt_);
        if (r < 0 && r != AVERROR(EAGAIN)) {
          last_err_ = r;
          if (r != AVERROR_INVALIDDATA) {
            av_packet_unref(pkt_);
            fail("decoding failed", r);
          }
          if (corrupt_packets_++ == 0)
            vf_.notes.push_back("some packets could not be decoded (" + av_error(r) + "); they were skipped");
        }
      }
      av_packet_unref(pkt_);
    }
  }

  bool decode_next(Frame& out) {
    if (!receive_decoded()) return false;
    convert(out);
    return true;
  }

  void convert(Frame& out) {
    if (frm_->width != src_w_ || frm_->height != src_h_)
      throw IoError(path_ + ": frame size changes mid-stream (" + std::to_string(src_w_) + "x" + std::to_string(src_h_) +
                    " -> " + std::to_string(frm_->width) + "x" + std::to_string(frm_->height) + "); not supported");
    const AVPixelFormat pf = AVPixelFormat(frm_->format);
    if ((pf == AV_PIX_FMT_YUV420P || pf == AV_PIX_FMT_YUVJ420P) && frm_->linesize[1] == frm_->linesize[2]) {
      crop_copy_420(frm_->data[0], frm_->linesize[0], frm_->data[1], frm_->data[2], frm_->linesize[1], src_w_, src_h_,
                    out);
    } else {
      const bool src_full = frm_->color_range == AVCOL_RANGE_JPEG || is_jpeg_fmt(pf);
      conv_.run(frm_->data, frm_->linesize, pf, src_w_, src_h_, src_full, vf_.full_range, vf_.matrix, buf_);
      const int cw = (src_w_ + 1) / 2, ch = (src_h_ + 1) / 2;
      const uint8_t* p = buf_.data();
      crop_copy_420(p, src_w_, p + size_t(src_w_) * src_h_, p + size_t(src_w_) * src_h_ + size_t(cw) * ch, cw, src_w_,
                    src_h_, out);
    }
    av_frame_unref(frm_);
  }

  void cleanup() {
    av_frame_free(&frm_);
    av_packet_free(&pkt_);
    avcodec_free_context(&dec_);
    avformat_close_input(&fc_);
  }

  std::string path_;
  ReaderOptions opt_;
  VideoFormat vf_;
  AVFormatContext* fc_ = nullptr;
  AVCodecContext* dec_ = nullptr;
  AVPacket* pkt_ = nullptr;
  AVFrame* frm_ = nullptr;
  int stream_ = -1, src_w_ = 0, src_h_ = 0, last_err_ = 0;
  bool flushed_ = false, have_pending_ = false;
  int64_t delivered_ = 0, corrupt_packets_ = 0;
  Frame pending_;
  Converter conv_;
  std::vector<uint8_t> buf_;
};

}  // namespace

std::unique_ptr<FrameReader> open_ffmpeg_reader(const std::string& path, const ReaderOptions& opt) {
  return std::make_unique<FfmpegReader>(path, opt);
}

size_t ffmpeg_picture_size(const std::string& pix_fmt, int w, int h) {
  const int n = av_image_get_buffer_size(pix_fmt_by_name(pix_fmt), w, h, 1);
  if (n <= 0) throw IoError("cannot size a " + pix_fmt + " picture");
  return size_t(n);
}

void ffmpeg_convert_to_yuv420p(const std::string& pix_fmt, const uint8_t* data, int w, int h, bool full_range,
                               std::vector<uint8_t>& out) {
  thread_local Converter conv;
  const AVPixelFormat f = pix_fmt_by_name(pix_fmt);
  uint8_t* planes[4];
  int strides[4];
  if (av_image_fill_arrays(planes, strides, data, f, w, h, 1) < 0) throw IoError("cannot lay out a " + pix_fmt + " picture");
  conv.run(planes, strides, f, w, h, full_range, full_range, default_matrix(h), out);
}

std::vector<uint8_t> ffmpeg_encode_png(const uint8_t* rgb, int w, int h) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (!codec) throw IoError("this FFmpeg has no PNG encoder");
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  AVFrame* fr = av_frame_alloc();
  AVPacket* pkt = av_packet_alloc();
  std::vector<uint8_t> out;
  std::string err;
  if (ctx && fr && pkt) {
    ctx->width = w;
    ctx->height = h;
    ctx->pix_fmt = AV_PIX_FMT_RGB24;
    ctx->time_base = AVRational{1, 25};
    int r = avcodec_open2(ctx, codec, nullptr);
    fr->format = AV_PIX_FMT_RGB24;
    fr->width = w;
    fr->height = h;
    if (r >= 0) r = av_frame_get_buffer(fr, 0);
    if (r >= 0) {
      for (int y = 0; y < h; ++y) std::memcpy(fr->data[0] + size_t(y) * fr->linesize[0], rgb + size_t(y) * w * 3, size_t(w) * 3);
      r = avcodec_send_frame(ctx, fr);
    }
    if (r >= 0) r = avcodec_receive_packet(ctx, pkt);
    if (r >= 0) out.assign(pkt->data, pkt->data + pkt->size);
    else err = av_error(r);
  } else {
    err = "out of memory";
  }
  av_packet_free(&pkt);
  av_frame_free(&fr);
  avcodec_free_context(&ctx);
  if (!err.empty()) throw IoError("PNG encoding failed: " + err);
  return out;
}

}  // namespace detail

std::vector<uint8_t> read_image_rgb24(const std::string& path, int* width, int* height) {
  if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_FATAL);
  AVFormatContext* fc = nullptr;
  AVCodecContext* dec = nullptr;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* fr = av_frame_alloc();
  SwsContext* sws = nullptr;
  std::vector<uint8_t> out;
  std::string err;
  int r = avformat_open_input(&fc, path.c_str(), nullptr, nullptr);
  if (r >= 0) r = avformat_find_stream_info(fc, nullptr);
  const AVCodec* codec = nullptr;
  int idx = -1;
  if (r >= 0) {
    idx = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    r = idx;
  }
  if (r >= 0) {
    dec = avcodec_alloc_context3(codec);
    r = dec ? avcodec_parameters_to_context(dec, fc->streams[idx]->codecpar) : AVERROR(ENOMEM);
  }
  if (r >= 0) r = avcodec_open2(dec, codec, nullptr);
  bool got = false;
  while (r >= 0 && !got) {
    r = av_read_frame(fc, pkt);
    if (r < 0) {
      avcodec_send_packet(dec, nullptr);
      r = avcodec_receive_frame(dec, fr);
      got = r >= 0;
      break;
    }
    if (pkt->stream_index == idx) {
      r = avcodec_send_packet(dec, pkt);
      if (r >= 0) {
        const int rr = avcodec_receive_frame(dec, fr);
        if (rr >= 0) got = true;
        else if (rr != AVERROR(EAGAIN)) r = rr;
      }
    }
    av_packet_unref(pkt);
  }
  if (got) {
    const int w = fr->width, h = fr->height;
    out.resize(size_t(w) * h * 3);
    sws = sws_getContext(w, h, AVPixelFormat(fr->format), w, h, AV_PIX_FMT_RGB24, SWS_POINT | SWS_ACCURATE_RND, nullptr,
                         nullptr, nullptr);
    if (sws) {
      uint8_t* dst[4] = {out.data(), nullptr, nullptr, nullptr};
      const int ds[4] = {w * 3, 0, 0, 0};
      sws_scale(sws, fr->data, fr->linesize, 0, h, dst, ds);
      if (width) *width = w;
      if (height) *height = h;
    } else {
      err = "cannot convert to RGB24";
    }
  } else {
    err = r < 0 ? detail::av_error(r) : "no picture";
  }
  sws_freeContext(sws);
  av_frame_free(&fr);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&fc);
  if (!err.empty()) throw IoError(path + ": cannot decode image: " + err);
  return out;
}

#else  // !NVC_HAVE_FFMPEG

bool have_ffmpeg() { return false; }

namespace detail {
namespace {
[[noreturn]] void need_ffmpeg(const std::string& what) {
  throw IoError(what + " needs FFmpeg support (build with FFmpeg)");
}
std::string ext_of(const std::string& path) {
  const size_t slash = path.find_last_of('/'), dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "this input";
  return path.substr(dot);
}
}  // namespace
std::unique_ptr<FrameReader> open_ffmpeg_reader(const std::string& path, const ReaderOptions&) {
  need_ffmpeg(path + ": reading " + ext_of(path));
}
size_t ffmpeg_picture_size(const std::string& pix_fmt, int, int) { need_ffmpeg("converting " + pix_fmt); }
void ffmpeg_convert_to_yuv420p(const std::string& pix_fmt, const uint8_t*, int, int, bool, std::vector<uint8_t>&) {
  need_ffmpeg("converting " + pix_fmt);
}
std::vector<uint8_t> ffmpeg_encode_png(const uint8_t*, int, int) { need_ffmpeg("writing PNG"); }
}  // namespace detail

std::vector<uint8_t> read_image_rgb24(const std::string& path, int*, int*) {
  throw IoError(path + ": decoding images needs FFmpeg support (build with FFmpeg)");
}

#endif

}  // namespace nvc::video
