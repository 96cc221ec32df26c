// Real-time pacing for sinks without a device clock (null, WAV).
#pragma once

#include <cstdint>

#include "loa/runtime/clock.hpp"

namespace loa::node {

// Blocks a writer so that N frames take N / rate seconds of `clock` time from the first write.
// Used by one thread at a time.
class Pacer {
 public:
  Pacer(runtime::Clock& clock, std::uint32_t rate) : clock_(clock), rate_(rate) {}
  // Forgets the stream position and sets the rate; the next advance() starts a new stream.
  void restart(std::uint32_t rate) {
    rate_ = rate;
    started_ = false;
  }
  // Accounts `frames` written and sleeps until they have "played" (clock time).
  void advance(std::uint64_t frames);

 private:
  runtime::Clock& clock_;
  std::uint32_t rate_;
  bool started_ = false;
  runtime::Micros start_us_ = 0;
  std::uint64_t frames_ = 0;
};

}  // namespace loa::node
