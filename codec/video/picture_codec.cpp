// Grayscale pictures through libavcodec (picture_codec.h). Compiled with NVC_HAVE_FFMPEG=1 when FFmpeg is found;
// without it every entry point throws IoError.
#include "codec/video/picture_codec.h"

#include "codec/video/frame.h"

#if NVC_HAVE_FFMPEG
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#endif

namespace nvc::video {

#if NVC_HAVE_FFMPEG

namespace {

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

struct CtxDel {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDel {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDel {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct ParserDel {
  void operator()(AVCodecParserContext* p) const { av_parser_close(p); }
};
using Ctx = std::unique_ptr<AVCodecContext, CtxDel>;
using FramePtr = std::unique_ptr<AVFrame, FrameDel>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDel>;

// Errors reach the caller as exceptions; libav's own log lines about a corrupt picture would only repeat them.
void quiet_libav() {
  if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_FATAL);
}

// x265 refuses pictures below 16 x 16 ("Image size is too small"), and its lookahead (cuTree) writes past its
// buffers for pictures of a single 16 x 16 block (Debian's libx265 199, found with valgrind); pictures are padded to
// at least 64 x 64, which costs a few bytes (the padding repeats the edge, which intra prediction gets for free).
constexpr int kMinHevcSide = 64;

Ctx open_encoder(const AVCodec* codec, int width, int height, AVPixelFormat fmt,
                 const std::function<void(AVCodecContext*)>& setup, const char* what) {
  Ctx ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw IoError(std::string("cannot allocate the ") + what + " encoder");
  ctx->width = width;
  ctx->height = height;
  ctx->pix_fmt = fmt;
  ctx->time_base = AVRational{1, 25};
  ctx->framerate = AVRational{25, 1};
  ctx->flags |= AV_CODEC_FLAG_BITEXACT;  // no encoder version strings in the output: same input, same bytes
  setup(ctx.get());
  const int err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) throw IoError(std::string("cannot open the ") + what + " encoder: " + av_error(err));
  return ctx;
}

// Sends `frame` (nullptr = flush) and appends every packet that comes out to `out`.
void encode_step(AVCodecContext* ctx, const AVFrame* frame, std::vector<uint8_t>& out, const char* what) {
  int err = avcodec_send_frame(ctx, frame);
  if (err < 0) throw IoError(std::string(what) + " encoding failed: " + av_error(err));
  PacketPtr pkt(av_packet_alloc());
  for (;;) {
    err = avcodec_receive_packet(ctx, pkt.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) throw IoError(std::string(what) + " encoding failed: " + av_error(err));
    out.insert(out.end(), pkt->data, pkt->data + pkt->size);
    av_packet_unref(pkt.get());
  }
}

FramePtr alloc_frame(int width, int height, AVPixelFormat fmt) {
  FramePtr f(av_frame_alloc());
  if (!f) throw IoError("cannot allocate a picture");
  f->format = fmt;
  f->width = width;
  f->height = height;
  if (av_frame_get_buffer(f.get(), 0) < 0) throw IoError("cannot allocate a picture");
  return f;
}

// Copies a w x h picture into plane 0 of `f` (at least w x h), repeating the last column / row into the padding.
void fill_luma(AVFrame* f, const uint8_t* src, int w, int h) {
  for (int y = 0; y < f->height; ++y) {
    uint8_t* row = f->data[0] + int64_t(y) * f->linesize[0];
    const uint8_t* s = src + int64_t(std::min(y, h - 1)) * w;
    std::memcpy(row, s, size_t(w));
    std::memset(row + w, s[w - 1], size_t(f->width - w));
  }
}

Ctx open_decoder(AVCodecID id, int width, int height, const char* what) {
  const AVCodec* codec = avcodec_find_decoder(id);
  if (!codec) throw IoError(std::string("this FFmpeg has no ") + what + " decoder");
  Ctx ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw IoError(std::string("cannot allocate the ") + what + " decoder");
  // A hostile stream may announce a huge picture: allow what a padded picture of this size can need, no more.
  // (JPEG pictures are allocated in whole 16x16 MCUs, x265 pads small pictures to 16 x 16.)
  ctx->max_pixels = int64_t(std::max(width, 64) + 64) * int64_t(std::max(height, 64) + 64);
  ctx->flags |= AV_CODEC_FLAG_BITEXACT;
  ctx->idct_algo = FF_IDCT_SIMPLE;  // the JPEG IDCT: FFmpeg's bit-exact simple IDCT on every machine
  ctx->thread_count = 1;
  const int err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) throw IoError(std::string("cannot open the ") + what + " decoder: " + av_error(err));
  return ctx;
}

// Receives every frame the decoder has ready and copies its top-left width x height luma to out (index `got`).
void drain(AVCodecContext* ctx, int width, int height, int count, uint8_t* out, int& got, const char* what) {
  FramePtr f(av_frame_alloc());
  for (;;) {
    const int err = avcodec_receive_frame(ctx, f.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) throw IoError(std::string("corrupt ") + what + " data (" + av_error(err) + ")");
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
    if (!d || d->comp[0].depth != 8 || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)))
      throw IoError(std::string(what) + " picture in format " + (d ? d->name : "?") + ", expected 8-bit luma");
    if (f->width < width || f->height < height)
      throw IoError(std::string(what) + " picture of " + std::to_string(f->width) + "x" + std::to_string(f->height) +
                    ", expected at least " + std::to_string(width) + "x" + std::to_string(height));
    if (got >= count) throw IoError(std::string(what) + " data hold more than " + std::to_string(count) + " pictures");
    uint8_t* dst = out + int64_t(got) * width * height;
    for (int y = 0; y < height; ++y)
      std::memcpy(dst + int64_t(y) * width, f->data[0] + int64_t(y) * f->linesize[0], size_t(width));
    ++got;
    av_frame_unref(f.get());
  }
}

