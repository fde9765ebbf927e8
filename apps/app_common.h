// Small pieces both front-ends share: exit codes, signals, atomic file output, progress line, JSON, argument parsing.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace nvc::app {

enum ExitCode { kOk = 0, kRuntimeError = 1, kUsageError = 2 };

// Ctrl-C: the first one asks the work to stop cleanly (stop_requested), the second to abort (abort_requested),
// the third kills the process. SIGTERM asks to abort at once.
void install_interrupt_handlers();
bool stop_requested();
bool abort_requested();

// CLI11 parse failure -> message on stderr, exit code (0 for --help/--version, 2 otherwise).
int handle_parse_error(const CLI::App& app, const CLI::ParseError& e);

// Runs the program body after the arguments are parsed: installs the interrupt handlers and turns exceptions into
// one error line "<program>: error: <what>" and the exit code (std::invalid_argument -> 2, anything else -> 1).
int run_guarded(const char* program, const std::function<int()>& body);

// Writes data to a temporary next to path and renames it over path, so the output appears only when complete.
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& data);
std::vector<uint8_t> read_whole_file(const std::string& path);  // throws std::runtime_error("path: reason")

// "WxH" -> width, height; throws CLI::ValidationError-compatible std::invalid_argument.
void parse_resolution(const std::string& s, int& w, int& h);
// "30", "30000/1001", "29.97" -> num/den.
void parse_rate(const std::string& s, int& num, int& den);

// x264-style progress on stderr: redrawn with \r on a terminal, a plain line every 10% otherwise.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  void update(double fraction, const std::string& text);
  void finish();  // ends the line on a terminal

 private:
  bool enabled_, tty_;
  int last_decile_ = -1;
  size_t last_len_ = 0;
  bool drawn_ = false;
};

std::string format_duration(double seconds);  // 0:01:23

// Minimal JSON object writer for --stats / --json (numbers, strings, nested objects).
class JsonObject {
 public:
  JsonObject& num(const std::string& key, double v);
  JsonObject& integer(const std::string& key, int64_t v);
  JsonObject& integers(const std::string& key, const std::vector<int64_t>& v);  // a JSON array
  JsonObject& str(const std::string& key, const std::string& v);
  JsonObject& obj(const std::string& key, const JsonObject& v);
  std::string dump(int indent = 2, int level = 0) const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // key -> already-encoded value
  std::vector<std::pair<std::string, JsonObject>> objects_;
  std::vector<std::pair<int, size_t>> order_;  // (0 field / 1 object, index)
};
std::string json_escape(const std::string& s);

}  // namespace nvc::app
