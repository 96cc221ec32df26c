// The ledger's gate (every refusal reason, receipts, trust of keys), decommissioning, and the
// period report's arithmetic (rows add up, periods in the deployment's zone).
#include "loa/controller/ledger.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "controller_fixture.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/controller/report.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::open_body;
using loa::test::TestNode;

namespace {

constexpr Micros kSecond = 1'000'000;

Micros utc(const char* text) {
  auto t = parse_utc(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : 0;
}

class LedgerTest : public test::ControllerFixture {
 protected:
  using ControllerFixture::add_node;
  // Registers the node with its public key (as provisioning does).
  void add_node(TestNode& node, const std::string& area, std::int64_t residents) {
    add_node(node.id(), area, residents, &node.keys());
  }

  // An event as a node that played the occurrence would send it.
  static protocol::PlaybackEvent played(const TestNode& node, const OccurrenceRecord& o,
                                        std::uint64_t seq,
                                        protocol::Outcome outcome = protocol::Outcome::completed) {
    protocol::PlaybackEvent e;
    e.node_id = node.id();
    e.occurrence_id = o.id;
    e.bulletin_id = o.bulletin_id;
    e.outcome = outcome;
    e.start_us = o.start_us + 15'000;
    e.end_us = e.start_us + 2'500'000;
    e.frames_played = outcome == protocol::Outcome::completed ? 125 : 40;
    e.event_seq = seq;
    return e;
  }

  // Reasons of every refusal so far, oldest first.
  std::vector<std::string> reasons() {
    auto list = controller_->refused_log({});
    EXPECT_TRUE(list.ok());
    std::vector<std::string> out;
    if (!list.ok()) return out;
    for (auto it = list->rbegin(); it != list->rend(); ++it) out.push_back(it->reason);
    return out;
  }

  std::size_t recorded() { return controller_->playback_log({})->size(); }
};

TEST_F(LedgerTest, AnAuthenticEventInItsWindowIsRecordedWithItsEnvelope) {
  TestNode n1(hub_, clock_, "n1");
  add_node(n1, "79/26734/01", 100);
  const auto b = make_bulletin();
  const auto o = schedule(b, {"area:79/26734"});
  clock_.set(o.start_us + 3 * kSecond);
  n1.event(played(n1, o, 1));
  idle();
  auto log = controller_->playback_log({});
  ASSERT_EQ(log->size(), 1u);
  EXPECT_FALSE(log->front().record.envelope.empty());
  EXPECT_EQ(last_receipt(n1), 1u);
  EXPECT_TRUE(reasons().empty());
}

TEST_F(LedgerTest, EachForgedOrImplausibleEventIsRefusedWithItsReasonAndNotCounted) {
  TestNode n1(hub_, clock_, "n1");
  TestNode n2(hub_, clock_, "n2");
  TestNode n3(hub_, clock_, "n3");  // registered in another commune, not targeted
  TestNode ghost(hub_, clock_, "ghost");
  add_node(n1, "79/26734/01", 100);
  add_node(n2, "79/26734/02", 200);
  add_node(n3, "79/26737/01", 300);
  const auto b = make_bulletin();
  const auto other_bulletin = make_bulletin();
  const auto o = schedule(b, {"area:79/26734"});
  clock_.set(o.start_us + 3 * kSecond);

  std::vector<std::string> expected;
  // Signed by another key.
  const auto mallory = protocol::KeyPair::generate();
  n1.event(played(n1, o, 1), &mallory);
  expected.push_back("wrong_key");
  // Signed by n1, then one byte of the body changed (the outcome's neighbour: frames played).
  {
    auto env = protocol::seal(protocol::MessageType::playback_event, n1.keys(), clock_.now_us(), 7,
                              protocol::encode(played(n1, o, 1, protocol::Outcome::partial)));
    env[protocol::kEnvelopeHeaderSize + 4] ^= 0x01;
    n1.raw("event", env);
    expected.push_back("bad_signature");
  }
  // A node nobody registered.
  ghost.event(played(ghost, o, 1));
  expected.push_back("unknown_node");
  // n3 was not targeted by the occurrence.
  n3.event(played(n3, o, 1));
  expected.push_back("not_targeted");
  // An occurrence that does not exist, and the wrong bulletin for a real one.
  auto unknown = played(n2, o, 1);
  unknown.occurrence_id = 999;
  n2.event(unknown);
  expected.push_back("unknown_occurrence");
  auto wrong = played(n2, o, 2);
  wrong.bulletin_id = other_bulletin;
  n2.event(wrong);
  expected.push_back("wrong_bulletin");
  // Played an hour before the occurrence's start; ended far after its length.
  auto early = played(n2, o, 3);
  early.start_us = o.start_us - 3600 * kSecond;
  early.end_us = early.start_us + 2 * kSecond;
  n2.event(early);
  expected.push_back("outside_window");
  auto long_play = played(n2, o, 4);
  long_play.end_us = long_play.start_us + 3600 * kSecond;
  n2.event(long_play);
  expected.push_back("outside_window");
  // Completed without ever starting; more audio than the bulletin has.
  auto no_start = played(n2, o, 5);
  no_start.start_us = 0;
  n2.event(no_start);
  expected.push_back("implausible");
  auto too_much = played(n2, o, 6);
  too_much.frames_played = 100'000;
  n2.event(too_much);
  expected.push_back("implausible");
  // n2's event on n1's topic, signed by n1.
  auto swapped = played(n1, o, 2);
  swapped.node_id = "n2";
  n1.event(swapped);
  expected.push_back("node_mismatch");
  idle();

  EXPECT_EQ(reasons(), expected);
  EXPECT_EQ(recorded(), 0u);
  auto cov = controller_->coverage(0, o.id, false);
  ASSERT_TRUE(cov.ok());
  EXPECT_EQ(cov->total.completed, 0u);
  EXPECT_EQ(cov->total.partial, 0u);
  // Authentic refusals (n2's sequences 1..6) are receipted so its outbox drains; forged ones
  // (n1's wrong key, altered envelope, the swapped node) are not.
  EXPECT_EQ(last_receipt(n2), 6u);
  EXPECT_EQ(last_receipt(n1), 0u);

  // Each refusal keeps its raw envelope, node and occurrence.
  auto list = controller_->refused_log({});
  ASSERT_TRUE(list.ok());
  for (const auto& r : *list) EXPECT_FALSE(r.envelope.empty()) << r.reason;
  RefusedQuery q;
  q.reason = "not_targeted";
  auto nt = controller_->refused_log(q);
  ASSERT_EQ(nt->size(), 1u);
  EXPECT_EQ(nt->front().node_id, "n3");
  EXPECT_EQ(nt->front().occurrence_id, o.id);
  q.reason = "no_such_reason";
  EXPECT_FALSE(controller_->refused_log(q).ok());

  // The real events still count.
  n1.event(played(n1, o, 1));
  n2.event(played(n2, o, 7));
  idle();
  EXPECT_EQ(recorded(), 2u);
  EXPECT_EQ(last_receipt(n1), 1u);
  EXPECT_EQ(last_receipt(n2), 7u);
}

TEST_F(LedgerTest, AResendIsReceiptedAndAConflictingEventIsRefused) {
  TestNode n1(hub_, clock_, "n1");
  add_node(n1, "79/26734/01", 100);
  const auto b = make_bulletin();
  const auto o = schedule(b, {"node:n1"});
  clock_.set(o.start_us + 3 * kSecond);
  const auto e = played(n1, o, 1);
  n1.event(e);
  n1.event(e);  // the outbox resends, re-sealed: other bytes, same event
  idle();
  EXPECT_EQ(recorded(), 1u);
  EXPECT_TRUE(reasons().empty());
  EXPECT_EQ(n1.received().on(protocol::topics::node_receipt("n1")).size(), 2u);

  auto conflicting = e;
  conflicting.outcome = protocol::Outcome::failed;
  conflicting.frames_played = 0;
  conflicting.event_seq = 2;
  n1.event(conflicting);
  idle();
  EXPECT_EQ(reasons(), std::vector<std::string>{"conflicting"});
  EXPECT_EQ(last_receipt(n1), 2u);
  auto log = controller_->playback_log({});
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ(log->front().record.event.outcome, protocol::Outcome::completed);
}

TEST_F(LedgerTest, KeysComeFromRegistrationUnlessTrustFirstKeyIsOn) {
  NodeInput in;
  in.id = "n1";
  in.area = "79/26734/01";
  ASSERT_TRUE(controller_->add_node(in).ok());
  TestNode n1(hub_, clock_, "n1");
  n1.hello({});
  idle();
  EXPECT_FALSE(controller_->get_node("n1")->record.public_key.has_value());
  const auto b = make_bulletin();
  const auto o = schedule(b, {"node:n1"});
  clock_.set(o.start_us + 3 * kSecond);
  n1.event(played(n1, o, 1));
  idle();
  EXPECT_EQ(reasons(), std::vector<std::string>{"no_registered_key"});
  EXPECT_EQ(recorded(), 0u);

  // The development setting: the first hello's key is trusted.
  ControllerSettings settings = controller_->settings();
  settings.trust_first_key = true;
  bus_->stop(0);
  controller_.reset();
  bus_ = hub_.connect("controller-tofu");
  controller_ = std::make_unique<Controller>(*store_, *bus_, clock_, keys_, settings);
  ASSERT_TRUE(controller_->attach().ok());
  ASSERT_TRUE(bus_->start().ok());
  n1.hello({});
  idle();
  ASSERT_TRUE(controller_->get_node("n1")->record.public_key.has_value());
  n1.event(played(n1, o, 1));
  idle();
  EXPECT_EQ(recorded(), 1u);
}

TEST_F(LedgerTest, ADecommissionedNodeIsRefusedAndLeavesFutureOccurrences) {
  TestNode n1(hub_, clock_, "n1");
  TestNode n2(hub_, clock_, "n2");
  add_node(n1, "79/26734/01", 100);
  add_node(n2, "79/26734/02", 200);
  const auto b = make_bulletin();
  const auto past = schedule(b, {"area:79/26734"}, "2026-11-01T08:00");
  const auto future = schedule(b, {"area:79/26734"}, "2026-11-02T08:00");
  clock_.set(past.start_us + 3 * kSecond);
  n1.event(played(n1, past, 1));
  idle();

  auto d = controller_->decommission_node("n1");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->record.decommissioned_us, clock_.now_us());
  EXPECT_EQ(controller_->decommission_node("n1").error().code, ErrorCode::conflict);
  EXPECT_EQ(controller_->decommission_node("nobody").error().code, ErrorCode::not_found);

  // History stays; the future occurrence no longer counts n1; new schedules leave it out.
  EXPECT_EQ(recorded(), 1u);
  EXPECT_EQ(controller_->get_occurrence(past.id)->nodes.size(), 2u);
  ASSERT_EQ(controller_->get_occurrence(future.id)->nodes.size(), 1u);
  EXPECT_EQ(controller_->get_occurrence(future.id)->nodes[0].node_id, "n2");
  const auto later = schedule(b, {"area:79"}, "2026-11-03T08:00");
  ASSERT_EQ(later.nodes.size(), 1u);
  EXPECT_EQ(later.nodes[0].node_id, "n2");

  clock_.set(future.start_us + 3 * kSecond);
  n1.event(played(n1, past, 2, protocol::Outcome::partial));
  idle();
  EXPECT_EQ(reasons(), std::vector<std::string>{"decommissioned_node"});
  EXPECT_EQ(last_receipt(n1), 2u);
}

// A small retention, to see the oldest refusals go.
class LedgerRetentionTest : public LedgerTest {
 protected:
  ControllerSettings settings() const override {
    ControllerSettings s = LedgerTest::settings();
    s.refused_keep_per_node = 5;
    s.refused_keep_total = 8;
    return s;
  }
  // The occurrence ids of the node's stored refusals, newest first.
  std::vector<std::uint64_t> refused_occurrences(const std::string& node) {
    RefusedQuery q;
    q.node_id = node;
    std::vector<std::uint64_t> out;
    auto list = controller_->refused_log(q);
    EXPECT_TRUE(list.ok());
    if (list.ok()) {
      for (const auto& r : *list) out.push_back(r.occurrence_id);
    }
    return out;
  }
};

TEST_F(LedgerRetentionTest, ANodeFloodingRefusalsKeepsTheTableUnderItsCapAndTheOldestGo) {
  TestNode n1(hub_, clock_, "n1");
  TestNode n2(hub_, clock_, "n2");
  add_node(n1, "79/26734/01", 100);
  add_node(n2, "79/26734/02", 100);
  const auto b = make_bulletin();
  const auto o = schedule(b, {"area:79/26734"});
  clock_.set(o.start_us + 3 * kSecond);
  // n1's credential sends 20 authentic events for occurrences that do not exist.
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto e = played(n1, o, i + 1);
    e.occurrence_id = 1000 + i;
    n1.event(e);
  }
  idle();
  EXPECT_EQ(refused_occurrences("n1"), (std::vector<std::uint64_t>{1019, 1018, 1017, 1016, 1015}));
  EXPECT_EQ(last_receipt(n1), 20u);  // final refusals: receipted, the node's outbox drains

