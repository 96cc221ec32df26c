// Controller messages bound to where they were sent and to when (PROTOCOL.md, security model):
// a control obeys only on its target's own topic; a copy of a control is refused after a
// restart of the node as before it; the node's own sequences keep rising when its clock jumps
// forward and back and it restarts; a key rotation is a set of trusted controller keys.
#include <gtest/gtest.h>

#include <algorithm>

#include "loa/node/clock_offset.hpp"
#include "loa/node/health.hpp"
#include "loa/node/node.hpp"
#include "loa/protocol/topics.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::Control;
using protocol::ControlCommand;
using protocol::Micros;
namespace topics = protocol::topics;

constexpr Micros kDay = 24LL * 3600 * 1'000'000;

class ReplayTest : public ::testing::Test {
 protected:
  NodeConfig config() {
    NodeConfig c =
        test::test_config("n1", "79/26734/03", dir_.file("n1"), controller_.key().public_key);
    if (key_) c.key = *key_;
    key_ = c.key;
    controller_.trust(c.key.public_key);
    return c;
  }
  std::unique_ptr<Node> make_node(runtime::Clock& clock, NodeConfig c) {
    buses_.push_back(hub_.connect("n1"));
    auto sinks = make_sink_factory(SinkSpec{}, clock);
    EXPECT_TRUE(sinks.ok());
    auto node = Node::create(std::move(c), *buses_.back(), clock, *sinks);
    EXPECT_TRUE(node.ok()) << node.error().message;
    return std::move(node).value();
  }
  std::unique_ptr<Node> make_node(runtime::Clock& clock) { return make_node(clock, config()); }
  protocol::Bytes control(ControlCommand command, std::uint64_t value, const std::string& target,
                          const protocol::KeyPair* signer = nullptr) {
    return controller_.seal(protocol::MessageType::control,
                            protocol::encode(Control{command, value, target}), signer);
  }
  // The node's volume as its answer to a ping says.
  std::uint8_t volume() {
    const std::size_t before = controller_.statuses().size();
    controller_.send_control("n1", {ControlCommand::ping, 1, {}});
    EXPECT_TRUE(test::wait_for([&] { return controller_.statuses().size() > before; }));
    return controller_.statuses().back().volume;
  }
  // Whether the node reports volume `v` (a volume control makes it send a status).
  bool reports_volume(std::uint8_t v) {
    return test::wait_for([&] {
      const auto s = controller_.statuses();
      return !s.empty() && s.back().volume == v;
    });
  }
  static bool rejected(Node& node, std::uint64_t n) {
    return test::wait_for([&] { return node.snapshot().controls_rejected == n; });
  }

  test::TempDir dir_;
  runtime::SystemClock clock_;
  runtime::MemoryHub hub_;
  test::FakeController controller_{hub_, clock_};
  std::optional<protocol::KeyPair> key_;
  std::vector<std::unique_ptr<runtime::Bus>> buses_;
};

// Whoever runs the broker re-publishes a control signed for one node or area elsewhere: the
// node refuses every copy that is not on its target's own topic, and obeys the genuine one.
TEST_F(ReplayTest, AControlIsObeyedOnlyOnItsTargetsTopic) {
  auto node = make_node(clock_);
  ASSERT_TRUE(node->start().ok());
  ASSERT_EQ(volume(), 100);

  // Meant for node n2: re-published on n1's own topic, then on an area topic of n1.
  const auto for_n2 = control(ControlCommand::volume, 5, "node:n2");
  controller_.publish(topics::node_control("n1"), for_n2);
  ASSERT_TRUE(rejected(*node, 1));
  const auto province = *protocol::AreaPath::parse("79");
  controller_.publish(topics::area_control(province), for_n2);
  ASSERT_TRUE(rejected(*node, 2));
  // Meant for a commune of n1: re-published on the province's topic (n1 is in both).
  const auto commune = *protocol::AreaPath::parse("79/26734");
  const auto for_commune = control(ControlCommand::volume, 6, "area:79/26734");
  controller_.publish(topics::area_control(province), for_commune);
  ASSERT_TRUE(rejected(*node, 3));
  // Meant for another province, on n1's province topic.
  controller_.publish(topics::area_control(province),
                      control(ControlCommand::volume, 7, "area:01"));
  ASSERT_TRUE(rejected(*node, 4));
  EXPECT_EQ(volume(), 100);

  // The genuine copy, on the commune's topic: obeyed.
  controller_.publish(topics::area_control(commune), for_commune);
  EXPECT_TRUE(reports_volume(6));
  EXPECT_EQ(node->snapshot().controls_rejected, 4u);
  node->stop();
}

