// Issue 4, controller side: cancel, change, series (RRULE) materialization, dry run and
// conflicts, emergency repeat.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "controller_fixture.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::open_body;
using loa::test::Recorder;
using loa::test::TestNode;

namespace {

constexpr Micros kSecond = 1'000'000;
constexpr Micros kMinute = 60 * kSecond;
constexpr Micros kDay = 24 * 60 * kMinute;

class SchedulingTest : public test::ControllerFixture {
 protected:
  ScheduleResult submit(const ScheduleRequest& r) {
    auto s = controller_->submit(r);
    EXPECT_TRUE(s.ok()) << s.error().message;
    idle();
    return s.ok() ? *s : ScheduleResult{};
  }
};

const std::string kAreaPlan = "loa/v1/plan/79/1";

// ---- step 1: cancel and change ----

TEST_F(SchedulingTest, CancelRepublishesPlansWithoutItAndCoverageCountsUnheardNodes) {
  TestNode n1(hub_, clock_, "n1");
  add_node("n1", "79/1/01", 10, &n1.keys());
  add_node("n2", "79/1/02");
  const auto bulletin = make_bulletin();
  const auto o1 = schedule(bulletin, {"area:79/1"}, "2026-11-01T08:00");
  const auto o2 = schedule(bulletin, {"area:79/1"}, "2026-11-01T09:00");
  EXPECT_EQ(plan_ids(kAreaPlan), (std::vector<std::uint64_t>{o1.id, o2.id}));

  probe_.clear();
  auto c = controller_->cancel_occurrence(o1.id);
  ASSERT_TRUE(c.ok()) << c.error().message;
  idle();
  EXPECT_TRUE(c->cancelled());
  EXPECT_EQ(plan_ids(kAreaPlan), (std::vector<std::uint64_t>{o2.id}));
  auto stored = controller_->get_occurrence(o1.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->cancelled_us, clock_.now_us());

  // n1 heard it and reports cancelled; n2 never answers: not missed, even long after.
  n1.hello({});
  idle();
  auto e = n1.completed(o1.id, bulletin, 1);
  e.outcome = protocol::Outcome::cancelled;  // waited, never played: no start instant
  e.frames_played = 0;
  e.start_us = 0;
  e.end_us = clock_.now_us();
  n1.event(e);
  idle();
  clock_.advance(2 * kDay);
  auto cov = controller_->coverage(0, o1.id, false);
  ASSERT_TRUE(cov.ok()) << cov.error().message;
  EXPECT_EQ(cov->total.targeted, 2u);
  EXPECT_EQ(cov->total.cancelled, 1u);
  EXPECT_EQ(cov->total.cancelled_unheard, 1u);
  EXPECT_EQ(cov->total.missed, 0u);
  EXPECT_EQ(cov->total.pending, 0u);
}

TEST_F(SchedulingTest, CancelRefusesUnknownRepeatedAndFinishedOccurrences) {
  add_node("n1", "79/1/01");
  const auto bulletin = make_bulletin();
  auto unknown = controller_->cancel_occurrence(999);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
  EXPECT_NE(unknown.error().message.find("occurrence 999"), std::string::npos);

  const auto o = schedule(bulletin, {"node:n1"});
  ASSERT_TRUE(controller_->cancel_occurrence(o.id).ok());
  auto twice = controller_->cancel_occurrence(o.id);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::conflict);
  EXPECT_NE(twice.error().message.find("already cancelled"), std::string::npos);

  const auto done = schedule(bulletin, {"node:n1"}, "2026-11-01T08:30");
  clock_.set(done.expiry_us + kSecond);
  auto late = controller_->cancel_occurrence(done.id);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::conflict);
  EXPECT_NE(late.error().message.find("already ended"), std::string::npos) << late.error().message;
}

