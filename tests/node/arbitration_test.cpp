// Levels on the node (issue 4): preemption, queueing, expiry, cancellation by plan removal and
// changed occurrences, driven by simulated time (deterministic), plus one real-time switch.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "loa/node/player.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::Micros;
using protocol::Occurrence;
using protocol::Outcome;
using protocol::PlaybackEvent;
using protocol::Priority;

constexpr Micros kT0 = 1'800'000'000'000'000;
constexpr Micros kSecond = 1'000'000;
constexpr Micros kSample = 21;        // one sample at 48 kHz, rounded up, in µs
constexpr std::uint64_t kLong = 11;   // 3 s
constexpr std::uint64_t kAlert = 12;  // 1 s
constexpr std::uint64_t kShort = 13;  // 1 s

Occurrence occurrence(std::uint64_t id, std::uint64_t bulletin, Micros start,
                      Priority priority = Priority::normal, Micros expiry_after = 30 * kSecond) {
  return Occurrence{id, bulletin, start, start + expiry_after, priority, 100};
}

class ArbitrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    streams_[kLong] = test::make_stream(3.0, 300.0);
    streams_[kAlert] = test::make_stream(1.0, 900.0);
    streams_[kShort] = test::make_stream(1.0, 500.0);
    for (const auto& [id, stream] : streams_) ASSERT_TRUE(cache_.store(id, stream).ok());
  }
  void TearDown() override {
    clock_.free_run();
    if (player_) player_->stop();
  }
  // A player on the simulated clock and recording sinks with `latency_us` of output latency.
  void make(Micros latency_us = 0, bool can_continue = true) {
    PlayerConfig config;
    config.node_id = "n1";
    player_ = std::make_unique<Player>(config, clock_, cache_,
                                       timeline_.factory(clock_, latency_us, can_continue), nullptr,
                                       [this](PlaybackEvent e) {
                                         std::lock_guard lock(mu_);
                                         events_.push_back(std::move(e));
                                       });
  }
  void start(Micros latency_us = 0, bool can_continue = true) {
    make(latency_us, can_continue);
    player_->start();
    ASSERT_TRUE(clock_.settle()) << "player thread did not go to sleep";
  }
  void run_until(Micros t) { ASSERT_TRUE(clock_.run_until(t)) << "player thread kept running"; }
  std::vector<PlaybackEvent> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::optional<PlaybackEvent> event_for(std::uint64_t occurrence_id) const {
    std::optional<PlaybackEvent> found;
    for (const auto& e : events()) {
      if (e.occurrence_id != occurrence_id) continue;
      EXPECT_FALSE(found) << "two events for occurrence " << occurrence_id;
      found = e;
    }
    return found;
  }
  std::vector<std::int16_t> pcm(std::uint64_t bulletin) const {
    return *protocol::decode_stream(streams_.at(bulletin));
  }
  static std::vector<std::uint64_t> ids(const std::vector<Occurrence>& os) {
    std::vector<std::uint64_t> out;
    for (const auto& o : os) out.push_back(o.occurrence_id);
    return out;
  }

  test::TempDir dir_;
  Cache cache_ = *Cache::open(dir_.file("cache"));
  std::map<std::uint64_t, protocol::OpusStream> streams_;
  test::SimClock clock_{kT0, 1};
  test::Timeline timeline_;
  mutable std::mutex mu_;
  std::vector<PlaybackEvent> events_;
  std::unique_ptr<Player> player_;
};

