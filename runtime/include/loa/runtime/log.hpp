// The one log facade: a line per event, "time level component message key=value ...".
// Thread-safe. Not for the audio path.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace loa::runtime {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

void set_log_level(LogLevel level);
// Parses "debug", "info", "warn" or "error"; returns false on anything else.
bool parse_log_level(std::string_view text, LogLevel& out);
void log_line(LogLevel level, std::string_view component, std::string_view text);

// Builds a line: Log(LogLevel::info, "node").kv("id", id) << "plan accepted";
class Log {
 public:
  Log(LogLevel level, std::string_view component) : level_(level), component_(component) {}
  ~Log() { log_line(level_, component_, text_.str() + fields_.str()); }
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  template <typename T>
  Log& operator<<(const T& v) {
    text_ << v;
    return *this;
  }
  template <typename T>
  Log& kv(std::string_view key, const T& v) {
    fields_ << ' ' << key << '=' << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::string component_;
  std::ostringstream text_;
  std::ostringstream fields_;
};

}  // namespace loa::runtime