TEST_F(SchedulingTest, ChangeKeepsTheIdAndPublishesAddBeforeRemove) {
  add_node("n1", "79/1/01");
  add_node("n2", "79/2/01");
  const auto bulletin = make_bulletin();
  const auto other = make_bulletin(1.0);
  const auto o = schedule(bulletin, {"node:n1"});

  ChangeRequest ch;
  ch.at = "2026-11-01T08:15";
  ch.bulletin_id = other;
  probe_.clear();
  auto r = controller_->change_occurrence(o.id, ch);
  ASSERT_TRUE(r.ok()) << r.error().message;
  idle();
  EXPECT_EQ(r->id, o.id);
  EXPECT_EQ(format_utc(r->start_us), "2026-11-01T01:15:00Z");
  EXPECT_EQ(r->bulletin_id, other);
  EXPECT_EQ(plan_ids("loa/v1/node/n1/down/plan"), (std::vector<std::uint64_t>{o.id}));
  EXPECT_EQ(probe_.on(protocol::topics::bulletin_manifest(other)).size(), 1u);

  // New targets: the node set is frozen again; the plan that adds goes out first.
  ChangeRequest move;
  move.targets = std::vector<std::string>{"area:79/2"};
  probe_.clear();
  auto moved = controller_->change_occurrence(o.id, move);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  idle();
  ASSERT_EQ(moved->nodes.size(), 1u);
  EXPECT_EQ(moved->nodes[0].node_id, "n2");
  EXPECT_EQ(moved->scopes, (std::vector<std::string>{"area:79/2"}));
  const auto plans = probe_.on("loa/v1/#");
  std::vector<std::string> topics;
  for (const auto& m : plans) topics.push_back(m.topic);
  ASSERT_EQ(topics, (std::vector<std::string>{"loa/v1/plan/79/2", "loa/v1/node/n1/down/plan"}));
  EXPECT_EQ(plan_ids("loa/v1/plan/79/2"), (std::vector<std::uint64_t>{o.id}));
  EXPECT_TRUE(plan_ids("loa/v1/node/n1/down/plan").empty());

  // Refusals: unknown, bad field, started.
  auto unknown = controller_->change_occurrence(999, ch);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
  ChangeRequest bad;
  bad.at = "tomorrow";
  auto b = controller_->change_occurrence(o.id, bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::bad_request);
  EXPECT_EQ(b.error().message.rfind("at: ", 0), 0u) << b.error().message;
  ChangeRequest bad_target;
  bad_target.targets = std::vector<std::string>{"node:ghost"};
  auto bt = controller_->change_occurrence(o.id, bad_target);
  ASSERT_FALSE(bt.ok());
  EXPECT_NE(bt.error().message.find("ghost"), std::string::npos);
  clock_.set(moved->start_us + kSecond);
  auto started = controller_->change_occurrence(o.id, ch);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::conflict);
  EXPECT_NE(started.error().message.find("already started"), std::string::npos)
      << started.error().message;
}

// ---- step 2: recurrence ----

TEST_F(SchedulingTest, RruleSeriesIsMaterializedUpToTheHorizonIdempotently) {
  add_node("n1", "79/1/01");
  const auto bulletin = make_bulletin();
  auto r = request(bulletin, {"area:79/1"}, "2026-11-01T06:30");
  r.rrule = "FREQ=DAILY";
  const auto result = submit(r);
  ASSERT_TRUE(result.series.has_value());
  // Now is 07:00 local on 1 November: today's 06:30 has passed; 2..9 November fit the 8 days.
  ASSERT_EQ(result.occurrences.size(), 8u);
  EXPECT_EQ(format_utc(result.occurrences.front().start_us), "2026-11-01T23:30:00Z");
  EXPECT_EQ(result.occurrences.front().local_time, "2026-11-02T06:30");
  EXPECT_EQ(plan_ids(kAreaPlan).size(), 8u);
  const auto series_id = result.series->id;

  auto again = controller_->tick();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0u);

  // A node that joins later gets only what is planned after it joined.
  add_node("n9", "79/1/09");
  clock_.advance(kDay);
  auto next = controller_->tick();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 1u);
  idle();
  auto list = store_->occurrences_of_series(series_id);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 9u);
  EXPECT_TRUE(list->front().nodes.empty());  // listed without node sets
  auto first = store_->find_occurrence(list->front().id);
  auto last = store_->find_occurrence(list->back().id);
  ASSERT_TRUE(first.ok() && *first && last.ok() && *last);
  EXPECT_EQ((*first)->nodes.size(), 1u);
  EXPECT_EQ((*last)->nodes.size(), 2u);
  EXPECT_EQ(list->back().local_time, "2026-11-10T06:30");

  // A restarted controller over the same store creates nothing twice.
  controller_.reset();
  start_controller();
  auto restarted = controller_->tick();
  ASSERT_TRUE(restarted.ok());
  EXPECT_EQ(*restarted, 0u);
  auto after = store_->occurrences_of_series(series_id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 9u);

  // Cancelling the series cancels what has not ended and stops materializing.
  probe_.clear();
  auto cancelled = controller_->cancel_series(series_id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  idle();
  EXPECT_EQ(cancelled->cancelled.size(), 8u);  // the first one (1 Nov 23:30 UTC) has ended
  EXPECT_TRUE(plan_ids(kAreaPlan).empty());
  clock_.advance(kDay);
  auto none = controller_->tick();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  auto twice = controller_->cancel_series(series_id);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::conflict);
  auto unknown = controller_->cancel_series(4242);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
}

