// Controller side of node health (issue 6): statuses stored as history, the `time` answer, last
// wills (current and stale), the health listing (offline and silent nodes) and remote control.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "controller_fixture.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/topics.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::open_body;
using loa::test::Recorder;
using loa::test::TestNode;

namespace {

constexpr Micros kSecond = 1'000'000;

class HealthTest : public test::ControllerFixture {
 protected:
  ControllerSettings settings() const override {
    ControllerSettings s = ControllerFixture::settings();
    s.trust_first_key = true;                    // TestNodes introduce their keys in their hello
    s.event_tolerance_us = 24 * 3600 * kSecond;  // events played at the test's "now"
    return s;
  }
  // A status sealed at sequence `seq` (online, or the node's will).
  void status(TestNode& node, std::uint64_t seq, bool online, std::uint64_t session) {
    protocol::Status s;
    s.node_id = node.id();
    s.version = "test";
    s.online = online;
    s.session = session;
    s.clock_offset_us = 1234;
    s.cpu_temp_mc = 47000;
    s.site_output = "rssi -70";
    node.raw("status", protocol::seal(protocol::MessageType::status, node.keys(), clock_.now_us(),
                                      seq, protocol::encode(s)));
    idle();
  }
  std::vector<protocol::Control> controls_to(const std::string& topic) {
    std::vector<protocol::Control> out;
    for (const auto& m : probe_.on(topic)) {
      auto body = open_body(m.payload, keys_.public_key, protocol::MessageType::control);
      if (!body) continue;
      if (auto c = protocol::decode_control(*body)) out.push_back(*c);
    }
    return out;
  }
  bool online(const std::string& id) {
    auto n = controller_->get_node(id);
    return n.ok() && n->online;
  }
  // The `time` answers on n1's control topic, once the ingest thread has sent them.
  std::size_t answers_to_n1(std::size_t at_least) {
    const std::string topic = protocol::topics::node_control("n1");
    for (int i = 0; i < 200 && controls_to(topic).size() < at_least; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      idle();
    }
    return controls_to(topic).size();
  }
  // The envelope sequences of the controls the probe saw on `topic`.
  std::vector<std::uint64_t> control_sequences(const std::string& topic) {
    std::vector<std::uint64_t> out;
    for (const auto& m : probe_.on(topic)) {
      const auto r = protocol::open(m.payload, protocol::KeySet(keys_.public_key));
      if (r.ok()) out.push_back(r.opened->header.sequence);
    }
    return out;
  }
};

// The controller's envelope sequence reserved in a file, as loa-controller does.
class SequenceFileTest : public HealthTest {
 protected:
  ControllerSettings settings() const override {
    ControllerSettings s = HealthTest::settings();
    std::filesystem::create_directories(dir_);
    s.sequence_file = (dir_ / "controller.sequence").string();
    return s;
  }
};

TEST_F(HealthTest, StatusesAreStoredAnsweredAndWillsTakenOrIgnored) {
  add_node("n1", "79/1/1");
  TestNode n1(hub_, clock_, "n1");
  n1.hello({});
  idle();
  status(n1, 1000, true, 900);
  EXPECT_TRUE(online("n1"));
  // The controller answers a fresh status with its time, naming the status's sequence (after
  // the status's commit, on the ingest thread).
  for (int i = 0; i < 200 && controls_to(protocol::topics::node_control("n1")).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    idle();
  }
  const auto answers = controls_to(protocol::topics::node_control("n1"));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].command, protocol::ControlCommand::time);
  EXPECT_EQ(answers[0].value, 1000u);

  // A replayed online status is refused; the will of this run (older sequence) is taken.
  status(n1, 1000, true, 900);
  EXPECT_EQ(controls_to(protocol::topics::node_control("n1")).size(), 1u);
  status(n1, 900, false, 900);
  EXPECT_FALSE(online("n1"));
  // A new run (session 2000) comes online; the old run's will, replayed, changes nothing.
  clock_.advance(10 * kSecond);
  status(n1, 2100, true, 2000);
  EXPECT_TRUE(online("n1"));
  status(n1, 900, false, 900);
  EXPECT_TRUE(online("n1"));
  // A will signed by another key is dropped.
  protocol::Status forged;
  forged.node_id = "n1";
  forged.online = false;
  forged.session = 2000;
  n1.raw("status", protocol::seal(protocol::MessageType::status, protocol::KeyPair::generate(),
                                  clock_.now_us(), 2000, protocol::encode(forged)));
  idle();
  EXPECT_TRUE(online("n1"));

  auto history = controller_->node_history("n1", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);  // online, will, online (refused ones not stored)
  EXPECT_TRUE((*history)[0].status.online);
  EXPECT_EQ((*history)[0].status.session, 2000u);
  EXPECT_FALSE((*history)[1].status.online);
  EXPECT_EQ((*history)[2].status.site_output, "rssi -70");
  EXPECT_EQ(controller_->node_history("nope", 10).error().code, ErrorCode::not_found);
}

