// Resilience of the node across real processes and a real Mosquitto (issue 6): kill -9 during a
// playback and inside an outbox write (exactly one event per occurrence, gapless event_seq),
// a node offline through the whole prefetch window (plays on time, or reports expired), and a
// broker restarted under a running node.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include "deployment_test.hpp"

using namespace loa;
using loa::test::eventually;
using loa::test::field;
using nlohmann::json;
using std::chrono::seconds;

namespace {

// Start error the end-to-end suites accept.
constexpr protocol::Micros kOnTimeUs = 20'000;

// A 48 kHz mono 16-bit WAV of a tone lasting `secs`.
void write_tone_wav(const std::string& path, double secs) {
  const std::uint32_t rate = 48000;
  const auto n = static_cast<std::uint32_t>(secs * rate);
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  out.write("RIFF", 4);
  u32(36 + n * 2);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);
  u16(1);
  u32(rate);
  u32(rate * 2);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(n * 2);
  for (std::uint32_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(8000 * std::sin(2 * M_PI * 440 * t))));
  }
}

class Resilience : public test::DeploymentTest {
 protected:
  std::int64_t make_tone_bulletin(double secs) {
    const std::string wav = d_->dir() / ("tone-" + std::to_string(secs) + ".wav");
    write_tone_wav(wav, secs);
    auto r = d_->loactl({"bulletin", "create", "--title", "tone", "--audio", wav});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return field(r.json, "id");
  }

