// The command-line contract of nvenc and nvdec: exit codes 0 / 1 / 2, one clear error line, atomic outputs.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Result {
  int code;
  std::string output;  // stdout + stderr
};

Result run(const std::string& cmd) {
  Result r{-1, {}};
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

const std::string nvenc = NVENC_PATH;
const std::string nvdec = NVDEC_PATH;
const std::string clip = std::string(NVC_TEST_DATA_DIR) + "/vtest_192x144_10fps_30f.y4m";

fs::path workdir() {
  fs::path d = fs::temp_directory_path() / ("nvc_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// One small encode shared by the tests below (a few seconds on a CPU).
const fs::path& encoded() {
  static fs::path out;
  if (out.empty()) {
    out = workdir() / "small.nvc";
    const Result r = run(nvenc + " " + clip + " -o " + out.string() + " --bpp 0.3 --frames 6 --epochs 2 --preset fast"
                         " --device cpu --no-progress --stats " + (workdir() / "small.json").string());
    INFO(r.output);
    REQUIRE(r.code == 0);
  }
  return out;
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST_CASE("usage errors exit 2", "[cli]") {
  CHECK(run(nvenc).code == 2);
  CHECK(run(nvenc + " in.y4m").code == 2);                        // no -o / --bpp
  CHECK(run(nvenc + " in.y4m -o x.nvc --bpp -1").code == 2);      // out of range
  CHECK(run(nvenc + " in.y4m -o x.nvc --bpp 0.1 --preset warp").code == 2);
  CHECK(run(nvenc + " in.y4m -o x.nvc --bpp 0.1 --no-such-flag").code == 2);
  CHECK(run(nvenc + " in.y4m -o x.nvc --bpp 0.1 --stages prune,foo").code == 2);  // unknown stage
  CHECK(run(nvenc + " in.y4m -o x.nvc --bpp 0.1 --prune 1.5").code == 2);
  CHECK(run(nvenc + " in.y4m -o x.nvc --bpp 0.1 --lambda -1").code == 2);
  CHECK(run(nvdec).code == 2);
  CHECK(run(nvdec + " a.nvc").code == 2);                         // nothing to do
  CHECK(run(nvdec + " a.nvc -o x.y4m --muxer avi").code == 2);
  const Result r = run(nvenc + " in.y4m -o x.nvc --bpp 0.1 --input-res 12by5");
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Catch::Contains("WxH"));
  CHECK(run(nvenc + " --help").code == 0);
}

TEST_CASE("missing or corrupt input exits 1 with one clear line", "[cli]") {
  const fs::path d = workdir();
  Result r = run(nvenc + " " + (d / "missing.y4m").string() + " -o " + (d / "x.nvc").string() + " --bpp 0.1");
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("missing.y4m"));
  CHECK(count_lines(r.output) == 1);
  CHECK_FALSE(fs::exists(d / "x.nvc"));

  r = run(nvdec + " " + (d / "missing.nvc").string() + " -o " + (d / "x.y4m").string());
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("missing.nvc"));

  // Not an .nvc file at all.
  { std::ofstream(d / "text.nvc") << "hello, world\n"; }
  r = run(nvdec + " " + (d / "text.nvc").string() + " -o " + (d / "x.y4m").string());
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("text.nvc"));
  CHECK(count_lines(r.output) == 1);
  CHECK_FALSE(fs::exists(d / "x.y4m"));

  // A real file cut short and one with a flipped bit.
  std::ifstream in(encoded(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  { std::ofstream(d / "cut.nvc", std::ios::binary) << bytes.substr(0, bytes.size() / 2); }
  r = run(nvdec + " " + (d / "cut.nvc").string() + " -o " + (d / "cut.y4m").string());
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("cut.nvc"));
  CHECK(count_lines(r.output) == 1);
  CHECK_FALSE(fs::exists(d / "cut.y4m"));
  std::string flipped = bytes;
  flipped[flipped.size() / 3] = char(flipped[flipped.size() / 3] ^ 0x10);
  { std::ofstream(d / "flip.nvc", std::ios::binary) << flipped; }
  r = run(nvdec + " " + (d / "flip.nvc").string() + " -o " + (d / "flip.y4m").string());
  CHECK(r.code == 1);
  CHECK(count_lines(r.output) == 1);
}

TEST_CASE("nvdec decodes, reports and plays through a pipe", "[cli]") {
  const fs::path d = workdir();
  const fs::path nvc = encoded();
  Result r = run(nvdec + " " + nvc.string() + " -o " + (d / "out.y4m").string() + " --ref " + clip + " --quiet");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Catch::Contains("PSNR-YUV"));
  CHECK(fs::file_size(d / "out.y4m") > 6u * 192 * 144 * 3 / 2);

  r = run(nvdec + " " + nvc.string() + " --info --json");
  REQUIRE(r.code == 0);
  for (const char* key : {"\"bytes\"", "\"bpp\"", "\"components\"", "\"decoder\"", "\"grids\"", "\"embeddings\"",
                          "\"headers\""})
    CHECK_THAT(r.output, Catch::Contains(key));

  // The player quits after the header and a bit: a closed pipe is a normal end.
  r = run("bash -c '" + nvdec + " " + nvc.string() + " -o - | head -c 100 > /dev/null; exit ${PIPESTATUS[0]}'");
  CHECK(r.code == 0);

  // PNG directory.
  r = run(nvdec + " " + nvc.string() + " -o " + (d / "png").string() + "/ --frames 2 --quiet");
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(fs::exists(d / "png" / "frame_00000.png"));
  CHECK(fs::exists(d / "png" / "frame_00001.png"));
}

