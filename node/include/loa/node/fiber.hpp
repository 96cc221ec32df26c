// A stackful coroutine, so that the player's logic (written as one thread that sleeps) can also be
// stepped by a caller's loop: the fleet simulator runs thousands of players on one thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "loa/runtime/clock.hpp"

namespace loa::node {

// Runs `body` on a stack of its own. resume() runs it until it sleeps (Fiber::sleep_until from
// inside) or returns; the caller decides when it is due again (wake_at(), woken()). Every
// resume() of one fiber must come from the same thread. Not copyable, not movable.
class Fiber {
 public:
  // Reserves the stack (mapped lazily, with a guard page below it); throws std::bad_alloc.
  explicit Fiber(std::function<void()> body, std::size_t stack_bytes = 256 * 1024);
  // The body must have returned, or never have been resumed.
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Runs the body until it sleeps or returns. Clears woken() first. Not from inside a fiber.
  void resume();
  bool finished() const { return finished_; }
  // The instant (of the clock its body sleeps by) it asked to sleep until.
  runtime::Micros wake_at() const { return wake_at_; }
  // True if wake() was called since the last resume(): resume it now. Thread-safe.
  bool woken() const { return woken_.load(); }
  void wake() { woken_ = true; }
  // From now on sleeps inside the body return at once (a stop: the body runs to its end).
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // The fiber running on this thread, or null.
  static Fiber* current();
  // Inside a fiber: hands control back to resume()'s caller until it is due at `t` (returns at
  // once if cancelled). Outside any fiber: nothing.
  static void sleep_until(runtime::Micros t);

 private:
  struct Context;
  static void trampoline();

  std::function<void()> body_;
  std::unique_ptr<Context> context_;
  bool started_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
  runtime::Micros wake_at_ = 0;
  std::atomic<bool> woken_{false};
};

// A clock whose sleeps, inside a fiber, hand control back to the fiber's driver; elsewhere they
// are `inner`'s. The player and its sinks sleep through one, so the same code runs on a thread
// (real sleeps) or stepped by a loop.
class FiberClock final : public runtime::Clock {
 public:
  explicit FiberClock(runtime::Clock& inner) : inner_(inner) {}
  runtime::Micros now_us() const override { return inner_.now_us(); }
  void sleep_until(runtime::Micros t) override;
  void wake() override { inner_.wake(); }

 private:
  runtime::Clock& inner_;
};

}  // namespace loa::node