void send(AVCodecContext* ctx, const AVPacket* pkt, int width, int height, int count, uint8_t* out, int& got,
          const char* what) {
  const int err = avcodec_send_packet(ctx, pkt);
  if (err < 0 && err != AVERROR_EOF) throw IoError(std::string("corrupt ") + what + " data (" + av_error(err) + ")");
  drain(ctx, width, height, count, out, got, what);
}

void check_size(int width, int height, int count, const char* what) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384 || count < 1)
    throw IoError(std::string(what) + ": invalid picture size " + std::to_string(width) + "x" + std::to_string(height) +
                  " x " + std::to_string(count));
}

}  // namespace

bool picture_encoders_available(std::string* why) {
  if (!avcodec_find_encoder(AV_CODEC_ID_MJPEG)) {
    if (why) *why = "libavcodec has no mjpeg encoder";
    return false;
  }
  if (!avcodec_find_encoder_by_name("libx265")) {
    if (why) *why = "libavcodec has no libx265 encoder";
    return false;
  }
  return picture_decoders_available(why);
}

bool picture_decoders_available(std::string* why) {
  if (!avcodec_find_decoder(AV_CODEC_ID_MJPEG) || !avcodec_find_decoder(AV_CODEC_ID_HEVC)) {
    if (why) *why = "libavcodec has no mjpeg or hevc decoder";
    return false;
  }
  return true;
}

std::vector<uint8_t> encode_gray_jpeg(const uint8_t* pixels, int width, int height, int qscale) {
  quiet_libav();
  check_size(width, height, 1, "JPEG");
  if (qscale < 1 || qscale > 31) throw IoError("JPEG quantizer scale " + std::to_string(qscale) + " outside 1..31");
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!codec) throw IoError("this FFmpeg has no mjpeg encoder");
  const int lambda = FF_QP2LAMBDA * qscale;
  Ctx ctx = open_encoder(codec, width, height, AV_PIX_FMT_YUVJ420P, [&](AVCodecContext* c) {
    c->flags |= AV_CODEC_FLAG_QSCALE;  // as ffmpeg -qscale:v: a fixed quantizer, no rate control
    c->global_quality = lambda;
    c->color_range = AVCOL_RANGE_JPEG;
  }, "JPEG");
  FramePtr f = alloc_frame(width, height, AV_PIX_FMT_YUVJ420P);
  fill_luma(f.get(), pixels, width, height);
  for (int p = 1; p <= 2; ++p)
    for (int y = 0; y < (height + 1) / 2; ++y) std::memset(f->data[p] + int64_t(y) * f->linesize[p], 128, size_t((width + 1) / 2));
  f->quality = lambda;  // the mpegvideo encoders take a fixed quantizer from the frame
  f->pts = 0;
  std::vector<uint8_t> out;
  encode_step(ctx.get(), f.get(), out, "JPEG");
  encode_step(ctx.get(), nullptr, out, "JPEG");
  if (out.empty()) throw IoError("the JPEG encoder produced no data");
  return out;
}

std::vector<uint8_t> encode_gray_hevc(const uint8_t* frames, int width, int height, int count, int crf,
                                      const std::string& preset) {
  quiet_libav();
  check_size(width, height, count, "HEVC");
  if (crf < 0 || crf > 51) throw IoError("HEVC crf " + std::to_string(crf) + " outside 0..51");
  const AVCodec* codec = avcodec_find_encoder_by_name("libx265");
  if (!codec) throw IoError("libavcodec has no libx265 encoder (needed to code grids as HEVC)");
  const int pw = std::max(width, kMinHevcSide), ph = std::max(height, kMinHevcSide);
  Ctx ctx = open_encoder(codec, pw, ph, AV_PIX_FMT_GRAY8, [&](AVCodecContext* c) {
    av_opt_set(c->priv_data, "preset", preset.c_str(), 0);
    av_opt_set_double(c->priv_data, "crf", double(crf), 0);
    // bframes=0 as the paper; frame-threads=1 so the stream does not depend on the machine's core count (wavefront
    // threads do not change the output); rskip=0 because with recursion skip x265 3.5 made different streams from
    // the same pictures from run to run (it reads uninitialised memory in its intra search: valgrind); info=0
    // leaves out x265's version / options SEI (about 2 KB a stream).
    av_opt_set(c->priv_data, "x265-params", "bframes=0:frame-threads=1:rskip=0:info=0:log-level=error", 0);
  }, "HEVC (libx265)");
  std::vector<uint8_t> out;
  for (int k = 0; k < count; ++k) {
    FramePtr f = alloc_frame(pw, ph, AV_PIX_FMT_GRAY8);
    fill_luma(f.get(), frames + int64_t(k) * width * height, width, height);
    f->pts = k;
    encode_step(ctx.get(), f.get(), out, "HEVC");
  }
  encode_step(ctx.get(), nullptr, out, "HEVC");
  if (out.empty()) throw IoError("the HEVC encoder produced no data");
  return out;
}