TEST_CASE("nvenc writes stats JSON and never leaves a partial output", "[cli]") {
  encoded();
  std::ifstream in(workdir() / "small.json");
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key : {"\"bytes\"", "\"bpp\"", "\"psnr_yuv\"", "\"psnr_rgb\"", "\"ms_ssim\"", "\"seconds\""})
    CHECK_THAT(json, Catch::Contains(key));
  for (const auto& e : fs::directory_iterator(workdir()))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("Ctrl-C finishes a complete file and an abort leaves nothing", "[cli]") {
  const fs::path d = workdir() / "sigint";
  fs::create_directories(d);
  const std::string base = nvenc + " " + clip + " --bpp 0.3 --frames 6 --epochs 100000 --preset fast --device cpu"
                                                " --no-progress -o ";
  // The signal goes in once nvenc says it is fitting (its handlers are installed before it reads anything): a fixed
  // delay could land before that on a loaded machine, where a background job ignores SIGINT and would run on.
  auto interrupt = [&](const fs::path& out, const char* signal) {
    const std::string log = (d / (out.filename().string() + ".log")).string();
    return run("bash -c '" + base + out.string() + " 2>" + log + " & pid=$!; for i in $(seq 1200); do grep -q " +
               "\"fitting on\" " + log + " && break; sleep 0.1; done; sleep 1; kill -" + signal +
               " $pid; wait $pid; rc=$?; cat " + log + "; exit $rc'");
  };
  // Once: fitting stops early, the file is written and decodes.
  Result r = interrupt(d / "once.nvc", "INT");
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK_THAT(r.output, Catch::Contains("interrupted"));
  REQUIRE(fs::exists(d / "once.nvc"));
  CHECK(run(nvdec + " " + (d / "once.nvc").string() + " -o /dev/null --quiet").code == 0);

  // Abort (a second Ctrl-C, or SIGTERM; two Ctrl-C sent back to back may merge into one signal, so the test uses
  // SIGTERM): exit 1, no output and no temporary left behind.
  r = interrupt(d / "twice.nvc", "TERM");
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK_FALSE(fs::exists(d / "twice.nvc"));
  for (const auto& e : fs::directory_iterator(d)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  CHECK_FALSE(fs::exists(d / "once.nvc.tmp"));
}

TEST_CASE("nvenc --model nvp encodes to the budget and nvdec decodes the NVP stream", "[cli][nvp]") {
  const fs::path out = workdir() / "nvp.nvc", decoded = workdir() / "nvp.y4m", stats = workdir() / "nvp.json";
  const Result e = run(nvenc + " " + clip + " -o " + out.string() + " --model nvp --bpp 0.3 --frames 8 --epochs 2"
                       " --preset fast --device cpu --no-progress --stats " + stats.string());
  INFO(e.output);
  REQUIRE(e.code == 0);
  // 0.3 bpp of 8 frames of 192x144: the whole file within [0.95, 1.0] of the budget.
  const double budget = 0.3 * 192 * 144 * 8 / 8.0;
  CHECK(double(fs::file_size(out)) <= budget);
  CHECK(double(fs::file_size(out)) >= 0.95 * budget);
  std::ifstream sj(stats);
  const std::string json((std::istreambuf_iterator<char>(sj)), {});
  CHECK(json.find("\"model\": \"nvp\"") != std::string::npos);
  const Result info = run(nvdec + " " + out.string() + " --info --json");
  CHECK(info.code == 0);
  CHECK(info.output.find("\"model\": \"nvp\"") != std::string::npos);
  const Result d = run(nvdec + " " + out.string() + " -o " + decoded.string() + " --ref " + clip + " --frames 8");
  INFO(d.output);
  REQUIRE(d.code == 0);
  CHECK(d.output.find("(8 frames)") != std::string::npos);
  // Two passes over the pixels learn the clip's colours and layout, far from the grey of an untrained model.
  const auto at = d.output.find("PSNR-YUV ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(d.output.substr(at + 9)) > 20.0);
  // NVP configuration names belong to --model nvp, T-NeRV's to tnerv.
  CHECK(run(nvenc + " " + clip + " -o " + out.string() + " --config nvp-s --bpp 0.3").code == 2);
  CHECK(run(nvenc + " " + clip + " -o " + out.string() + " --model nvp --config 3.0m --bpp 0.3").code == 2);
  // So do --grid-coding and --fit-seconds; --fit-seconds replaces --epochs.
  const Result gc = run(nvenc + " " + clip + " -o " + out.string() + " --grid-coding pictures --bpp 0.3");
  CHECK(gc.code == 2);
  CHECK(gc.output.find("--grid-coding is an NVP option") != std::string::npos);
  CHECK(run(nvenc + " " + clip + " -o " + out.string() + " --model nvp --grid-coding jpeg --bpp 0.3").code == 2);
  CHECK(run(nvenc + " " + clip + " -o " + out.string() + " --fit-seconds 5 --bpp 0.3").code == 2);
  CHECK(run(nvenc + " " + clip + " -o " + out.string() + " --model nvp --fit-seconds 5 --epochs 2 --bpp 0.3").code == 2);
  CHECK(json.find("\"grid_coding\": \"cabac\"") != std::string::npos);  // the default
}
