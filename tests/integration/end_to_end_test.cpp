// The whole loop: a TTS bulletin made, scheduled, prefetched, played, acknowledged and counted,
// across real processes and a real Mosquitto on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "deployment.hpp"
#include "loa/protocol/ogg_opus.hpp"

using namespace loa;
using loa::test::Deployment;
using loa::test::eventually;
using loa::test::field;
using loa::test::utc_wall_time;
using nlohmann::json;

namespace {

const std::string kSamples = std::string(LOA_SOURCE_DIR) + "/samples/";

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<Deployment>();
    d_->start_controller();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << d_->logs();
  }

  std::int64_t make_tts_bulletin(const std::string& text_file) {
    auto r = d_->loactl({"bulletin", "create", "--title", "Thông báo", "--text",
                         kSamples + text_file, "--voice", "vi"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return field(r.json, "id");
  }

  // Schedules `bulletin` `ahead` from now (UTC wall time); returns the occurrence id and instant.
  std::pair<std::int64_t, protocol::Micros> schedule(std::int64_t bulletin,
                                                     std::chrono::seconds ahead,
                                                     std::vector<std::string> targets) {
    protocol::Micros at = 0;
    const std::string wall = utc_wall_time(
        test::now_us() + std::chrono::duration_cast<std::chrono::microseconds>(ahead).count(), &at);
    std::vector<std::string> args = {
        "schedule", "--bulletin", std::to_string(bulletin), "--at", wall, "--tz", "UTC"};
    for (auto& t : targets) {
      args.push_back("--target");
      args.push_back(t);
    }
    auto r = d_->loactl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return {field(r.json, "id"), at};
  }

  json coverage(std::int64_t occurrence) {
    auto r = d_->loactl({"report", "coverage", "--occurrence", std::to_string(occurrence)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.json;
  }

  std::unique_ptr<Deployment> d_;
};

TEST_F(EndToEnd, TtsBulletinPlaysOnThreeNodesInTwoAreasAndIsCounted) {
  d_->add_node({"n1", "79/26734/01", 4, 1200});
  d_->add_node({"n2", "79/26734/02", 2, 800});
  d_->add_node({"n3", "79/26737/01", 3, 500});
  const std::int64_t bulletin = make_tts_bulletin("canh-bao-bao.txt");
  ASSERT_GT(bulletin, 0);
  auto [occurrence, at] = schedule(bulletin, std::chrono::seconds(3), {"area:79/26734", "node:n3"});
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
  const std::string ogg = d_->http_get("/api/v1/bulletins/" + std::to_string(bulletin) + "/audio");
  auto stream = protocol::read_ogg_opus(
      protocol::ByteView(reinterpret_cast<const std::uint8_t*>(ogg.data()), ogg.size()));
  ASSERT_TRUE(stream.ok()) << stream.error().message;
  auto expected = protocol::decode_stream(*stream);
  ASSERT_TRUE(expected.ok());
  for (const char* node : {"n1", "n2", "n3"}) {
    const std::string wav = d_->node_wav_dir(node) + "/" + std::to_string(occurrence) + ".wav";
    const auto pcm = test::read_wav_pcm16(wav);
    ASSERT_EQ(pcm.size(), expected->size()) << node;
    EXPECT_TRUE(pcm == *expected) << node << ": samples differ";
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
  auto [occurrence, at] = schedule(bulletin, std::chrono::seconds(8), {"node:n1"});
  ASSERT_GT(occurrence, 0);
  ASSERT_TRUE(eventually([&] { return field(coverage(occurrence), "cached") == 1; },
                         std::chrono::seconds(6)));
  // The node restarts while the broker is down: it must play from its own cache and plan.
  d_->stop_node("n1");
  d_->broker().stop();
  d_->start_node("n1");
  const std::string wav = d_->node_wav_dir("n1") + "/" + std::to_string(occurrence) + ".wav";
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
