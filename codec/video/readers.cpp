// y4m and raw .yuv readers, reader dispatch.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "codec/video/io_internal.h"

namespace nvc::video {
namespace detail {

// ---- ByteSource ---------------------------------------------------------------------------------------------------
ByteSource::ByteSource(const std::string& path) {
  if (path == "-") {
    name_ = "<stdin>";
    f_ = stdin;
  } else {
    name_ = path;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw IoError(path + ": is a directory");
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) throw IoError(path + ": " + std::strerror(errno));
    own_ = true;
  }
  struct stat st {};
  regular_ = ::fstat(fileno(f_), &st) == 0 && S_ISREG(st.st_mode) && ftello(f_) >= 0;
}

ByteSource::~ByteSource() {
  if (own_ && f_) std::fclose(f_);
}

size_t ByteSource::read(void* dst, size_t n) {
  uint8_t* p = static_cast<uint8_t*>(dst);
  size_t got = 0;
  if (pb_pos_ < pb_.size()) {
    const size_t take = std::min(n, pb_.size() - pb_pos_);
    std::memcpy(p, pb_.data() + pb_pos_, take);
    pb_pos_ += take;
    got = take;
  }
  while (got < n) {
    const size_t r = std::fread(p + got, 1, n - got, f_);
    got += r;
    if (r == 0) {
      if (std::ferror(f_)) throw IoError(name_ + ": read error: " + std::strerror(errno));
      break;
    }
  }
  return got;
}

int ByteSource::getc() {
  if (pb_pos_ < pb_.size()) return uint8_t(pb_[pb_pos_++]);
  const int c = std::fgetc(f_);
  if (c == EOF && std::ferror(f_)) throw IoError(name_ + ": read error: " + std::strerror(errno));
  return c == EOF ? -1 : c;
}

void ByteSource::unread(const void* data, size_t n) {
  pb_.erase(0, pb_pos_);
  pb_pos_ = 0;
  pb_.insert(0, static_cast<const char*>(data), n);
}

uint64_t ByteSource::skip(uint64_t n) {
  uint64_t done = 0;
  while (pb_pos_ < pb_.size() && done < n) { ++pb_pos_; ++done; }
  if (done == n) return done;
  if (regular_) {
    const int64_t left = remaining();
    const uint64_t step = std::min<uint64_t>(n - done, uint64_t(std::max<int64_t>(left, 0)));
    if (fseeko(f_, off_t(step), SEEK_CUR) != 0) throw IoError(name_ + ": seek failed: " + std::strerror(errno));
    return done + step;
  }
  std::vector<uint8_t> buf(1 << 16);
  while (done < n) {
    const size_t want = size_t(std::min<uint64_t>(buf.size(), n - done));
    const size_t r = read(buf.data(), want);
    done += r;
    if (r < want) break;
  }
  return done;
}

int64_t ByteSource::remaining() const {
  if (!regular_) return -1;
  struct stat st {};
  if (::fstat(fileno(f_), &st) != 0) return -1;
  const off_t pos = ftello(f_);
  if (pos < 0) return -1;
  return int64_t(st.st_size) - int64_t(pos) + int64_t(pb_.size() - pb_pos_);
}

// ---- helpers ------------------------------------------------------------------------------------------------------
void crop_copy_420(const uint8_t* y, int ystride, const uint8_t* u, const uint8_t* v, int cstride, int w, int h,
                   Frame& out) {
  const int ew = w & ~1, eh = h & ~1;
  if (out.width != ew || out.height != eh || !out.valid()) out.alloc(ew, eh);
  for (int r = 0; r < eh; ++r) std::memcpy(&out.y[size_t(r) * ew], y + size_t(r) * ystride, size_t(ew));
  const int cw = ew / 2, ch = eh / 2;
  for (int r = 0; r < ch; ++r) {
    std::memcpy(&out.u[size_t(r) * cw], u + size_t(r) * cstride, size_t(cw));
    std::memcpy(&out.v[size_t(r) * cw], v + size_t(r) * cstride, size_t(cw));
  }
}

std::string crop_note(int w, int h) {
  std::ostringstream s;
  s << "cropped " << w << "x" << h << " to " << (w & ~1) << "x" << (h & ~1)
    << " (4:2:0 needs even sizes; the last " << ((w & 1) && (h & 1) ? "column and row were" : (w & 1) ? "column was" : "row was")
    << " dropped)";
  return s.str();
}

std::string lower_ext(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot + 1);
  for (auto& c : e) c = char(std::tolower(uint8_t(c)));
  return e;
}