TEST_F(SchedulingTest, SeriesRefusalsNameTheField) {
  add_node("n1", "79/1/01");
  const auto bulletin = make_bulletin();
  auto bad_rule = request(bulletin, {"node:n1"});
  bad_rule.rrule = "FREQ=DAILY;BYDAY=XX";
  auto r = controller_->submit(bad_rule);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::bad_request);
  EXPECT_EQ(r.error().message.rfind("rrule: ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("BYDAY"), std::string::npos) << r.error().message;

  auto both = request(bulletin, {"node:n1"});
  both.rrule = "FREQ=DAILY";
  both.repeat_every_min = 5;
  auto b = controller_->submit(both);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("repeat_every_min"), std::string::npos);

  auto until_alone = request(bulletin, {"node:n1"});
  until_alone.until = "2026-11-01T09:00";
  auto u = controller_->submit(until_alone);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message.rfind("until: ", 0), 0u) << u.error().message;

  // 144 a day for 8 days overflows a plan (1024): refused, nothing stored.
  auto dense = request(bulletin, {"node:n1"});
  dense.rrule =
      "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;"
      "BYMINUTE=0,10,20,30,40,50";
  auto d = controller_->submit(dense);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::unprocessable);
  EXPECT_NE(d.error().message.find("1024"), std::string::npos) << d.error().message;
  auto listed = controller_->list_occurrences(0);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

// ---- step 3: dry run and conflicts ----

TEST_F(SchedulingTest, DryRunStoresNothingAndShowsGroupedTimelinesWithConflicts) {
  add_node("a1", "79/1/01");
  add_node("a2", "79/1/02");
  add_node("b1", "79/2/01");
  const auto long_one = make_bulletin(20.0);
  const auto short_one = make_bulletin(2.0);
  // b1 alone already has a 20 s normal bulletin at 08:00.
  const auto existing = schedule(long_one, {"node:b1"}, "2026-11-01T08:00");

  auto r = request(short_one, {"area:79/1", "node:b1"}, "2026-11-01T08:00:05");
  r.dry_run = true;
  probe_.clear();
  const auto dry = submit(r);
  EXPECT_TRUE(dry.dry_run);
  EXPECT_TRUE(probe_.messages().empty()) << "a dry run published something";
  auto listed = controller_->list_occurrences(0);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
  ASSERT_EQ(dry.occurrences.size(), 1u);
  EXPECT_EQ(dry.occurrences[0].id, 0u);

  // Two groups: a1 + a2 (identical timelines, one row for area 79/1) and b1.
  ASSERT_EQ(dry.timelines.size(), 2u);
  const TimelineGroup* area = nullptr;
  const TimelineGroup* node = nullptr;
  for (const auto& g : dry.timelines) (g.nodes.size() == 2 ? area : node) = &g;
  ASSERT_NE(area, nullptr);
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(area->label, "area:79/1");
  EXPECT_EQ(area->entries.size(), 1u);
  EXPECT_TRUE(area->conflicts.empty());
  EXPECT_EQ(node->label, "node:b1");
  ASSERT_EQ(node->entries.size(), 2u);
  EXPECT_EQ(node->entries[1].fate, Fate::waits);
  EXPECT_EQ(node->entries[1].plays_us, existing.start_us + 20 * kSecond);
  ASSERT_EQ(node->conflicts.size(), 1u);
  EXPECT_NE(node->conflicts[0].find("waits 15 s behind occurrence " + std::to_string(existing.id)),
            std::string::npos)
      << node->conflicts[0];
  EXPECT_EQ(dry.warnings.size(), 1u);

  // An expiry before the output frees: it would expire, never play late.
  auto tight = request(short_one, {"node:b1"}, "2026-11-01T08:00:05");
  tight.expiry = "2026-11-01T08:00:10";
  tight.dry_run = true;
  const auto t = submit(tight);
  ASSERT_EQ(t.timelines.size(), 1u);
  ASSERT_EQ(t.timelines[0].conflicts.size(), 1u);
  EXPECT_NE(t.timelines[0].conflicts[0].find("would expire"), std::string::npos)
      << t.timelines[0].conflicts[0];

  // An emergency preempts; a real schedule reports the conflict as a warning.
  auto urgent = request(short_one, {"node:b1"}, "2026-11-01T08:00:05");
  urgent.priority = "emergency";
  const auto u = submit(urgent);
  ASSERT_EQ(u.occurrences.size(), 1u);
  EXPECT_GT(u.occurrences[0].id, 0u);
  ASSERT_EQ(u.warnings.size(), 1u);
  EXPECT_NE(u.warnings[0].find("preempted"), std::string::npos) << u.warnings[0];
  EXPECT_NE(u.warnings[0].find("node:b1"), std::string::npos) << u.warnings[0];

  auto bad_days = request(short_one, {"node:b1"});
  bad_days.dry_run = true;
  bad_days.days = 0;
  auto bd = controller_->submit(bad_days);
  ASSERT_FALSE(bd.ok());
  EXPECT_EQ(bd.error().message.rfind("days: ", 0), 0u);
}