TEST_F(ArbitrationTest, EmergencyTakesOverAtItsInstantWithNoGap) {
  constexpr Micros kLatency = 120'000;
  ASSERT_NO_FATAL_FAILURE(start(kLatency));
  const Micros normal_start = kT0 + kSecond;
  const Micros alert_start = kT0 + 2 * kSecond + 357;  // not on a 20 ms frame boundary
  player_->set_schedule({occurrence(1, kLong, normal_start),
                         occurrence(2, kAlert, alert_start, Priority::emergency)});
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 6 * kSecond));

  const auto normal = event_for(1);
  const auto alert = event_for(2);
  ASSERT_TRUE(normal && alert);
  EXPECT_EQ(normal->outcome, Outcome::preempted);
  EXPECT_EQ(normal->detail, "preempted by emergency occurrence 2");
  EXPECT_EQ(normal->start_us, normal_start);
  EXPECT_EQ(normal->frames_played, 51u);  // 1.000357 s in 20 ms frames, the last one cut
  EXPECT_EQ(alert->outcome, Outcome::completed) << alert->detail;
  EXPECT_EQ(alert->frames_played, 50u);
  // The events say it, and so does the loudspeaker: the emergency's first sample leaves at its
  // instant, right where the interrupted bulletin's last one ended.
  const Micros start_error = alert->start_us - alert_start;
  const Micros heard_error = timeline_.first_us(2) - alert_start;
  const Micros gap = timeline_.first_us(2) - timeline_.end_us(1);
  std::cout << "[ measured ] simulated switch: emergency start error " << start_error
            << " us, heard " << heard_error << " us, gap after preempted " << gap
            << " us, preempted end error " << normal->end_us - alert_start << " us\n";
  EXPECT_LE(std::llabs(start_error), kSample);
  EXPECT_LE(std::llabs(heard_error), kSample);
  EXPECT_LE(std::llabs(gap), kSample);
  EXPECT_LE(std::llabs(normal->end_us - alert_start), kSample);
  EXPECT_NEAR(static_cast<double>(alert->end_us - alert->start_us), 1e6, 100.0);

  // The interrupted one is an exact prefix, cut at the instant; the emergency is whole.
  const auto heard_normal = timeline_.samples(1);
  const auto full = pcm(kLong);
  EXPECT_NEAR(static_cast<double>(heard_normal.size()),
              static_cast<double>(alert_start - normal_start) * 0.048, 1.0);
  ASSERT_LE(heard_normal.size(), full.size());
  EXPECT_TRUE(std::equal(heard_normal.begin(), heard_normal.end(), full.begin()));
  EXPECT_TRUE(timeline_.samples(2) == pcm(kAlert));
  // Dropped, not resumed: nothing of it after the emergency.
  EXPECT_EQ(timeline_.end_us(1), timeline_.first_us(2));
  const auto all = events();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].occurrence_id, 1u);  // preempted recorded first
  EXPECT_TRUE(player_->queued().empty());
}

TEST_F(ArbitrationTest, EmergencyTakesOverOnASinkThatCannotContinue) {
  ASSERT_NO_FATAL_FAILURE(start(0, false));
  const Micros alert_start = kT0 + 2 * kSecond;
  player_->set_schedule({occurrence(1, kLong, kT0 + kSecond),
                         occurrence(2, kAlert, alert_start, Priority::emergency)});
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 6 * kSecond));
  ASSERT_TRUE(event_for(1) && event_for(2));
  EXPECT_EQ(event_for(1)->outcome, Outcome::preempted);
  EXPECT_EQ(event_for(2)->outcome, Outcome::completed);
  EXPECT_LE(std::llabs(event_for(2)->start_us - alert_start), kSample);
  EXPECT_TRUE(timeline_.samples(2) == pcm(kAlert));
}

TEST_F(ArbitrationTest, EmergencyCancelledOrMissingDoesNotInterrupt) {
  ASSERT_NO_FATAL_FAILURE(start());
  player_->set_schedule({occurrence(1, kLong, kT0 + kSecond),
                         occurrence(2, kAlert, kT0 + 2 * kSecond, Priority::emergency),
                         occurrence(3, 99, kT0 + 3 * kSecond, Priority::emergency)});  // not cached
  // 2 is already loaded to take over (within the open-ahead) when it is cancelled.
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 1'800'000));
  ASSERT_TRUE(player_->cancel(2));
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 6 * kSecond));
  ASSERT_EQ(events().size(), 3u);
  EXPECT_EQ(event_for(2)->outcome, Outcome::cancelled);
  EXPECT_EQ(event_for(3)->outcome, Outcome::failed);
  EXPECT_EQ(event_for(3)->detail, "not cached");
  EXPECT_EQ(event_for(1)->outcome, Outcome::completed);
  EXPECT_TRUE(timeline_.samples(1) == pcm(kLong));
}

TEST_F(ArbitrationTest, NormalsQueueAndOneThatCannotStartBeforeItsExpiryExpires) {
  ASSERT_NO_FATAL_FAILURE(start());
  player_->set_schedule({occurrence(1, kLong, kT0 + kSecond),  // plays 1 s .. 4 s
                         occurrence(2, kShort, kT0 + 2 * kSecond, Priority::normal, 10 * kSecond),
                         occurrence(3, kShort, kT0 + 2'500'000, Priority::normal, kSecond)});
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 3'499'000));
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(player_->playing(), std::optional<std::uint64_t>(1));
  EXPECT_EQ(ids(player_->queued()), (std::vector<std::uint64_t>{2, 3}));
  // 3's expiry: reported within the frame being written then, not when the output is free.
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 3'520'000));
  ASSERT_TRUE(event_for(3));
  EXPECT_EQ(event_for(3)->outcome, Outcome::expired);
  EXPECT_EQ(event_for(3)->start_us, 0);

  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 8 * kSecond));
  ASSERT_TRUE(event_for(1) && event_for(2));
  EXPECT_EQ(event_for(1)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(1)->end_us, kT0 + 4 * kSecond);
  EXPECT_EQ(event_for(2)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(2)->start_us, kT0 + 4 * kSecond);  // as soon as the output was free
  EXPECT_TRUE(timeline_.samples(2) == pcm(kShort));
  EXPECT_TRUE(timeline_.samples(3).empty());  // never played late
  EXPECT_TRUE(timeline_.samples(1) == pcm(kLong));
}

