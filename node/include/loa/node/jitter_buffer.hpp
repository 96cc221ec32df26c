// The receive side of one live stream: Opus packets by play slot (20 ms each), filled from the
// bus thread, taken in order by the playout.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "loa/protocol/messages.hpp"

namespace loa::node {

// Slot s holds the packet whose first sample was captured at origin + s * 20 ms, where the
// origin is the sender_us of the first chunk received (slots before it are negative). Frames
// whose slot was already taken (played or concealed) when they arrive are dropped and counted.
// Thread-safe.
class JitterBuffer {
 public:
  static constexpr protocol::Micros kFrameUs = 20'000;

  // Adds a chunk received at `now`; an end chunk (no packets) marks the end slot.
  void push(const protocol::AudioChunk& chunk, protocol::Micros now);
  // Whether a chunk has arrived (the origin is known).
  bool started() const;
  // sender_us of slot 0 (0 before started()).
  protocol::Micros origin_us() const;
  // The lowest slot holding a packet, if any.
  std::optional<std::int64_t> first_slot() const;
  // The packet of `slot`, if it arrived; every slot up to `slot` counts as taken from now on, and
  // packets held for earlier slots (never taken) are dropped.
  std::optional<protocol::Bytes> take(std::int64_t slot);
  // Whether a packet is held for `slot` or a later one.
  bool has_from(std::int64_t slot) const;
  // The end chunk's slot, once it arrived.
  std::optional<std::int64_t> end_slot() const;
  // When the last chunk arrived (0: none).
  protocol::Micros last_arrival_us() const;
  // Frames that arrived too late to be played.
  std::uint32_t dropped() const;
  std::uint64_t chunks() const;

 private:
  std::int64_t slot_of_locked(protocol::Micros sender_us) const;

  mutable std::mutex mu_;
  bool started_ = false;
  protocol::Micros origin_us_ = 0;
  std::map<std::int64_t, protocol::Bytes> frames_;
  std::optional<std::int64_t> taken_through_;
  std::optional<std::int64_t> end_slot_;
  protocol::Micros last_arrival_us_ = 0;
  std::uint32_t dropped_ = 0;
  std::uint64_t chunks_ = 0;
};

}  // namespace loa::node