TEST(TimelineTest, WaitingItemsGoByLevelThenStartAndExpiredOnesNeverPlay) {
  const Micros t0 = 1'000 * kSecond;
  std::vector<PlannedItem> items = {
      {1, "a", 1, t0, 60 * kSecond, t0 + 600 * kSecond, protocol::Priority::normal, false},
      {2, "b", 1, t0 + kSecond, 10 * kSecond, t0 + 30 * kSecond, protocol::Priority::normal, true},
      {3, "c", 1, t0 + 2 * kSecond, 10 * kSecond, t0 + 600 * kSecond, protocol::Priority::priority,
       true},
      {4, "d", 1, t0 + 3 * kSecond, 10 * kSecond, t0 + 600 * kSecond, protocol::Priority::normal,
       true},
  };
  const auto out = simulate_player(items);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].fate, Fate::plays);
  EXPECT_EQ(out[1].fate, Fate::expires);  // b's expiry (t0+30) passes while a plays to t0+60
  EXPECT_EQ(out[2].fate, Fate::waits);    // c (priority) goes first when a ends
  EXPECT_EQ(out[2].plays_us, t0 + 60 * kSecond);
  EXPECT_EQ(out[3].fate, Fate::waits);
  EXPECT_EQ(out[3].plays_us, t0 + 70 * kSecond);
}

// ---- step 4: emergency repeat ----

TEST_F(SchedulingTest, EmergencyRepeatIsOneOccurrencePerRepeatUntilATimeOrCancelled) {
  add_node("n1", "79/1/01");
  const auto bulletin = make_bulletin();
  auto r = request(bulletin, {"node:n1"}, "2026-11-01T08:00");
  r.priority = "emergency";
  r.repeat_every_min = 10;
  r.until = "2026-11-01T09:00";
  const auto bounded = submit(r);
  ASSERT_TRUE(bounded.series.has_value());
  ASSERT_EQ(bounded.occurrences.size(), 7u);  // 08:00, 08:10, ..., 09:00
  std::set<std::uint64_t> ids;
  for (const auto& o : bounded.occurrences) {
    ids.insert(o.id);
    EXPECT_EQ(o.priority, protocol::Priority::emergency);
  }
  EXPECT_EQ(ids.size(), 7u);
  EXPECT_EQ(bounded.occurrences.back().start_us - bounded.occurrences.front().start_us,
            60 * kMinute);

  // Without an end: a rolling window of a day, extended by the tick, until cancelled.
  auto forever = request(bulletin, {"node:n1"}, "2026-11-01T08:05");
  forever.priority = "emergency";
  forever.repeat_every_min = 30;
  const auto rolling = submit(forever);
  ASSERT_TRUE(rolling.series.has_value());
  EXPECT_EQ(rolling.occurrences.size(), 46u);  // 08:05 .. the next day 06:35 (< 07:00)
  clock_.advance(60 * kMinute);
  auto more = controller_->tick();
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(*more, 2u);
  auto stop = controller_->cancel_series(rolling.series->id);
  ASSERT_TRUE(stop.ok());
  EXPECT_EQ(stop->cancelled.size(), 48u);
  clock_.advance(kDay);
  auto after = controller_->tick();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, 0u);
}

}  // namespace

