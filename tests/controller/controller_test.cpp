#include "loa/controller/controller.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <map>
#include <set>

#include "controller_fixture.hpp"
#include "loa/controller/dispatcher.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/controller/pacer.hpp"
#include "loa/protocol/topics.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::open_body;
using loa::test::Recorder;
using loa::test::TestNode;

namespace {

constexpr Micros kSecond = 1'000'000;

class ControllerTest : public test::ControllerFixture {
 protected:
  ControllerSettings settings() const override {
    ControllerSettings s = ControllerFixture::settings();
    s.fetch_window_ms = fetch_window_ms();  // 0: fetches served as they arrive
    s.trust_first_key = true;               // TestNodes introduce their keys in their hello
    // TestNode::completed() plays at the test's "now", before the occurrences start: these tests
    // check other rules (ledger_test.cpp checks the window).
    s.event_tolerance_us = 24 * 3600 * kSecond;
    return s;
  }
  virtual int fetch_window_ms() const { return 0; }

  std::optional<protocol::Plan> plan_of(const runtime::BusMessage& m) {
    auto body = open_body(m.payload, keys_.public_key, protocol::MessageType::plan);
    if (!body) return std::nullopt;
    auto plan = protocol::decode_plan(*body);
    if (!plan) return std::nullopt;
    return *plan;
  }
};

TEST_F(ControllerTest, ScheduleRefusesBadRequestsNamingWhatIsWrong) {
  add_node("n1", "79/26734/01", 100);
  const auto bulletin = make_bulletin();
  ASSERT_GT(bulletin, 0u);
  probe_.clear();

  struct Case {
    ScheduleRequest req;
    ErrorCode code;
    std::string needle;
  };
  std::vector<Case> cases;
  cases.push_back(
      {request(bulletin, {"node:n1"}, "2026-11-01T06:59"), ErrorCode::unprocessable, "past"});
  cases.push_back({request(999, {"node:n1"}), ErrorCode::not_found, "999"});
  cases.push_back({request(bulletin, {"node:zz"}), ErrorCode::not_found, "zz"});
  cases.push_back({request(bulletin, {"area:80/1"}), ErrorCode::unprocessable, "80/1"});
  cases.push_back({request(bulletin, {"group:markets"}), ErrorCode::bad_request, "group:markets"});
  cases.push_back({request(bulletin, {"area:79//1"}), ErrorCode::bad_request, "79//1"});
  cases.push_back({request(bulletin, {}), ErrorCode::bad_request, "target"});
  cases.push_back({request(bulletin, {"node:n1"}, "2026-11-01 8h"), ErrorCode::bad_request, "at"});
  auto bad_tz = request(bulletin, {"node:n1"});
  bad_tz.tz = "Mars/Olympus";
  cases.push_back({bad_tz, ErrorCode::bad_request, "Mars/Olympus"});
  // 2027-03-14 02:30 is skipped in New York (daylight saving starts).
  auto gap = request(bulletin, {"node:n1"}, "2027-03-14T02:30");
  gap.tz = "America/New_York";
  cases.push_back({gap, ErrorCode::bad_request, "does not exist"});
  auto overlap = request(bulletin, {"node:n1"}, "2027-11-07T01:30");
  overlap.tz = "America/New_York";
  cases.push_back({overlap, ErrorCode::bad_request, "ambiguous"});
  auto priority = request(bulletin, {"node:n1"});
  priority.priority = "urgent";
  cases.push_back({priority, ErrorCode::bad_request, "urgent"});
  auto volume = request(bulletin, {"node:n1"});
  volume.volume = 101;
  cases.push_back({volume, ErrorCode::bad_request, "101"});
  auto expiry = request(bulletin, {"node:n1"});
  expiry.expiry = "2026-11-01T07:59";
  cases.push_back({expiry, ErrorCode::bad_request, "expiry"});

  for (const auto& c : cases) {
    auto r = controller_->schedule(c.req);
    ASSERT_FALSE(r.ok()) << c.needle;
    EXPECT_EQ(r.error().code, c.code) << r.error().message;
    EXPECT_NE(r.error().message.find(c.needle), std::string::npos) << r.error().message;
  }
  idle();
  EXPECT_TRUE(probe_.messages().empty()) << "a refused schedule published something";
  EXPECT_TRUE(controller_->list_occurrences(0)->empty());

  // The same in a zone with daylight saving, on a day that exists, is accepted.
  auto ok = request(bulletin, {"node:n1"}, "2027-03-14T03:30");
  ok.tz = "America/New_York";
  auto occ = controller_->schedule(ok);
  ASSERT_TRUE(occ.ok()) << occ.error().message;
  EXPECT_EQ(format_utc(occ->start_us), "2027-03-14T07:30:00Z");
}

TEST_F(ControllerTest, PlanFanOutIsOneMessagePerTargetScope) {
  add_node("n1", "79/26734/01", 100);
  add_node("n2", "79/26734/02", 200);
  add_node("n4", "79/26734/01", 400);
  add_node("n3", "79/26737/01", 300);
  const auto bulletin = make_bulletin(2.5);
  ASSERT_GT(bulletin, 0u);
  probe_.clear();

  // node:n1 and area:79/26734/01 lie inside area:79/26734 and add no message.
  const auto occ = schedule(bulletin, {"area:79/26734", "node:n3", "node:n1", "area:79/26734/01"});
  ASSERT_GT(occ.id, 0u);
  EXPECT_EQ(format_utc(occ.start_us), "2026-11-01T01:00:00Z");
  EXPECT_EQ(occ.scopes, (std::vector<std::string>{"area:79/26734", "node:n3"}));
  ASSERT_EQ(occ.nodes.size(), 4u);
  std::int64_t residents = 0;
  for (const auto& n : occ.nodes) residents += n.residents;
  EXPECT_EQ(residents, 1000);

  const auto area_plans = probe_.on("loa/v1/plan/#");
  const auto node_plans = probe_.on("loa/v1/node/+/down/plan");
  ASSERT_EQ(area_plans.size(), 1u);
  ASSERT_EQ(node_plans.size(), 1u);
  EXPECT_EQ(area_plans[0].topic, "loa/v1/plan/79/26734");
  EXPECT_EQ(node_plans[0].topic, "loa/v1/node/n3/down/plan");
  auto plan = plan_of(area_plans[0]);
  ASSERT_TRUE(plan.has_value()) << "plan does not verify with the controller's key";
  EXPECT_EQ(plan->scope, "area:79/26734");
  ASSERT_EQ(plan->occurrences.size(), 1u);
  EXPECT_EQ(plan->occurrences[0].occurrence_id, occ.id);
  EXPECT_EQ(plan->occurrences[0].bulletin_id, bulletin);
  EXPECT_EQ(plan->occurrences[0].start_us, occ.start_us);
  EXPECT_EQ(plan->occurrences[0].expiry_us, occ.expiry_us);
  EXPECT_GT(occ.expiry_us, occ.start_us + 2 * kSecond);

  // Prefetch: the manifest (retained) goes out with the plans; chunks only when asked for.
  const auto manifests = probe_.on(protocol::topics::bulletin_manifest(bulletin));
  ASSERT_EQ(manifests.size(), 1u);
  auto mbody = open_body(manifests[0].payload, keys_.public_key, protocol::MessageType::manifest);
  ASSERT_TRUE(mbody.has_value());
  auto manifest = protocol::decode_manifest(*mbody);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->chunk_digests.size(), 3u);  // 2.5 s in 1 s chunks
  EXPECT_TRUE(probe_.on(protocol::topics::bulletin_chunks(bulletin)).empty());
  TestNode fetcher(hub_, clock_, "n1");
  fetcher.hello({});
  idle();
  fetcher.fetch(bulletin, false, {0, 1, 2});
  idle();
  const auto chunks = probe_.on(protocol::topics::bulletin_chunks(bulletin));
  ASSERT_EQ(chunks.size(), manifest->chunk_digests.size());
  protocol::BulletinAssembler assembler(*manifest);
  for (const auto& c : chunks) {
    auto body = open_body(c.payload, keys_.public_key, protocol::MessageType::audio_chunk);
    ASSERT_TRUE(body.has_value());
    const auto added = assembler.add(*body);
    EXPECT_TRUE(added.ok()) << added.error().message;
  }
  EXPECT_TRUE(assembler.complete());

