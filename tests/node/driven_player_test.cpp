// The player stepped by a caller's loop (Player::start_driven / step, the fleet simulator) and the
// counting mode (PlayerConfig::decode = false): the same events and samples as the threaded,
// decoding player.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "loa/node/fiber.hpp"
#include "loa/node/player.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::Micros;
using protocol::Occurrence;
using protocol::Outcome;

constexpr std::uint64_t kBulletin = 42;
constexpr Micros kT0 = 1'700'000'000'000'000;

class DrivenPlayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stream_ = test::make_stream(1.0);
    ASSERT_TRUE(cache_.store(kBulletin, stream_).ok());
  }

  // A player whose sinks (WAV files) pace through `pace`.
  std::unique_ptr<Player> make_player(runtime::Clock& clock, runtime::Clock& pace, bool decode,
                                      const std::string& id = "n1") {
    auto sinks = make_sink_factory(SinkSpec{SinkSpec::Kind::wav, wav_dir(id)}, pace);
    EXPECT_TRUE(sinks.ok());
    PlayerConfig config;
    config.node_id = id;
    config.decode = decode;
    return std::make_unique<Player>(config, clock, cache_, *sinks, nullptr,
                                    [this](protocol::PlaybackEvent e) {
                                      std::lock_guard lock(mu_);
                                      events_.push_back(std::move(e));
                                    });
  }
  std::string wav_dir(const std::string& id) const { return dir_.file("wav-" + id); }
  std::vector<protocol::PlaybackEvent> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

  test::TempDir dir_;
  Cache cache_ = *Cache::open(dir_.file("cache"));
  protocol::OpusStream stream_;
  std::mutex mu_;
  std::vector<protocol::PlaybackEvent> events_;
};