namespace {

// ---- step 5: approval ----

TEST_F(SchedulingTest, ApprovalHoldsPushedOccurrencesUntilTheCommuneDecides) {
  add_node("c1", "79/10/01");  // commune 79/10 requires approval
  add_node("c2", "79/10/02");
  add_node("d1", "79/20/01");  // commune 79/20 does not
  add_node("e1", "79/30/01");  // commune 79/30 requires approval too
  const auto bulletin = make_bulletin();
  ASSERT_TRUE(controller_->set_area_approval("79/10", "required").ok());
  ASSERT_TRUE(controller_->set_area_approval("79/30", "required").ok());
  auto bad_setting = controller_->set_area_approval("79/10", "maybe");
  ASSERT_FALSE(bad_setting.ok());
  EXPECT_EQ(bad_setting.error().message.rfind("approval: ", 0), 0u);

  // Pushed from the province: the approving communes' nodes are pending, not in any plan.
  probe_.clear();
  const auto o = schedule(bulletin, {"area:79"});
  ASSERT_EQ(o.nodes.size(), 4u);
  for (const auto& n : o.nodes) {
    EXPECT_EQ(n.approval, n.area.starts_with("79/20") ? "none" : "pending") << n.node_id;
  }
  EXPECT_EQ(o.scopes, (std::vector<std::string>{"area:79/20"}));
  EXPECT_TRUE(probe_.on("loa/v1/plan/79").empty());
  EXPECT_EQ(plan_ids("loa/v1/plan/79/20"), (std::vector<std::uint64_t>{o.id}));

  // The commune schedules for itself: no approval needed.
  const auto own = schedule(bulletin, {"area:79/10"}, "2026-11-01T09:00");
  EXPECT_EQ(own.nodes[0].approval, "none");

  auto pending = controller_->list_approvals();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].area, "79/10");
  EXPECT_EQ((*pending)[0].nodes, (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ((*pending)[1].area, "79/30");

  // 79/10 approves: its nodes get it (the new plan first); 79/30 rejects.
  probe_.clear();
  auto approved = controller_->decide_approval(o.id, "79/10", true);
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  idle();
  EXPECT_EQ(approved->scopes, (std::vector<std::string>{"area:79/10", "area:79/20"}));
  EXPECT_EQ(plan_ids("loa/v1/plan/79/10"), (std::vector<std::uint64_t>{o.id, own.id}));
  auto rejected = controller_->decide_approval(o.id, "79/30", false);
  ASSERT_TRUE(rejected.ok()) << rejected.error().message;
  EXPECT_TRUE(probe_.on("loa/v1/plan/79/30").empty());
  auto again = controller_->decide_approval(o.id, "79/30", true);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::not_found);
  EXPECT_NE(again.error().message.find("awaits approval"), std::string::npos);
  auto none_left = controller_->list_approvals();
  ASSERT_TRUE(none_left.ok());
  EXPECT_TRUE(none_left->empty());

  // A second push left pending expires unapproved; it can no longer be approved.
  const auto late = schedule(bulletin, {"area:79"}, "2026-11-01T10:00");
  clock_.set(late.expiry_us + 2 * kMinute);
  auto too_late = controller_->decide_approval(late.id, "79/10", true);
  ASSERT_FALSE(too_late.ok());
  EXPECT_EQ(too_late.error().code, ErrorCode::conflict);
  EXPECT_NE(too_late.error().message.find("unapproved"), std::string::npos);

  auto cov = controller_->coverage(0, o.id, false);
  ASSERT_TRUE(cov.ok());
  EXPECT_EQ(cov->total.approval_rejected, 1u);
  EXPECT_EQ(cov->total.missed, 3u);  // c1, c2, d1 never answered
  auto cov_late = controller_->coverage(0, late.id, false);
  ASSERT_TRUE(cov_late.ok());
  EXPECT_EQ(cov_late->total.expired_unapproved, 3u);
  EXPECT_EQ(cov_late->total.missed, 1u);
}

