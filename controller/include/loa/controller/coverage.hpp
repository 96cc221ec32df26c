// The ledger's arithmetic: from occurrences (with their frozen node sets), recorded events and
// cache reports to coverage figures. Pure: no store, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loa/controller/store.hpp"

namespace loa::controller {

// Node-plays of one or more occurrences. Every targeted node-play is in exactly one of
// completed, partial, failed (failed + rejected), preempted, expired, cancelled, missed, pending,
// cancelled_unheard, approval_rejected, expired_unapproved,
// so those add up to `targeted`. Events from nodes not targeted are not counted.
// a + b, held at the int64 range instead of overflowing: residents are capped per node
// (kMaxNodeResidents), but rows stored before the cap are summed as they are.
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

struct CoverageCounts {
  std::uint64_t targeted = 0;
  std::uint64_t cached = 0;  // reported cached, or played some audio
  std::uint64_t completed = 0;
  std::uint64_t partial = 0;
  std::uint64_t failed = 0;
  std::uint64_t preempted = 0;
  std::uint64_t expired = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t missed = 0;   // no event once now > expiry + grace
  std::uint64_t pending = 0;  // no event yet, still within expiry + grace
  // The occurrence was cancelled and the node sent no event for it (it had not played; a node
  // offline since reports when it comes back, or never if it was never given the occurrence).
  std::uint64_t cancelled_unheard = 0;
  // Approval (docs/scheduling.md): the node's area rejected it (it was never given to the
  // node), or it reached its expiry still pending (never played).
  std::uint64_t approval_rejected = 0;
  std::uint64_t expired_unapproved = 0;
  std::int64_t residents_targeted = 0;
  std::int64_t residents_reached = 0;  // residents of the nodes that completed
  CoverageCounts& operator+=(const CoverageCounts& o);
  friend bool operator==(const CoverageCounts&, const CoverageCounts&) = default;
};

struct CoverageRow {
  std::string area;  // the targeted nodes' area path
  CoverageCounts counts;
};

struct CoverageReport {
  std::uint64_t bulletin_id = 0;
  std::uint64_t occurrence_id = 0;  // 0: every occurrence of the bulletin
  std::size_t occurrences = 0;
  std::vector<CoverageRow> rows;  // by area, sorted by path; empty unless asked for
  CoverageCounts total;           // equals the sum of `rows`
  Micros computed_us = 0;
};

// The one classification of a targeted node-play, used by coverage and period reports alike:
// counts with targeted = 1, residents_targeted = the node's residents and exactly one outcome
// field set to 1 (the event's outcome; without one, missed once now > expiry + grace, else
// pending); residents_reached = residents when completed; cached when `cached` or some audio
// played.
CoverageCounts classify_play(const OccurrenceRecord& occurrence, const TargetedNode& node,
                             const protocol::PlaybackEvent* event, bool cached, Micros now_us,
                             Micros grace_us);

// Computes coverage of `occurrences` (all of one bulletin) given every event and cache report
// recorded for them. `grace_us` is the missed-grace after expiry.
CoverageReport compute_coverage(const std::vector<OccurrenceRecord>& occurrences,
                                const std::vector<EventRecord>& events,
                                const std::vector<CacheReportRecord>& cache_reports, Micros now_us,
                                Micros grace_us, bool by_area);

}  // namespace loa::controller
