// The node against a real Mosquitto on a free port: plan, prefetch, play, receipt, and a broker
// restart (nothing retained afterwards) that the node reconnects through.
#include <gtest/gtest.h>

#include "loa/node/node.hpp"
#include "mosquitto_broker.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

using protocol::Micros;

TEST(NodeBrokerTest, PlaysAndReconnectsThroughABrokerRestart) {
  loa::test::MosquittoBroker broker;
  runtime::SystemClock clock;
  test::TempDir dir;
  test::FakeController controller(
      runtime::make_mosquitto_bus(loa::test::broker_bus_config(broker.url(), "ctl")), clock);
  NodeConfig config =
      test::test_config("n1", "79/26734/03", dir.file("n1"), controller.key().public_key);
  controller.trust(config.key.public_key);
  auto bus = runtime::make_mosquitto_bus(loa::test::broker_bus_config(broker.url(), "loa-node-n1"));
  auto sinks = make_sink_factory(SinkSpec{SinkSpec::Kind::wav, dir.file("wav")}, clock);
  ASSERT_TRUE(sinks.ok());
  auto node = Node::create(config, *bus, clock, *sinks);
  ASSERT_TRUE(node.ok()) << node.error().message;
  ASSERT_TRUE((*node)->start().ok());
  ASSERT_TRUE(test::wait_for([&] { return !controller.hellos().empty(); }));

  const auto stream = test::make_stream(0.8);
  controller.offer_bulletin(5, stream, {});
  const Micros start = clock.now_us() + 2'000'000;
  controller.publish_plan(protocol::Plan{
      "area:79", 1, {{1, 5, start, start + 10'000'000, protocol::Priority::normal, 100}}});
  ASSERT_TRUE(test::wait_for([&] { return !controller.events().empty(); }, 8000));
  const auto e = controller.events()[0];
  EXPECT_EQ(e.outcome, protocol::Outcome::completed) << e.detail;
  EXPECT_LT(std::llabs(e.start_us - start), 20'000);
  const test::Wav w = test::read_wav(dir.file("wav/1.wav"));
  ASSERT_TRUE(w.ok);
  EXPECT_TRUE(w.samples == *protocol::decode_stream(stream));
  ASSERT_TRUE(test::wait_for([&] { return (*node)->snapshot().unreceipted_events == 0; }));

  // The broker loses everything. The node reconnects and re-subscribes: a ping reaches it and
  // its status comes back, and it keeps its plan.
  broker.stop();
  broker.start();
  ASSERT_TRUE(test::wait_for([&] { return controller.connected(); }, 10000));
  const std::size_t statuses = controller.statuses().size();
  ASSERT_TRUE(test::wait_for(
      [&] {
        controller.send_control("n1", {protocol::ControlCommand::ping, 1, {}});
        return test::wait_for([&] { return controller.statuses().size() > statuses; }, 200);
      },
      10000));
  EXPECT_EQ(controller.statuses().back().plan_version, 1u);
  EXPECT_EQ(controller.unverified(), 0u);
  (*node)->stop();
}

}  // namespace
}  // namespace loa::node