// ---- step 6: groups, exclusions, nodes added later ----

TEST_F(SchedulingTest, GroupsAndExclusionsSplitTheCoveringSet) {
  add_node("m1", "79/1/01");
  add_node("m2", "79/1/01");
  add_node("m3", "79/1/02");
  add_node("x1", "79/2/01");
  add_node("x2", "79/2/02");
  const auto bulletin = make_bulletin();
  auto unknown_node = controller_->add_to_group("markets", {"m1", "ghost"});
  ASSERT_FALSE(unknown_node.ok());
  EXPECT_NE(unknown_node.error().message.find("ghost"), std::string::npos);
  auto g = controller_->add_to_group("markets", {"m1", "x2"});
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(*g, (std::vector<std::string>{"m1", "x2"}));

  auto unknown = controller_->submit(request(bulletin, {"group:fairs"}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown group 'fairs'"), std::string::npos);

  const auto grouped = schedule(bulletin, {"group:markets"});
  EXPECT_EQ(grouped.scopes, (std::vector<std::string>{"node:m1", "node:x2"}));

  // area:79/1 without m2: m1 alone in 79/1/01 -> node scope; 79/1/02 whole -> area scope.
  const auto split = schedule(bulletin, {"area:79/1", "-node:m2"}, "2026-11-01T09:00");
  EXPECT_EQ(split.scopes, (std::vector<std::string>{"node:m1", "area:79/1/02"}));
  EXPECT_EQ(split.nodes.size(), 2u);
  const auto no_area = schedule(bulletin, {"area:79", "-area:79/2"}, "2026-11-01T09:30");
  EXPECT_EQ(no_area.scopes, (std::vector<std::string>{"area:79/1"}));
  auto nothing =
      controller_->submit(request(bulletin, {"area:79/2", "-group:markets", "-node:x1"}));
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().message.find("leave no node"), std::string::npos);
  auto only_minus = controller_->submit(request(bulletin, {"-area:79/2"}));
  ASSERT_FALSE(only_minus.ok());
  EXPECT_EQ(only_minus.error().code, ErrorCode::bad_request);
}

TEST_F(SchedulingTest, ANodeAddedLaterDoesNotGetEarlierOccurrences) {
  add_node("a1", "79/1/01");
  add_node("a2", "79/1/02");
  const auto bulletin = make_bulletin();
  const auto o = schedule(bulletin, {"area:79/1"});
  EXPECT_EQ(o.scopes, (std::vector<std::string>{"area:79/1"}));

  // n9 joins 79/1/02: the area plan would reach it, so the occurrence moves to the scopes of
  // its frozen nodes, the plans that add going out before the one that removes.
  probe_.clear();
  add_node("n9", "79/1/02");
  idle();
  std::vector<std::string> topics;
  for (const auto& m : probe_.on("loa/v1/#")) topics.push_back(m.topic);
  ASSERT_EQ(topics, (std::vector<std::string>{"loa/v1/plan/79/1/01", "loa/v1/node/a2/down/plan",
                                              "loa/v1/plan/79/1"}));
  EXPECT_TRUE(plan_ids("loa/v1/plan/79/1").empty());
  EXPECT_EQ(plan_ids("loa/v1/node/a2/down/plan"), (std::vector<std::uint64_t>{o.id}));
  auto stored = controller_->get_occurrence(o.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->nodes.size(), 2u);

  // Planned after it joined: it gets it.
  const auto later = schedule(bulletin, {"area:79/1"}, "2026-11-01T09:00");
  EXPECT_EQ(later.nodes.size(), 3u);
  EXPECT_EQ(later.scopes, (std::vector<std::string>{"area:79/1"}));
}

}  // namespace