  // Plans and the manifest are retained: a late subscriber gets them; chunks are not.
  auto late_bus = hub_.connect("late");
  Recorder late;
  late.attach(*late_bus);
  ASSERT_TRUE(late_bus->start().ok());
  ASSERT_TRUE(late_bus->subscribe("loa/v1/#").ok());
  idle();
  std::set<std::string> retained;
  for (const auto& m : late.messages()) {
    EXPECT_TRUE(m.retained) << m.topic;
    retained.insert(m.topic);
  }
  EXPECT_EQ(retained, (std::set<std::string>{"loa/v1/plan/79/26734", "loa/v1/node/n3/down/plan",
                                             protocol::topics::bulletin_manifest(bulletin)}));
  late_bus->stop(0);

  // A second occurrence for the area: a newer plan carrying both.
  probe_.clear();
  const auto occ2 = schedule(bulletin, {"area:79/26734"}, "2026-11-01T09:00");
  const auto again = probe_.on("loa/v1/plan/#");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(probe_.on("loa/v1/node/+/down/plan").empty());
  auto plan2 = plan_of(again[0]);
  ASSERT_TRUE(plan2.has_value());
  EXPECT_GT(plan2->version, plan->version);
  ASSERT_EQ(plan2->occurrences.size(), 2u);
  EXPECT_EQ(plan2->occurrences[1].occurrence_id, occ2.id);