  // A huge envelope keeps its first bytes, its size and digest.
  const protocol::Bytes huge(300'000, 0xee);
  n2.raw("event", huge);
  idle();
  auto list = controller_->refused_log({});
  ASSERT_TRUE(list.ok());
  ASSERT_FALSE(list->empty());
  const RefusedEventRecord& r = list->front();
  EXPECT_EQ(r.node_id, "n2");
  EXPECT_EQ(r.reason, "malformed");
  EXPECT_EQ(r.envelope.size(), kRefusedEnvelopeKept);
  EXPECT_EQ(r.envelope_size, huge.size());
  const auto digest = protocol::sha256(huge);
  EXPECT_EQ(r.envelope_sha256, protocol::Bytes(digest.begin(), digest.end()));
  // A normal one is kept whole.
  EXPECT_EQ(list->back().envelope.size(), list->back().envelope_size);

  // Five more of n2's: n2 keeps its newest five (the huge one goes), and the total cap (8)
  // pushes out n1's oldest.
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto e = played(n2, o, i + 1);
    e.occurrence_id = 2000 + i;
    n2.event(e);
  }
  idle();
  EXPECT_EQ(controller_->refused_log({})->size(), 8u);
  EXPECT_EQ(refused_occurrences("n2"), (std::vector<std::uint64_t>{2004, 2003, 2002, 2001, 2000}));
  EXPECT_EQ(refused_occurrences("n1"), (std::vector<std::uint64_t>{1019, 1018, 1017}));
}

