// Live broadcasts end to end (issue 5): loactl live streams a file (or a capture device)
// through the controller to the nodes over a real Mosquitto; their WAV outputs are aligned to
// each other and to the source, and nothing is lost on a clean loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "deployment_test.hpp"

using namespace loa;
using loa::test::eventually;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int kRate = 48000;
constexpr protocol::Micros kLatencyUs = 300'000;  // node default live-latency-ms

// A 16-bit mono WAV: `silence_s` of silence, then a 1 kHz burst of `burst_s`, then silence.
void write_source(const std::string& path, double silence_s, double burst_s, double tail_s) {
  std::vector<std::int16_t> pcm(static_cast<std::size_t>((silence_s + burst_s + tail_s) * kRate));
  const auto from = static_cast<std::size_t>(silence_s * kRate);
  const auto to = from + static_cast<std::size_t>(burst_s * kRate);
  for (std::size_t i = from; i < to; ++i) {
    pcm[i] = static_cast<std::int16_t>(12000 * std::sin(2 * M_PI * 1000.0 * (i - from) / kRate));
  }
  test::write_wav_pcm16(path, pcm, kRate);
}

// Index of the first sample whose magnitude exceeds `threshold`, or -1.
std::int64_t onset(const std::vector<std::int16_t>& pcm, int threshold = 3000) {
  for (std::size_t i = 0; i < pcm.size(); ++i) {
    if (std::abs(pcm[i]) > threshold) return static_cast<std::int64_t>(i);
  }
  return -1;
}

