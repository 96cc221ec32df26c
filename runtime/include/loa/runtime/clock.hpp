// Time, behind a narrow interface so tests can drive it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "loa/protocol/messages.hpp"

namespace loa::runtime {

using protocol::Micros;

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual Micros now_us() const = 0;
  // Sleeps until `t` or until wake() is called, whichever first. Thread-safe.
  virtual void sleep_until(Micros t) = 0;
  // Wakes every sleep_until() in progress early.
  virtual void wake() = 0;
};

// CLOCK_REALTIME, which on a device is NTP-disciplined.
class SystemClock final : public Clock {
 public:
  Micros now_us() const override;
  void sleep_until(Micros t) override;
  void wake() override;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

// A clock that moves only when told; sleep_until returns once set() reaches the instant.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start) : now_(start) {}
  Micros now_us() const override { return now_.load(); }
  void sleep_until(Micros t) override;
  void wake() override;
  void set(Micros t);
  void advance(Micros d) { set(now_.load() + d); }

 private:
  std::atomic<Micros> now_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

}  // namespace loa::runtime
