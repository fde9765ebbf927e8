// Output muxers: y4m, raw yuv, PNG directory, md5, null. Files go to a temporary next to the target and are renamed
// in close(); stdout is written directly and a closed pipe raises PipeClosed.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "codec/video/io_internal.h"
#include "codec/video/md5.h"

namespace nvc::video {

FrameWriter::~FrameWriter() = default;

namespace detail {
namespace {

std::atomic<unsigned> g_temp_counter{0};

// A byte sink: stdout, a non-regular file written in place, or a temporary renamed onto the target in commit().
class OutputFile {
 public:
  explicit OutputFile(const std::string& target) : target_(target) {
    if (target == "-") {
      name_ = "<stdout>";
      ::signal(SIGPIPE, SIG_IGN);
      f_ = stdout;
      direct_ = true;
      return;
    }
    name_ = target;
    struct stat st {};
    if (::stat(target.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      if (S_ISDIR(st.st_mode)) throw IoError(target + ": is a directory");
      ::signal(SIGPIPE, SIG_IGN);  // FIFO or device: write in place
      f_ = std::fopen(target.c_str(), "wb");
      if (!f_) throw IoError(target + ": " + std::strerror(errno));
      own_ = true;
      direct_ = true;
      return;
    }
    for (int attempt = 0; attempt < 100; ++attempt) {
      temp_ = target + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_temp_counter++);
      const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0) {
        if (errno == EEXIST) continue;
        throw IoError(target + ": cannot create output: " + std::strerror(errno));
      }
      f_ = ::fdopen(fd, "wb");
      if (!f_) {
        ::close(fd);
        ::unlink(temp_.c_str());
        throw IoError(target + ": " + std::strerror(errno));
      }
      own_ = true;
      return;
    }
    throw IoError(target + ": cannot create a temporary file next to it");
  }
  ~OutputFile() { abandon(); }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* p, size_t n) {
    if (!f_) throw IoError(name_ + ": write after close");
    if (n && std::fwrite(p, 1, n, f_) != n) fail("write");
  }
  // Push buffered bytes out (used per frame on pipes so a closed reader is noticed early).
  void flush_if_direct() {
    if (direct_ && f_ && std::fflush(f_) != 0) fail("write");
  }
  void commit() {
    if (!f_) return;
    if (std::fflush(f_) != 0) fail("write");
    if (own_) {
      const int r = std::fclose(f_);
      f_ = nullptr;
      if (r != 0) fail("close");
    }
    f_ = nullptr;
    if (!temp_.empty()) {
      if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
        const int e = errno;
        ::unlink(temp_.c_str());
        temp_.clear();
        throw IoError(target_ + ": cannot rename the temporary onto it: " + std::strerror(e));
      }
      temp_.clear();
    }
  }
  void abandon() {
    if (f_ && own_) std::fclose(f_);
    f_ = nullptr;
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
  }
  const std::string& name() const { return name_; }

 private:
  [[noreturn]] void fail(const char* what) {
    const int e = errno;
    if (e == EPIPE) {
      if (f_ == stdout) std::clearerr(stdout);
      abandon();
      throw PipeClosed(name_ + ": output pipe closed by the reader");
    }
    abandon();
    throw IoError(name_ + ": " + what + " failed: " + std::strerror(e));
  }

  std::string target_, name_, temp_;
  FILE* f_ = nullptr;
  bool own_ = false, direct_ = false;
};

void check_frame(const std::string& name, const VideoFormat& fmt, const Frame& f) {
  if (!f.valid() || f.width != fmt.width || f.height != fmt.height)
    throw IoError(name + ": frame of " + std::to_string(f.width) + "x" + std::to_string(f.height) +
                  " does not match the output size " + std::to_string(fmt.width) + "x" + std::to_string(fmt.height));
}

void check_format(const std::string& path, const VideoFormat& fmt) {
  if (fmt.width <= 0 || fmt.height <= 0 || (fmt.width & 1) || (fmt.height & 1))
    throw IoError(path + ": output size must be even and positive, got " + std::to_string(fmt.width) + "x" +
                  std::to_string(fmt.height));
}