  // Plans keep an occurrence until max(expiry, start + duration) + 60 s (session decision 2),
  // then leave it out.
  EXPECT_EQ(occ.keep_until_us, occ.expiry_us + 60 * kSecond);
  clock_.set(occ.expiry_us + 1);
  probe_.clear();
  schedule(bulletin, {"area:79/26734"}, "2026-11-01T09:30");
  auto kept = plan_of(probe_.on("loa/v1/plan/#").at(0));
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->occurrences.size(), 3u);
  clock_.set(occ.keep_until_us);
  probe_.clear();
  schedule(bulletin, {"area:79/26734"}, "2026-11-01T10:00");
  auto plan3 = plan_of(probe_.on("loa/v1/plan/#").at(0));
  ASSERT_TRUE(plan3.has_value());
  ASSERT_EQ(plan3->occurrences.size(), 3u);
  EXPECT_EQ(plan3->occurrences[0].occurrence_id, occ2.id);
}

TEST_F(ControllerTest, EventsAreIdempotentAndReceiptsCoverOnlyContiguousSequences) {
  add_node("n1", "79/26734/01", 100);
  TestNode node(hub_, clock_, "n1");
  node.hello({});
  idle();
  const auto bulletin = make_bulletin();
  const auto o1 = schedule(bulletin, {"node:n1"}, "2026-11-01T08:00");
  const auto o2 = schedule(bulletin, {"node:n1"}, "2026-11-01T08:10");
  const auto o3 = schedule(bulletin, {"node:n1"}, "2026-11-01T08:20");

  node.event(node.completed(o1.id, bulletin, 1));
  idle();
  EXPECT_EQ(last_receipt(node), 1u);
  // Sequence 3 before 2: the receipt holds at 1 until the gap is filled.
  node.event(node.completed(o3.id, bulletin, 3));
  idle();
  EXPECT_EQ(last_receipt(node), 1u);
  node.event(node.completed(o2.id, bulletin, 2));
  idle();
  EXPECT_EQ(last_receipt(node), 3u);

  // A retry of occurrence 1 (same event, and one claiming another outcome) changes nothing but
  // is still acknowledged.
  const auto receipts_before = node.received().on("loa/v1/node/n1/down/receipt").size();
  node.event(node.completed(o1.id, bulletin, 1));
  auto changed = node.completed(o1.id, bulletin, 4);
  changed.outcome = protocol::Outcome::failed;
  node.event(changed);
  idle();
  EXPECT_EQ(node.received().on("loa/v1/node/n1/down/receipt").size(), receipts_before + 2);
  EXPECT_EQ(last_receipt(node), 4u);

  auto log = controller_->playback_log({});
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 3u);
  auto cov = controller_->coverage(0, o1.id, false);
  ASSERT_TRUE(cov.ok());
  EXPECT_EQ(cov->total.targeted, 1u);
  EXPECT_EQ(cov->total.completed, 1u);
  EXPECT_EQ(cov->total.failed, 0u);
  auto all = controller_->coverage(bulletin, 0, false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total.completed, 3u);
  EXPECT_EQ(all->total.residents_reached, 300);
}

TEST_F(ControllerTest, ForgedAndMalformedEventsAreRefused) {
  add_node("n1", "79/26734/01", 100);
  add_node("n2", "79/26734/02", 100);
  TestNode node(hub_, clock_, "n1");
  node.hello({});
  idle();
  const auto bulletin = make_bulletin();
  const auto occ = schedule(bulletin, {"area:79/26734"});

  // Signed by a key that is not n1's.
  const auto mallory = protocol::KeyPair::generate();
  node.event(node.completed(occ.id, bulletin, 1), &mallory);
  // n2's event pushed through n1's topic.
  auto other = node.completed(occ.id, bulletin, 1);
  other.node_id = "n2";
  node.event(other);
  // Not an envelope at all, and a truncated one.
  node.raw("event", protocol::Bytes{1, 2, 3});
  auto good = protocol::seal(protocol::MessageType::playback_event, node.keys(), clock_.now_us(),
                             99, protocol::encode(node.completed(occ.id, bulletin, 1)));
  good.pop_back();
  node.raw("event", good);
  idle();

  EXPECT_TRUE(controller_->playback_log({})->empty());
  EXPECT_TRUE(node.received().on("loa/v1/node/n1/down/receipt").empty());
  EXPECT_EQ(controller_->coverage(0, occ.id, false)->total.completed, 0u);

  // The controller still works.
  node.event(node.completed(occ.id, bulletin, 1));
  idle();
  EXPECT_EQ(controller_->playback_log({})->size(), 1u);
  EXPECT_EQ(last_receipt(node), 1u);
}

