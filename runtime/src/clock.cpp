#include "loa/runtime/clock.hpp"

#include <chrono>

namespace loa::runtime {

Micros SystemClock::now_us() const {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

void SystemClock::sleep_until(Micros t) {
  std::unique_lock lock(mu_);
  const std::uint64_t gen = generation_;
  // Wait on the wall clock in short slices so a clock step (NTP) is noticed within 100 ms.
  while (gen == generation_) {
    const Micros left = t - now_us();
    if (left <= 0) return;
    const auto slice = std::chrono::microseconds(std::min<Micros>(left, 100'000));
    cv_.wait_for(lock, slice);
  }
}

void SystemClock::wake() {
  {
    std::lock_guard lock(mu_);
    ++generation_;
  }
  cv_.notify_all();
}

void ManualClock::sleep_until(Micros t) {
  std::unique_lock lock(mu_);
  const std::uint64_t gen = generation_;
  cv_.wait(lock, [&] { return now_.load() >= t || gen != generation_; });
}

void ManualClock::wake() {
  {
    std::lock_guard lock(mu_);
    ++generation_;
  }
  cv_.notify_all();
}

void ManualClock::set(Micros t) {
  {
    std::lock_guard lock(mu_);
    now_.store(t);
  }
  cv_.notify_all();
}

}  // namespace loa::runtime
