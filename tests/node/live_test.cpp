// Live playout (PROTOCOL.md, "Live stream"): the jitter buffer and timed playout under a
// simulated clock, with a sink that records what was written and when.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "loa/node/jitter_buffer.hpp"
#include "loa/node/live_playout.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::AudioChunk;
using protocol::Micros;
using protocol::Outcome;

constexpr Micros kT0 = 1'717'200'000'000'000;
constexpr Micros kFrame = JitterBuffer::kFrameUs;
constexpr Micros kLatency = 100'000;

// Records every write with the clock time it was made at; never blocks.
class RecordingSink final : public Sink {
 public:
  explicit RecordingSink(runtime::Clock& clock) : clock_(clock) {}
  loa::Status open(std::uint32_t, std::uint8_t) override { return {}; }
  Micros output_latency_us() const override { return 0; }
  loa::Status write(std::span<const std::int16_t> samples) override {
    std::lock_guard lock(mu_);
    writes.push_back({clock_.now_us(), samples.size()});
    return {};
  }
  void close() override {}
  struct Write {
    Micros at_us;
    std::size_t samples;
  };
  std::vector<Write> writes;

 private:
  runtime::Clock& clock_;
  std::mutex mu_;
};

class LivePlayoutTest : public ::testing::Test {
 protected:
  // Chunk `index` of 4 packets (80 ms), sender instant kT0 + index * 80 ms.
  AudioChunk chunk(std::uint32_t index, Micros base = kT0) const {
    AudioChunk c{7, index, base + Micros{index} * 4 * kFrame, {}};
    for (std::size_t k = 0; k < 4; ++k) c.packets.push_back(stream_.packets[index * 4 + k]);
    return c;
  }
  AudioChunk end_chunk(std::uint32_t index, Micros base = kT0) const {
    return AudioChunk{7, index, base + Micros{index} * 4 * kFrame, {}};
  }
  // Runs play_live on its own thread under the simulated clock (the buffer must have started).
  void start() {
    thread_ = std::thread([this] {
      LivePlayoutConfig config;
      config.latency_us = kLatency;
      config.dry_us = 1'000'000;
      result_ = play_live(config, clock_, buffer_, sink_, {}, {});
      done_ = true;
      clock_.free_run();
    });
  }
  // Moves time on until the playout ends (at most 10 s of simulated time).
  void finish() {
    while (!done_ && clock_.now_us() < kT0 + 10'000'000) {
      if (!clock_.run_until(clock_.now_us() + kFrame, 100) && done_) break;
    }
    thread_.join();
    ASSERT_TRUE(done_);
  }

  protocol::OpusStream stream_ = test::make_stream(1.0);
  test::SimClock clock_{kT0, 1};
  JitterBuffer buffer_;
  RecordingSink sink_{clock_};
  LivePlayoutResult result_;
  std::thread thread_;
  std::atomic<bool> done_{false};
};

TEST(JitterBuffer, KeysFramesBySenderInstantAndCountsLateOnes) {
  JitterBuffer b;
  EXPECT_FALSE(b.started());
  b.push(AudioChunk{1, 5, kT0, {{0x01}, {0x02}}}, kT0);
  EXPECT_TRUE(b.started());
  EXPECT_EQ(b.origin_us(), kT0);
  // A chunk captured before the first one received lands in negative slots.
  b.push(AudioChunk{1, 4, kT0 - 2 * kFrame, {{0x03}, {0x04}}}, kT0);
  EXPECT_EQ(b.first_slot(), -2);
  EXPECT_EQ(b.take(0), protocol::Bytes{0x01});  // slots -2 and -1 were never taken: dropped
  EXPECT_EQ(b.dropped(), 2u);
  EXPECT_FALSE(b.take(1 + 1).has_value());  // slot 1 skipped unplayed: dropped too
  EXPECT_EQ(b.dropped(), 3u);
  b.push(AudioChunk{1, 6, kT0 + 2 * kFrame, {{0x05}, {0x06}}}, kT0 + kFrame);
  EXPECT_EQ(b.dropped(), 4u);  // slot 2 already taken; slot 3 kept
  EXPECT_TRUE(b.has_from(3));
  EXPECT_EQ(b.take(3), protocol::Bytes{0x06});
  b.push(AudioChunk{1, 7, kT0 + 4 * kFrame, {}}, kT0 + 2 * kFrame);
  EXPECT_EQ(b.end_slot(), 4);
  EXPECT_EQ(b.last_arrival_us(), kT0 + 2 * kFrame);
}

