// Node health (issue 6): clock offset measured and applied, status fields, remote control
// (volume kept across restarts, test tone, restart, reload), site script and temperature.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "loa/node/clock_offset.hpp"
#include "loa/node/health.hpp"
#include "loa/node/node.hpp"
#include "loa/protocol/topics.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::ControlCommand;
using protocol::Micros;
using protocol::Occurrence;
using protocol::Plan;

constexpr std::uint64_t kBulletin = 41;

TEST(OffsetEstimator, UsesTheSampleWithTheShortestRoundTrip) {
  runtime::ManualClock local(1'000'000'000);
  OffsetEstimator e(4);
  EXPECT_FALSE(e.estimate());
  // True offset +5 s; delays vary; the quickest exchange gives the truest sample.
  const Micros offset = 5'000'000;
  struct Exchange {
    Micros up, down;
  };
  const Exchange exchanges[] = {{80'000, 20'000}, {3'000, 2'000}, {400'000, 10'000}};
  std::uint64_t seq = 1;
  for (const auto& x : exchanges) {
    const Micros t1 = local.now_us();
    e.sent(seq, t1);
    local.advance(x.up);
    const Micros controller = local.now_us() + offset;
    local.advance(x.down);
    ASSERT_TRUE(e.answered(seq, controller, local.now_us()));
    ++seq;
    local.advance(1'000'000);
  }
  const auto est = e.estimate();
  ASSERT_TRUE(est);
  EXPECT_EQ(est->round_trip_us, 5'000);
  EXPECT_LE(std::llabs(est->offset_us - offset), est->round_trip_us / 2);
  EXPECT_EQ(est->samples, 3u);
  // An answer to nothing pending, or a second answer to the same request, teaches nothing.
  EXPECT_FALSE(e.answered(99, 0, local.now_us()));
  EXPECT_FALSE(e.answered(2, 0, local.now_us()));
}

TEST(OffsetEstimator, CorrectionOnlyWhenTheRoundTripLeavesNoDoubt) {
  using E = OffsetEstimator::Estimate;
  constexpr protocol::Micros kBound = 2'000'000;
  // 5 s off with a 10 ms round trip: surely beyond the bound.
  EXPECT_EQ(correction_for(E{5'000'000, 10'000, 8}, kBound, 0), 5'000'000);
  EXPECT_EQ(correction_for(E{-5'000'000, 10'000, 8}, kBound, 0), -5'000'000);
  // 6 s "off" measured over 13 s round trips (a congested fleet): anywhere in -0.5..12.5 s, so
  // nothing is learnt about a 2 s bound and the node keeps its own clock.
  EXPECT_EQ(correction_for(E{6'000'000, 13'000'000, 8}, kBound, 0), 0);
  // 2.5 s with a 2 s round trip: 1.5..3.5 s, not surely beyond.
  EXPECT_EQ(correction_for(E{2'500'000, 2'000'000, 8}, kBound, 0), 0);
  // Applied: followed while not surely within half the bound, removed once it is.
  EXPECT_EQ(correction_for(E{1'200'000, 10'000, 8}, kBound, 5'000'000), 1'200'000);
  EXPECT_EQ(correction_for(E{900'000, 400'000, 8}, kBound, 5'000'000), 900'000);
  EXPECT_EQ(correction_for(E{700'000, 10'000, 8}, kBound, 5'000'000), 0);
}

TEST(CorrectedClock, AddsTheCorrection) {
  runtime::ManualClock base(10'000'000);
  CorrectedClock c(base);
  EXPECT_EQ(c.now_us(), 10'000'000);
  c.set_correction(-5'000'000);
  EXPECT_EQ(c.now_us(), 5'000'000);
  base.advance(1'000'000);
  EXPECT_EQ(c.now_us(), 6'000'000);
}

TEST(Health, SiteScriptFirstLinesAndTimeout) {
  auto ok = run_site_script("printf 'rssi -71\\nber 0\\n'", 2000);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, "rssi -71 | ber 0");
  auto long_text = run_site_script("head -c 2000 /dev/zero | tr '\\\\0' x", 2000);
  ASSERT_TRUE(long_text.ok());
  EXPECT_EQ(long_text->size(), 256u);
  auto failed = run_site_script("echo no modem; exit 3", 2000);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("exit status 3"), std::string::npos);
  const auto before = std::chrono::steady_clock::now();
  auto slow = run_site_script("sleep 10", 300);
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().message.find("no answer within 300 ms"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(3));
}

TEST(Health, CpuTemperatureFromThermalZones) {
  test::TempDir dir;
  EXPECT_FALSE(read_cpu_temperature(dir.path()));
  std::filesystem::create_directories(dir.file("thermal_zone0"));
  std::filesystem::create_directories(dir.file("thermal_zone1"));
  std::ofstream(dir.file("thermal_zone0/temp")) << "41500\n";
  std::ofstream(dir.file("thermal_zone1/temp")) << "52000\n";
  EXPECT_EQ(read_cpu_temperature(dir.path()), 52000);
}

TEST(Health, TestToneIsAThousandHertzTone) {
  const auto tone = make_test_tone(500);
  const auto pcm = protocol::decode_stream(tone);
  ASSERT_TRUE(pcm.ok()) << pcm.error().message;
  ASSERT_EQ(pcm->size(), 500u * 48);
  std::size_t crossings = 0;
  for (std::size_t i = 1; i < pcm->size(); ++i) {
    if (((*pcm)[i - 1] < 0) != ((*pcm)[i] < 0)) ++crossings;
  }
  EXPECT_NEAR(static_cast<double>(crossings), 1000.0, 30.0);  // 2 per period, 500 periods
}

class HealthNodeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Node> make_node(runtime::Clock& clock, SinkFactory sinks,
                                  Micros bound_us = 2'000'000) {
    NodeConfig config =
        test::test_config("n1", "79/26734/03", dir_.file("n1"), controller_.key().public_key);
    if (key_) config.key = *key_;
    key_ = config.key;
    config.clock_offset_bound_us = bound_us;
    config.output_device = "test";
    controller_.trust(config.key.public_key);
    buses_.push_back(hub_.connect("n1"));
    auto node = Node::create(config, *buses_.back(), clock, std::move(sinks));
    EXPECT_TRUE(node.ok()) << node.error().message;
    return std::move(node).value();
  }
  SinkFactory wav_sinks(runtime::Clock& clock) {
    auto sinks = make_sink_factory(SinkSpec{SinkSpec::Kind::wav, dir_.file("wav")}, clock);
    EXPECT_TRUE(sinks.ok());
    return *sinks;
  }
  std::vector<protocol::PlaybackEvent> events_for(std::uint64_t occurrence) const {
    std::vector<protocol::PlaybackEvent> out;
    for (const auto& e : controller_.events()) {
      if (e.occurrence_id == occurrence) out.push_back(e);
    }
    return out;
  }
  protocol::Status ping() {
    const std::size_t before = controller_.statuses().size();
    controller_.send_control("n1", {ControlCommand::ping, 1, {}});
    EXPECT_TRUE(test::wait_for([&] { return controller_.statuses().size() > before; }));
    return controller_.statuses().back();
  }

  test::TempDir dir_;
  runtime::SystemClock clock_;  // the controller's (true) time
  runtime::MemoryHub hub_;
  test::FakeController controller_{hub_, clock_};
  std::optional<protocol::KeyPair> key_;
  std::vector<std::unique_ptr<runtime::Bus>> buses_;
};

TEST_F(HealthNodeTest, NodeFiveSecondsBehindPlaysAtTheControllersInstant) {
  controller_.set_answer_status_time(true);
  CorrectedClock behind(clock_);  // the node's own clock: 5 s slow
  behind.set_correction(-5'000'000);
  test::Timeline timeline;  // what leaves the loudspeaker, in true time
  auto node = make_node(behind, timeline.factory(clock_, 30'000));
  ASSERT_TRUE(node->start().ok());
  ASSERT_TRUE(test::wait_for([&] { return node->clock_correction() != 0; }));
  const auto offset = node->clock_offset();
  ASSERT_TRUE(offset);
  EXPECT_LT(std::llabs(offset->offset_us - 5'000'000), 20'000);
  const protocol::Status s = ping();
  EXPECT_TRUE(s.clock_corrected);
  EXPECT_LT(std::llabs(s.clock_offset_us - 5'000'000), 20'000);
  EXPECT_TRUE(s.online);

  controller_.offer_bulletin(kBulletin, test::make_stream(0.5), {});
  const Micros start = clock_.now_us() + 2'000'000;  // the controller's instant
  const Occurrence o{700, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 100};
  controller_.publish_plan(Plan{"node:n1", 1, {o}});
  ASSERT_TRUE(test::wait_for([&] { return !events_for(700).empty(); }, 8000));
  EXPECT_EQ(events_for(700)[0].outcome, protocol::Outcome::completed) << events_for(700)[0].detail;
  const Micros leaves = timeline.first_us(700);
  std::cout << "[ measured ] node 5 s behind, corrected: first sample left " << leaves - start
            << " us from the controller's instant\n";
  EXPECT_LT(std::llabs(leaves - start), 20'000);
  EXPECT_LT(std::llabs(events_for(700)[0].start_us - start), 20'000);
  // The status names the last playback.
  const protocol::Status after = ping();
  EXPECT_EQ(after.last_occurrence_id, 700u);
  EXPECT_EQ(after.last_outcome, protocol::Outcome::completed);
  node->stop();
}

TEST_F(HealthNodeTest, OffsetWithinTheBoundIsReportedNotApplied) {
  controller_.set_answer_status_time(true);
  CorrectedClock behind(clock_);
  behind.set_correction(-500'000);
  auto node = make_node(behind, wav_sinks(behind));
  ASSERT_TRUE(node->start().ok());
  ASSERT_TRUE(test::wait_for([&] { return node->clock_offset().has_value(); }));
  EXPECT_LT(std::llabs(node->clock_offset()->offset_us - 500'000), 20'000);
  EXPECT_EQ(node->clock_correction(), 0);
  const protocol::Status s = ping();
  EXPECT_FALSE(s.clock_corrected);
  EXPECT_LT(std::llabs(s.clock_offset_us - 500'000), 20'000);
  node->stop();
}

TEST_F(HealthNodeTest, VolumeAndMuteAreKeptAcrossRestarts) {
  {
    auto node = make_node(clock_, wav_sinks(clock_));
    ASSERT_TRUE(node->start().ok());
    controller_.send_control("n1", {ControlCommand::volume, 35, {}});
    controller_.send_control("n1", {ControlCommand::mute, 1, {}});
    ASSERT_TRUE(test::wait_for([&] {
      const auto st = controller_.statuses();
      return !st.empty() && st.back().volume == 35 && st.back().muted;
    }));
    node->stop();
  }
  buses_.clear();
  auto node = make_node(clock_, wav_sinks(clock_));
  ASSERT_TRUE(node->start().ok());
  const protocol::Status s = ping();
  EXPECT_EQ(s.volume, 35);
  EXPECT_TRUE(s.muted);
  EXPECT_EQ(s.output_device, "test");
  EXPECT_NE(s.session, 0u - 1);
  node->stop();
}

TEST_F(HealthNodeTest, TestToneIsPlayedAndNotCounted) {
  auto node = make_node(clock_, wav_sinks(clock_));
  ASSERT_TRUE(node->start().ok());
  controller_.send_control("n1", {ControlCommand::test_tone, 400, {}});
  const std::string wav = dir_.file("wav") + "/" + std::to_string((std::uint64_t{1} << 63) | 1);
  ASSERT_TRUE(test::wait_for([&] { return test::read_wav(wav + ".wav").ok; }, 5000));
  node->stop();  // the WAV is complete once the playback ended
  const test::Wav w = test::read_wav(wav + ".wav");
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.samples.size(), 400u * 48);
  std::size_t crossings = 0;
  for (std::size_t i = 1; i < w.samples.size(); ++i) {
    if ((w.samples[i - 1] < 0) != (w.samples[i] < 0)) ++crossings;
  }
  EXPECT_NEAR(static_cast<double>(crossings), 800.0, 30.0);
  EXPECT_TRUE(controller_.events().empty());  // no occurrence: not in coverage
}

TEST_F(HealthNodeTest, RestartAndReloadGoThroughTheirHooks) {
  auto node = make_node(clock_, wav_sinks(clock_));
  std::atomic<int> restarts{0};
  node->on_restart([&] { ++restarts; });
  node->on_reload([]() -> Result<RuntimeSettings> {
    RuntimeSettings r;
    r.volume = 70;
    r.status_interval_us = 30'000'000;
    r.restart_needed = {"broker"};
    return r;
  });
  ASSERT_TRUE(node->start().ok());
  controller_.send_control("n1", {ControlCommand::restart, 0, {}});
  ASSERT_TRUE(test::wait_for([&] { return restarts == 1; }));
  controller_.send_control("n1", {ControlCommand::reload, 0, {}});
  ASSERT_TRUE(test::wait_for([&] { return ping().volume == 70; }));
  // A control signed by another key changes nothing.
  const auto stranger = protocol::KeyPair::generate();
  controller_.publish(
      protocol::topics::node_control("n1"),
      controller_.seal(protocol::MessageType::control,
                       protocol::encode(protocol::Control{ControlCommand::volume, 5, "node:n1"}),
                       &stranger));
  ASSERT_TRUE(test::wait_for([&] { return node->snapshot().controls_rejected == 1; }));
  EXPECT_EQ(ping().volume, 70);
  node->stop();
}

}  // namespace
}  // namespace loa::node
