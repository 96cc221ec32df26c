#include "loa/node/pacer.hpp"

#include "loa/node/fiber.hpp"

namespace loa::node {

void Pacer::advance(std::uint64_t frames) {
  if (!started_) {
    started_ = true;
    start_us_ = clock_.now_us();
    frames_ = 0;
  }
  frames_ += frames;
  const auto due = start_us_ + static_cast<runtime::Micros>(frames_ * 1'000'000 / rate_);
  // Clock::wake() (meant for someone else) may end a sleep early: sleep again.
  while (clock_.now_us() < due) {
    clock_.sleep_until(due);
    // A fiber being stopped sleeps no more (Fiber::cancel): its player is on the way out.
    if (const Fiber* f = Fiber::current(); f != nullptr && f->cancelled()) return;
  }
}

}  // namespace loa::node