// On a manual clock moved in 10 ms steps, as the fleet loop does: the first sample at the exact
// instant, every frame written, the exact decode in the file, and no thread.
TEST_F(DrivenPlayerTest, SteppedPlayerPlaysTheExactDecodeAtTheInstant) {
  runtime::ManualClock clock(kT0);
  FiberClock pace(clock);
  auto player = make_player(clock, pace, true);
  player->start_driven();
  EXPECT_TRUE(player->alive());
  const Micros start = kT0 + 1'000'000;
  player->set_schedule(
      {Occurrence{1, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 100}});
  int steps = 0;
  while (events().empty() && clock.now_us() < kT0 + 5'000'000) {
    const Micros due = player->step();
    ++steps;
    // Straight to the instant it asked for, but never more than 10 ms at once.
    clock.set(std::max(clock.now_us(), std::min(due, clock.now_us() + 10'000)));
  }
  ASSERT_EQ(events().size(), 1u);
  const auto e = events()[0];
  EXPECT_EQ(e.outcome, Outcome::completed) << e.detail;
  EXPECT_EQ(e.start_us, start);
  EXPECT_EQ(e.frames_played, 50u);
  EXPECT_GE(e.end_us - e.start_us, 1'000'000 - 20'000);
  EXPECT_LE(e.end_us - e.start_us, 1'000'000 + 20'000);
  EXPECT_LT(steps, 400) << "stepped more than once per 10 ms";
  const auto expected = protocol::decode_stream(stream_);
  ASSERT_TRUE(expected.ok());
  const test::Wav w = test::read_wav(wav_dir("n1") + "/1.wav");
  ASSERT_TRUE(w.ok);
  ASSERT_EQ(w.samples.size(), expected->size());
  EXPECT_TRUE(w.samples == *expected);
  player->stop();
  EXPECT_FALSE(player->alive());
}

// Counting instead of decoding: the same number of samples (pre-skip dropped, trimmed to the
// stream's length), the same frames and instants; the samples are silence.
TEST_F(DrivenPlayerTest, CountingPlayerWritesAsManySamplesAsTheDecode) {
  runtime::ManualClock clock(kT0);
  FiberClock pace(clock);
  auto player = make_player(clock, pace, false);
  player->start_driven();
  const Micros start = kT0 + 600'000;
  player->set_schedule(
      {Occurrence{2, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 70}});
  while (events().empty() && clock.now_us() < kT0 + 5'000'000) {
    const Micros due = player->step();
    clock.set(std::max(clock.now_us(), std::min(due, clock.now_us() + 10'000)));
  }
  ASSERT_EQ(events().size(), 1u);
  const auto e = events()[0];
  EXPECT_EQ(e.outcome, Outcome::completed) << e.detail;
  EXPECT_EQ(e.start_us, start);
  EXPECT_EQ(e.frames_played, 50u);
  const auto expected = protocol::decode_stream(stream_);
  ASSERT_TRUE(expected.ok());
  const test::Wav w = test::read_wav(wav_dir("n1") + "/2.wav");
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.samples.size(), expected->size());
  EXPECT_TRUE(std::all_of(w.samples.begin(), w.samples.end(), [](auto s) { return s == 0; }));
}

// The threaded player unchanged: the counting mode there too gives the decode's length.
TEST_F(DrivenPlayerTest, ThreadedCountingPlayerAgreesWithTheDecode) {
  runtime::SystemClock clock;
  auto player = make_player(clock, clock, false);
  player->start();
  const Micros start = clock.now_us() + 200'000;
  player->set_schedule(
      {Occurrence{3, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 100}});
  ASSERT_TRUE(test::wait_for([&] { return !events().empty(); }));
  const auto e = events()[0];
  EXPECT_EQ(e.outcome, Outcome::completed) << e.detail;
  EXPECT_EQ(e.frames_played, 50u);
  EXPECT_LT(std::llabs(e.start_us - start), 20'000);
  const test::Wav w = test::read_wav(wav_dir("n1") + "/3.wav");
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.samples.size(), protocol::decode_stream(stream_)->size());
}

// Many players on one thread in real time: each plays its frames on time; a stop in the middle
// of a playback returns at once (no wait for the pacing) and ends it partial.
TEST_F(DrivenPlayerTest, ManyPlayersOnOneThreadAndPromptStops) {
  runtime::SystemClock clock;
  FiberClock pace(clock);
  constexpr int kPlayers = 100;
  std::vector<std::unique_ptr<Player>> players;
  const Micros start = clock.now_us() + 300'000;
  for (int i = 0; i < kPlayers; ++i) {
    players.push_back(make_player(clock, pace, false, "n" + std::to_string(i)));
    players.back()->start_driven();
    players.back()->set_schedule(
        {Occurrence{10, kBulletin, start, start + 10'000'000, protocol::Priority::normal, 100}});
  }
  const auto stop_at = start + 500'000;
  bool stopped = false;
  while (events().size() < kPlayers && clock.now_us() < start + 5'000'000) {
    Micros next = clock.now_us() + 10'000;
    for (auto& p : players) next = std::min(next, p->step());
    if (!stopped && clock.now_us() >= stop_at) {
      const auto t = std::chrono::steady_clock::now();
      for (int i = 0; i < kPlayers / 10; ++i) players[static_cast<std::size_t>(i)]->stop();
      const auto took = std::chrono::steady_clock::now() - t;
      EXPECT_LT(took, std::chrono::milliseconds(200)) << "stops waited for the pacing";
      stopped = true;
    }
    const Micros wait = next - clock.now_us();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait));
  }
  const auto all = events();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kPlayers));
  int partial = 0, completed = 0;
  for (const auto& e : all) {
    EXPECT_LT(std::llabs(e.start_us - start), 20'000) << e.node_id;
    if (e.outcome == Outcome::partial) {
      ++partial;
      EXPECT_EQ(e.detail, "node stopping");
      EXPECT_GT(e.frames_played, 15u);
      EXPECT_LT(e.frames_played, 50u);
    } else {
      ++completed;
      EXPECT_EQ(e.outcome, Outcome::completed) << e.detail;
      EXPECT_EQ(e.frames_played, 50u);
    }
  }
  EXPECT_EQ(partial, kPlayers / 10);
  EXPECT_EQ(completed, kPlayers - kPlayers / 10);
}

TEST(FiberTest, SleepsHandControlBackAndStopsRunToTheEnd) {
  int reached = 0;
  Fiber f([&] {
    reached = 1;
    Fiber::sleep_until(100);
    reached = 2;
    while (!Fiber::current()->cancelled()) Fiber::sleep_until(200);
    reached = 3;
  });
  EXPECT_EQ(Fiber::current(), nullptr);
  Fiber::sleep_until(5);  // outside a fiber: nothing
  f.resume();
  EXPECT_EQ(reached, 1);
  EXPECT_EQ(f.wake_at(), 100);
  f.wake();
  EXPECT_TRUE(f.woken());
  f.resume();
  EXPECT_FALSE(f.woken());
  EXPECT_EQ(reached, 2);
  EXPECT_EQ(f.wake_at(), 200);
  f.resume();
  EXPECT_EQ(reached, 2);
  f.cancel();
  f.resume();
  EXPECT_EQ(reached, 3);
  EXPECT_TRUE(f.finished());
}

}  // namespace
}  // namespace loa::node