TEST_F(ControllerTest, HelloTrustsTheFirstKeyOnlyAndMarksTheNodeOnline) {
  add_node("n1", "79/26734/01", 100);
  TestNode node(hub_, clock_, "n1");
  node.hello({});
  idle();
  auto seen = controller_->get_node("n1");
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(seen->online);
  EXPECT_EQ(seen->record.last_seen_us, clock_.now_us());
  ASSERT_TRUE(seen->record.public_key.has_value());
  EXPECT_EQ(*seen->record.public_key, node.keys().public_key);

  // An impostor with another key on the same id is refused; the registered key stays.
  TestNode impostor(hub_, clock_, "n1");
  impostor.hello({});
  idle();
  EXPECT_EQ(*controller_->get_node("n1")->record.public_key, node.keys().public_key);

  // Silent for longer than offline-after: listed offline.
  clock_.advance(600 * kSecond);
  EXPECT_FALSE(controller_->get_node("n1")->online);
  node.status();
  idle();
  EXPECT_TRUE(controller_->get_node("n1")->online);

  // An unregistered node is ignored.
  TestNode stranger(hub_, clock_, "stranger");
  stranger.hello({});
  idle();
  EXPECT_FALSE(controller_->get_node("stranger").ok());
}

TEST_F(ControllerTest, HelloCatchUpResendsOnlyNewerPlans) {
  add_node("n1", "79/26734/01", 100);
  TestNode node(hub_, clock_, "n1");
  node.hello({});
  idle();
  const auto bulletin = make_bulletin();
  schedule(bulletin, {"area:79"});
  schedule(bulletin, {"node:n1"});
  schedule(bulletin, {"node:n1"}, "2026-11-01T09:00");
  auto area = store_->find_plan("area:79");
  auto own = store_->find_plan("node:n1");
  ASSERT_TRUE(area.ok() && area->has_value() && own.ok() && own->has_value());

  // Holding the current area plan and an older own plan: only the own plan comes back.
  node.received().clear();
  node.hello({{"area:79", (*area)->version}, {"node:n1", (*own)->version - 1}});
  idle();
  auto resent = node.received().on("loa/v1/node/n1/down/plan");
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_FALSE(resent[0].retained);
  auto plan = plan_of(resent[0]);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->scope, "node:n1");
  EXPECT_EQ(plan->version, (*own)->version);
  EXPECT_EQ(plan->occurrences.size(), 2u);

  // Holding nothing: every plan of its scopes (not area:79/26734 or /01, which have none).
  node.received().clear();
  node.hello({});
  idle();
  resent = node.received().on("loa/v1/node/n1/down/plan");
  ASSERT_EQ(resent.size(), 2u);
  std::set<std::string> scopes;
  for (const auto& m : resent) scopes.insert(plan_of(m)->scope);
  EXPECT_EQ(scopes, (std::set<std::string>{"area:79", "node:n1"}));

  // Up to date: nothing.
  node.received().clear();
  node.hello({{"area:79", (*area)->version}, {"node:n1", (*own)->version}});
  idle();
  EXPECT_TRUE(node.received().on("loa/v1/node/n1/down/plan").empty());
}

TEST_F(ControllerTest, FetchRepublishesTheManifestAndAskedChunks) {
  add_node("n1", "79/26734/01", 100);
  TestNode node(hub_, clock_, "n1");
  node.hello({});
  idle();
  const auto bulletin = make_bulletin(3.5);
  probe_.clear();
  node.fetch(bulletin, true, {0, 2, 999});
  idle();
  ASSERT_EQ(probe_.on(protocol::topics::bulletin_manifest(bulletin)).size(), 1u);
  const auto chunks = probe_.on(protocol::topics::bulletin_chunks(bulletin));
  ASSERT_EQ(chunks.size(), 2u);  // 999 does not exist
  std::vector<std::uint32_t> indices;
  for (const auto& c : chunks) {
    auto body = open_body(c.payload, keys_.public_key, protocol::MessageType::audio_chunk);
    ASSERT_TRUE(body.has_value());
    auto chunk = protocol::decode_audio_chunk(*body);
    ASSERT_TRUE(chunk.ok());
    EXPECT_EQ(chunk->stream_id, bulletin);
    indices.push_back(chunk->index);
  }
  EXPECT_EQ(indices, (std::vector<std::uint32_t>{0, 2}));

  // Chunks only: the manifest still goes first (it marks what follows); an unknown bulletin is
  // dropped.
  probe_.clear();
  node.fetch(bulletin, false, {1});
  node.fetch(bulletin + 100, true, {});
  idle();
  EXPECT_EQ(probe_.on("loa/v1/bulletin/+/manifest").size(), 1u);
  EXPECT_EQ(probe_.on(protocol::topics::bulletin_chunks(bulletin)).size(), 1u);

  // A replayed copy of an earlier fetch (same sequence on the same topic) is refused.
  probe_.clear();
  const auto replay = protocol::seal(protocol::MessageType::fetch, node.keys(), clock_.now_us(), 1,
                                     protocol::encode(protocol::Fetch{"n1", bulletin, true, {0}}));
  node.raw("fetch", replay);
  idle();
  EXPECT_TRUE(probe_.on("loa/v1/bulletin/#").empty());
}

