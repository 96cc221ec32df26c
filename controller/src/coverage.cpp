#include "loa/controller/coverage.hpp"

#include <map>
#include <set>
#include <utility>

namespace loa::controller {

CoverageCounts& CoverageCounts::operator+=(const CoverageCounts& o) {
  targeted += o.targeted;
  cached += o.cached;
  completed += o.completed;
  partial += o.partial;
  failed += o.failed;
  preempted += o.preempted;
  expired += o.expired;
  cancelled += o.cancelled;
  missed += o.missed;
  pending += o.pending;
  cancelled_unheard += o.cancelled_unheard;
  approval_rejected += o.approval_rejected;
  expired_unapproved += o.expired_unapproved;
  residents_targeted = saturating_add(residents_targeted, o.residents_targeted);
  residents_reached = saturating_add(residents_reached, o.residents_reached);
  return *this;
}

CoverageCounts classify_play(const OccurrenceRecord& o, const TargetedNode& n,
                             const protocol::PlaybackEvent* e, bool cached, Micros now_us,
                             Micros grace_us) {
  CoverageCounts c;
  c.targeted = 1;
  c.residents_targeted = n.residents;
  if (cached || (e && e->frames_played > 0)) c.cached = 1;
  if (!e && n.approval == "rejected") {
    c.approval_rejected = 1;
    return c;
  }
  if (!e && o.cancelled()) {
    c.cancelled_unheard = 1;
    return c;
  }
  if (!e && n.approval == "pending") {
    (now_us >= o.expiry_us ? c.expired_unapproved : c.pending) = 1;
    return c;
  }
  if (!e) {
    (now_us > o.expiry_us + grace_us ? c.missed : c.pending) = 1;
    return c;
  }
  switch (e->outcome) {
    case protocol::Outcome::completed:
      c.completed = 1;
      c.residents_reached = n.residents;
      break;
    case protocol::Outcome::partial:
      c.partial = 1;
      break;
    case protocol::Outcome::preempted:
      c.preempted = 1;
      break;
    case protocol::Outcome::expired:
      c.expired = 1;
      break;
    case protocol::Outcome::failed:
    case protocol::Outcome::rejected:
      c.failed = 1;
      break;
    case protocol::Outcome::cancelled:
      c.cancelled = 1;
      break;
  }
  return c;
}

CoverageReport compute_coverage(const std::vector<OccurrenceRecord>& occurrences,
                                const std::vector<EventRecord>& events,
                                const std::vector<CacheReportRecord>& cache_reports, Micros now_us,
                                Micros grace_us, bool by_area) {
  CoverageReport report;
  report.occurrences = occurrences.size();
  report.computed_us = now_us;
  if (occurrences.size() == 1) report.occurrence_id = occurrences.front().id;
  if (!occurrences.empty()) report.bulletin_id = occurrences.front().bulletin_id;

  std::map<std::pair<std::string, std::uint64_t>, const protocol::PlaybackEvent*> by_play;
  for (const auto& r : events) {
    by_play.emplace(std::make_pair(r.event.node_id, r.event.occurrence_id), &r.event);
  }
  std::set<std::pair<std::string, std::uint64_t>> cached;  // (node, bulletin)
  for (const auto& c : cache_reports) {
    if (c.state == protocol::CacheState::cached) cached.emplace(c.node_id, c.bulletin_id);
  }

  std::map<std::string, CoverageCounts> areas;
  for (const auto& o : occurrences) {
    for (const auto& n : o.nodes) {
      const auto it = by_play.find({n.node_id, o.id});
      const protocol::PlaybackEvent* e = it == by_play.end() ? nullptr : it->second;
      const CoverageCounts c =
          classify_play(o, n, e, cached.count({n.node_id, o.bulletin_id}) != 0, now_us, grace_us);
      areas[n.area] += c;
      report.total += c;
    }
  }
  if (by_area) {
    for (auto& [area, counts] : areas) report.rows.push_back(CoverageRow{area, counts});
  }
  return report;
}

}  // namespace loa::controller
