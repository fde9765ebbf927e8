#include "apps/app_common.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace nvc::app {

namespace {
std::atomic<int> g_interrupts{0};

extern "C" void on_interrupt(int sig) {
  // SIGTERM (a service manager, a timeout) means abort; Ctrl-C first asks for a clean stop.
  const int n = sig == SIGTERM ? (g_interrupts = std::max(2, g_interrupts.load() + 1)) : ++g_interrupts;
  if (n >= 3) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}
bool stop_requested() { return g_interrupts.load() >= 1; }
bool abort_requested() { return g_interrupts.load() >= 2; }

int handle_parse_error(const CLI::App& app, const CLI::ParseError& e) {
  const int code = app.exit(e);  // prints help or the error
  return code == 0 ? kOk : kUsageError;
}

int run_guarded(const char* program, const std::function<int()>& body) {
  install_interrupt_handlers();
  try {
    return body();
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return kUsageError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return kRuntimeError;
  }
}

void write_file_atomically(const std::string& path, const std::vector<uint8_t>& data) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error(path + ": cannot create (" + std::strerror(errno) + ")");
    const size_t n = data.empty() ? 0 : std::fwrite(data.data(), 1, data.size(), f);
    const bool ok = n == data.size() && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    const int err = errno;
    if (std::fclose(f) != 0 || !ok) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed (" + std::strerror(err) + ")");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename the temporary into place (" + std::strerror(err) + ")");
  }
}

std::vector<uint8_t> read_whole_file(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> data;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + n);
  const bool err = std::ferror(f);
  if (f != stdin) std::fclose(f);
  if (err) throw std::runtime_error(path + ": read error");
  return data;
}

void parse_resolution(const std::string& s, int& w, int& h) {
  char x = 0;
  std::istringstream in(s);
  long a = 0, b = 0;
  if (!(in >> a >> x >> b) || (x != 'x' && x != 'X') || !in.eof() || a < 2 || b < 2 || a > 16384 || b > 16384)
    throw std::invalid_argument("expected WxH (e.g. 1920x1080), got '" + s + "'");
  w = int(a);
  h = int(b);
}

void parse_rate(const std::string& s, int& num, int& den) {
  const auto slash = s.find('/');
  try {
    if (slash != std::string::npos) {
      size_t p1 = 0, p2 = 0;
      const long n = std::stol(s.substr(0, slash), &p1), d = std::stol(s.substr(slash + 1), &p2);
      if (p1 != slash || p2 != s.size() - slash - 1 || n <= 0 || d <= 0 || n > 1000000 || d > 1000000)
        throw std::invalid_argument("");
      num = int(n);
      den = int(d);
      return;
    }
    size_t p = 0;
    const double v = std::stod(s, &p);
    if (p != s.size() || !(v > 0) || v > 1000) throw std::invalid_argument("");
    if (std::fabs(v - std::round(v)) < 1e-9) {
      num = int(std::lround(v));
      den = 1;
    } else if (std::fabs(v * 1001.0 / 1000.0 - std::round(v * 1001.0 / 1000.0)) < 1e-2) {
      num = int(std::lround(v * 1001.0 / 1000.0)) * 1000;  // 29.97 -> 30000/1001
      den = 1001;
    } else {
      num = int(std::lround(v * 1000));
      den = 1000;
    }
  } catch (const std::exception&) {
    throw std::invalid_argument("expected a frame rate like 25, 30000/1001 or 29.97, got '" + s + "'");
  }
}

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled), tty_(::isatty(STDERR_FILENO) != 0) {}

void ProgressLine::update(double fraction, const std::string& text) {
  if (!enabled_) return;
  if (tty_) {
    std::string line = "\r" + text;
    if (text.size() < last_len_) line += std::string(last_len_ - text.size(), ' ');
    last_len_ = text.size();
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
    return;
  }
  const int decile = int(std::floor(fraction * 10.0 + 1e-9));
  if (decile != last_decile_) {
    last_decile_ = decile;
    std::fprintf(stderr, "%s\n", text.c_str());
  }
}

void ProgressLine::finish() {
  if (enabled_ && tty_ && drawn_) std::fputs("\n", stderr);
  drawn_ = false;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long s = long(std::lround(seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::string json_escape(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += char(c);
        }
    }
  }
  return o + "\"";
}

JsonObject& JsonObject::num(const std::string& key, double v) {
  char b[64];
  if (std::isfinite(v)) std::snprintf(b, sizeof b, "%.6g", v); else std::snprintf(b, sizeof b, "null");
  order_.push_back({0, fields_.size()});
  fields_.push_back({key, b});
  return *this;
}
JsonObject& JsonObject::integer(const std::string& key, int64_t v) {
  order_.push_back({0, fields_.size()});
  fields_.push_back({key, std::to_string(v)});
  return *this;
}
JsonObject& JsonObject::integers(const std::string& key, const std::vector<int64_t>& v) {
  std::string a = "[";
  for (size_t i = 0; i < v.size(); ++i) a += (i ? ", " : "") + std::to_string(v[i]);
  order_.push_back({0, fields_.size()});
  fields_.push_back({key, a + "]"});
  return *this;
}
JsonObject& JsonObject::str(const std::string& key, const std::string& v) {
  order_.push_back({0, fields_.size()});
  fields_.push_back({key, json_escape(v)});
  return *this;
}
JsonObject& JsonObject::obj(const std::string& key, const JsonObject& v) {
  order_.push_back({1, objects_.size()});
  objects_.push_back({key, v});
  return *this;
}
std::string JsonObject::dump(int indent, int level) const {
  const std::string pad(size_t(indent * (level + 1)), ' '), end_pad(size_t(indent * level), ' ');
  std::string o = "{\n";
  for (size_t i = 0; i < order_.size(); ++i) {
    const auto [kind, idx] = order_[i];
    o += pad;
    if (kind == 0) o += json_escape(fields_[idx].first) + ": " + fields_[idx].second;
    else o += json_escape(objects_[idx].first) + ": " + objects_[idx].second.dump(indent, level + 1);
    o += (i + 1 < order_.size()) ? ",\n" : "\n";
  }
  return o + end_pad + "}";
}

}  // namespace nvc::app