// A node that saw an older manifest was subscribed before the newer one went out, so the
// chunks published after the newer one are on their way to it (PROTOCOL.md, Prefetch step 4).
TEST_F(ControllerTest, ChunksOnTheirWayToTheAskerAreNotPublishedAgain) {
  add_node("n1", "79/26734/01", 100);
  add_node("n2", "79/26734/01", 100);
  TestNode n1(hub_, clock_, "n1");
  TestNode n2(hub_, clock_, "n2");
  n1.hello({});
  n2.hello({});
  idle();
  const auto bulletin = make_bulletin(3.5);  // chunks 0..3
  const auto chunk_indices = [&] {
    std::vector<std::uint32_t> out;
    for (const auto& c : probe_.on(protocol::topics::bulletin_chunks(bulletin))) {
      auto body = open_body(c.payload, keys_.public_key, protocol::MessageType::audio_chunk);
      if (body) out.push_back(protocol::decode_audio_chunk(*body)->index);
    }
    return out;
  };
  probe_.clear();
  n1.fetch(bulletin, false, {0, 1, 2, 3});
  idle();
  const auto manifests = probe_.on(protocol::topics::bulletin_manifest(bulletin));
  ASSERT_EQ(manifests.size(), 1u);
  const auto opened = protocol::open(manifests[0].payload, protocol::KeySet(keys_.public_key));
  ASSERT_TRUE(opened.ok());
  const std::uint64_t window = opened.opened->header.sequence;
  EXPECT_EQ(chunk_indices(), (std::vector<std::uint32_t>{0, 1, 2, 3}));

  // n2 saw an older manifest: all four are on their way, nothing goes out.
  probe_.clear();
  n2.fetch(bulletin, false, {0, 1, 2, 3}, window - 1);
  idle();
  EXPECT_TRUE(probe_.on("loa/v1/bulletin/#").empty());
  // Having seen that window's manifest says nothing of its chunks (it may have come retained,
  // after them): served.
  n2.fetch(bulletin, false, {0, 1}, window);
  idle();
  EXPECT_EQ(chunk_indices(), (std::vector<std::uint32_t>{0, 1}));
  // A repeated request (0) is always served.
  probe_.clear();
  n2.fetch(bulletin, false, {0, 1, 2, 3}, 0);
  idle();
  EXPECT_EQ(chunk_indices(), (std::vector<std::uint32_t>{0, 1, 2, 3}));
}

TEST_F(ControllerTest, CoverageCountsMissedAndAreaRowsSumToTotal) {
  add_node("n1", "79/26734/01", 1200);
  add_node("n2", "79/26734/01", 800);
  add_node("n3", "79/26737/01", 500);
  add_node("n4", "79/26737/01", 300);
  TestNode t1(hub_, clock_, "n1");
  TestNode t2(hub_, clock_, "n2");
  TestNode t3(hub_, clock_, "n3");
  for (auto* t : {&t1, &t2, &t3}) t->hello({});
  idle();
  const auto bulletin = make_bulletin();
  const auto occ = schedule(bulletin, {"area:79"});
  for (auto* t : {&t1, &t2, &t3}) t->report(bulletin, protocol::CacheState::cached);
  t1.event(t1.completed(occ.id, bulletin, 1));
  auto partial = t2.completed(occ.id, bulletin, 1);
  partial.outcome = protocol::Outcome::partial;
  t2.event(partial);
  auto failed = t3.completed(occ.id, bulletin, 1);
  failed.outcome = protocol::Outcome::failed;
  failed.frames_played = 0;
  t3.event(failed);
  idle();

  auto before = controller_->coverage(0, occ.id, true);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->total.pending, 1u);
  EXPECT_EQ(before->total.missed, 0u);

  clock_.set(occ.expiry_us + controller_->settings().missed_grace_us + 1);
  auto r = controller_->coverage(0, occ.id, true);
  ASSERT_TRUE(r.ok());
  const auto& t = r->total;
  EXPECT_EQ(t.targeted, 4u);
  EXPECT_EQ(t.cached, 3u);
  EXPECT_EQ(t.completed, 1u);
  EXPECT_EQ(t.partial, 1u);
  EXPECT_EQ(t.failed, 1u);
  EXPECT_EQ(t.missed, 1u);
  EXPECT_EQ(t.pending, 0u);
  EXPECT_EQ(t.residents_targeted, 2800);
  EXPECT_EQ(t.residents_reached, 1200);
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->rows[0].area, "79/26734/01");
  EXPECT_EQ(r->rows[1].area, "79/26737/01");
  EXPECT_EQ(r->rows[1].counts.missed, 1u);
  CoverageCounts sum;
  for (const auto& row : r->rows) sum += row.counts;
  EXPECT_EQ(sum, t);

  // The playback log filters by node, area prefix and time.
  LogQuery q;
  q.area = "79/26734";
  EXPECT_EQ(controller_->playback_log(q)->size(), 2u);
  q = {};
  q.node_id = "n3";
  auto n3 = controller_->playback_log(q);
  ASSERT_EQ(n3->size(), 1u);
  EXPECT_EQ(n3->front().area, "79/26737/01");
  EXPECT_EQ(n3->front().bulletin_title, "Thông báo");
  q = {};
  q.since = "2030-01-01";
  EXPECT_TRUE(controller_->playback_log(q)->empty());
  q.since = "yesterday";
  EXPECT_FALSE(controller_->playback_log(q).ok());
}

