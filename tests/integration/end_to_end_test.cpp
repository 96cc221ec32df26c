// The whole loop: a TTS bulletin made, scheduled, prefetched, played, acknowledged and counted,
// across real processes and a real Mosquitto on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "deployment_test.hpp"

using namespace loa;
using loa::test::eventually;
using loa::test::field;
using nlohmann::json;

namespace {

class EndToEnd : public test::DeploymentTest {};

TEST_F(EndToEnd, TtsBulletinPlaysOnThreeNodesInTwoAreasAndIsCounted) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  d_->add_node({"n2", "79/26734/02", 2, 800});
  d_->add_node({"n3", "79/26737/01", 3, 500});
  const std::int64_t bulletin = make_tts_bulletin("canh-bao-bao.txt");
  ASSERT_GT(bulletin, 0);
  auto [occurrence, at] = schedule(bulletin, std::chrono::seconds(3),
                                   {"--target", "area:79/26734", "--target", "node:n3"});
  ASSERT_GT(occurrence, 0);

  ASSERT_TRUE(eventually([&] { return field(coverage(occurrence), "completed") == 3; },
                         std::chrono::seconds(60)))
      << coverage(occurrence).dump(2);
  const json cov = coverage(occurrence);
  EXPECT_EQ(field(cov, "targeted"), 3);
  EXPECT_EQ(field(cov, "cached"), 3);
  EXPECT_EQ(field(cov, "residents_reached"), 1200 + 800 + 500);

  // Each node started within 20 ms of the instant, by its own report.
  auto log = d_->loactl({"log"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  const json& rows = log.json.is_array() ? log.json : log.json["events"];
  ASSERT_EQ(rows.size(), 3u) << log.out;
  for (const auto& row : rows) {
    EXPECT_EQ(row["outcome"], "completed") << row.dump();
    EXPECT_LE(std::llabs(row["start_us"].get<std::int64_t>() - at), 20'000) << row.dump();
  }

  // What each node wrote equals, sample for sample, our decode of the controller's file.
  const auto expected = expected_pcm(bulletin);
  ASSERT_FALSE(expected.empty());
  for (const char* node : {"n1", "n2", "n3"}) {
    const auto pcm = test::read_wav_pcm16(wav_of(node, occurrence));
    ASSERT_EQ(pcm.size(), expected.size()) << node;
    EXPECT_TRUE(pcm == expected) << node << ": samples differ";
  }
}

TEST_F(EndToEnd, BadInputIsRefusedWithAClearMessage) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  // Corrupt audio.
  const std::string corrupt = d_->dir() / "corrupt.wav";
  std::ofstream(corrupt) << "RIFF\x10\0\0\0WAVEfmt garbage garbage";
  auto bad_audio = d_->loactl({"bulletin", "create", "--title", "x", "--audio", corrupt});
  EXPECT_NE(bad_audio.exit_code, 0);
  EXPECT_FALSE(bad_audio.err.empty());

  const std::int64_t bulletin = make_tts_bulletin("canh-bao-bao.txt");
  ASSERT_GT(bulletin, 0);
  // In the past.
  auto past = d_->loactl({"schedule", "--bulletin", std::to_string(bulletin), "--at",
                          "2020-01-01T06:30", "--tz", "UTC", "--target", "node:n1"});
  EXPECT_NE(past.exit_code, 0);
  EXPECT_NE(past.err.find("past"), std::string::npos) << past.err;
  // Unknown target and unknown bulletin.
  auto unknown = d_->loactl({"schedule", "--bulletin", std::to_string(bulletin), "--at",
                             "2030-01-01T06:30", "--target", "node:nobody"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("nobody"), std::string::npos) << unknown.err;
  auto no_bulletin = d_->loactl(
      {"schedule", "--bulletin", "999999", "--at", "2030-01-01T06:30", "--target", "node:n1"});
  EXPECT_NE(no_bulletin.exit_code, 0);
  EXPECT_NE(no_bulletin.err.find("999999"), std::string::npos) << no_bulletin.err;
}

TEST_F(EndToEnd, NodeRestartedAfterPrefetchPlaysFromCacheWithoutBroker) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  const std::int64_t bulletin = make_tts_bulletin("canh-bao-bao.txt");
  ASSERT_GT(bulletin, 0);
  auto [occurrence, at] = schedule(bulletin, std::chrono::seconds(8), {"--target", "node:n1"});
  ASSERT_GT(occurrence, 0);
  ASSERT_TRUE(eventually([&] { return field(coverage(occurrence), "cached") == 1; },
                         std::chrono::seconds(6)));
  // The node restarts while the broker is down: it must play from its own cache and plan.
  d_->stop_node("n1");
  d_->broker().stop();
  d_->start_node("n1");
  const std::string wav = wav_of("n1", occurrence);
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(wav); }, std::chrono::seconds(15)))
      << "no playback without the broker";
  // Once the broker is back, the event waiting in the node's outbox is counted once.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  d_->broker().start();
  ASSERT_TRUE(eventually([&] { return field(coverage(occurrence), "completed") == 1; },
                         std::chrono::seconds(40)))
      << coverage(occurrence).dump(2);
  (void)at;
}

}  // namespace