TEST_F(LedgerRetentionTest, TheRefusedLogComesInPagesOfBoundedSize) {
  TestNode n1(hub_, clock_, "n1");
  add_node(n1, "79/26734/01", 100);
  const auto b = make_bulletin();
  const auto o = schedule(b, {"area:79/26734"});
  clock_.set(o.start_us + 3 * kSecond);
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto e = played(n1, o, i + 1);
    e.occurrence_id = 1000 + i;
    n1.event(e);
  }
  idle();
  RefusedQuery q;
  q.limit = 2;
  std::vector<std::uint64_t> seen;
  for (int page = 0; page < 5; ++page) {
    auto rows = controller_->refused_log(q);
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    for (const auto& r : *rows) seen.push_back(r.occurrence_id);
    if (rows->size() < q.limit) break;
    q.after = static_cast<std::uint64_t>(rows->back().id);
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1004, 1003, 1002, 1001, 1000}));
  q.after = 0;
  q.limit = kMaxRefusedPage + 1;
  auto too_many = controller_->refused_log(q);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, ErrorCode::bad_request);
  EXPECT_NE(too_many.error().message.find("limit"), std::string::npos);
  q.limit = 0;
  EXPECT_FALSE(controller_->refused_log(q).ok());
}

// A live stream's duration is known once it is archived; until then an event is checked against
// the time played so far.
class LedgerLiveTest : public LedgerTest {
 protected:
  // Starts a live stream to 79/26734 and returns it with its occurrence.
  std::pair<std::unique_ptr<LiveSession>, OccurrenceRecord> start_live() {
    LiveRequest req;
    req.targets = {"area:79/26734"};
    req.rate = 16000;
    auto session = controller_->start_live(req);
    EXPECT_TRUE(session.ok()) << session.error().message;
    idle();
    if (!session.ok()) return {};
    auto bulletins = store_->list_bulletins();
    EXPECT_TRUE(bulletins.ok() && !bulletins->empty());
    auto occurrences = store_->occurrences_of_bulletin(bulletins->back().id);
    EXPECT_TRUE(occurrences.ok() && occurrences->size() == 1u);
    return {std::move(*session), occurrences->front()};
  }
  // Pushes silence until `session` has played up to `until` (the clock is set just past it
  // first, so nothing waits).
  void play_until(LiveSession& session, Micros& played_to, Micros until) {
    clock_.set(until + kSecond);  // the stream's first sample comes after o.start_us
    const auto samples = static_cast<std::size_t>((until - played_to) * 16 / 1000);  // 16 kHz
    ASSERT_TRUE(session.push_s16le(protocol::Bytes(samples * 2, 0)).ok());
    played_to = until;
  }
  // An event of a node that played `seconds` of the stream from its start (then restarted).
  static protocol::PlaybackEvent mid_stream(const TestNode& node, const OccurrenceRecord& o,
                                            double seconds, std::uint64_t seq) {
    protocol::PlaybackEvent e;
    e.node_id = node.id();
    e.occurrence_id = o.id;
    e.bulletin_id = o.bulletin_id;
    e.outcome = protocol::Outcome::partial;
    e.start_us = o.start_us + 15'000;
    e.end_us = e.start_us + static_cast<Micros>(seconds * 1e6);
    e.frames_played = static_cast<std::uint32_t>(seconds * 50);
    e.event_seq = seq;
    return e;
  }
};

