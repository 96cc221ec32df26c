#include "loa/node/jitter_buffer.hpp"

#include <cmath>

namespace loa::node {

using protocol::Micros;

std::int64_t JitterBuffer::slot_of_locked(Micros sender_us) const {
  // Rounded: a sender whose instants are not exact multiples of 20 ms still lands in one slot.
  const double d = static_cast<double>(sender_us - origin_us_) / static_cast<double>(kFrameUs);
  return static_cast<std::int64_t>(std::llround(d));
}

void JitterBuffer::push(const protocol::AudioChunk& chunk, Micros now) {
  std::lock_guard lock(mu_);
  if (!started_) {
    started_ = true;
    origin_us_ = chunk.sender_us;
  }
  ++chunks_;
  last_arrival_us_ = now;
  const std::int64_t first = slot_of_locked(chunk.sender_us);
  if (chunk.packets.empty()) {
    end_slot_ = first;
    return;
  }
  for (std::size_t k = 0; k < chunk.packets.size(); ++k) {
    const std::int64_t slot = first + static_cast<std::int64_t>(k);
    if (taken_through_ && slot <= *taken_through_) {
      ++dropped_;
      continue;
    }
    frames_.emplace(slot, chunk.packets[k]);
  }
}

bool JitterBuffer::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

Micros JitterBuffer::origin_us() const {
  std::lock_guard lock(mu_);
  return origin_us_;
}

std::optional<std::int64_t> JitterBuffer::first_slot() const {
  std::lock_guard lock(mu_);
  if (frames_.empty()) return std::nullopt;
  return frames_.begin()->first;
}

std::optional<protocol::Bytes> JitterBuffer::take(std::int64_t slot) {
  std::lock_guard lock(mu_);
  taken_through_ = slot;
  while (!frames_.empty() && frames_.begin()->first < slot) {
    frames_.erase(frames_.begin());
    ++dropped_;
  }
  if (frames_.empty() || frames_.begin()->first != slot) return std::nullopt;
  protocol::Bytes packet = std::move(frames_.begin()->second);
  frames_.erase(frames_.begin());
  return packet;
}

bool JitterBuffer::has_from(std::int64_t slot) const {
  std::lock_guard lock(mu_);
  return frames_.lower_bound(slot) != frames_.end();
}

std::optional<std::int64_t> JitterBuffer::end_slot() const {
  std::lock_guard lock(mu_);
  return end_slot_;
}

Micros JitterBuffer::last_arrival_us() const {
  std::lock_guard lock(mu_);
  return last_arrival_us_;
}

std::uint32_t JitterBuffer::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

std::uint64_t JitterBuffer::chunks() const {
  std::lock_guard lock(mu_);
  return chunks_;
}

}  // namespace loa::node
