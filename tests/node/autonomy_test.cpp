// Autonomy (issue 4): a node that has its plan and audio plays its schedule for days without the
// controller or the broker, across a restart, and reports afterwards.
#include <gtest/gtest.h>

#include <filesystem>

#include "loa/node/node.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::Micros;
using protocol::Occurrence;
using protocol::Outcome;

constexpr Micros kDay = 86'400'000'000;
constexpr std::uint64_t kBulletin = 77;

// The system clock moved forward by an offset that the test can jump: days pass in an instant
// while playback is still paced in real time.
class JumpClock final : public runtime::Clock {
 public:
  Micros now_us() const override { return system_.now_us() + offset_.load(); }
  void sleep_until(Micros t) override { system_.sleep_until(t - offset_.load()); }
  void wake() override { system_.wake(); }
  // Moves the clock forward so that it reads `t` now, and wakes every sleeper to look again.
  void jump_to(Micros t) {
    offset_ += t - now_us();
    system_.wake();
  }

 private:
  runtime::SystemClock system_;
  std::atomic<Micros> offset_{0};
};

class AutonomyTest : public ::testing::Test {
 protected:
  std::unique_ptr<Node> make_node(runtime::MemoryHub& hub) {
    NodeConfig config =
        test::test_config("n1", "79/26734/03", dir_.file("n1"), controller_.key().public_key);
    config.key = key_;
    buses_.push_back(hub.connect("n1"));
    auto sinks = make_sink_factory(SinkSpec{SinkSpec::Kind::wav, dir_.file("wav")}, clock_);
    EXPECT_TRUE(sinks.ok());
    auto node = Node::create(config, *buses_.back(), clock_, *sinks);
    EXPECT_TRUE(node.ok()) << node.error().message;
    return std::move(node).value();
  }
  std::vector<protocol::PlaybackEvent> events_for(std::uint64_t occurrence) const {
    std::vector<protocol::PlaybackEvent> out;
    for (const auto& e : controller_.events()) {
      if (e.occurrence_id == occurrence) out.push_back(e);
    }
    return out;
  }
  bool cached() const {
    for (const auto& r : controller_.reports()) {
      if (r.bulletin_id == kBulletin && r.state == protocol::CacheState::cached) return true;
    }
    return false;
  }
  std::string wav(std::uint64_t occurrence) const {
    return dir_.file("wav") + "/" + std::to_string(occurrence) + ".wav";
  }

  test::TempDir dir_;
  JumpClock clock_;
  runtime::MemoryHub hub_;
  test::FakeController controller_{hub_, clock_};
  protocol::KeyPair key_ = protocol::KeyPair::generate();
  std::vector<std::unique_ptr<runtime::Bus>> buses_;
};

TEST_F(AutonomyTest, PlaysTomorrowAndNextWeekFromCacheWithoutBrokerThenReports) {
  controller_.trust(key_.public_key);
  const auto stream = test::make_stream(0.5);
  const Micros t0 = clock_.now_us();
  // Tomorrow's and next week's bulletin (the default autonomy is at least 7 days).
  const Occurrence tomorrow{
      501, kBulletin, t0 + kDay, t0 + kDay + 60'000'000, protocol::Priority::normal, 100};
  const Occurrence next_week{
      502, kBulletin, t0 + 7 * kDay, t0 + 7 * kDay + 60'000'000, protocol::Priority::normal, 100};
  {
    auto node = make_node(hub_);
    ASSERT_TRUE(node->start().ok());
    controller_.offer_bulletin(kBulletin, stream, {});
    controller_.publish_plan(protocol::Plan{"area:79/26734", 4, {tomorrow, next_week}});
    ASSERT_TRUE(test::wait_for([&] { return cached(); }));
    ASSERT_EQ(node->snapshot().queued.size(), 2u);
    node->stop();
  }

  // The broker is gone for the whole week, and the node restarts without it (a power cut).
  hub_.set_online(false);
  auto node = make_node(hub_);
  ASSERT_TRUE(node->start().ok());
  ASSERT_EQ(node->snapshot().queued.size(), 2u);

  clock_.jump_to(tomorrow.start_us - 1'000'000);
  ASSERT_TRUE(test::wait_for([&] { return node->snapshot().unreceipted_events == 1; }, 6000));
  clock_.jump_to(next_week.start_us - 1'000'000);
  ASSERT_TRUE(test::wait_for([&] { return node->snapshot().unreceipted_events == 2; }, 6000));
  EXPECT_TRUE(node->snapshot().queued.empty());
  EXPECT_TRUE(controller_.events().empty());  // nothing could be sent

  const auto pcm = *protocol::decode_stream(stream);
  for (const auto& o : {tomorrow, next_week}) {
    const test::Wav w = test::read_wav(wav(o.occurrence_id));
    ASSERT_TRUE(w.ok) << o.occurrence_id;
    EXPECT_TRUE(w.samples == pcm) << o.occurrence_id;
  }

  // The link returns: both events arrive, completed and on time, and the outbox drains.
  hub_.set_online(true);
  ASSERT_TRUE(test::wait_for([&] { return node->snapshot().unreceipted_events == 0; }, 6000));
  for (const auto& o : {tomorrow, next_week}) {
    const auto events = events_for(o.occurrence_id);
    ASSERT_FALSE(events.empty()) << o.occurrence_id;
    EXPECT_EQ(events[0].outcome, Outcome::completed) << events[0].detail;
    EXPECT_LT(std::llabs(events[0].start_us - o.start_us), 20'000) << o.occurrence_id;
  }
  node->stop();
}

}  // namespace
}  // namespace loa::node
