// nvc_video readers and writers.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>

#include "codec/video/md5.h"
#include "codec/video/video_io.h"
#include "test_util.h"

using namespace nvc::video;
using namespace nvc_video_test;

namespace {

std::string y4m_bytes(const std::string& header, const std::vector<Frame>& frames, const std::string& frame_params = "") {
  std::string s = header + "\n";
  for (const auto& f : frames) s += "FRAME" + frame_params + "\n" + planes(f);
  return s;
}

bool has_note(const VideoFormat& f, const std::string& needle) {
  for (const auto& n : f.notes)
    if (n.find(needle) != std::string::npos) return true;
  return false;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("y4m: header variants", "[video][y4m]") {
  TempDir tmp;
  const std::vector<Frame> frames = {synthetic_frame(16, 8, 1), synthetic_frame(16, 8, 2), synthetic_frame(16, 8, 3)};
  struct Case {
    std::string header, params;
    int fps_num, fps_den;
    bool full;
  };
  const std::vector<Case> cases = {
      {"YUV4MPEG2 W16 H8 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG", "", 25, 1, false},
      {"YUV4MPEG2 W16 H8 F30000:1001 Ip A0:0 C420mpeg2 XCOLORRANGE=FULL", "", 30000, 1001, true},
      {"YUV4MPEG2 W16 H8 F24:1 Ip C420paldv XCOLORRANGE=LIMITED", "", 24, 1, false},
      {"YUV4MPEG2 W16 H8 F10:1 C420", "", 10, 1, false},
      {"YUV4MPEG2 W16 H8 F50:1", "", 50, 1, false},  // no C tag = 4:2:0
      {"YUV4MPEG2 C420jpeg XFOO=bar F60:1 A1:1 H8 I? W16 XCOLORRANGE=FULL", " Ip XFRAMETAG=1", 60, 1, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    INFO(c.header);
    const std::string path = tmp / ("v" + std::to_string(i) + ".y4m");
    write_bytes(path, y4m_bytes(c.header, frames, c.params));
    VideoFormat fmt;
    const auto got = read_all(path, ReaderOptions{}, &fmt);
    CHECK(fmt.width == 16);
    CHECK(fmt.height == 8);
    CHECK(fmt.fps_num == c.fps_num);
    CHECK(fmt.fps_den == c.fps_den);
    CHECK(fmt.full_range == c.full);
    CHECK(fmt.matrix == 6);  // BT.601 default for < 720 rows
    REQUIRE(got.size() == frames.size());
    for (size_t k = 0; k < frames.size(); ++k) CHECK(got[k] == frames[k]);
    if (c.params.empty()) {  // frame count known from the file size
      auto r = open_reader(path, ReaderOptions{});
      CHECK(r->format().frame_count == 3);
    }
  }
}

TEST_CASE("y4m: the real clip's header", "[video][y4m][data]") {
  if (!have_data()) {
    WARN("test data not found in " << data_dir() << "; skipped");
    return;
  }
  auto r = open_reader(clip("vtest_192x144_10fps_30f.y4m"), ReaderOptions{});
  CHECK(r->format().width == 192);
  CHECK(r->format().height == 144);
  CHECK(r->format().fps_num == 10);
  CHECK(r->format().fps_den == 1);
  CHECK(r->format().frame_count == 30);
  CHECK_FALSE(r->format().full_range);
  int n = 0;
  Frame f;
  while (r->read(f)) ++n;
  CHECK(n == 30);
}

TEST_CASE("y4m: odd size is cropped to even with a note", "[video][y4m]") {
  TempDir tmp;
  const int w = 17, h = 9, cw = 9, ch = 5;
  std::string pic;
  for (int i = 0; i < w * h; ++i) pic += char(i & 255);
  for (int i = 0; i < cw * ch; ++i) pic += char(100 + i);
  for (int i = 0; i < cw * ch; ++i) pic += char(200 - i);
  write_bytes(tmp / "odd.y4m", "YUV4MPEG2 W17 H9 F25:1 Ip C420jpeg\nFRAME\n" + pic);
  VideoFormat fmt;
  const auto frames = read_all(tmp / "odd.y4m", ReaderOptions{}, &fmt);
  REQUIRE(frames.size() == 1);
  CHECK(fmt.width == 16);
  CHECK(fmt.height == 8);
  CHECK(has_note(fmt, "cropped 17x9 to 16x8"));
  const Frame& f = frames[0];
  CHECK(f.y[0] == 0);
  CHECK(f.y[16] == uint8_t(17));  // second row starts after 17 source columns
  CHECK(f.u[8] == uint8_t(100 + 9));
  CHECK(f.v[8] == uint8_t(200 - 9));
}

TEST_CASE("y4m: refusals and truncation", "[video][y4m]") {
  TempDir tmp;
  const Frame f = synthetic_frame(16, 8, 4);
  write_bytes(tmp / "it.y4m", y4m_bytes("YUV4MPEG2 W16 H8 F25:1 It C420jpeg", {f}));
  CHECK_THAT(error_of([&] { open_reader(tmp / "it.y4m", {}); }), Catch::Contains("interlaced y4m is not supported"));
  write_bytes(tmp / "ib.y4m", y4m_bytes("YUV4MPEG2 W16 H8 F25:1 Ib", {f}));
  CHECK_THAT(error_of([&] { open_reader(tmp / "ib.y4m", {}); }), Catch::Contains("yadif"));

  write_bytes(tmp / "garbage.y4m", "GIF89a this is not a y4m file\n");
  const std::string e = error_of([&] { open_reader(tmp / "garbage.y4m", {}); });
  CHECK_THAT(e, Catch::Contains("garbage.y4m") && Catch::Contains("not a y4m"));
  write_bytes(tmp / "nosize.y4m", "YUV4MPEG2 F25:1\nFRAME\n");
  CHECK_THAT(error_of([&] { open_reader(tmp / "nosize.y4m", {}); }), Catch::Contains("W/H"));
  write_bytes(tmp / "badmark.y4m", "YUV4MPEG2 W16 H8\nFRAMX\n" + planes(f));
  CHECK_THAT(error_of([&] { read_all(tmp / "badmark.y4m", {}, nullptr); }), Catch::Contains("frame marker"));
  CHECK_THAT(error_of([&] { open_reader(tmp / "missing.y4m", {}); }),
             Catch::Contains("missing.y4m") && Catch::Contains("No such file"));

  // Two whole frames and half of a third: two frames and a note.
  std::string bytes = y4m_bytes("YUV4MPEG2 W16 H8 F25:1", {f, f, f});
  bytes.resize(bytes.size() - 100);
  write_bytes(tmp / "trunc.y4m", bytes);
  auto r = open_reader(tmp / "trunc.y4m", {});
  CHECK(r->format().frame_count == -1);
  Frame g;
  int n = 0;
  while (r->read(g)) ++n;
  CHECK(n == 2);
  CHECK(has_note(r->format(), "truncated"));
}

TEST_CASE("y4m: seek and max_frames", "[video][y4m]") {
  TempDir tmp;
  std::vector<Frame> frames;
  for (int i = 0; i < 6; ++i) frames.push_back(synthetic_frame(16, 8, i));
  write_bytes(tmp / "s.y4m", y4m_bytes("YUV4MPEG2 W16 H8 F25:1", frames));
  ReaderOptions o;
  o.seek = 2;
  o.max_frames = 3;
  VideoFormat fmt;
  auto got = read_all(tmp / "s.y4m", o, &fmt);
  REQUIRE(got.size() == 3);
  CHECK(got[0] == frames[2]);
  CHECK(got[2] == frames[4]);
  CHECK(open_reader(tmp / "s.y4m", o)->format().frame_count == 3);
  o.seek = 10;
  o.max_frames = -1;
  CHECK(read_all(tmp / "s.y4m", o, nullptr).empty());
  o.seek = 0;
  o.fps_num = 30000;
  o.fps_den = 1001;
  CHECK(open_reader(tmp / "s.y4m", o)->format().fps_num == 30000);
}

TEST_CASE("y4m: other chroma formats and bit depths", "[video][y4m]") {
  TempDir tmp;
  const int w = 16, h = 8;
  std::string c422 = "YUV4MPEG2 W16 H8 F25:1 C422\nFRAME\n" + std::string(w * h, char(90)) +
                     std::string(w / 2 * h, char(60)) + std::string(w / 2 * h, char(200));
  write_bytes(tmp / "c422.y4m", c422);
  std::string p10 = "YUV4MPEG2 W16 H8 F25:1 C420p10 XCOLORRANGE=LIMITED\nFRAME\n";
  for (int i = 0; i < w * h; ++i) p10 += std::string("\x00\x02", 2);         // 512 -> 128
  for (int i = 0; i < w * h / 2; ++i) p10 += std::string("\x00\x01", 2);    // 256 -> 64
  write_bytes(tmp / "p10.y4m", p10);
  if (!have_ffmpeg()) {
    CHECK_THAT(error_of([&] { open_reader(tmp / "c422.y4m", {}); }), Catch::Contains("needs FFmpeg"));
    return;
  }
  VideoFormat fmt;
  auto a = read_all(tmp / "c422.y4m", {}, &fmt);
  REQUIRE(a.size() == 1);
  CHECK(has_note(fmt, "converted yuv422p"));
  CHECK(a[0].y == std::vector<uint8_t>(w * h, 90));
  CHECK(a[0].u == std::vector<uint8_t>(w * h / 4, 60));
  CHECK(a[0].v == std::vector<uint8_t>(w * h / 4, 200));
  auto b = read_all(tmp / "p10.y4m", {}, &fmt);
  REQUIRE(b.size() == 1);
  CHECK(b[0].y == std::vector<uint8_t>(w * h, 128));
  CHECK(b[0].u == std::vector<uint8_t>(w * h / 4, 64));
}

TEST_CASE("raw yuv: round trip, size from name or option, errors", "[video][yuv]") {
  TempDir tmp;
  VideoFormat fmt;
  fmt.width = 32;
  fmt.height = 16;
  std::vector<Frame> frames;
  for (int i = 0; i < 4; ++i) frames.push_back(synthetic_frame(32, 16, i));
  for (const std::string name : {"plain.yuv", "clip_32x16.yuv"}) {
    auto w = open_writer(tmp / name, fmt, {});
    for (const auto& f : frames) w->write(f);
    w->close();
  }
  CHECK(fs::file_size(tmp / "plain.yuv") == 4 * (32 * 16 * 3 / 2));

  ReaderOptions o;
  CHECK_THAT(error_of([&] { open_reader(tmp / "plain.yuv", o); }),
             Catch::Contains("plain.yuv") && Catch::Contains("raw YUV needs --input-res WxH"));
  o.input_width = 32;
  o.input_height = 16;
  VideoFormat got_fmt;
  auto got = read_all(tmp / "plain.yuv", o, &got_fmt);
  REQUIRE(got.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(got[i] == frames[i]);
  CHECK(got_fmt.fps_num == 25);
  CHECK(got_fmt.fps_den == 1);

  auto r = open_reader(tmp / "clip_32x16.yuv", ReaderOptions{});
  CHECK(r->format().width == 32);
  CHECK(r->format().height == 16);
  CHECK(r->format().frame_count == 4);

  ReaderOptions s;
  s.seek = 1;
  s.max_frames = 2;
  s.fps_num = 30;
  VideoFormat sf;
  got = read_all(tmp / "clip_32x16.yuv", s, &sf);
  REQUIRE(got.size() == 2);
  CHECK(got[0] == frames[1]);
  CHECK(got[1] == frames[2]);
  CHECK(sf.fps_num == 30);
  CHECK(sf.fps_den == 1);

  // A partial tail frame is dropped with a note.
  write_bytes(tmp / "tail_32x16.yuv", read_bytes(tmp / "plain.yuv") + std::string(100, 'x'));
  auto t = open_reader(tmp / "tail_32x16.yuv", {});
  CHECK(t->format().frame_count == 4);
  CHECK(has_note(t->format(), "partial last frame"));
  got = read_all(tmp / "tail_32x16.yuv", {}, nullptr);
  CHECK(got.size() == 4);
}

TEST_CASE("FFmpeg ingestion of the real clips", "[video][ffmpeg][data]") {
  if (!have_data()) {
    WARN("test data not found in " << data_dir() << "; skipped");
    return;
  }
  if (!have_ffmpeg()) {
    CHECK_THAT(error_of([&] { open_reader(clip("lego.mp4"), {}); }),
               Catch::Contains("lego.mp4: reading .mp4 needs FFmpeg support"));
    return;
  }
  struct Clip {
    const char* name;
    int w, h, fps_num, fps_den;
    int64_t count;
    const char* note;
  };
  const Clip clips[] = {
      {"vtest_192x144_10fps_30f.y4m", 192, 144, 10, 1, -1, nullptr},  // libavformat's y4m has no frame count
      {"lego.mp4", 560, 320, 30, 1, 166, nullptr},
      {"tears_of_steel.mp4", 640, 360, 24, 1, 240, nullptr},
      {"cityCC0.mpg", 720, 404, 25, 1, -1, "cropped 720x405 to 720x404"},
      {"vtest.avi", 768, 576, 10, 1, 795, nullptr},
  };
  for (const auto& c : clips) {
    INFO(c.name);
    ReaderOptions o;
    o.format = "ffmpeg";  // also for the y4m: exercises libavformat
    o.max_frames = 3;
    auto r = open_reader(clip(c.name), o);
    const VideoFormat& f = r->format();
    CHECK(f.width == c.w);
    CHECK(f.height == c.h);
    CHECK(f.fps_num == c.fps_num);
    CHECK(f.fps_den == c.fps_den);
    CHECK(f.frame_count == (c.count < 0 ? -1 : std::min<int64_t>(3, c.count)));
    CHECK(f.matrix == (std::string(c.name) == "lego.mp4" ? 1 : 6));
    if (c.note) CHECK(has_note(f, c.note));
    int n = 0;
    Frame fr;
    while (r->read(fr)) {
      CHECK(fr.width == c.w);
      CHECK(fr.height == c.h);
      CHECK(fr.valid());
      ++n;
    }
    CHECK(n == 3);
  }
  // Auto-detection picks FFmpeg for containers.
  auto a = open_reader(clip("lego.mp4"), ReaderOptions{});
  CHECK(a->format().width == 560);
}

TEST_CASE("FFmpeg reader: decodes the y4m exactly like the y4m reader; seek", "[video][ffmpeg][data]") {
  if (!have_data() || !have_ffmpeg()) {
    WARN("test data or FFmpeg absent; skipped");
    return;
  }
  ReaderOptions o;
  o.max_frames = 6;
  const auto native = read_all(clip("vtest_192x144_10fps_30f.y4m"), o, nullptr);
  o.format = "ffmpeg";
  const auto viaff = read_all(clip("vtest_192x144_10fps_30f.y4m"), o, nullptr);
  REQUIRE(native.size() == 6);
  REQUIRE(viaff.size() == 6);
  for (size_t i = 0; i < 6; ++i) CHECK(native[i] == viaff[i]);

  ReaderOptions a;
  a.max_frames = 5;
  const auto head = read_all(clip("lego.mp4"), a, nullptr);
  ReaderOptions b;
  b.seek = 2;
  b.max_frames = 2;
  const auto part = read_all(clip("lego.mp4"), b, nullptr);
  REQUIRE(head.size() == 5);
  REQUIRE(part.size() == 2);
  CHECK(part[0] == head[2]);
  CHECK(part[1] == head[3]);

  CHECK_THAT(error_of([&] { open_reader(clip("licenses"), a); }), Catch::Contains("licenses"));
  TempDir tmp;
  write_bytes(tmp / "junk.mp4", std::string(1000, 'q'));
  CHECK_THAT(error_of([&] { open_reader(tmp / "junk.mp4", a); }), Catch::Contains("junk.mp4: "));
  CHECK_THAT(error_of([&] { open_reader(tmp / "absent.mkv", a); }), Catch::Contains("absent.mkv: "));
}

TEST_CASE("writers: y4m and yuv round trips are bit-exact", "[video][writer]") {
  TempDir tmp;
  VideoFormat fmt;
  auto frames = sample_frames(5, &fmt);
  fmt.full_range = true;
  fmt.fps_num = 30000;
  fmt.fps_den = 1001;
  {
    auto w = open_writer(tmp / "out.y4m", fmt, {});
    for (const auto& f : frames) w->write(f);
    w->close();
    w->close();  // idempotent
  }
  VideoFormat back;
  auto got = read_all(tmp / "out.y4m", {}, &back);
  REQUIRE(got.size() == frames.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == frames[i]);
  CHECK(back.full_range);
  CHECK(back.fps_num == 30000);
  CHECK(back.fps_den == 1001);

  WriterOptions yo;
  yo.muxer = "yuv";
  {
    auto w = open_writer(tmp / "raw.bin", fmt, yo);
    for (const auto& f : frames) w->write(f);
    w->close();
  }
  ReaderOptions ro;
  ro.format = "yuv";
  ro.input_width = fmt.width;
  ro.input_height = fmt.height;
  got = read_all(tmp / "raw.bin", ro, nullptr);
  REQUIRE(got.size() == frames.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == frames[i]);

  // Wrong frame size is refused.
  auto w = open_writer(tmp / "bad.y4m", fmt, {});
  CHECK_THROWS_AS(w->write(synthetic_frame(8, 8, 0)), IoError);
}

TEST_CASE("writers: destroyed without close leaves nothing behind", "[video][writer]") {
  TempDir tmp;
  VideoFormat fmt;
  auto frames = sample_frames(2, &fmt);
  for (const std::string name : {"a.y4m", "b.yuv", "c.md5"}) {
    auto w = open_writer(tmp / name, fmt, {});
    w->write(frames[0]);
    w->write(frames[1]);
    w.reset();
  }
  CHECK(fs::is_empty(tmp.path));
  // An existing file is only replaced when close() succeeds.
  write_bytes(tmp / "keep.y4m", "old");
  {
    auto w = open_writer(tmp / "keep.y4m", fmt, {});
    w->write(frames[0]);
  }
  CHECK(read_bytes(tmp / "keep.y4m") == "old");
}

TEST_CASE("writers: md5 over all planes, stable, equals md5 of the raw yuv", "[video][writer][md5]") {
  Md5 e;
  CHECK(e.hex_digest() == "d41d8cd98f00b204e9800998ecf8427e");
  Md5 abc;
  abc.update("abc", 3);
  CHECK(abc.hex_digest() == "900150983cd24fb0d6963f7d28e17f72");
  Md5 longer;
  const std::string digits = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  for (char c : digits) longer.update(&c, 1);
  CHECK(longer.hex_digest() == "57edf4a22be3c955ac49da2e2107b67a");

  TempDir tmp;
  VideoFormat fmt;
  auto frames = sample_frames(4, &fmt);
  for (const std::string name : {"one.md5", "two.md5", "raw.yuv"}) {
    auto w = open_writer(tmp / name, fmt, {});
    for (const auto& f : frames) w->write(f);
    w->close();
  }
  const std::string m = read_bytes(tmp / "one.md5");
  CHECK(m.size() == 33);
  CHECK(m == read_bytes(tmp / "two.md5"));
  Md5 raw;
  const std::string bytes = read_bytes(tmp / "raw.yuv");
  raw.update(bytes.data(), bytes.size());
  CHECK(m == raw.hex_digest() + "\n");
}

TEST_CASE("writers: muxer resolution, null", "[video][writer]") {
  TempDir tmp;
  CHECK(resolve_muxer("-", "auto") == "y4m");
  CHECK(resolve_muxer("-", "yuv") == "yuv");
  CHECK(resolve_muxer("a/b.Y4M", "auto") == "y4m");
  CHECK(resolve_muxer("x.yuv", "auto") == "yuv");
  CHECK(resolve_muxer("x.md5", "auto") == "md5");
  CHECK(resolve_muxer("/dev/null", "auto") == "null");
  CHECK(resolve_muxer("frames/", "auto") == "png");
  CHECK(resolve_muxer("frames", "auto") == "png");
  CHECK(resolve_muxer(tmp.path.string(), "auto") == "png");
  CHECK(resolve_muxer("dir.d/frames", "auto") == "png");
  CHECK_THROWS_AS(resolve_muxer("x.mp4", "auto"), IoError);
  CHECK_THROWS_AS(resolve_muxer("x.y4m", "avi"), IoError);
  VideoFormat fmt;
  auto frames = sample_frames(1, &fmt);
  auto w = open_writer("/dev/null", fmt, {});
  w->write(frames[0]);
  w->close();
}

TEST_CASE("writers: closed pipe raises PipeClosed", "[video][writer]") {
  TempDir tmp;
  const std::string fifo = tmp / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(rfd >= 0);
  VideoFormat fmt;
  fmt.width = 16;
  fmt.height = 8;
  WriterOptions o;
  o.muxer = "y4m";
  auto w = open_writer(fifo, fmt, o);
  ::close(rfd);
  CHECK_THROWS_AS(w->write(synthetic_frame(16, 8, 0)), PipeClosed);
}

TEST_CASE("writers: PNG directory equals frame_to_rgb8", "[video][writer][png]") {
  TempDir tmp;
  VideoFormat fmt;
  auto frames = sample_frames(3, &fmt);
  if (!have_ffmpeg()) {
    CHECK_THROWS_AS(open_writer(tmp / "frames/", fmt, {}), IoError);
    return;
  }
  for (bool full : {false, true}) {
    fmt.full_range = full;
    fmt.matrix = full ? 1 : 6;
    const std::string dir = tmp / (full ? "full/" : "limited");
    auto w = open_writer(dir, fmt, {});
    for (const auto& f : frames) w->write(f);
    w->close();
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      (void)e;
      ++files;
    }
    CHECK(files == frames.size());  // no temporaries left
    for (size_t i = 0; i < frames.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "/frame_%05zu.png", i);
      int pw = 0, ph = 0;
      const auto rgb = read_image_rgb24(dir + name, &pw, &ph);
      CHECK(pw == fmt.width);
      CHECK(ph == fmt.height);
      CHECK(rgb == frame_to_rgb8(frames[i], fmt.matrix, fmt.full_range, false));
    }
  }
}

namespace {

// Runs fn in a child process with stdin (and optionally stdout) redirected; fn's return value is the exit code.
int run_child(int stdin_fd, int stdout_fd, const std::function<int()>& fn) {
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
    if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
    int rc = 99;
    try {
      rc = fn();
    } catch (...) {
      rc = 98;
    }
    std::fflush(stdout);
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 97;
}

// stdin as a pipe fed by a separate process.
int run_child_with_pipe(const std::string& data, const std::function<int()>& fn) {
  int p[2];
  if (::pipe(p) != 0) return 96;
  std::fflush(stdout);
  const pid_t feeder = ::fork();
  if (feeder == 0) {
    ::close(p[0]);
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t w = ::write(p[1], data.data() + off, data.size() - off);
      if (w <= 0) break;
      off += size_t(w);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  const int rc = run_child(p[0], -1, fn);
  ::close(p[0]);
  int st = 0;
  ::waitpid(feeder, &st, 0);
  return rc;
}

}  // namespace

TEST_CASE("stdin and stdout", "[video][stdio]") {
  TempDir tmp;
  std::vector<Frame> frames;
  for (int i = 0; i < 5; ++i) frames.push_back(synthetic_frame(16, 8, i));
  const std::string y4m = y4m_bytes("YUV4MPEG2 W16 H8 F12:1 Ip C420jpeg", frames);
  std::string raw;
  for (const auto& f : frames) raw += planes(f);
  write_bytes(tmp / "in.y4m", y4m);
  write_bytes(tmp / "in.raw", raw);

  auto expect = [&](const ReaderOptions& o, size_t first, size_t n, int fps) {
    return [=]() {
      VideoFormat fmt;
      const auto got = read_all("-", o, &fmt);
      if (got.size() != n || fmt.fps_num != fps) return 1;
      for (size_t i = 0; i < n; ++i)
        if (got[i] != frames[first + i]) return 2;
      return 0;
    };
  };
  ReaderOptions plain;
  ReaderOptions sized;
  sized.input_width = 16;
  sized.input_height = 8;
  ReaderOptions sought = sized;
  sought.seek = 2;
  ReaderOptions y4m_seek;
  y4m_seek.seek = 1;
  y4m_seek.max_frames = 3;

  const int fd_y4m = ::open((tmp / "in.y4m").c_str(), O_RDONLY);
  CHECK(run_child(fd_y4m, -1, expect(plain, 0, 5, 12)) == 0);
  ::close(fd_y4m);
  const int fd_raw = ::open((tmp / "in.raw").c_str(), O_RDONLY);
  CHECK(run_child(fd_raw, -1, expect(sized, 0, 5, 25)) == 0);
  ::close(fd_raw);
  CHECK(run_child_with_pipe(y4m, expect(y4m_seek, 1, 3, 12)) == 0);
  CHECK(run_child_with_pipe(raw, expect(sought, 2, 3, 25)) == 0);
  CHECK(run_child_with_pipe(raw + "abc", expect(sized, 0, 5, 25)) == 0);  // partial tail dropped
  CHECK(run_child_with_pipe(raw, [] {
          try {
            open_reader("-", ReaderOptions{});
          } catch (const IoError& e) {
            return std::string(e.what()).find("--input-res") != std::string::npos ? 0 : 1;
          }
          return 2;
        }) == 0);

  // y4m (and raw yuv) on stdout.
  VideoFormat fmt;
  fmt.width = 16;
  fmt.height = 8;
  fmt.fps_num = 12;
  for (const std::string mux : {"auto", "yuv"}) {
    const std::string out = tmp / ("stdout_" + mux);
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(run_child(-1, fd, [&] {
            WriterOptions o;
            o.muxer = mux;
            auto w = open_writer("-", fmt, o);
            for (const auto& f : frames) w->write(f);
            w->close();
            return 0;
          }) == 0);
    ::close(fd);
    CHECK(read_bytes(out) == (mux == "yuv" ? raw : y4m_bytes("YUV4MPEG2 W16 H8 F12:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=LIMITED", frames)));
  }
}

TEST_CASE("FFmpeg reader matches the ffmpeg CLI's decode (also the odd-height crop)", "[video][ffmpeg][data]") {
  if (!have_data() || !have_ffmpeg() || std::system("ffmpeg -hide_banner -version >/dev/null 2>&1") != 0) {
    WARN("test data, FFmpeg or the ffmpeg CLI absent; skipped");
    return;
  }
  TempDir tmp;
  for (const std::string name : {"tears_of_steel.mp4", "cityCC0.mpg"}) {
    INFO(name);
    const std::string out = tmp / (name + ".y4m");
    const std::string cmd = "ffmpeg -hide_banner -loglevel error -i '" + clip(name) +
                            "' -frames:v 3 -pix_fmt yuv420p -f yuv4mpegpipe '" + out + "' >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    VideoFormat cli_fmt;
    const auto cli = read_all(out, ReaderOptions{}, &cli_fmt);  // our y4m reader (crops 405 -> 404 itself)
    ReaderOptions o;
    o.max_frames = 3;
    const auto ours = read_all(clip(name), o, nullptr);
    REQUIRE(cli.size() == 3);
    REQUIRE(ours.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(cli[i] == ours[i]);
  }
}