TEST_F(ControllerTest, BulletinsFromTextAndAudioAreStoredAsOggOpus) {
  auto tts =
      controller_->create_bulletin_from_text("Bão", "Cơn bão số năm đang tiến vào bờ.", "vi");
  ASSERT_TRUE(tts.ok()) << tts.error().message;
  EXPECT_EQ(tts->source, "tts");
  EXPECT_GT(tts->duration_s, 0.5);
  auto ogg = controller_->bulletin_audio(tts->id);
  ASSERT_TRUE(ogg.ok()) << ogg.error().message;
  auto stream = protocol::read_ogg_opus(*ogg);
  ASSERT_TRUE(stream.ok()) << stream.error().message;
  EXPECT_NEAR(static_cast<double>(stream->total_samples) / 48000.0, tts->duration_s, 0.05);
  EXPECT_TRUE(std::filesystem::exists(tts->ogg_path));
  EXPECT_EQ(std::filesystem::path(tts->ogg_path).parent_path(), dir_);

  auto wav = controller_->create_bulletin_from_audio("Tone", test::tone_wav(1.0));
  ASSERT_TRUE(wav.ok()) << wav.error().message;
  EXPECT_EQ(wav->source, "audio");
  EXPECT_NEAR(wav->duration_s, 1.0, 0.05);
  EXPECT_EQ(controller_->list_bulletins()->size(), 2u);

  auto corrupt = controller_->create_bulletin_from_audio("x", protocol::Bytes{'R', 'I', 'F', 'F'});
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().code, ErrorCode::unprocessable);
  EXPECT_EQ(controller_->create_bulletin_from_text("x", "", "vi").error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(controller_->create_bulletin_from_text("", "xin chào", "vi").error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(controller_->list_bulletins()->size(), 2u);
  EXPECT_EQ(controller_->get_bulletin(12345).error().code, ErrorCode::not_found);
}

TEST_F(ControllerTest, NodeRegistrationIsValidated) {
  NodeInput in;
  in.id = "n1";
  in.area = "79/26734/01";
  in.residents = 10;
  ASSERT_TRUE(controller_->add_node(in).ok());
  EXPECT_EQ(controller_->add_node(in).error().code, ErrorCode::conflict);
  auto bad_area = in;
  bad_area.id = "n2";
  bad_area.area = "79 26734";
  EXPECT_EQ(controller_->add_node(bad_area).error().code, ErrorCode::bad_request);
  auto bad_id = in;
  bad_id.id = "n 2";
  EXPECT_EQ(controller_->add_node(bad_id).error().code, ErrorCode::bad_request);
  auto bad_key = in;
  bad_key.id = "n3";
  bad_key.public_key_hex = "abc";
  EXPECT_EQ(controller_->add_node(bad_key).error().code, ErrorCode::bad_request);

  // Import is all or nothing, and names the row.
  NodeInput a = in;
  a.id = "a";
  NodeInput b = in;
  b.id = "b";
  b.residents = -1;
  auto r = controller_->import_nodes({a, b});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nodes[1]"), std::string::npos) << r.error().message;
  EXPECT_EQ(controller_->list_nodes()->size(), 1u);
  b.residents = 5;
  auto moved = in;
  moved.area = "79/2";
  ASSERT_TRUE(controller_->import_nodes({a, b, moved}).ok());
  EXPECT_EQ(controller_->list_nodes()->size(), 3u);
  EXPECT_EQ(controller_->get_node("n1")->record.area, "79/2");
}

}  // namespace