class Live : public test::DeploymentTest {
 protected:
  // Waits for every node's event of the live occurrence `summary` (loactl live's answer) and
  // checks that each played the whole stream, with the burst of `source` heard at the same
  // instant everywhere (within 5 ms) and at the source's instant plus the latency (within 20 ms).
  void expect_in_step(const json& summary, const std::vector<std::int16_t>& source,
                      const std::vector<std::string>& nodes) {
    const std::int64_t occ = test::field(summary, "occurrence_id");
    const std::int64_t start_us = test::field(summary, "start_us");
    ASSERT_GT(occ, 0) << summary.dump();
    std::map<std::string, json> events;
    ASSERT_TRUE(eventually(
        [&] {
          events = events_of(occ);
          return events.size() == nodes.size();
        },
        30s))
        << "events: " << events.size();
    // Decoded sample j of the stream plays at start_us + j / 48 kHz + latency, and the
    // encoder's delay is part of start_us, so source sample k plays at
    // start_us + pre-skip + k / 48 kHz + L.
    const protocol::Micros preskip_us = 6'500;
    const std::int64_t src_onset = onset(source);
    ASSERT_GT(src_onset, 0);
    const protocol::Micros expected =
        start_us + preskip_us + src_onset * 1'000'000 / kRate + kLatencyUs;
    std::vector<protocol::Micros> onsets;
    for (const auto& id : nodes) {
      const json& e = events.at(id);
      EXPECT_EQ(e.value("outcome", ""), "completed") << e.dump();
      EXPECT_EQ(test::field(e, "frames_concealed"), 0) << e.dump();
      EXPECT_EQ(test::field(e, "frames_dropped"), 0) << e.dump();
      const auto pcm =
          test::read_wav_pcm16(d_->node_wav_dir(id) + "/" + std::to_string(occ) + ".wav");
      const std::int64_t at = onset(pcm);
      ASSERT_GT(at, 0) << id;
      const protocol::Micros heard = test::field(e, "start_us") + at * 1'000'000 / kRate;
      onsets.push_back(heard);
      EXPECT_LE(std::llabs(heard - expected), 20'000)
          << id << " heard at " << heard << ", expected " << expected;
    }
    const auto [lo, hi] = std::minmax_element(onsets.begin(), onsets.end());
    EXPECT_LE(*hi - *lo, 5'000) << "inter-node skew";
    std::printf("live: skew across %zu nodes %lld us; latency error %lld..%lld us\n", onsets.size(),
                static_cast<long long>(*hi - *lo), static_cast<long long>(*lo - expected),
                static_cast<long long>(*hi - expected));
  }
};

TEST_F(Live, AFileReachesFiveNodesInStepWithTheSource) {
  const std::vector<std::string> nodes = {"n1", "n2", "n3", "n4", "n5"};
  for (const auto& id : nodes) d_->add_node({id, "79/26734/01", 2, 500});
  std::this_thread::sleep_for(2s);  // nodes connected and subscribed
  const std::string source = d_->dir() / "source.wav";
  write_source(source, 0.5, 1.0, 0.5);

  auto r = d_->loactl({"live", "--file", source, "--target", "area:79/26734/01", "--priority",
                       "priority", "--title", "live test"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json summary = r.json.is_array() ? r.json.at(0) : r.json;
  EXPECT_EQ(summary.value("ended_by", ""), "end of source") << summary.dump();
  expect_in_step(summary, test::read_wav_pcm16(source), nodes);
}

// `loactl live --device`: loactl captures through the real PortAudio and ALSA from a capture
// device of the test's own (ALSA's `file` PCM reading the source's samples, defined in a
// ~/.asoundrc under a HOME that only loactl's process sees), for --seconds 2.
TEST_F(Live, AMicrophoneThroughPortAudioReachesTheNodesInStep) {
  const std::vector<std::string> nodes = {"m1", "m2"};
  for (const auto& id : nodes) d_->add_node({id, "79/26734/01", 2, 500});
  std::this_thread::sleep_for(2s);
  const std::string wav = d_->dir() / "source.wav";
  write_source(wav, 0.5, 1.0, 0.5);
  const std::vector<std::int16_t> source = test::read_wav_pcm16(wav);
  const std::string home = d_->dir() / "home";
  std::filesystem::create_directories(home);
  {
    std::ofstream raw(home + "/mic.raw", std::ios::binary);
    raw.write(reinterpret_cast<const char*>(source.data()),
              static_cast<std::streamsize>(source.size() * 2));
    std::ofstream(home + "/.asoundrc")
        << "pcm.loa_test_mic {\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n"
        << "  infile \"" << home << "/mic.raw\"\n  format \"raw\"\n}\n";
  }
  const std::string saved_home = std::getenv("HOME") ? std::getenv("HOME") : "";
  ::setenv("HOME", home.c_str(), 1);  // inherited by loactl's process only
  auto r = d_->loactl({"live", "--device", "loa_test_mic", "--seconds", "2", "--target",
                       "area:79/26734/01", "--priority", "priority", "--no-chime"});
  ::setenv("HOME", saved_home.c_str(), 1);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json summary = r.json.is_array() ? r.json.at(0) : r.json;
  EXPECT_EQ(summary.value("ended_by", ""), "end of source") << summary.dump();
  EXPECT_NEAR(summary.value("duration_s", 0.0), 2.0, 0.05) << summary.dump();
  expect_in_step(summary, source, nodes);
}

// 5 % of the live chunks reaching one node are dropped in its receive path (the node's
// LOA_TEST_DROP_LIVE_PERCENT hook, seeded from its id): the stream still ends `completed` there,
// with the missing frames concealed and reported; the other node is untouched.
TEST_F(Live, LossOnOneNodeIsConcealedAndReported) {
  ::setenv("LOA_TEST_DROP_LIVE_PERCENT", "5", 1);
  d_->add_node({"lossy", "79/26734/01", 2, 500});
  ::unsetenv("LOA_TEST_DROP_LIVE_PERCENT");
  d_->add_node({"clean", "79/26734/01", 2, 500});
  std::this_thread::sleep_for(2s);
  const std::string source = d_->dir() / "source.wav";
  write_source(source, 0.5, 6.0, 0.5);  // 7 s: about 88 chunks of 80 ms

  auto r = d_->loactl(
      {"live", "--file", source, "--target", "area:79/26734/01", "--priority", "priority"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json summary = r.json.is_array() ? r.json.at(0) : r.json;
  const std::int64_t occ = test::field(summary, "occurrence_id");
  std::map<std::string, json> events;
  ASSERT_TRUE(eventually(
      [&] {
        events = events_of(occ);
        return events.size() == 2;
      },
      30s));
  const json& lossy = events.at("lossy");
  const json& clean = events.at("clean");
  EXPECT_EQ(lossy.value("outcome", ""), "completed") << lossy.dump();
  EXPECT_EQ(clean.value("outcome", ""), "completed") << clean.dump();
  const std::int64_t concealed = test::field(lossy, "frames_concealed");
  // Each lost chunk is 4 frames of 20 ms; 5 % of ~88 chunks is a few chunks.
  EXPECT_GT(concealed, 0) << lossy.dump();
  EXPECT_EQ(concealed % 4, 0) << lossy.dump();
  EXPECT_LE(concealed, 4 * 15) << lossy.dump();
  // Every 20 ms slot was played or concealed (a first chunk lost would start it one chunk
  // later).
  const std::int64_t slots = test::field(lossy, "frames_played") + concealed;
  EXPECT_LE(slots, test::field(clean, "frames_played")) << lossy.dump() << clean.dump();
  EXPECT_GE(slots, test::field(clean, "frames_played") - 4) << lossy.dump() << clean.dump();
  EXPECT_EQ(test::field(clean, "frames_concealed"), 0) << clean.dump();
  EXPECT_EQ(test::field(clean, "frames_dropped"), 0) << clean.dump();
  std::printf("live: 5%% loss on one node: %lld frames concealed, %lld dropped\n",
              static_cast<long long>(concealed),
              static_cast<long long>(test::field(lossy, "frames_dropped")));
}

// An emergency live stream takes over from a scheduled normal bulletin that is playing: the
// bulletin ends `preempted` on every node, the stream `completed`.
TEST_F(Live, EmergencyLiveStreamPreemptsAScheduledBulletin) {
  const std::vector<std::string> nodes = {"n1", "n2"};
  for (const auto& id : nodes) d_->add_node({id, "79/26734/01", 2, 500});
  const std::int64_t bulletin = make_tts_bulletin("ban-tin-ngan.txt");
  ASSERT_GT(bulletin, 0);
  auto [normal, normal_at] = schedule(bulletin, 6s, {"--target", "area:79/26734/01"});
  ASSERT_GT(normal, 0);
  while (std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() < normal_at + 1'500'000) {
    std::this_thread::sleep_for(100ms);
  }
  const std::string source = d_->dir() / "source.wav";
  write_source(source, 0.2, 1.0, 0.2);
  auto r = d_->loactl(
      {"live", "--file", source, "--target", "area:79/26734/01", "--priority", "emergency"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json summary = r.json.is_array() ? r.json.at(0) : r.json;
  const std::int64_t live = test::field(summary, "occurrence_id");
  std::map<std::string, json> bulletin_events;
  std::map<std::string, json> live_events;
  ASSERT_TRUE(eventually(
      [&] {
        bulletin_events = events_of(normal);
        live_events = events_of(live);
        return bulletin_events.size() == nodes.size() && live_events.size() == nodes.size();
      },
      30s));
  for (const auto& id : nodes) {
    EXPECT_EQ(bulletin_events.at(id).value("outcome", ""), "preempted")
        << bulletin_events.at(id).dump();
    EXPECT_EQ(live_events.at(id).value("outcome", ""), "completed") << live_events.at(id).dump();
    // The bulletin stopped when the stream began to play, not at its own end.
    EXPECT_LE(test::field(bulletin_events.at(id), "end_us"),
              test::field(live_events.at(id), "start_us") + 200'000)
        << bulletin_events.at(id).dump() << live_events.at(id).dump();
  }
}

}  // namespace