TEST_F(LedgerLiveTest, AnEventArrivingMidStreamWithMoreThanTheToleranceAiredIsRecorded) {
  TestNode n1(hub_, clock_, "n1");
  add_node(n1, "79/26734/01", 100);
  auto [session, o] = start_live();
  ASSERT_TRUE(session);
  Micros played_to = o.start_us;
  // 160 s into a 3-minute stream, a node that aired 150 s of it and restarted reports it.
  play_until(*session, played_to, o.start_us + 160 * kSecond);
  n1.event(mid_stream(n1, o, 150, 1));
  idle();
  EXPECT_EQ(recorded(), 1u);
  EXPECT_TRUE(reasons().empty());
  EXPECT_EQ(last_receipt(n1), 1u);
  play_until(*session, played_to, o.start_us + 180 * kSecond);
  const LiveSummary summary = session->finish("end of source");
  EXPECT_TRUE(summary.archive_error.empty()) << summary.archive_error;
  EXPECT_EQ(recorded(), 1u);
}

TEST_F(LedgerLiveTest, AnEventThatDoesNotFitTheStreamSoFarIsDeferredNotReceipted) {
  TestNode n1(hub_, clock_, "n1");
  add_node(n1, "79/26734/01", 100);
  auto [session, o] = start_live();
  ASSERT_TRUE(session);
  Micros played_to = o.start_us;
  // 20 s into the stream, an event claims 150 s aired (a node's clock far ahead, say): it cannot
  // be judged before the stream's duration is known. Not stored, not receipted: the node keeps
  // it.
  play_until(*session, played_to, o.start_us + 20 * kSecond);
  const auto e = mid_stream(n1, o, 150, 1);
  n1.event(e);
  idle();
  EXPECT_EQ(recorded(), 0u);
  EXPECT_TRUE(reasons().empty());
  EXPECT_EQ(last_receipt(n1), 0u);
  // The stream lasts 3 minutes; once archived, the node's resend fits and is recorded.
  play_until(*session, played_to, o.start_us + 180 * kSecond);
  const LiveSummary summary = session->finish("end of source");
  ASSERT_TRUE(summary.archive_error.empty()) << summary.archive_error;
  n1.event(e);
  idle();
  EXPECT_EQ(recorded(), 1u);
  EXPECT_EQ(last_receipt(n1), 1u);
}

