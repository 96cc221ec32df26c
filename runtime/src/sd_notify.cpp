#include "loa/runtime/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "loa/runtime/log.hpp"

namespace loa::runtime {

Result<bool> notify_systemd(std::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') return false;
  const std::string_view path(env);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof addr.sun_path) {
    return make_error("NOTIFY_SOCKET '" + std::string(path) +
                      "': not an absolute path or @abstract name that fits a socket address");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace: leading NUL, no terminator
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(std::string("NOTIFY_SOCKET: socket: ") + std::strerror(errno));
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  ::close(fd);
  if (sent < 0 || static_cast<std::size_t>(sent) != state.size()) {
    return make_error("NOTIFY_SOCKET '" + std::string(path) + "': send: " + std::strerror(err));
  }
  return true;
}

std::chrono::microseconds systemd_watchdog_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::chrono::microseconds(0);
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && pid[0] != '\0') {
    long p = 0;
    const std::string_view s(pid);
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), p);
    if (ec != std::errc() || ptr != s.data() + s.size() || p != static_cast<long>(::getpid())) {
      return std::chrono::microseconds(0);
    }
  }
  long long v = 0;
  const std::string_view s(usec);
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v <= 0) {
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(v);
}

WatchdogFeeder::WatchdogFeeder() : interval_(systemd_watchdog_interval()) {}

void WatchdogFeeder::feed() {
  if (interval_.count() <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < interval_ / 4) return;
  last_ = now;
  if (auto r = notify_systemd("WATCHDOG=1"); !r) {
    Log(LogLevel::warn, "systemd").kv("error", r.error().message) << "watchdog ping failed";
  }
}

}  // namespace loa::runtime