void decode_gray_jpeg(const uint8_t* data, size_t size, int width, int height, uint8_t* out) {
  quiet_libav();
  check_size(width, height, 1, "JPEG");
  if (size == 0 || size > size_t(INT32_MAX) - AV_INPUT_BUFFER_PADDING_SIZE) throw IoError("JPEG data of invalid size");
  Ctx ctx = open_decoder(AV_CODEC_ID_MJPEG, width, height, "JPEG");
  PacketPtr pkt(av_packet_alloc());
  if (!pkt || av_new_packet(pkt.get(), int(size)) < 0) throw IoError("cannot allocate a packet");
  std::memcpy(pkt->data, data, size);
  int got = 0;
  send(ctx.get(), pkt.get(), width, height, 1, out, got, "JPEG");
  send(ctx.get(), nullptr, width, height, 1, out, got, "JPEG");
  if (got != 1) throw IoError("corrupt JPEG data (no picture decoded)");
}

void decode_gray_hevc(const uint8_t* data, size_t size, int width, int height, int count, uint8_t* out) {
  quiet_libav();
  check_size(width, height, count, "HEVC");
  Ctx ctx = open_decoder(AV_CODEC_ID_HEVC, width, height, "HEVC");
  std::unique_ptr<AVCodecParserContext, ParserDel> parser(av_parser_init(AV_CODEC_ID_HEVC));
  if (!parser) throw IoError("this FFmpeg has no HEVC parser");
  // The parser may read up to AV_INPUT_BUFFER_PADDING_SIZE bytes past its input: give it a padded copy.
  std::vector<uint8_t> buf(size + AV_INPUT_BUFFER_PADDING_SIZE, 0);
  if (size) std::memcpy(buf.data(), data, size);
  PacketPtr pkt(av_packet_alloc());
  int got = 0;
  const uint8_t* p = buf.data();
  size_t left = size;
  for (bool flushing = false;;) {
    uint8_t* pdata = nullptr;
    int psize = 0;
    const int chunk = int(std::min<size_t>(left, 1 << 20));
    const int used = av_parser_parse2(parser.get(), ctx.get(), &pdata, &psize, p, chunk, AV_NOPTS_VALUE,
                                      AV_NOPTS_VALUE, 0);
    if (used < 0) throw IoError("corrupt HEVC data (" + av_error(used) + ")");
    if (used == 0 && psize == 0 && chunk > 0) throw IoError("corrupt HEVC data (the parser makes no progress)");
    p += used;
    left -= size_t(used);
    if (psize > 0) {
      pkt->data = pdata;
      pkt->size = psize;
      send(ctx.get(), pkt.get(), width, height, count, out, got, "HEVC");
    }
    if (flushing) {
      if (psize == 0) break;
    } else if (left == 0) {
      flushing = true;  // one more call with no input returns the last access unit
    }
  }
  send(ctx.get(), nullptr, width, height, count, out, got, "HEVC");
  if (got != count)
    throw IoError("HEVC data hold " + std::to_string(got) + " pictures, expected " + std::to_string(count));
}

#else  // !NVC_HAVE_FFMPEG

namespace {
[[noreturn]] void no_ffmpeg() {
  throw IoError("grids coded as JPEG / HEVC pictures need FFmpeg, and this build of nvc has none "
                "(rebuild with the libavcodec development files)");
}
}  // namespace

bool picture_encoders_available(std::string* why) {
  if (why) *why = "built without FFmpeg";
  return false;
}
bool picture_decoders_available(std::string* why) {
  if (why) *why = "built without FFmpeg";
  return false;
}
std::vector<uint8_t> encode_gray_jpeg(const uint8_t*, int, int, int) { no_ffmpeg(); }
std::vector<uint8_t> encode_gray_hevc(const uint8_t*, int, int, int, int, const std::string&) { no_ffmpeg(); }
void decode_gray_jpeg(const uint8_t*, size_t, int, int, uint8_t*) { no_ffmpeg(); }
void decode_gray_hevc(const uint8_t*, size_t, int, int, int, uint8_t*) { no_ffmpeg(); }

#endif

}  // namespace nvc::video
