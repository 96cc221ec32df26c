#include "loa/node/clock_offset.hpp"

#include <algorithm>
#include <cstdlib>

namespace loa::node {

using protocol::Micros;

namespace {
constexpr std::size_t kMaxPending = 16;
}

void CorrectedClock::set_correction(Micros correction) {
  correction_ = correction;
  base_.wake();
}

void OffsetEstimator::sent(std::uint64_t sequence, Micros local_us) {
  std::lock_guard lock(mu_);
  pending_.emplace_back(sequence, local_us);
  while (pending_.size() > kMaxPending) pending_.pop_front();
}

bool OffsetEstimator::answered(std::uint64_t sequence, Micros controller_us, Micros local_us) {
  std::lock_guard lock(mu_);
  const auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const auto& p) { return p.first == sequence; });
  if (it == pending_.end()) return false;
  const Micros sent_us = it->second;
  pending_.erase(it);
  if (local_us < sent_us) return false;
  const Micros round_trip = local_us - sent_us;
  samples_.push_back(Sample{controller_us - (sent_us + round_trip / 2), round_trip});
  while (samples_.size() > window_) samples_.pop_front();
  return true;
}

std::optional<OffsetEstimator::Estimate> OffsetEstimator::estimate() const {
  std::lock_guard lock(mu_);
  if (samples_.empty()) return std::nullopt;
  const auto best = std::min_element(
      samples_.begin(), samples_.end(),
      [](const auto& a, const auto& b) { return a.round_trip_us < b.round_trip_us; });
  return Estimate{best->offset_us, best->round_trip_us, samples_.size()};
}

protocol::Micros correction_for(const OffsetEstimator::Estimate& estimate,
                                protocol::Micros bound_us, protocol::Micros current_us) {
  const protocol::Micros off = std::llabs(estimate.offset_us);
  const protocol::Micros margin = estimate.round_trip_us / 2;
  if (current_us == 0) return off - margin > bound_us ? estimate.offset_us : 0;
  return off + margin < bound_us / 2 ? 0 : estimate.offset_us;
}

}  // namespace loa::node
