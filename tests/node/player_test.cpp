#include "loa/node/player.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::Micros;
using protocol::Occurrence;
using protocol::Outcome;

constexpr std::uint64_t kBulletin = 42;

class PlayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stream_ = test::make_stream(1.0);
    ASSERT_TRUE(cache_.store(kBulletin, stream_).ok());
  }

  std::unique_ptr<Player> make_player(runtime::Clock& clock, std::uint8_t volume = 100,
                                      Player::IsHandled handled = nullptr,
                                      std::uint8_t emergency_volume = 100) {
    auto sinks = make_sink_factory(SinkSpec{SinkSpec::Kind::wav, wav_dir()}, clock);
    EXPECT_TRUE(sinks.ok());
    PlayerConfig config;
    config.node_id = "n1";
    config.volume = volume;
    config.emergency_volume = emergency_volume;
    return std::make_unique<Player>(config, clock, cache_, *sinks, std::move(handled),
                                    [this](protocol::PlaybackEvent e) {
                                      std::lock_guard lock(mu_);
                                      events_.push_back(std::move(e));
                                    });
  }
  std::string wav_dir() const { return dir_.file("wav"); }
  std::string wav(std::uint64_t occurrence) const {
    return wav_dir() + "/" + std::to_string(occurrence) + ".wav";
  }
  std::vector<protocol::PlaybackEvent> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool wait_events(std::size_t n, int timeout_ms = 5000) {
    return test::wait_for([&] { return events().size() >= n; }, timeout_ms);
  }

  test::TempDir dir_;
  Cache cache_ = *Cache::open(dir_.file("cache"));
  protocol::OpusStream stream_;
  std::mutex mu_;
  std::vector<protocol::PlaybackEvent> events_;
};

TEST_F(PlayerTest, PlaysTheExactDecodeAtTheInstant) {
  runtime::SystemClock clock;
  auto player = make_player(clock);
  player->start();
  const Micros start = clock.now_us() + 300'000;
  player->set_schedule(
      {Occurrence{1, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 100}});
  ASSERT_TRUE(wait_events(1));
  const auto e = events()[0];
  EXPECT_EQ(e.outcome, Outcome::completed) << e.detail;
  EXPECT_EQ(e.occurrence_id, 1u);
  EXPECT_EQ(e.bulletin_id, kBulletin);
  EXPECT_EQ(e.node_id, "n1");
  EXPECT_LT(std::llabs(e.start_us - start), 20'000) << "start error " << e.start_us - start;
  EXPECT_NEAR(static_cast<double>(e.end_us - e.start_us), 1'000'000.0, 100'000.0);
  EXPECT_EQ(e.frames_played, 50u);  // 1 s of 20 ms frames

  const auto expected = protocol::decode_stream(stream_);
  ASSERT_TRUE(expected.ok());
  const test::Wav w = test::read_wav(wav(1));
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.rate, 48000u);
  EXPECT_EQ(w.channels, 1u);
  ASSERT_EQ(w.samples.size(), expected->size());
  EXPECT_TRUE(w.samples == *expected);
}

TEST_F(PlayerTest, AppliesVolume) {
  runtime::SystemClock clock;
  auto player = make_player(clock, 50);
  player->start();
  const Micros start = clock.now_us() + 100'000;
  player->set_schedule(
      {Occurrence{2, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 80}});
  ASSERT_TRUE(wait_events(1));
  EXPECT_EQ(events()[0].outcome, Outcome::completed);
  const auto expected = *protocol::decode_stream(stream_);
  const test::Wav w = test::read_wav(wav(2));
  ASSERT_TRUE(w.ok);
  ASSERT_EQ(w.samples.size(), expected.size());
  bool nonzero = false;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(w.samples[i], static_cast<std::int16_t>(expected[i] * 50 * 80 / 10000)) << i;
    nonzero = nonzero || w.samples[i] != 0;
  }
  EXPECT_TRUE(nonzero);
}

// An emergency plays at the emergency level: neither the node's volume nor a mute applies; the
// occurrence's own volume still does.
TEST_F(PlayerTest, EmergencyPlaysAtTheEmergencyVolumeEvenWhenMuted) {
  runtime::SystemClock clock;
  auto player = make_player(clock, 30, nullptr, 90);
  player->set_muted(true);
  player->start();
  const Micros start = clock.now_us() + 100'000;
  player->set_schedule(
      {Occurrence{3, kBulletin, start, start + 10'000'000, protocol::Priority::emergency, 50}});
  ASSERT_TRUE(wait_events(1));
  EXPECT_EQ(events()[0].outcome, Outcome::completed);
  const auto expected = *protocol::decode_stream(stream_);
  const test::Wav w = test::read_wav(wav(3));
  ASSERT_TRUE(w.ok);
  ASSERT_EQ(w.samples.size(), expected.size());
  bool nonzero = false;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(w.samples[i], static_cast<std::int16_t>(expected[i] * 90 * 50 / 10000)) << i;
    nonzero = nonzero || w.samples[i] != 0;
  }
  EXPECT_TRUE(nonzero);
}

