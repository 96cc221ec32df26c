// Scheduling as operators use it (issue 4), across real processes and a real Mosquitto: an
// emergency interrupting a normal bulletin on every node, cancel propagation (also to a node that
// was offline), and the approval flow.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "deployment_test.hpp"

using namespace loa;
using loa::test::eventually;
using loa::test::field;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

class Scheduling : public test::DeploymentTest {};

TEST_F(Scheduling, EmergencyInterruptsANormalBulletinOnEveryNode) {
  const std::vector<std::string> nodes = {"n1", "n2", "n3"};
  for (const auto& id : nodes) d_->add_node({id, "79/26734/01", 2, 700});
  const std::int64_t normal = make_tts_bulletin("ban-tin-ngan.txt");     // about 14 s
  const std::int64_t emergency = make_tts_bulletin("canh-bao-bao.txt");  // about 8 s
  ASSERT_GT(normal, 0);
  ASSERT_GT(emergency, 0);

  auto [normal_occ, normal_at] = schedule(normal, 5s, {"--target", "area:79/26734"});
  auto [emergency_occ, emergency_at] =
      schedule(emergency, 9s, {"--target", "area:79/26734/01", "--priority", "emergency"});
  ASSERT_GT(normal_occ, 0);
  ASSERT_GT(emergency_occ, 0);
  ASSERT_GT(emergency_at, normal_at + 2'000'000);

  ASSERT_TRUE(eventually([&] { return field(coverage(emergency_occ), "completed") == 3; }, 60s))
      << coverage(emergency_occ).dump(2);
  ASSERT_TRUE(eventually([&] { return field(coverage(normal_occ), "preempted") == 3; }, 20s))
      << coverage(normal_occ).dump(2);

  const auto interrupted = events_of(normal_occ);
  const auto urgent = events_of(emergency_occ);
  for (const auto& id : nodes) {
    ASSERT_TRUE(interrupted.count(id) && urgent.count(id)) << id;
    const json& n = interrupted.at(id);
    const json& e = urgent.at(id);
    EXPECT_EQ(n["outcome"], "preempted") << n.dump();
    EXPECT_EQ(e["outcome"], "completed") << e.dump();
    // The normal bulletin played from its instant until the emergency's, which took over within
    // 200 ms of its own instant.
    EXPECT_LE(std::llabs(n["start_us"].get<std::int64_t>() - normal_at), 20'000) << n.dump();
    EXPECT_LE(std::llabs(n["end_us"].get<std::int64_t>() - emergency_at), 200'000) << n.dump();
    EXPECT_LE(std::llabs(e["start_us"].get<std::int64_t>() - emergency_at), 200'000) << e.dump();
    EXPECT_GT(n["frames_played"].get<std::int64_t>(), 0) << n.dump();
  }

  // The emergency went out whole on every node: sample for sample what the controller encoded.
  const auto expected = expected_pcm(emergency);
  ASSERT_FALSE(expected.empty());
  for (const auto& id : nodes) {
    EXPECT_TRUE(test::read_wav_pcm16(wav_of(id, emergency_occ)) == expected)
        << id << ": emergency samples differ";
  }
}

TEST_F(Scheduling, CancelStopsPlayingAndQueuedEverywhereAlsoOnANodeThatWasOffline) {
  const std::vector<std::string> nodes = {"n1", "n2", "n3"};
  for (const auto& id : nodes) d_->add_node({id, "79/26734/01", 2, 700});
  const std::int64_t bulletin = make_tts_bulletin("ban-tin-ngan.txt");  // about 14 s
  ASSERT_GT(bulletin, 0);
  auto [playing, playing_at] = schedule(bulletin, 6s, {"--target", "area:79/26734/01"});
  auto [queued, queued_at] = schedule(bulletin, 40s, {"--target", "area:79/26734/01"});
  ASSERT_GT(playing, 0);
  ASSERT_GT(queued, 0);
  ASSERT_TRUE(eventually([&] { return field(coverage(queued), "cached") == 3; }, 20s))
      << coverage(queued).dump(2);

  // n3 goes offline before the first occurrence and stays away through the cancel.
  d_->stop_node("n3");
  const auto wait_until = [](protocol::Micros t) {
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::max<protocol::Micros>(0, t - test::now_us())));
  };
  wait_until(playing_at + 3'000'000);
  const protocol::Micros cancel_at = test::now_us();
  auto c1 = d_->loactl({"cancel", std::to_string(playing)});
  auto c2 = d_->loactl({"cancel", std::to_string(queued)});
  ASSERT_EQ(c1.exit_code, 0) << c1.err;
  ASSERT_EQ(c2.exit_code, 0) << c2.err;

  for (const auto occ : {playing, queued}) {
    ASSERT_TRUE(eventually([&] { return field(coverage(occ), "cancelled") == 2; }, 10s))
        << coverage(occ).dump(2);
  }
  const auto stopped = events_of(playing);
  for (const char* id : {"n1", "n2"}) {
    ASSERT_TRUE(stopped.count(id)) << id;
    const json& e = stopped.at(id);
    EXPECT_EQ(e["outcome"], "cancelled") << e.dump();
    // It was playing, and stopped within 2 s of the command.
    EXPECT_LE(std::llabs(e["start_us"].get<std::int64_t>() - playing_at), 20'000) << e.dump();
    EXPECT_LE(e["end_us"].get<std::int64_t>(), cancel_at + 2'000'000) << e.dump();
    EXPECT_GT(e["frames_played"].get<std::int64_t>(), 0) << e.dump();
  }

  // n3 comes back while the first occurrence could still start (before its expiry) and before
  // the second one's instant: it learns of both cancellations and plays neither.
  d_->start_node("n3");
  for (const auto occ : {playing, queued}) {
    ASSERT_TRUE(eventually([&] { return field(coverage(occ), "cancelled") == 3; }, 15s))
        << coverage(occ).dump(2);
  }
  wait_until(queued_at + 2'000'000);
  for (const auto occ : {playing, queued}) {
    EXPECT_FALSE(std::filesystem::exists(wav_of("n3", occ)))
        << "n3 played cancelled occurrence " << occ;
  }
  for (const char* id : {"n1", "n2"}) {
    EXPECT_FALSE(std::filesystem::exists(wav_of(id, queued)))
        << id << " played the cancelled queued occurrence";
  }
  EXPECT_EQ(field(coverage(queued), "completed"), 0);
}

TEST_F(Scheduling, ACommuneApprovesOneBulletinFromAboveAndRejectsAnother) {
  d_->add_node({"n1", "79/26734/01", 2, 700});  // does not require approval
  d_->add_node({"n2", "79/26737/01", 3, 900});  // commune 79/26737 requires approval
  auto set = d_->loactl({"area", "set", "79/26737", "--approval", "required"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  const std::int64_t bulletin = make_tts_bulletin("canh-bao-bao.txt");
  ASSERT_GT(bulletin, 0);

  // Pushed from the province to both communes.
  auto [approved, approved_at] = schedule(bulletin, 12s, {"--target", "area:79"});
  auto [rejected, rejected_at] = schedule(bulletin, 30s, {"--target", "area:79"});
  ASSERT_GT(approved, 0);
  ASSERT_GT(rejected, 0);
  auto list = d_->loactl({"approval", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::set<std::int64_t> waiting;
  for (const auto& a : list.json.is_array() ? list.json : list.json["approvals"]) {
    EXPECT_EQ(a["area"], "79/26737") << a.dump();
    waiting.insert(a["occurrence"].get<std::int64_t>());
  }
  EXPECT_EQ(waiting, (std::set<std::int64_t>{approved, rejected})) << list.out;

  auto ok = d_->loactl({"approval", "approve", std::to_string(approved), "--area", "79/26737"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto no = d_->loactl({"approval", "reject", std::to_string(rejected), "--area", "79/26737"});
  ASSERT_EQ(no.exit_code, 0) << no.err;

  ASSERT_TRUE(eventually([&] { return field(coverage(approved), "completed") == 2; }, 40s))
      << coverage(approved).dump(2);
  ASSERT_TRUE(eventually([&] { return field(coverage(rejected), "completed") == 1; }, 60s))
      << coverage(rejected).dump(2);
  const json cov = coverage(rejected);
  EXPECT_EQ(field(cov, "approval_rejected"), 1) << cov.dump(2);
  EXPECT_EQ(field(cov, "residents_reached"), 700) << cov.dump(2);
  EXPECT_FALSE(std::filesystem::exists(wav_of("n2", rejected)));
  (void)approved_at;
  (void)rejected_at;
}

}  // namespace