// The node's replay marks are in its outbox: a copy of a control it obeyed before a restart is
// refused after it (within the control's max age, when the age check alone would let it in).
TEST_F(ReplayTest, AControlReplayedAfterTheNodeRestartsIsRefused) {
  const auto forty = control(ControlCommand::volume, 40, "node:n1");
  const auto sixty = control(ControlCommand::volume, 60, "node:n1");
  {
    auto node = make_node(clock_);
    ASSERT_TRUE(node->start().ok());
    controller_.publish(topics::node_control("n1"), forty);
    ASSERT_TRUE(reports_volume(40));
    controller_.publish(topics::node_control("n1"), sixty);
    ASSERT_TRUE(reports_volume(60));
    node->stop();
  }
  buses_.clear();
  auto node = make_node(clock_);
  ASSERT_TRUE(node->start().ok());
  controller_.publish(topics::node_control("n1"), forty);
  ASSERT_TRUE(rejected(*node, 1));
  EXPECT_EQ(volume(), 60);
  node->stop();
}

// A node whose clock ran a day ahead (and sealed with sequences a day ahead) and was then
// corrected keeps sealing above them after a restart, its last will included: the controller,
// which remembers the highest sequence it accepted, keeps accepting it.
TEST_F(ReplayTest, SequencesKeepRisingAfterTheClockJumpsForwardAndBackAndARestart) {
  CorrectedClock node_clock(clock_);
  node_clock.set_correction(kDay);
  {
    auto node = make_node(node_clock);
    ASSERT_TRUE(node->start().ok());
    ASSERT_TRUE(test::wait_for([&] { return controller_.up_sequences().size() >= 2; }));
    node->stop();
  }
  const auto ahead = controller_.up_sequences();
  const std::uint64_t highest = *std::max_element(ahead.begin(), ahead.end());
  EXPECT_GT(highest, static_cast<std::uint64_t>(clock_.now_us() + kDay / 2));

  node_clock.set_correction(0);  // NTP corrects the clock; then the node restarts
  NodeConfig c = config();
  auto will = make_last_will(c, node_clock.now_us());
  ASSERT_TRUE(will.ok()) << will.error().message;
  EXPECT_GT(will->session, highest);
  c.will_session = will->session;
  buses_.clear();
  auto node = make_node(node_clock, c);
  ASSERT_TRUE(node->start().ok());
  ASSERT_TRUE(
      test::wait_for([&] { return controller_.up_sequences().size() >= ahead.size() + 2; }));
  const auto after = controller_.up_sequences();
  for (std::size_t i = ahead.size(); i < after.size(); ++i) {
    EXPECT_GT(after[i], will->session) << "message " << i;
  }
  node->stop();
}

// Key rotation: a node that trusts {old, new} obeys what either signs; one that trusts only
// {new} refuses what the old key signs.
TEST_F(ReplayTest, ANodeTrustsEveryKeyOfItsSetAndNoOther) {
  const protocol::KeyPair next = protocol::KeyPair::generate();
  NodeConfig both = config();
  both.controller_keys.add(next.public_key);
  {
    auto node = make_node(clock_, both);
    ASSERT_TRUE(node->start().ok());
    controller_.publish(topics::node_control("n1"),
                        control(ControlCommand::volume, 30, "node:n1", &next));
    EXPECT_TRUE(reports_volume(30));
    EXPECT_EQ(volume(), 30);  // the ping is signed by the old key
    EXPECT_EQ(node->snapshot().controls_rejected, 0u);
    node->stop();
  }
  buses_.clear();
  NodeConfig only_new = config();
  only_new.controller_keys = protocol::KeySet(next.public_key);
  auto node = make_node(clock_, only_new);
  ASSERT_TRUE(node->start().ok());
  controller_.publish(topics::node_control("n1"),
                      control(ControlCommand::volume, 20, "node:n1"));  // old key
  ASSERT_TRUE(rejected(*node, 1));
  controller_.publish(topics::node_control("n1"),
                      control(ControlCommand::volume, 25, "node:n1", &next));
  ASSERT_TRUE(reports_volume(25));
  EXPECT_EQ(node->snapshot().controls_rejected, 1u);
  node->stop();
}

}  // namespace
}  // namespace loa::node