// With a fetch window, many nodes asking at once cost one publication of each chunk.
class CoalescingControllerTest : public ControllerTest {
 protected:
  int fetch_window_ms() const override { return 1000; }
};

TEST_F(CoalescingControllerTest, FetchesFromManyNodesAreServedOnce) {
  std::vector<std::unique_ptr<TestNode>> nodes;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "n" + std::to_string(i);
    add_node(id, "79/26734/01", 100);
    nodes.push_back(std::make_unique<TestNode>(hub_, clock_, id));
    nodes.back()->hello({});
  }
  idle();
  const auto bulletin = make_bulletin(3.5);
  probe_.clear();
  for (auto& n : nodes) n->fetch(bulletin, true, {0, 1, 2, 3});
  nodes[0]->fetch(bulletin, false, {3});
  idle();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (probe_.on(protocol::topics::bulletin_chunks(bulletin)).size() < 4 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    idle();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  idle();
  EXPECT_EQ(probe_.on(protocol::topics::bulletin_chunks(bulletin)).size(), 4u);
  EXPECT_EQ(probe_.on(protocol::topics::bulletin_manifest(bulletin)).size(), 1u);
}

TEST(PacerTest, SpendsAtTheRateIntoDebtAndBurstsNoMoreThanItsLimit) {
  Pacer unlimited;
  unlimited.take(1e12);
  EXPECT_TRUE(unlimited.ready(0));

  Pacer pacer(1000, 2.0);       // 1000 B/s, at most 2 s saved up
  EXPECT_TRUE(pacer.ready(0));  // starts with a full burst: 2000 B
  pacer.take(1500);
  EXPECT_TRUE(pacer.ready(0));  // 500 left
  pacer.take(3500);             // one big send goes into debt: -3000
  EXPECT_FALSE(pacer.ready(2'999'999));
  EXPECT_TRUE(pacer.ready(3'000'001));
  // A long idle time saves up only the burst.
  EXPECT_TRUE(pacer.ready(1'000'000'000));
  pacer.take(2000);
  EXPECT_FALSE(pacer.ready(1'000'000'000));
}

// A prefetch budget spreads a bulletin's chunks over time instead of publishing them at once.
class PacedControllerTest : public ControllerTest {
 protected:
  ControllerSettings settings() const override {
    ControllerSettings s = ControllerTest::settings();
    s.prefetch_bytes_per_s = 100;  // far less than one chunk per second of the manual clock
    return s;
  }
  int fetch_window_ms() const override { return 20; }
  std::size_t chunks_out(std::uint64_t bulletin) {
    idle();
    return probe_.on(protocol::topics::bulletin_chunks(bulletin)).size();
  }
  bool eventually_chunks(std::uint64_t bulletin, std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (chunks_out(bulletin) < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return chunks_out(bulletin) == n;
  }
};

TEST_F(PacedControllerTest, ChunksGoOutAsTheBudgetAllows) {
  add_node("n1", "79/26734/01", 100);
  TestNode n1(hub_, clock_, "n1");
  n1.hello({});
  idle();
  const auto bulletin = make_bulletin(3.5);  // chunks 0..3
  probe_.clear();
  n1.fetch(bulletin, false, {0, 1, 2, 3});
  // The first chunk spends the whole budget and more: the others wait, window after window.
  ASSERT_TRUE(eventually_chunks(bulletin, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // ten windows
  EXPECT_EQ(chunks_out(bulletin), 1u);
  // A request for a queued chunk adds nothing: it is on its way.
  n1.fetch(bulletin, false, {1, 2, 3});
  // Time pays the debt back: one more chunk each time.
  clock_.advance(3600 * kSecond);
  ASSERT_TRUE(eventually_chunks(bulletin, 2));
  clock_.advance(3600 * kSecond);
  ASSERT_TRUE(eventually_chunks(bulletin, 3));
  clock_.advance(3600 * kSecond);
  ASSERT_TRUE(eventually_chunks(bulletin, 4));
  std::vector<std::uint32_t> indices;
  for (const auto& c : probe_.on(protocol::topics::bulletin_chunks(bulletin))) {
    auto body = open_body(c.payload, keys_.public_key, protocol::MessageType::audio_chunk);
    ASSERT_TRUE(body);
    indices.push_back(protocol::decode_audio_chunk(*body)->index);
  }
  EXPECT_EQ(indices, (std::vector<std::uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(probe_.on(protocol::topics::bulletin_manifest(bulletin)).size(), 1u);
}

// The budget counts a chunk once per node about to receive it: the nodes its occurrences
// target, not only the ones that have asked so far.
TEST_F(PacedControllerTest, AChunkCostsItsSizeTimesTheTargetedNodes) {
  std::vector<std::unique_ptr<TestNode>> nodes;
  for (const std::string id : {"n1", "n2", "n3"}) {
    add_node(id, "79/26734/01", 100);
    nodes.push_back(std::make_unique<TestNode>(hub_, clock_, id));
    nodes.back()->hello({});
  }
  idle();
  const auto bulletin = make_bulletin(3.5);
  ASSERT_GT(schedule(bulletin, {"area:79/26734"}).id, 0u);
  probe_.clear();
  nodes[0]->fetch(bulletin, false, {0, 1, 2, 3});
  ASSERT_TRUE(eventually_chunks(bulletin, 1));
  auto first = open_body(probe_.on(protocol::topics::bulletin_chunks(bulletin))[0].payload,
                         keys_.public_key, protocol::MessageType::audio_chunk);
  ASSERT_TRUE(first);
  const auto size = static_cast<Micros>(first->size());
  // The first chunk cost 3 x size - 100 of debt (the budget starts with 1 s, 100 B). Time for
  // 2 x size pays back what one receiver would have cost, not three.
  clock_.advance(2 * size * kSecond / 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // ten windows
  EXPECT_EQ(chunks_out(bulletin), 1u);
  // Two of them have it cached already (from an earlier run, say): only n1 counts now.
  nodes[1]->report(bulletin, protocol::CacheState::cached);
  nodes[2]->report(bulletin, protocol::CacheState::cached);
  idle();  // both reports taken before the window that prices the second chunk
  clock_.advance(2 * size * kSecond / 100);
  ASSERT_TRUE(eventually_chunks(bulletin, 2));
  // The second chunk cost 1 x size.
  clock_.advance(size * kSecond / 100 + kSecond);
  ASSERT_TRUE(eventually_chunks(bulletin, 3));
}

// The prefetch's functional core on its own (no flusher thread): a Dispatcher on the fixture's
// store and audio directory, fed sealed fetches, its chunks read from what it returns.
class PrefetchFairnessTest : public ControllerTest {
 protected:
  // A node's Fetch of every chunk of `bulletin` (0..3), claiming it saw no manifest (a repeat).
  runtime::BusMessage fetch(const std::string& node, const protocol::KeyPair& keys,
                            std::uint64_t bulletin) {
    protocol::Fetch f;
    f.node_id = node;
    f.bulletin_id = bulletin;
    f.indices = {0, 1, 2, 3};
    return runtime::BusMessage{protocol::topics::node_up(node, protocol::topics::UpKind::fetch),
                               protocol::seal(protocol::MessageType::fetch, keys, clock_.now_us(),
                                              ++sequence_, protocol::encode(f)),
                               false};
  }
  // The chunk indices in `out` per bulletin, in order.
  void collect(const Outbox& out, std::map<std::uint64_t, std::vector<std::uint32_t>>& chunks) {
    for (const auto& m : out) {
      auto parsed = protocol::topics::parse(m.topic);
      ASSERT_TRUE(parsed.ok());
      if (parsed->kind != protocol::topics::Parsed::Kind::bulletin_chunk) continue;
      auto body = open_body(m.payload, keys_.public_key, protocol::MessageType::audio_chunk);
      ASSERT_TRUE(body);
      chunks[parsed->id].push_back(protocol::decode_audio_chunk(*body)->index);
    }
  }
  std::uint64_t sequence_ = 0;
};

TEST_F(PrefetchFairnessTest, ANodeRepeatingFetchesOfAnOldBulletinGetsItsTurnAndNoMore) {
  const auto mallory = protocol::KeyPair::generate();
  const auto honest = protocol::KeyPair::generate();
  add_node("m", "79/26734/01", 10, &mallory);
  add_node("n", "79/26734/02", 10, &honest);
  const auto old_bulletin = make_bulletin(3.5);  // chunks 0..3, the lower id
  const auto new_bulletin = make_bulletin(3.5);
  Catalog catalog(dir_.string());
  Signer signer(keys_, clock_);
  Dispatcher dispatcher(*store_, catalog, signer, clock_);
  // 100 B/s with 1 s saved up: each chunk (hundreds of bytes) puts the budget in debt, so one
  // chunk goes out per flush when an hour passes between flushes.
  dispatcher.configure(false, LedgerSettings{}, 100);

  std::map<std::uint64_t, std::vector<std::uint32_t>> chunks;
  Outbox ignored;
  dispatcher.handle(fetch("n", honest, new_bulletin), ignored);
  for (int round = 0; round < 12; ++round) {
    // m asks for the old bulletin again before every flush.
    dispatcher.handle(fetch("m", mallory, old_bulletin), ignored);
    Outbox out;
    dispatcher.flush_fetches(out);
    collect(out, chunks);
    clock_.advance(3600 * kSecond);
  }
  // n's bulletin went out whole, one chunk every other turn; m had the other turns.
  EXPECT_EQ(chunks[new_bulletin], (std::vector<std::uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(chunks[old_bulletin].size(), 8u);
}