TEST_F(PlayerTest, ExpiredOccurrenceIsReportedNotPlayed) {
  runtime::SystemClock clock;
  auto player = make_player(clock);
  player->start();
  const Micros now = clock.now_us();
  player->set_schedule({Occurrence{3, kBulletin, now - 10'000'000, now - 5'000'000,
                                   protocol::Priority::normal, 100}});
  ASSERT_TRUE(wait_events(1));
  EXPECT_EQ(events()[0].outcome, Outcome::expired);
  EXPECT_EQ(events()[0].start_us, 0);
  EXPECT_EQ(events()[0].frames_played, 0u);
  EXPECT_FALSE(std::filesystem::exists(wav(3)));
}

TEST_F(PlayerTest, LateButBeforeExpiryStillPlays) {
  runtime::SystemClock clock;
  auto player = make_player(clock);
  player->start();
  const Micros now = clock.now_us();
  player->set_schedule({Occurrence{4, kBulletin, now - 1'000'000, now + 5'000'000,
                                   protocol::Priority::normal, 100}});
  ASSERT_TRUE(wait_events(1));
  EXPECT_EQ(events()[0].outcome, Outcome::completed);
  EXPECT_GE(events()[0].start_us, now);
}

TEST_F(PlayerTest, NotCachedFailsAtTheInstantNotBefore) {
  runtime::ManualClock clock(1'800'000'000'000'000);
  auto player = make_player(clock);
  player->start();
  const Micros start = clock.now_us() + 2'000'000;
  player->set_schedule(
      {Occurrence{5, kBulletin + 1, start, start + 60'000'000, protocol::Priority::normal, 100}});
  clock.set(start - 100'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(events().empty());
  clock.set(start);
  ASSERT_TRUE(wait_events(1));
  EXPECT_EQ(events()[0].outcome, Outcome::failed);
  EXPECT_EQ(events()[0].detail, "not cached");
  EXPECT_EQ(events()[0].occurrence_id, 5u);
  player->stop();
}

TEST_F(PlayerTest, CancelWhilePlayingAndWhileQueued) {
  stream_ = test::make_stream(3.0);
  ASSERT_TRUE(cache_.store(kBulletin, stream_).ok());
  runtime::SystemClock clock;
  auto player = make_player(clock);
  player->start();
  const Micros start = clock.now_us() + 100'000;
  player->set_schedule(
      {Occurrence{6, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 100},
       Occurrence{7, kBulletin, start + 60'000'000, start + 70'000'000, protocol::Priority::normal,
                  100}});
  EXPECT_TRUE(player->cancel(7));
  ASSERT_TRUE(wait_events(1));
  EXPECT_EQ(events()[0].occurrence_id, 7u);
  EXPECT_EQ(events()[0].outcome, Outcome::cancelled);
  EXPECT_FALSE(player->cancel(7));

  ASSERT_TRUE(test::wait_for([&] { return player->playing() == std::optional<std::uint64_t>(6); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(player->cancel(6));
  ASSERT_TRUE(wait_events(2, 1000));
  const auto e = events()[1];
  EXPECT_EQ(e.occurrence_id, 6u);
  EXPECT_EQ(e.outcome, Outcome::cancelled);
  EXPECT_GT(e.frames_played, 10u);
  EXPECT_LT(e.frames_played, 100u);
  EXPECT_GT(e.start_us, 0);
  EXPECT_TRUE(player->queued().empty());
}

TEST_F(PlayerTest, HandledOccurrencesAreSkipped) {
  runtime::SystemClock clock;
  auto player = make_player(clock, 100, [](std::uint64_t id) { return id == 8; });
  player->start();
  const Micros now = clock.now_us();
  player->set_schedule(
      {Occurrence{8, kBulletin, now - 10'000'000, now - 5'000'000, protocol::Priority::normal, 100},
       Occurrence{9, kBulletin, now - 10'000'000, now - 5'000'000, protocol::Priority::normal,
                  100}});
  ASSERT_TRUE(wait_events(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0].occurrence_id, 9u);
}

TEST_F(PlayerTest, StopBeforeTheInstantRecordsNothing) {
  runtime::SystemClock clock;
  auto player = make_player(clock);
  player->start();
  const Micros start = clock.now_us() + 200'000;  // within the open-ahead window
  player->set_schedule(
      {Occurrence{10, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 100}});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  player->stop();
  EXPECT_TRUE(events().empty());
}

}  // namespace
}  // namespace loa::node