TEST_F(ArbitrationTest, PriorityGoesBeforeAWaitingNormalButNeverInterrupts) {
  ASSERT_NO_FATAL_FAILURE(start());
  player_->set_schedule({occurrence(1, kLong, kT0 + kSecond),
                         occurrence(2, kShort, kT0 + 2 * kSecond),
                         occurrence(3, kShort, kT0 + 3 * kSecond, Priority::priority)});
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 8 * kSecond));
  ASSERT_EQ(events().size(), 3u);
  EXPECT_EQ(event_for(1)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(1)->frames_played, 150u);
  EXPECT_EQ(event_for(3)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(3)->start_us, kT0 + 4 * kSecond);
  EXPECT_EQ(event_for(2)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(2)->start_us, kT0 + 5 * kSecond);
}

TEST_F(ArbitrationTest, EmergencyPreemptsPriorityAndEmergenciesQueue) {
  ASSERT_NO_FATAL_FAILURE(start());
  player_->set_schedule({occurrence(1, kLong, kT0 + kSecond, Priority::priority),
                         occurrence(2, kAlert, kT0 + 2 * kSecond, Priority::emergency),
                         occurrence(3, kAlert, kT0 + 2'500'000, Priority::emergency)});
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 8 * kSecond));
  ASSERT_EQ(events().size(), 3u);
  EXPECT_EQ(event_for(1)->outcome, Outcome::preempted);
  EXPECT_EQ(event_for(1)->end_us, kT0 + 2 * kSecond);
  EXPECT_EQ(event_for(2)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(2)->frames_played, 50u);  // not interrupted by the second emergency
  EXPECT_EQ(event_for(3)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(3)->start_us, kT0 + 3 * kSecond);
}

TEST_F(ArbitrationTest, PlanRemovalCancelsWhatPlaysAndWhatWaits) {
  ASSERT_NO_FATAL_FAILURE(start());
  player_->set_schedule(
      {occurrence(1, kLong, kT0 + kSecond), occurrence(2, kShort, kT0 + 10 * kSecond)});
  const Micros removed_at = kT0 + 2 * kSecond;
  ASSERT_NO_FATAL_FAILURE(run_until(removed_at));
  ASSERT_EQ(player_->playing(), std::optional<std::uint64_t>(1));
  player_->set_schedule({}, "plan v7 of area:79/26734");
  ASSERT_TRUE(event_for(2));  // the waiting one at once
  EXPECT_EQ(event_for(2)->outcome, Outcome::cancelled);
  EXPECT_EQ(event_for(2)->detail, "removed from plan v7 of area:79/26734");
  EXPECT_EQ(event_for(2)->start_us, 0);

  ASSERT_NO_FATAL_FAILURE(run_until(removed_at + 100'000));
  const auto playing = event_for(1);
  ASSERT_TRUE(playing);
  EXPECT_EQ(playing->outcome, Outcome::cancelled);
  EXPECT_EQ(playing->detail, "removed from plan v7 of area:79/26734");
  EXPECT_EQ(playing->start_us, kT0 + kSecond);
  EXPECT_LE(playing->end_us - removed_at, 20'000);  // within the frame being written
  EXPECT_LE(timeline_.end_us(1) - removed_at, 20'000);

  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 12 * kSecond));
  EXPECT_EQ(events().size(), 2u);
  EXPECT_TRUE(timeline_.samples(2).empty());
  EXPECT_FALSE(player_->playing());
}

TEST_F(ArbitrationTest, ChangedOccurrenceTakesItsNewFieldsUntilItStarts) {
  ASSERT_NO_FATAL_FAILURE(start());
  player_->set_schedule(
      {occurrence(1, kShort, kT0 + 10 * kSecond), occurrence(2, kLong, kT0 + 5 * kSecond)});
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + kSecond));
  // 1 moves earlier; 2 is unchanged for now.
  player_->set_schedule(
      {occurrence(1, kShort, kT0 + 2 * kSecond), occurrence(2, kLong, kT0 + 5 * kSecond)});
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 6 * kSecond));
  ASSERT_TRUE(event_for(1));
  EXPECT_EQ(event_for(1)->outcome, Outcome::completed);
  EXPECT_EQ(event_for(1)->start_us, kT0 + 2 * kSecond);
  // 2 plays; a volume change keeps it going, a new bulletin stops it for good.
  ASSERT_EQ(player_->playing(), std::optional<std::uint64_t>(2));
  auto quieter = occurrence(2, kLong, kT0 + 5 * kSecond);
  quieter.volume = 50;
  player_->set_schedule({occurrence(1, kShort, kT0 + 2 * kSecond), quieter}, "plan v8 of node:n1");
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 6'500'000));
  EXPECT_EQ(player_->playing(), std::optional<std::uint64_t>(2));
  player_->set_schedule(
      {occurrence(1, kShort, kT0 + 2 * kSecond), occurrence(2, kShort, kT0 + 5 * kSecond)},
      "plan v9 of node:n1");
  ASSERT_NO_FATAL_FAILURE(run_until(kT0 + 12 * kSecond));
  ASSERT_TRUE(event_for(2));
  EXPECT_EQ(event_for(2)->outcome, Outcome::cancelled);
  EXPECT_EQ(event_for(2)->detail, "start or bulletin changed in plan v9 of node:n1 while playing");
  EXPECT_NEAR(static_cast<double>(event_for(2)->end_us), static_cast<double>(kT0 + 6'500'000),
              20'000);
  EXPECT_EQ(events().size(), 2u);  // not played again with the new bulletin
  EXPECT_TRUE(player_->queued().empty());
}