TEST(LedgerWindow, ALiveStreamOnAirIsBoundedByItsTimeSoFarUpToItsExpiry) {
  BulletinRecord live;
  live.source = "live";
  OccurrenceRecord o;
  o.start_us = 1'000 * kSecond;
  o.expiry_us = 1'600 * kSecond;
  EXPECT_DOUBLE_EQ(event_duration_bound_s(live, o, 900 * kSecond), 0.0);
  EXPECT_DOUBLE_EQ(event_duration_bound_s(live, o, 1'160 * kSecond), 160.0);
  EXPECT_DOUBLE_EQ(event_duration_bound_s(live, o, 9'000 * kSecond), 600.0);
  // Archived: its own duration.
  live.ogg_path = "x.opus";
  live.duration_s = 180.5;
  EXPECT_DOUBLE_EQ(event_duration_bound_s(live, o, 1'010 * kSecond), 180.5);
  BulletinRecord file;
  file.source = "audio";
  file.duration_s = 30;
  EXPECT_DOUBLE_EQ(event_duration_bound_s(file, o, 1'010 * kSecond), 30.0);
}

TEST(LedgerWindow, BoundsAreTheOccurrencesWindowWithTolerance) {
  OccurrenceRecord o;
  o.start_us = 1'000 * kSecond;
  o.expiry_us = 1'600 * kSecond;
  o.created_us = 500 * kSecond;
  LedgerSettings s;
  s.tolerance_us = 10 * kSecond;
  protocol::PlaybackEvent e;
  e.outcome = protocol::Outcome::completed;
  e.start_us = o.start_us;
  e.end_us = o.start_us + 30 * kSecond;
  e.frames_played = 1500;  // 30 s
  EXPECT_FALSE(check_event_window(e, o, 30.0, s));
  e.start_us = o.start_us - 10 * kSecond;  // at the tolerance: fine
  e.end_us = e.start_us + 30 * kSecond;
  EXPECT_FALSE(check_event_window(e, o, 30.0, s));
  e.start_us -= 1;
  EXPECT_EQ(check_event_window(e, o, 30.0, s)->reason, RefusalReason::outside_window);
  e.start_us = o.expiry_us + 10 * kSecond + 1;  // starts after expiry
  e.end_us = e.start_us + 30 * kSecond;
  EXPECT_EQ(check_event_window(e, o, 30.0, s)->reason, RefusalReason::outside_window);
  e.start_us = o.expiry_us;  // the latest start; ends within duration + tolerance
  e.end_us = e.start_us + 40 * kSecond;
  EXPECT_FALSE(check_event_window(e, o, 30.0, s));
  e.end_us += 1;
  EXPECT_EQ(check_event_window(e, o, 30.0, s)->reason, RefusalReason::outside_window);
  e.end_us = e.start_us - 1;  // ends before it starts
  EXPECT_EQ(check_event_window(e, o, 30.0, s)->reason, RefusalReason::outside_window);
  e.end_us = e.start_us + 30 * kSecond;
  e.frames_played = 2001;  // 40.02 s of a 30 s bulletin
  EXPECT_EQ(check_event_window(e, o, 30.0, s)->reason, RefusalReason::implausible);

  // Not played: a late "expired" is accepted, one decided before the occurrence existed is not.
  protocol::PlaybackEvent x;
  x.outcome = protocol::Outcome::expired;
  x.end_us = o.expiry_us + 86'400 * kSecond;
  EXPECT_FALSE(check_event_window(x, o, 30.0, s));
  x.end_us = o.created_us - 11 * kSecond;
  EXPECT_EQ(check_event_window(x, o, 30.0, s)->reason, RefusalReason::outside_window);
}

TEST(ReportPeriod, PresetsAreLocalMidnightsOfTheDeploymentsZone) {
  const std::string tz = "Asia/Ho_Chi_Minh";
  PeriodSpec month;
  month.month = "2026-11";
  auto m = resolve_period(month, tz);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->from_us, utc("2026-10-31T17:00:00Z"));
  EXPECT_EQ(m->to_us, utc("2026-11-30T17:00:00Z"));
  PeriodSpec quarter;
  quarter.quarter = "2026-Q4";
  auto q = resolve_period(quarter, tz);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->from_us, utc("2026-09-30T17:00:00Z"));
  EXPECT_EQ(q->to_us, utc("2026-12-31T17:00:00Z"));
  PeriodSpec year;
  year.year = "2026";
  auto y = resolve_period(year, tz);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->from_us, utc("2025-12-31T17:00:00Z"));
  EXPECT_EQ(y->to_us, utc("2026-12-31T17:00:00Z"));
  PeriodSpec range;
  range.from = "2026-11-03";
  range.to = "2026-11-03";  // one whole day
  auto r = resolve_period(range, tz);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->to_us - r->from_us, 86'400 * kSecond);
  // A daylight-saving zone: the month of the spring change is an hour short.
  PeriodSpec march;
  march.month = "2026-03";
  auto berlin = resolve_period(march, "Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  EXPECT_EQ(berlin->to_us - berlin->from_us, (31 * 24 - 1) * 3600 * kSecond);

  for (auto bad :
       {PeriodSpec{}, PeriodSpec{"2026-11-01", "", "", "", ""},
        PeriodSpec{"2026-11-05", "2026-11-01", "", "", ""}, PeriodSpec{"", "", "2026-13", "", ""},
        PeriodSpec{"", "", "", "2026-Q5", ""}, PeriodSpec{"", "", "2026-11", "", "2026"}}) {
    EXPECT_FALSE(resolve_period(bad, tz).ok()) << bad.from << bad.month << bad.quarter;
  }
}

// A hand-made ledger: three areas over two days, every outcome.
ReportInputs sample_inputs() {
  ReportInputs in;
  const Micros day = 86'400 * kSecond;
  const Micros t0 = utc("2026-11-01T01:00:00Z");  // 08:00 in Hanoi
  const std::vector<TargetedNode> nodes = {{"a1", "79/26734/01", 100},
                                           {"a2", "79/26734/02", 200},
                                           {"b1", "79/26737/01", 300},
                                           {"c1", "01/00001/01", 400}};
  for (std::uint64_t i = 0; i < 4; ++i) {
    OccurrenceRecord o;
    o.id = i + 1;
    o.bulletin_id = 1 + i % 2;
    o.start_us = t0 + static_cast<Micros>(i / 2) * day + static_cast<Micros>(i) * 3600 * kSecond;
    o.expiry_us = o.start_us + 600 * kSecond;
    o.nodes = i == 3 ? std::vector<TargetedNode>{nodes[0], nodes[1]} : nodes;
    in.occurrences.push_back(o);
  }
  const protocol::Outcome outcomes[] = {protocol::Outcome::completed, protocol::Outcome::partial,
                                        protocol::Outcome::failed, protocol::Outcome::completed};
  int k = 0;
  for (const auto& o : in.occurrences) {
    for (const auto& n : o.nodes) {
      if (++k % 4 == 0) continue;  // missed
      EventRecord r;
      r.event.node_id = n.node_id;
      r.event.occurrence_id = o.id;
      r.event.bulletin_id = o.bulletin_id;
      r.event.outcome = outcomes[k % 4];
      r.event.start_us = o.start_us;
      r.event.end_us = o.start_us + 10 * kSecond;
      r.event.frames_played = r.event.outcome == protocol::Outcome::failed ? 0 : 500;
      in.events.push_back(r);
    }
  }
  in.bulletin_titles = {{1, "Tiêm chủng"}, {2, "Phòng cháy"}};
  return in;
}

void expect_rows_add_up(const PeriodReport& r, bool occurrences_additive) {
  ReportFigures sum;
  for (const auto& row : r.rows) {
    sum.occurrences += row.figures.occurrences;
    sum.plays += row.figures.plays;
    sum.frames_aired += row.figures.frames_aired;
  }
  EXPECT_EQ(sum.plays, r.total.plays) << to_string(r.by);
  EXPECT_EQ(sum.frames_aired, r.total.frames_aired) << to_string(r.by);
  if (occurrences_additive) {
    EXPECT_EQ(sum.occurrences, r.total.occurrences) << to_string(r.by);
  } else {
    EXPECT_GE(sum.occurrences, r.total.occurrences);
  }
  // Every node-play is in exactly one outcome.
  const auto& p = r.total.plays;
  EXPECT_EQ(p.completed + p.partial + p.failed + p.preempted + p.expired + p.cancelled + p.missed +
                p.pending + p.cancelled_unheard + p.approval_rejected + p.expired_unapproved,
            p.targeted);
}

TEST(PeriodReport, AreaDayAndBulletinRowsAddUpToTheTotal) {
  const auto in = sample_inputs();
  ReportPeriod period{utc("2026-10-31T17:00:00Z"), utc("2026-11-30T17:00:00Z"), "2026-11",
                      "Asia/Ho_Chi_Minh"};
  const Micros now = utc("2026-12-15T00:00:00Z");
  const auto total = compute_period_report(period, in, "", ReportGrouping::none, now, 0);
  EXPECT_EQ(total.total.occurrences, 4u);
  EXPECT_EQ(total.total.plays.targeted, 14u);
  EXPECT_TRUE(total.rows.empty());

  const auto by_area = compute_period_report(period, in, "", ReportGrouping::area, now, 0);
  ASSERT_EQ(by_area.rows.size(), 2u);  // provinces 01 and 79
  EXPECT_EQ(by_area.rows[0].key, "01");
  EXPECT_EQ(by_area.total, total.total);
  expect_rows_add_up(by_area, false);

  const auto communes = compute_period_report(period, in, "79", ReportGrouping::area, now, 0);
  ASSERT_EQ(communes.rows.size(), 2u);
  EXPECT_EQ(communes.rows[0].key, "79/26734");
  EXPECT_EQ(communes.rows[1].key, "79/26737");
  EXPECT_EQ(communes.total.plays.targeted, 11u);
  EXPECT_EQ(communes.rows[0].figures.occurrences, 4u);
  EXPECT_EQ(communes.rows[1].figures.occurrences, 3u);
  expect_rows_add_up(communes, false);
  // The province's row of the first report equals the province's own total.
  EXPECT_EQ(by_area.rows[1].figures, communes.total);

  const auto by_day = compute_period_report(period, in, "", ReportGrouping::day, now, 0);
  ASSERT_EQ(by_day.rows.size(), 2u);
  EXPECT_EQ(by_day.rows[0].key, "2026-11-01");
  EXPECT_EQ(by_day.rows[1].key, "2026-11-02");
  expect_rows_add_up(by_day, true);

  const auto by_bulletin = compute_period_report(period, in, "", ReportGrouping::bulletin, now, 0);
  ASSERT_EQ(by_bulletin.rows.size(), 2u);
  EXPECT_EQ(by_bulletin.rows[0].label, "Tiêm chủng");
  expect_rows_add_up(by_bulletin, true);

  // A period that holds only the first day.
  ReportPeriod first_day = period;
  first_day.to_us = utc("2026-11-01T17:00:00Z");
  const auto one = compute_period_report(first_day, in, "", ReportGrouping::day, now, 0);
  ASSERT_EQ(one.rows.size(), 1u);
  EXPECT_EQ(one.total, by_day.rows[0].figures);
}

TEST(PeriodReport, VerifyFindsARowThatDisagreesWithItsSignature) {
  auto in = sample_inputs();
  std::map<std::string, NodeRecord> nodes;
  std::map<std::string, protocol::KeyPair> keys;
  for (const char* id : {"a1", "a2", "b1", "c1"}) {
    keys[id] = protocol::KeyPair::generate();
    NodeRecord n;
    n.id = id;
    n.public_key = keys[id].public_key;
    nodes[id] = n;
  }
  std::int64_t row = 0;
  for (auto& r : in.events) {
    r.row_id = ++row;
    r.envelope = protocol::seal(protocol::MessageType::playback_event, keys[r.event.node_id], 0,
                                static_cast<std::uint64_t>(row), protocol::encode(r.event));
  }
  const auto period = all_time("Asia/Ho_Chi_Minh");
  const Micros now = utc("2026-12-15T00:00:00Z");
  auto ok = verify_ledger(period, in, nodes, now, 0);
  EXPECT_TRUE(ok.verified()) << ok.discrepancies.front();
  EXPECT_EQ(ok.events_checked, in.events.size());

  auto altered = in;
  auto& victim = altered.events[1];
  ASSERT_NE(victim.event.outcome, protocol::Outcome::completed);
  victim.event.outcome = protocol::Outcome::completed;
  auto bad = verify_ledger(period, altered, nodes, now, 0);
  ASSERT_FALSE(bad.verified());
  EXPECT_NE(bad.discrepancies.front().find("event row 2"), std::string::npos);
  EXPECT_NE(bad.discrepancies.front().find("outcome stored completed"), std::string::npos);
  const bool total_named =
      std::any_of(bad.discrepancies.begin(), bad.discrepancies.end(),
                  [](const std::string& d) { return d.find("total completed") == 0; });
  EXPECT_TRUE(total_named);

  auto resigned = in;  // an envelope signed by someone else
  resigned.events[0].envelope =
      protocol::seal(protocol::MessageType::playback_event, protocol::KeyPair::generate(), 0, 1,
                     protocol::encode(resigned.events[0].event));
  EXPECT_FALSE(verify_ledger(period, resigned, nodes, now, 0).verified());
}

}  // namespace