class RawWriter : public FrameWriter {
 public:
  RawWriter(const std::string& path, const VideoFormat& fmt, bool y4m) : out_(path), fmt_(fmt), y4m_(y4m) {
    if (y4m_) {
      const int fn = fmt.fps_num > 0 ? fmt.fps_num : 25, fd = fmt.fps_den > 0 ? fmt.fps_den : 1;
      const std::string h = "YUV4MPEG2 W" + std::to_string(fmt.width) + " H" + std::to_string(fmt.height) + " F" +
                            std::to_string(fn) + ":" + std::to_string(fd) +
                            " Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=" + (fmt.full_range ? "FULL" : "LIMITED") +
                            "\n";
      header_ = h;
    }
  }
  void write(const Frame& f) override {
    check_frame(out_.name(), fmt_, f);
    if (!header_.empty()) {
      out_.write(header_.data(), header_.size());
      header_.clear();
    }
    if (y4m_) out_.write("FRAME\n", 6);
    out_.write(f.y.data(), f.y.size());
    out_.write(f.u.data(), f.u.size());
    out_.write(f.v.data(), f.v.size());
    out_.flush_if_direct();
  }
  void close() override {
    if (!header_.empty()) {  // zero frames: still a valid y4m stream
      out_.write(header_.data(), header_.size());
      header_.clear();
    }
    out_.commit();
  }

 private:
  OutputFile out_;
  VideoFormat fmt_;
  bool y4m_;
  std::string header_;
};

class Md5Writer : public FrameWriter {
 public:
  Md5Writer(const std::string& path, const VideoFormat& fmt) : out_(path), fmt_(fmt) {}
  void write(const Frame& f) override {
    check_frame(out_.name(), fmt_, f);
    md5_.update(f.y.data(), f.y.size());
    md5_.update(f.u.data(), f.u.size());
    md5_.update(f.v.data(), f.v.size());
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    const std::string line = md5_.hex_digest() + "\n";
    out_.write(line.data(), line.size());
    out_.commit();
  }

 private:
  OutputFile out_;
  VideoFormat fmt_;
  Md5 md5_;
  bool closed_ = false;
};

class NullWriter : public FrameWriter {
 public:
  void write(const Frame&) override {}
  void close() override {}
};

class PngWriter : public FrameWriter {
 public:
  PngWriter(const std::string& dir, const VideoFormat& fmt) : dir_(dir), fmt_(fmt) {
    if (!have_ffmpeg()) throw IoError(dir + ": writing PNG needs FFmpeg support (build with FFmpeg)");
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (!std::filesystem::is_directory(dir_)) throw IoError(dir + ": cannot create directory" + (ec ? ": " + ec.message() : ""));
  }
  void write(const Frame& f) override {
    check_frame(dir_, fmt_, f);
    const auto rgb = frame_to_rgb8(f, fmt_.matrix, fmt_.full_range, false);
    const auto png = ffmpeg_encode_png(rgb.data(), f.width, f.height);
    char name[32];
    std::snprintf(name, sizeof name, "frame_%05lld.png", static_cast<long long>(index_++));
    OutputFile out(dir_ + "/" + name);
    out.write(png.data(), png.size());
    out.commit();
  }
  void close() override {}

 private:
  std::string dir_;
  VideoFormat fmt_;
  int64_t index_ = 0;
};

}  // namespace
}  // namespace detail

std::string resolve_muxer(const std::string& path, const std::string& muxer) {
  if (muxer != "auto") {
    if (muxer == "y4m" || muxer == "yuv" || muxer == "png" || muxer == "md5" || muxer == "null") return muxer;
    throw IoError(path + ": unknown muxer '" + muxer + "' (auto, y4m, yuv, png, md5, null)");
  }
  if (path == "-") return "y4m";
  if (path == "/dev/null") return "null";
  std::error_code ec;
  if (!path.empty() && (path.back() == '/' || std::filesystem::is_directory(path, ec))) return "png";
  const std::string e = detail::lower_ext(path);
  if (e.empty()) return "png";
  if (e == "y4m" || e == "yuv" || e == "md5") return e;
  throw IoError(path + ": cannot tell the output format from the extension '." + e +
                "' (use .y4m, .yuv, .md5, a directory for PNG frames, or '-' for stdout)");
}

std::unique_ptr<FrameWriter> open_writer(const std::string& path, const VideoFormat& fmt, const WriterOptions& opt) {
  using namespace detail;
  const std::string m = resolve_muxer(path, opt.muxer);
  if (m == "null") return std::make_unique<NullWriter>();
  check_format(path, fmt);
  if (m == "y4m") return std::make_unique<RawWriter>(path, fmt, true);
  if (m == "yuv") return std::make_unique<RawWriter>(path, fmt, false);
  if (m == "md5") return std::make_unique<Md5Writer>(path, fmt);
  if (path == "-") throw IoError("<stdout>: PNG frames cannot go to stdout (use y4m or yuv)");
  return std::make_unique<PngWriter>(path, fmt);
}

}  // namespace nvc::video