bool size_from_name(const std::string& path, int& w, int& h) {
  const size_t slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  bool found = false;
  for (size_t i = 0; i < base.size(); ++i) {
    if (base[i] != 'x' || i == 0 || !std::isdigit(uint8_t(base[i - 1])) || i + 1 >= base.size() ||
        !std::isdigit(uint8_t(base[i + 1])))
      continue;
    size_t a = i;
    while (a > 0 && std::isdigit(uint8_t(base[a - 1]))) --a;
    size_t b = i + 1;
    while (b < base.size() && std::isdigit(uint8_t(base[b]))) ++b;
    if (i - a > 6 || b - i - 1 > 6) continue;
    w = std::stoi(base.substr(a, i - a));
    h = std::stoi(base.substr(i + 1, b - i - 1));
    found = true;
  }
  return found && w > 0 && h > 0;
}

void check_dimensions(const std::string& name, int w, int h) {
  if (w < 2 || h < 2 || w > 32768 || h > 32768 || int64_t(w) * h > (int64_t(1) << 28))
    throw IoError(name + ": unsupported frame size " + std::to_string(w) + "x" + std::to_string(h));
}

namespace {

int64_t adjust_count(int64_t total, const ReaderOptions& opt) {
  if (total < 0) return -1;
  int64_t c = std::max<int64_t>(0, total - std::max<int64_t>(0, opt.seek));
  if (opt.max_frames >= 0) c = std::min(c, opt.max_frames);
  return c;
}

void apply_fps_override(VideoFormat& f, const ReaderOptions& opt) {
  if (opt.fps_num > 0) {
    f.fps_num = opt.fps_num;
    f.fps_den = opt.fps_den > 0 ? opt.fps_den : 1;
  }
}

// ---- y4m ----------------------------------------------------------------------------------------------------------
class Y4mReader : public FrameReader {
 public:
  Y4mReader(std::unique_ptr<ByteSource> src, const ReaderOptions& opt) : src_(std::move(src)), opt_(opt) {
    parse_header();
    for (int64_t i = 0; i < opt_.seek; ++i)
      if (!next_frame_header(true) || src_->skip(frame_bytes_) < frame_bytes_) {
        vf_.notes.push_back("seek " + std::to_string(opt_.seek) + " is past the end of the input");
        done_ = true;
        break;
      }
  }
  const VideoFormat& format() const override { return vf_; }

  bool read(Frame& out) override {
    if (done_ || (opt_.max_frames >= 0 && delivered_ >= opt_.max_frames)) return false;
    if (!next_frame_header(false)) return finish();
    buf_.resize(frame_bytes_);
    const size_t got = src_->read(buf_.data(), frame_bytes_);
    if (got < frame_bytes_) {
      vf_.notes.push_back("last frame truncated (" + std::to_string(got) + " of " + std::to_string(frame_bytes_) +
                          " bytes), dropped");
      return finish();
    }
    const uint8_t* p = buf_.data();
    const int cw = (w_ + 1) / 2, ch = (h_ + 1) / 2;
    if (!native_) {
      detail::ffmpeg_convert_to_yuv420p(pix_fmt_, buf_.data(), w_, h_, vf_.full_range, conv_);
      p = conv_.data();
    }
    crop_copy_420(p, w_, p + size_t(w_) * h_, p + size_t(w_) * h_ + size_t(cw) * ch, cw, w_, h_, out);
    ++delivered_;
    return true;
  }

 private:
  bool finish() {
    done_ = true;
    return false;
  }

