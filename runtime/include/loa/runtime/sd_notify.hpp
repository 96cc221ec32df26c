// The systemd notify protocol (sd_notify(3)) without libsystemd: one datagram per state change
// to the socket named by $NOTIFY_SOCKET ('@' first means the abstract namespace).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "loa/protocol/result.hpp"

namespace loa::runtime {

// Sends `state` (e.g. "READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=text"; several separated
// by '\n') to $NOTIFY_SOCKET. Returns false without doing anything when the variable is unset
// (not started by systemd, or not Type=notify); an error when the socket cannot be reached.
Result<bool> notify_systemd(std::string_view state);

// The watchdog interval systemd expects pings within ($WATCHDOG_USEC, only if $WATCHDOG_PID is
// unset or this process); zero when there is no watchdog.
std::chrono::microseconds systemd_watchdog_interval();

// Feeds the systemd watchdog at a steady pace: feed() may be called as often as wanted (from a
// loop that only runs while the service is healthy) and sends WATCHDOG=1 at most every quarter
// of the interval. Does nothing without a watchdog. Not thread-safe: one caller thread.
class WatchdogFeeder {
 public:
  WatchdogFeeder();
  void feed();
  bool enabled() const { return interval_.count() > 0; }

 private:
  std::chrono::microseconds interval_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace loa::runtime
