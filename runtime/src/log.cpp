#include "loa/runtime/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace loa::runtime {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::mutex g_mu;

const char* name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "?";
}

}  // namespace

void set_log_level(LogLevel level) {
  g_level.store(level);
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    if (text == name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void log_line(LogLevel level, std::string_view component, std::string_view text) {
  if (level < g_level.load()) return;
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard lock(g_mu);
  std::fprintf(stderr, "%s.%03dZ %-5s %.*s %.*s\n", stamp, static_cast<int>(ms), name(level),
               static_cast<int>(component.size()), component.data(), static_cast<int>(text.size()),
               text.data());
}

}  // namespace loa::runtime