  void parse_header() {
    const std::string& nm = src_->name();
    std::string line;
    for (;;) {
      const int c = src_->getc();
      if (c < 0) throw IoError(nm + ": truncated y4m header");
      if (c == '\n') break;
      line += char(c);
      if (line.size() > 4096) throw IoError(nm + ": not a y4m file (header line too long)");
    }
    if (line.compare(0, 9, "YUV4MPEG2") != 0 || (line.size() > 9 && line[9] != ' '))
      throw IoError(nm + ": not a y4m file (no YUV4MPEG2 signature)");
    std::istringstream ss(line.substr(9));
    std::string tok, cs = "420jpeg";
    int w = 0, h = 0;
    bool have_f = false, range_known = false;
    while (ss >> tok) {
      const char tag = tok[0];
      const std::string val = tok.substr(1);
      try {
        switch (tag) {
          case 'W': w = std::stoi(val); break;
          case 'H': h = std::stoi(val); break;
          case 'F': {
            const size_t colon = val.find(':');
            if (colon == std::string::npos) throw IoError(nm + ": bad y4m frame rate '" + tok + "'");
            vf_.fps_num = std::stoi(val.substr(0, colon));
            vf_.fps_den = std::stoi(val.substr(colon + 1));
            if (vf_.fps_num <= 0 || vf_.fps_den <= 0) throw IoError(nm + ": bad y4m frame rate '" + tok + "'");
            have_f = true;
            break;
          }
          case 'I':
            if (val == "t" || val == "b" || val == "m")
              throw IoError(nm + ": interlaced y4m is not supported; deinterlace first, e.g. ffmpeg -vf yadif");
            break;  // p or ? : progressive
          case 'A': break;  // pixel aspect ratio: ignored
          case 'C': cs = val; break;
          case 'X':
            if (val.compare(0, 11, "COLORRANGE=") == 0) {
              const std::string r = val.substr(11);
              if (r == "FULL") { vf_.full_range = true; range_known = true; }
              else if (r == "LIMITED") { vf_.full_range = false; range_known = true; }
            }
            break;  // other X tags ignored
          default: break;  // unknown tags ignored (the spec allows extensions)
        }
      } catch (const std::logic_error&) {  // stoi failures
        throw IoError(nm + ": bad y4m header field '" + tok + "'");
      }
    }
    (void)range_known;
    if (w <= 0 || h <= 0) throw IoError(nm + ": y4m header has no valid W/H");
    check_dimensions(nm, w, h);
    if (!have_f) vf_.notes.push_back("y4m header has no frame rate; assuming 25 fps");
    w_ = w;
    h_ = h;
    const int cw = (w + 1) / 2, ch = (h + 1) / 2;
    if (cs == "420jpeg" || cs == "420mpeg2" || cs == "420paldv" || cs == "420") {
      native_ = true;
      frame_bytes_ = size_t(w) * h + 2 * size_t(cw) * ch;
    } else {
      native_ = false;
      pix_fmt_ = y4m_to_pix_fmt(cs);
      if (pix_fmt_.empty()) throw IoError(nm + ": unsupported y4m colour space C" + cs);
      if (!have_ffmpeg())
        throw IoError(nm + ": y4m colour space C" + cs +
                      " needs FFmpeg support to convert to 4:2:0 8-bit (build with FFmpeg, or convert first: "
                      "ffmpeg -i in.y4m -pix_fmt yuv420p out.y4m)");
      frame_bytes_ = ffmpeg_picture_size(pix_fmt_, w, h);
      vf_.notes.push_back("converted " + pix_fmt_ + " (y4m C" + cs + ") to yuv420p 8-bit");
    }
    vf_.width = w & ~1;
    vf_.height = h & ~1;
    if ((w | h) & 1) vf_.notes.push_back(crop_note(w, h));
    vf_.matrix = default_matrix(h);
    apply_fps_override(vf_, opt_);
    const int64_t left = src_->remaining();
    if (left >= 0 && left % int64_t(frame_bytes_ + 6) == 0) vf_.frame_count = adjust_count(left / int64_t(frame_bytes_ + 6), opt_);
  }

