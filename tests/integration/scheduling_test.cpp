// Scheduling as operators use it (issue 4), across real processes and a real Mosquitto: an
// emergency interrupting a normal bulletin on every node, cancel propagation (also to a node that
// was offline), and the approval flow.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "deployment.hpp"
#include "loa/protocol/ogg_opus.hpp"

using namespace loa;
using loa::test::Deployment;
using loa::test::eventually;
using loa::test::field;
using loa::test::utc_wall_time;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kSamples = std::string(LOA_SOURCE_DIR) + "/samples/";

class Scheduling : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<Deployment>();
    d_->start_controller();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << d_->logs();
  }

  std::int64_t make_tts_bulletin(const std::string& text_file) {
    auto r = d_->loactl({"bulletin", "create", "--title", text_file, "--text", kSamples + text_file,
                         "--voice", "vi"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return field(r.json, "id");
  }

  // Schedules `bulletin` `ahead` from now (UTC wall time) with extra arguments; returns the
  // occurrence id and its instant.
  std::pair<std::int64_t, protocol::Micros> schedule(std::int64_t bulletin,
                                                     std::chrono::milliseconds ahead,
                                                     std::vector<std::string> extra) {
    protocol::Micros at = 0;
    const std::string wall = utc_wall_time(test::now_us() + ahead.count() * 1000, &at);
    std::vector<std::string> args = {
        "schedule", "--bulletin", std::to_string(bulletin), "--at", wall, "--tz", "UTC"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = d_->loactl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return {field(r.json, "id"), at};
  }

  json coverage(std::int64_t occurrence) {
    auto r = d_->loactl({"report", "coverage", "--occurrence", std::to_string(occurrence)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.json;
  }

  // The playback log rows of one occurrence, by node id.
  std::map<std::string, json> events_of(std::int64_t occurrence) {
    auto r = d_->loactl({"log", "--occurrence", std::to_string(occurrence)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, json> out;
    const json& rows = r.json.is_array() ? r.json : r.json["events"];
    for (const auto& row : rows) out[row["node_id"].get<std::string>()] = row;
    return out;
  }

  std::unique_ptr<Deployment> d_;
};

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
  const std::string ogg = d_->http_get("/api/v1/bulletins/" + std::to_string(emergency) + "/audio");
  auto stream = protocol::read_ogg_opus(
      protocol::ByteView(reinterpret_cast<const std::uint8_t*>(ogg.data()), ogg.size()));
  ASSERT_TRUE(stream.ok()) << stream.error().message;
  auto expected = protocol::decode_stream(*stream);
  ASSERT_TRUE(expected.ok());
  for (const auto& id : nodes) {
    const auto pcm =
        test::read_wav_pcm16(d_->node_wav_dir(id) + "/" + std::to_string(emergency_occ) + ".wav");
    EXPECT_TRUE(pcm == *expected) << id << ": emergency samples differ";
  }
}

}  // namespace