TEST_F(ArbitrationTest, RemovedAfterItsExpiryIsReportedExpired) {
  // As after a restart: the persisted plan is loaded, and the newer plan that dropped an
  // occurrence arrives after that occurrence's expiry, before the player thread looked at it.
  make();
  player_->set_schedule({occurrence(1, kShort, kT0 - 10 * kSecond, Priority::normal, kSecond),
                         occurrence(2, kShort, kT0 + 10 * kSecond)});
  player_->set_schedule({}, "plan v3 of area:79");
  ASSERT_EQ(events().size(), 2u);
  EXPECT_EQ(event_for(1)->outcome, Outcome::expired);
  EXPECT_EQ(event_for(2)->outcome, Outcome::cancelled);
  EXPECT_EQ(event_for(2)->detail, "removed from plan v3 of area:79");
}

// The same switch on the system clock and the WAV sink, in real time.
TEST(ArbitrationRealTimeTest, EmergencySwitchOnTheSystemClock) {
  test::TempDir dir;
  auto cache = *Cache::open(dir.file("cache"));
  const auto normal = test::make_stream(3.0, 300.0);
  const auto alert = test::make_stream(0.5, 900.0);
  ASSERT_TRUE(cache.store(kLong, normal).ok());
  ASSERT_TRUE(cache.store(kAlert, alert).ok());
  runtime::SystemClock clock;
  auto sinks = make_sink_factory(SinkSpec{SinkSpec::Kind::wav, dir.file("wav")}, clock);
  ASSERT_TRUE(sinks.ok());
  std::mutex mu;
  std::vector<PlaybackEvent> events;
  Player player(PlayerConfig{"n1"}, clock, cache, *sinks, nullptr, [&](PlaybackEvent e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  });
  player.start();
  const Micros normal_start = clock.now_us() + 200'000;
  const Micros alert_start = normal_start + 800'000;
  player.set_schedule({occurrence(1, kLong, normal_start),
                       occurrence(2, kAlert, alert_start, Priority::emergency)});
  ASSERT_TRUE(test::wait_for([&] {
    std::lock_guard lock(mu);
    return events.size() == 2;
  }));
  player.stop();
  ASSERT_EQ(events[0].occurrence_id, 1u);
  ASSERT_EQ(events[1].occurrence_id, 2u);
  EXPECT_EQ(events[0].outcome, Outcome::preempted);
  EXPECT_EQ(events[1].outcome, Outcome::completed);
  const Micros start_error = events[1].start_us - alert_start;
  const Micros end_error = events[0].end_us - alert_start;
  std::cout << "[ measured ] real-time switch (system clock, WAV sink): emergency start error "
            << start_error << " us, preempted end error " << end_error << " us\n";
  EXPECT_LT(std::llabs(start_error), 200'000);  // the requirement; the aim is < 50 ms
  EXPECT_LT(std::llabs(end_error), 200'000);
  const test::Wav heard = test::read_wav(dir.file("wav") + "/2.wav");
  ASSERT_TRUE(heard.ok);
  EXPECT_TRUE(heard.samples == *protocol::decode_stream(alert));
  const test::Wav cut = test::read_wav(dir.file("wav") + "/1.wav");
  ASSERT_TRUE(cut.ok);
  EXPECT_NEAR(static_cast<double>(cut.samples.size()), 0.8 * 48000, 0.05 * 48000);
}

}  // namespace
}  // namespace loa::node