  // Every recorded event of `node`, and the refused ones.
  std::vector<json> log_of(const std::string& node) {
    auto r = d_->loactl({"log", "--node", node});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json& rows = r.json.is_array() ? r.json : r.json["events"];
    return std::vector<json>(rows.begin(), rows.end());
  }
  std::size_t refused() {
    auto r = d_->loactl({"log", "--refused"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json& rows = r.json.is_array() ? r.json : r.json["refused"];
    return rows.is_array() ? rows.size() : 0;
  }
  // How many times the node's log says it started `occurrence` (its log spans its restarts).
  std::size_t starts_of(const std::string& node, std::int64_t occurrence) {
    std::ifstream in(d_->dir() / ("node-" + node + ".log"));
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    const std::regex started("playback started[^\\n]*occurrence=" + std::to_string(occurrence) +
                             "\\b");
    return static_cast<std::size_t>(std::distance(
        std::sregex_iterator(text.begin(), text.end(), started), std::sregex_iterator()));
  }
  // Event sequences of the node's recorded events are exactly 1..n.
  void expect_contiguous_sequences(const std::string& node, std::size_t n) {
    std::vector<std::int64_t> seqs;
    for (const auto& row : log_of(node)) seqs.push_back(row.at("seq").get<std::int64_t>());
    std::sort(seqs.begin(), seqs.end());
    std::vector<std::int64_t> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = static_cast<std::int64_t>(i + 1);
    EXPECT_EQ(seqs, want);
  }
  static void sleep_until_us(protocol::Micros t) {
    const protocol::Micros d = t - test::now_us();
    if (d > 0) std::this_thread::sleep_for(std::chrono::microseconds(d));
  }
};

TEST_F(Resilience, KillDuringPlaybackRecordsOnePartialEventAndNoReplay) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  const std::int64_t bulletin = make_tone_bulletin(6.0);
  ASSERT_GT(bulletin, 0);
  auto [occurrence, at] = schedule(bulletin, seconds(4), {"--target", "node:n1"});
  ASSERT_GT(occurrence, 0);
  ASSERT_TRUE(eventually([&] { return field(coverage(occurrence), "cached") == 1; }, seconds(4)));
  // Power cut 2.5 s into the playback.
  sleep_until_us(at + 2'500'000);
  d_->stop_node("n1", SIGKILL);
  d_->start_node("n1");
  ASSERT_TRUE(eventually([&] { return field(coverage(occurrence), "partial") == 1; }, seconds(20)))
      << coverage(occurrence).dump(2);
  const auto rows = events_of(occurrence);
  ASSERT_EQ(rows.size(), 1u);
  const json& e = rows.at("n1");
  EXPECT_EQ(e["outcome"], "partial") << e.dump();
  // Noted about every second: between 1 s and the 2.5 s that aired (50 frames a second).
  EXPECT_GE(e["frames_played"].get<int>(), 50) << e.dump();
  EXPECT_LE(e["frames_played"].get<int>(), 130) << e.dump();
  EXPECT_NE(e["detail"].get<std::string>().find("interrupted"), std::string::npos) << e.dump();
  EXPECT_LE(std::llabs(e["start_us"].get<std::int64_t>() - at), kOnTimeUs) << e.dump();
  // The restarted node, still inside the expiry, does not play it again, and counts it once.
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(starts_of("n1", occurrence), 1u);
  const json cov = coverage(occurrence);
  EXPECT_EQ(field(cov, "completed"), 0);
  EXPECT_EQ(field(cov, "partial"), 1);
  EXPECT_EQ(field(cov, "residents_reached"), 0);
  EXPECT_EQ(refused(), 0u);
  expect_contiguous_sequences("n1", 1);
}

// The node kills itself (SIGKILL) at a point of the event's way out; restarted, every event
// arrives exactly once with gapless sequences.
class CrashInOutbox : public Resilience, public ::testing::WithParamInterface<const char*> {};

TEST_P(CrashInOutbox, EveryEventArrivesExactlyOnce) {
  const std::string point = GetParam();
  ::setenv("LOA_TEST_CRASH_AT", point.c_str(), 1);
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  ::unsetenv("LOA_TEST_CRASH_AT");
  const std::int64_t bulletin = make_tone_bulletin(2.0);
  ASSERT_GT(bulletin, 0);
  auto [first, at1] = schedule(bulletin, seconds(4), {"--target", "node:n1"});
  auto [second, at2] = schedule(bulletin, seconds(13), {"--target", "node:n1"});
  ASSERT_GT(first, 0);
  ASSERT_GT(second, 0);
  // The first playback's event is where the node dies.
  ASSERT_TRUE(eventually([&] { return !d_->node_running("n1"); }, seconds(12)))
      << "the node did not reach " << point;
  d_->start_node("n1");
  ASSERT_TRUE(eventually(
      [&] { return events_of(first).size() == 1 && field(coverage(second), "completed") == 1; },
      seconds(30)))
      << coverage(first).dump(2) << coverage(second).dump(2);
  const json e1 = events_of(first).at("n1");
  if (point == "outbox-before-commit") {
    // The final event never became durable: the playing marker makes it partial, once.
    EXPECT_EQ(e1["outcome"], "partial") << e1.dump();
    EXPECT_GE(e1["frames_played"].get<int>(), 50) << e1.dump();
  } else {
    EXPECT_EQ(e1["outcome"], "completed") << e1.dump();
  }
  EXPECT_EQ(starts_of("n1", first), 1u);
  EXPECT_EQ(log_of("n1").size(), 2u);
  EXPECT_EQ(refused(), 0u);
  expect_contiguous_sequences("n1", 2);
  EXPECT_LE(std::llabs(events_of(second).at("n1")["start_us"].get<std::int64_t>() - at2),
            kOnTimeUs);
}

INSTANTIATE_TEST_SUITE_P(Points, CrashInOutbox,
                         ::testing::Values("outbox-before-commit", "outbox-after-commit",
                                           "event-after-publish"),
                         [](const auto& point_info) {
                           std::string name = point_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST_F(Resilience, NodeDownThroughThePrefetchWindowBackBeforeAirPlaysOnTime) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  const std::int64_t bulletin = make_tone_bulletin(3.0);
  ASSERT_GT(bulletin, 0);
  d_->stop_node("n1");
  auto [occurrence, at] = schedule(bulletin, seconds(9), {"--target", "node:n1"});
  ASSERT_GT(occurrence, 0);
  std::this_thread::sleep_for(seconds(4));
  EXPECT_EQ(field(coverage(occurrence), "cached"), 0);
  d_->start_node("n1");
  ASSERT_TRUE(
      eventually([&] { return field(coverage(occurrence), "completed") == 1; }, seconds(20)))
      << coverage(occurrence).dump(2);
  const json e = events_of(occurrence).at("n1");
  EXPECT_LE(std::llabs(e["start_us"].get<std::int64_t>() - at), kOnTimeUs) << e.dump();
  EXPECT_EQ(field(coverage(occurrence), "cached"), 1);
}

TEST_F(Resilience, NodeBackAfterTheExpiryReportsExpired) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  const std::int64_t bulletin = make_tone_bulletin(3.0);
  ASSERT_GT(bulletin, 0);
  d_->stop_node("n1");
  protocol::Micros expiry = 0;
  const std::string expiry_wall = test::utc_wall_time(test::now_us() + 6'000'000, &expiry);
  auto [occurrence, at] =
      schedule(bulletin, seconds(3), {"--target", "node:n1", "--expiry", expiry_wall});
  ASSERT_GT(occurrence, 0);
  sleep_until_us(expiry + 500'000);
  d_->start_node("n1");
  ASSERT_TRUE(eventually([&] { return field(coverage(occurrence), "expired") == 1; }, seconds(20)))
      << coverage(occurrence).dump(2);
  const json e = events_of(occurrence).at("n1");
  EXPECT_EQ(e["outcome"], "expired");
  EXPECT_EQ(field(coverage(occurrence), "completed"), 0);
  EXPECT_EQ(starts_of("n1", occurrence), 0u);
  (void)at;
}

TEST_F(Resilience, BrokerRestartedUnderARunningNodeWhichStillPlaysOnTime) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  const std::int64_t bulletin = make_tone_bulletin(3.0);
  ASSERT_GT(bulletin, 0);
  // The link is cut while the node keeps running; the plan is made meanwhile, and the restarted
  // broker has kept nothing (no persistence: no retained plan, no retained manifest).
  d_->broker().stop();
  auto [occurrence, at] = schedule(bulletin, seconds(16), {"--target", "node:n1"});
  ASSERT_GT(occurrence, 0);
  std::this_thread::sleep_for(seconds(3));
  ASSERT_TRUE(d_->node_running("n1"));
  d_->broker().start();
  ASSERT_TRUE(
      eventually([&] { return field(coverage(occurrence), "completed") == 1; }, seconds(30)))
      << coverage(occurrence).dump(2);
  const json e = events_of(occurrence).at("n1");
  EXPECT_LE(std::llabs(e["start_us"].get<std::int64_t>() - at), kOnTimeUs) << e.dump();
  EXPECT_EQ(starts_of("n1", occurrence), 1u);
}

}  // namespace