TEST_F(HealthTest, ListsOfflineAndSilentNodesFromStoredData) {
  add_node("a", "79/1/1");
  add_node("b", "79/1/1");
  add_node("c", "79/1/2");  // never heard
  TestNode a(hub_, clock_, "a");
  TestNode b(hub_, clock_, "b");
  a.hello({});
  b.hello({});
  idle();
  status(a, 10, true, 5);
  status(b, 10, true, 5);

  auto bulletin = controller_->create_bulletin_from_audio("x", test::tone_wav(2.0));
  ASSERT_TRUE(bulletin.ok()) << bulletin.error().message;
  ScheduleRequest r;
  r.bulletin_id = bulletin->id;
  r.at = "2026-11-01T07:10";  // 00:10 UTC
  r.targets = {"area:79/1/1"};
  auto occ = controller_->schedule(r);
  ASSERT_TRUE(occ.ok()) << occ.error().message;
  idle();

  // Both play at 00:10; only a reports it. b stays connected (statuses) but says nothing.
  clock_.set(occ->start_us + 5 * kSecond);
  a.event(a.completed(occ->id, bulletin->id, 1));
  idle();
  clock_.set(std::max(occ->expiry_us, occ->keep_until_us) + 2 * 60 * kSecond);
  status(a, 20, true, 5);
  status(b, 20, true, 5);

  auto report = controller_->node_health(300 * kSecond);
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(report->nodes.size(), 3u);
  EXPECT_EQ(report->offline, (std::vector<std::string>{"c"}));
  ASSERT_EQ(report->silent.size(), 1u);
  EXPECT_EQ(report->silent[0].node_id, "b");
  EXPECT_EQ(report->silent[0].occurrence_id, occ->id);
  ASSERT_TRUE(report->nodes[0].last);
  EXPECT_EQ(report->nodes[0].last->status.cpu_temp_mc, 47000);
  EXPECT_EQ(report->nodes[0].last->status.clock_offset_us, 1234);

  // Ten minutes without a status: a is offline beyond a 300 s threshold, not beyond 3600 s.
  clock_.advance(600 * kSecond);
  status(b, 30, true, 5);
  report = controller_->node_health(300 * kSecond);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->offline, (std::vector<std::string>{"a", "c"}));
  report = controller_->node_health(3600 * kSecond);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->offline, (std::vector<std::string>{"c"}));
  EXPECT_EQ(controller_->node_health(0).error().code, ErrorCode::bad_request);
}

// The replay marks are in the store: after a restart of the controller, a copy of a status it
// accepted before is still refused (no second answer, no second row), a newer one is taken.
TEST_F(HealthTest, AReplayedStatusIsRefusedAfterTheControllerRestarts) {
  add_node("n1", "79/1/1");
  TestNode n1(hub_, clock_, "n1");
  n1.hello({});
  idle();
  status(n1, 5000, true, 4000);
  ASSERT_EQ(answers_to_n1(1), 1u);

  controller_.reset();
  start_controller();
  idle();
  status(n1, 5000, true, 4000);
  EXPECT_EQ(answers_to_n1(2), 1u);
  auto history = controller_->node_history("n1", 10);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 1u);
  status(n1, 5001, true, 4000);
  EXPECT_EQ(answers_to_n1(2), 2u);
}

// Controls name their target under the signature, and the controller's sequences keep rising
// across a restart even when its clock was a day ahead before it and is right after it.
TEST_F(SequenceFileTest, ControlsNameTheirTargetAndSequencesSurviveAClockStepAndARestart) {
  add_node("a", "79/1/1");
  const std::string topic = protocol::topics::node_control("a");
  clock_.advance(24 * 3600 * kSecond);
  ASSERT_TRUE(controller_->send_node_control({"ping", 1, {"a"}, ""}).ok());
  idle();
  const auto before = control_sequences(topic);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(controls_to(topic).at(0).target, "node:a");

  controller_.reset();
  clock_.set(clock_.now_us() - 24 * 3600 * kSecond);
  start_controller();
  ASSERT_TRUE(controller_->send_node_control({"ping", 2, {"a"}, ""}).ok());
  ASSERT_TRUE(controller_->send_node_control({"test-tone", 1500, {}, "79/1"}).ok());
  idle();
  const auto after = control_sequences(topic);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_GT(after[1], before[0]);
  EXPECT_EQ(controls_to("loa/v1/control/79/1").at(0).target, "area:79/1");
}

TEST_F(HealthTest, RemoteControlIsSignedAndPublished) {
  add_node("a", "79/1/1");
  add_node("b", "79/1/2");
  NodeControlRequest v{"volume", 40, {"a", "b"}, ""};
  auto sent = controller_->send_node_control(v);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  idle();
  EXPECT_EQ(sent->topics.size(), 2u);
  for (const char* id : {"a", "b"}) {
    const auto got = controls_to(protocol::topics::node_control(id));
    ASSERT_EQ(got.size(), 1u) << id;
    EXPECT_EQ(got[0].command, protocol::ControlCommand::volume);
    EXPECT_EQ(got[0].value, 40u);
    EXPECT_EQ(got[0].target, std::string("node:") + id);
  }
  ASSERT_TRUE(controller_->send_node_control({"test-tone", 1500, {}, "79/1"}).ok());
  ASSERT_TRUE(controller_->send_node_control({"restart", 0, {"a"}, ""}).ok());
  ASSERT_TRUE(controller_->send_node_control({"unmute", 0, {}, "79"}).ok());
  idle();
  const auto area = controls_to("loa/v1/control/79/1");
  ASSERT_EQ(area.size(), 1u);
  EXPECT_EQ(area[0].command, protocol::ControlCommand::test_tone);
  EXPECT_EQ(area[0].value, 1500u);
  EXPECT_EQ(controls_to(protocol::topics::node_control("a")).back().command,
            protocol::ControlCommand::restart);
  EXPECT_EQ(controls_to("loa/v1/control/79").at(0).value, 0u);

  EXPECT_EQ(controller_->send_node_control({"volume", 101, {"a"}, ""}).error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(controller_->send_node_control({"shout", 0, {"a"}, ""}).error().code,
            ErrorCode::bad_request);
  EXPECT_EQ(controller_->send_node_control({"mute", 0, {"zz"}, ""}).error().code,
            ErrorCode::not_found);
  EXPECT_EQ(controller_->send_node_control({"mute", 0, {"a"}, "79"}).error().code,
            ErrorCode::bad_request);
}

}  // namespace