  static std::string y4m_to_pix_fmt(const std::string& cs) {
    if (cs == "411") return "yuv411p";
    if (cs == "422") return "yuv422p";
    if (cs == "444") return "yuv444p";
    if (cs == "444alpha") return "yuva444p";
    if (cs == "mono") return "gray";
    for (const char* base : {"420", "422", "444"}) {
      if (cs.compare(0, 4, std::string(base) + "p") == 0) {
        const std::string bits = cs.substr(4);
        if (bits == "9" || bits == "10" || bits == "12" || bits == "14" || bits == "16")
          return "yuv" + std::string(base) + "p" + bits + "le";
      }
    }
    if (cs.compare(0, 4, "mono") == 0) {
      const std::string bits = cs.substr(4);
      if (bits == "9" || bits == "10" || bits == "12" || bits == "14" || bits == "16") return "gray" + bits + "le";
    }
    return "";
  }

  // Reads "FRAME[ params]\n". false at a clean end of input (or a truncated marker, noted).
  bool next_frame_header(bool seeking) {
    char m[5];
    const size_t got = src_->read(m, 5);
    if (got == 0) return false;
    if (got < 5 || std::memcmp(m, "FRAME", 5) != 0) {
      if (got < 5 && std::memcmp(m, "FRAME", got) == 0) {
        vf_.notes.push_back("input ends inside a FRAME marker; last frame dropped");
        return false;
      }
      throw IoError(src_->name() + ": bad y4m frame marker at frame " +
                    std::to_string(delivered_ + (seeking ? 0 : opt_.seek)));
    }
    for (size_t n = 0;; ++n) {
      const int c = src_->getc();
      if (c < 0) {
        vf_.notes.push_back("input ends inside a FRAME header; last frame dropped");
        return false;
      }
      if (c == '\n') break;
      if (n == 0 && c != ' ') throw IoError(src_->name() + ": bad y4m frame marker");
      if (n > 4096) throw IoError(src_->name() + ": y4m FRAME line too long");
    }
    return true;
  }

  std::unique_ptr<ByteSource> src_;
  ReaderOptions opt_;
  VideoFormat vf_;
  int w_ = 0, h_ = 0;
  bool native_ = true, done_ = false;
  std::string pix_fmt_;
  size_t frame_bytes_ = 0;
  int64_t delivered_ = 0;
  std::vector<uint8_t> buf_, conv_;
};

// ---- raw yuv ------------------------------------------------------------------------------------------------------
class YuvReader : public FrameReader {
 public:
  YuvReader(std::unique_ptr<ByteSource> src, const std::string& path, const ReaderOptions& opt)
      : src_(std::move(src)), opt_(opt) {
    const std::string& nm = src_->name();
    int w = opt.input_width, h = opt.input_height;
    if (w <= 0 && h <= 0) {
      if (path == "-" || !size_from_name(path, w, h))
        throw IoError(nm + ": raw YUV needs --input-res WxH (or WxH in the file name)");
    } else if (w <= 0 || h <= 0) {
      throw IoError(nm + ": raw YUV needs both width and height (--input-res WxH)");
    }
    check_dimensions(nm, w, h);
    w_ = w;
    h_ = h;
    frame_bytes_ = size_t(w) * h + 2 * size_t((w + 1) / 2) * ((h + 1) / 2);
    vf_.width = w & ~1;
    vf_.height = h & ~1;
    if ((w | h) & 1) vf_.notes.push_back(crop_note(w, h));
    vf_.fps_num = 25;
    vf_.fps_den = 1;
    apply_fps_override(vf_, opt_);
    vf_.matrix = default_matrix(h);
    const int64_t left = src_->remaining();
    if (left >= 0) {
      const int64_t fb = int64_t(frame_bytes_);
      if (left % fb)
        vf_.notes.push_back("file size is not a multiple of the frame size (" + std::to_string(w) + "x" +
                            std::to_string(h) + " 4:2:0 = " + std::to_string(fb) + " bytes): the partial last frame (" +
                            std::to_string(left % fb) + " bytes) is dropped");
      vf_.frame_count = adjust_count(left / fb, opt_);
    }
    if (opt_.seek > 0) {
      const uint64_t want = uint64_t(opt_.seek) * frame_bytes_;
      if (src_->skip(want) < want) {
        vf_.notes.push_back("seek " + std::to_string(opt_.seek) + " is past the end of the input");
        done_ = true;
      }
    }
  }
  const VideoFormat& format() const override { return vf_; }

