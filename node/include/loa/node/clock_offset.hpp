// The node's view of the controller's clock: an offset estimated from round trips (a Status and
// the controller's `time` answer), and a Clock that adds a correction to a base clock. See
// PROTOCOL.md, "Clock offset".
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "loa/runtime/clock.hpp"

namespace loa::node {

// A base clock plus a correction (0 until set). The player, age checks and sealing read the
// node's time through it, so a correction applies to all of them at once. Thread-safe.
class CorrectedClock final : public runtime::Clock {
 public:
  explicit CorrectedClock(runtime::Clock& base) : base_(base) {}
  protocol::Micros now_us() const override { return base_.now_us() + correction_.load(); }
  void sleep_until(protocol::Micros t) override { base_.sleep_until(t - correction_.load()); }
  void wake() override { base_.wake(); }
  // Sets the correction and wakes every sleeper, so that waits are recomputed on the new time.
  void set_correction(protocol::Micros correction);
  protocol::Micros correction() const { return correction_.load(); }
  runtime::Clock& base() const { return base_; }

 private:
  runtime::Clock& base_;
  std::atomic<protocol::Micros> correction_{0};
};

// Estimates offset = controller clock - local clock from request/answer pairs: a sample is
// c - (t1 + t2) / 2, good to within half its round trip t2 - t1; the estimate is the sample with
// the smallest round trip among the last `window` (queueing only ever lengthens a round trip).
// Thread-safe.
class OffsetEstimator {
 public:
  explicit OffsetEstimator(std::size_t window = 8) : window_(window) {}
  // A request (a Status sealed with `sequence`) left at local time `local_us`. The last 16
  // requests are remembered.
  void sent(std::uint64_t sequence, protocol::Micros local_us);
  // The answer to `sequence`, sealed at controller time `controller_us`, arrived at local time
  // `local_us`. False (and nothing learnt) if no such request is pending: unknown, answered
  // already, or a reply that claims to have arrived before it was asked.
  bool answered(std::uint64_t sequence, protocol::Micros controller_us, protocol::Micros local_us);

  struct Estimate {
    protocol::Micros offset_us = 0;      // controller - local
    protocol::Micros round_trip_us = 0;  // of the sample used
    std::size_t samples = 0;             // in the window
  };
  // Nothing until the first answer.
  std::optional<Estimate> estimate() const;

 private:
  struct Sample {
    protocol::Micros offset_us = 0;
    protocol::Micros round_trip_us = 0;
  };
  const std::size_t window_;
  mutable std::mutex mu_;
  std::deque<std::pair<std::uint64_t, protocol::Micros>> pending_;  // sequence, sent at
  std::deque<Sample> samples_;
};

// The correction to play by, given the estimate, the configured bound and the correction in
// force: an estimate is only good to within half its round trip, so the correction is applied
// only when the offset is beyond the bound even at the near end of that interval, removed only
// when it is within half the bound even at the far end, and otherwise follows the estimate while
// applied (a node whose round trips are seconds long, e.g. a congested link, learns nothing about
// a 2 s bound and keeps its own clock).
protocol::Micros correction_for(const OffsetEstimator::Estimate& estimate,
                                protocol::Micros bound_us, protocol::Micros current_us);

}  // namespace loa::node
