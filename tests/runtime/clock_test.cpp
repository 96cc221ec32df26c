#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "loa/runtime/clock.hpp"

using namespace loa::runtime;

TEST(ManualClock, SleepReturnsWhenTimeReachesTheInstant) {
  ManualClock clock(1000);
  bool woke = false;
  std::thread t([&] {
    clock.sleep_until(5000);
    woke = true;
  });
  clock.advance(1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(woke);
  clock.set(5000);
  t.join();
  EXPECT_TRUE(woke);
}

TEST(SystemClock, WakeInterruptsASleep) {
  SystemClock clock;
  const Micros start = clock.now_us();
  std::atomic<bool> done{false};
  std::thread t([&] {
    clock.sleep_until(start + 10'000'000);
    done = true;
  });
  // wake() only affects sleeps in progress, so keep waking until the sleeper has returned.
  while (!done) {
    clock.wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  t.join();
  EXPECT_LT(clock.now_us() - start, 5'000'000);
}