  bool read(Frame& out) override {
    if (done_ || (opt_.max_frames >= 0 && delivered_ >= opt_.max_frames)) return false;
    buf_.resize(frame_bytes_);
    const size_t got = src_->read(buf_.data(), frame_bytes_);
    if (got < frame_bytes_) {
      done_ = true;
      if (got > 0 && !src_->is_regular())  // regular files were noted at open
        vf_.notes.push_back("input ends inside a frame (" + std::to_string(got) + " of " +
                            std::to_string(frame_bytes_) + " bytes): the partial last frame is dropped");
      return false;
    }
    const int cw = (w_ + 1) / 2, ch = (h_ + 1) / 2;
    const uint8_t* p = buf_.data();
    crop_copy_420(p, w_, p + size_t(w_) * h_, p + size_t(w_) * h_ + size_t(cw) * ch, cw, w_, h_, out);
    ++delivered_;
    return true;
  }

 private:
  std::unique_ptr<ByteSource> src_;
  ReaderOptions opt_;
  VideoFormat vf_;
  int w_ = 0, h_ = 0;
  size_t frame_bytes_ = 0;
  int64_t delivered_ = 0;
  bool done_ = false;
  std::vector<uint8_t> buf_;
};

}  // namespace
}  // namespace detail

std::unique_ptr<FrameReader> open_reader(const std::string& path, const ReaderOptions& opt_in) {
  using namespace detail;
  ReaderOptions opt = opt_in;
  if (opt.seek < 0) opt.seek = 0;
  const std::string& fmt = opt.format;
  if (fmt != "auto" && fmt != "y4m" && fmt != "yuv" && fmt != "ffmpeg")
    throw IoError(path + ": unknown input format '" + fmt + "' (auto, y4m, yuv, ffmpeg)");
  if (fmt == "ffmpeg") return open_ffmpeg_reader(path, opt);
  const std::string ext = lower_ext(path);
  if (fmt == "auto" && path != "-" && ext != "y4m" && ext != "yuv") {
    // Sniff: a y4m file with another extension is still y4m; everything else goes to FFmpeg.
    auto src = std::make_unique<ByteSource>(path);
    char sig[9];
    const size_t got = src->read(sig, 9);
    src->unread(sig, got);
    if (got == 9 && std::memcmp(sig, "YUV4MPEG2", 9) == 0) return std::make_unique<Y4mReader>(std::move(src), opt);
    src.reset();
    if (!have_ffmpeg())
      throw IoError(path + ": reading " + (ext.empty() ? std::string("this file") : "." + ext) +
                    " needs FFmpeg support (build with FFmpeg)");
    return open_ffmpeg_reader(path, opt);
  }
  auto src = std::make_unique<ByteSource>(path);
  bool y4m = fmt == "y4m" || (fmt == "auto" && ext == "y4m");
  if (fmt == "auto" && path == "-") {
    char sig[9];
    const size_t got = src->read(sig, 9);
    src->unread(sig, got);
    y4m = got == 9 && std::memcmp(sig, "YUV4MPEG2", 9) == 0;
  }
  if (y4m) return std::make_unique<Y4mReader>(std::move(src), opt);
  return std::make_unique<YuvReader>(std::move(src), path, opt);
}

std::vector<Frame> read_all(const std::string& path, const ReaderOptions& opt, VideoFormat* fmt_out) {
  auto r = open_reader(path, opt);
  std::vector<Frame> frames;
  Frame f;
  while (r->read(f)) frames.push_back(f);
  if (fmt_out) {
    *fmt_out = r->format();
    fmt_out->frame_count = int64_t(frames.size());
  }
  return frames;
}

}  // namespace nvc::video