TEST_F(LivePlayoutTest, PlaysOnTimeConcealsWhatIsLateAndDropsWhatIsTooLate) {
  buffer_.push(chunk(0), kT0);      // slots 0..3
  buffer_.push(chunk(2), kT0);      // slots 8..11; chunk 1 (4..7) comes late, chunk 3 never
  buffer_.push(end_chunk(4), kT0);  // end at slot 16
  start();
  // Slots 0..5 written at their instants (4 and 5 concealed), then chunk 1 arrives.
  ASSERT_TRUE(clock_.run_until(kT0 + kLatency + 5 * kFrame + 1000));
  buffer_.push(chunk(1), kT0 + kLatency + 5 * kFrame + 1000);
  finish();

  EXPECT_EQ(result_.outcome, Outcome::completed) << result_.detail;
  EXPECT_EQ(result_.start_us, kT0 + kLatency);
  EXPECT_EQ(result_.frames_played, 10u);    // 0..3, 6..7, 8..11
  EXPECT_EQ(result_.frames_concealed, 6u);  // 4, 5 and 12..15
  EXPECT_EQ(result_.frames_dropped, 2u);    // 4 and 5 arrived after their instant
  ASSERT_EQ(sink_.writes.size(), 16u);
  for (std::size_t s = 0; s < sink_.writes.size(); ++s) {
    EXPECT_EQ(sink_.writes[s].at_us, kT0 + kLatency + Micros(s) * kFrame) << "slot " << s;
    EXPECT_EQ(sink_.writes[s].samples, 960u);
  }
}

TEST_F(LivePlayoutTest, JoinsLateAtTheNextFrameToCome) {
  // Captured so long ago that the first frames were due 50 ms before now.
  const Micros base = kT0 - kLatency - 50'000;
  buffer_.push(chunk(0, base), kT0);
  buffer_.push(chunk(1, base), kT0);
  buffer_.push(end_chunk(2, base), kT0);
  start();
  finish();
  EXPECT_EQ(result_.outcome, Outcome::completed);
  EXPECT_EQ(result_.start_us, base + kLatency + 3 * kFrame);
  EXPECT_EQ(result_.frames_played, 5u);  // slots 3..7
  EXPECT_EQ(result_.frames_concealed, 0u);
  EXPECT_EQ(result_.frames_dropped, 3u);  // slots 0..2 were due before the join
}

TEST_F(LivePlayoutTest, AStreamThatStopsWithoutEndEndsPartialAfterRunningDry) {
  buffer_.push(chunk(0), kT0);
  start();
  finish();
  EXPECT_EQ(result_.outcome, Outcome::partial);
  EXPECT_NE(result_.detail.find("ran dry"), std::string::npos) << result_.detail;
  EXPECT_EQ(result_.frames_played, 4u);
  EXPECT_EQ(result_.frames_concealed, 0u);  // the wait for more is not counted
  EXPECT_EQ(result_.frames_dropped, 0u);
  // Ended once 1 s (dry_us) had passed since the last chunk arrived.
  EXPECT_GE(result_.end_us, kT0 + 1'000'000);
  EXPECT_LT(result_.end_us, kT0 + 1'000'000 + 2 * kFrame);
}

}  // namespace
}  // namespace loa::node
