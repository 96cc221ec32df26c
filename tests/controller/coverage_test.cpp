#include <gtest/gtest.h>

#include "loa/controller/coverage.hpp"

using namespace loa;
using namespace loa::controller;

namespace {

EventRecord ev(const std::string& node, std::uint64_t occ, protocol::Outcome outcome,
               std::uint32_t frames = 100) {
  EventRecord r;
  r.event.node_id = node;
  r.event.occurrence_id = occ;
  r.event.bulletin_id = 1;
  r.event.outcome = outcome;
  r.event.frames_played = frames;
  return r;
}

}  // namespace

TEST(Coverage, CountsEveryTargetedNodeOnceAndRowsSumToTotal) {
  OccurrenceRecord o;
  o.id = 7;
  o.bulletin_id = 1;
  o.start_us = 1000;
  o.expiry_us = 2000;
  o.nodes = {{"a", "79/1", 100}, {"b", "79/1", 200}, {"c", "79/2", 300},
             {"d", "79/2", 400}, {"e", "79/3", 500}, {"f", "79/3", 600}};
  const std::vector<EventRecord> events = {
      ev("a", 7, protocol::Outcome::completed), ev("b", 7, protocol::Outcome::partial, 50),
      ev("c", 7, protocol::Outcome::rejected, 0), ev("d", 7, protocol::Outcome::failed, 0),
      // Not targeted: never counted.
      ev("zz", 7, protocol::Outcome::completed)};
  const std::vector<CacheReportRecord> caches = {{"a", 1, protocol::CacheState::cached, "", 0},
                                                 {"e", 1, protocol::CacheState::cached, "", 0},
                                                 {"f", 1, protocol::CacheState::failed, "", 0}};
  const Micros grace = 100;

  // Before expiry + grace, the silent nodes are pending.
  auto early = compute_coverage({o}, events, caches, 2000 + grace, grace, true);
  EXPECT_EQ(early.total.targeted, 6u);
  EXPECT_EQ(early.total.pending, 2u);
  EXPECT_EQ(early.total.missed, 0u);

  auto r = compute_coverage({o}, events, caches, 2000 + grace + 1, grace, true);
  const auto& t = r.total;
  EXPECT_EQ(t.targeted, 6u);
  EXPECT_EQ(t.completed, 1u);
  EXPECT_EQ(t.partial, 1u);
  EXPECT_EQ(t.failed, 2u);  // failed + rejected
  EXPECT_EQ(t.missed, 2u);  // e and f
  EXPECT_EQ(t.pending, 0u);
  EXPECT_EQ(t.cached, 3u);  // a (report), b (played), e (report)
  EXPECT_EQ(t.residents_targeted, 2100);
  EXPECT_EQ(t.residents_reached, 100);
  EXPECT_EQ(t.completed + t.partial + t.failed + t.preempted + t.expired + t.cancelled + t.missed +
                t.pending,
            t.targeted);

  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].area, "79/1");
  EXPECT_EQ(r.rows[2].counts.missed, 2u);
  CoverageCounts sum;
  for (const auto& row : r.rows) sum += row.counts;
  EXPECT_EQ(sum, r.total);
}

TEST(Coverage, BulletinCoverageAddsItsOccurrences) {
  OccurrenceRecord a;
  a.id = 1;
  a.bulletin_id = 1;
  a.expiry_us = 10;
  a.nodes = {{"n", "79/1", 10}};
  OccurrenceRecord b = a;
  b.id = 2;
  const auto r =
      compute_coverage({a, b}, {ev("n", 1, protocol::Outcome::completed)}, {}, 5, 0, false);
  EXPECT_EQ(r.occurrences, 2u);
  EXPECT_EQ(r.total.targeted, 2u);
  EXPECT_EQ(r.total.completed, 1u);
  EXPECT_EQ(r.total.pending, 1u);
  EXPECT_EQ(r.total.residents_reached, 10);
  EXPECT_TRUE(r.rows.empty());
}

// Residents are capped per node, but rows stored before the cap are summed as they are: the sum
// holds at the int64 range instead of overflowing.
TEST(Coverage, ResidentSumsHoldAtTheLimitInsteadOfOverflowing) {
  CoverageCounts huge;
  huge.residents_targeted = INT64_MAX;
  huge.residents_reached = INT64_MAX - 1;
  CoverageCounts one;
  one.residents_targeted = 1;
  one.residents_reached = 5;
  huge += one;
  EXPECT_EQ(huge.residents_targeted, INT64_MAX);
  EXPECT_EQ(huge.residents_reached, INT64_MAX);
  CoverageCounts low;
  low.residents_targeted = INT64_MIN;
  CoverageCounts minus;
  minus.residents_targeted = -1;
  low += minus;
  EXPECT_EQ(low.residents_targeted, INT64_MIN);
}
