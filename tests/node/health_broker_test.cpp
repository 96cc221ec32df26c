// Health over a real Mosquitto (issue 6): loa-node (the daemon) reports its status to an
// in-process controller; a control signed by the controller changes its volume and plays a test
// tone, one signed by another key is ignored; killed with SIGKILL, the broker publishes its last
// will and the controller lists it offline (loactl node health's data).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "loa/controller/controller.hpp"
#include "loa/node/clock_offset.hpp"
#include "loa/node/node.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "mosquitto_broker.hpp"
#include "node_test_support.hpp"
#include "process.hpp"

namespace {

using namespace loa;
using loa::node::test::wait_for;
using loa::test::broker_bus_config;

TEST(HealthBrokerTest, StatusControlTestToneAndLastWill) {
  test::MosquittoBroker broker;
  node::test::TempDir dir;
  auto store = controller::open_sqlite_store(":memory:");
  ASSERT_TRUE(store.ok());
  runtime::SystemClock clock;
  auto bus = runtime::make_mosquitto_bus(broker_bus_config(broker.url(), "loa-controller"));
  controller::ControllerSettings settings;
  settings.audio_dir = dir.file("audio");
  settings.fetch_window_ms = 0;
  const protocol::KeyPair controller_keys = protocol::KeyPair::generate();
  controller::Controller controller(**store, *bus, clock, controller_keys, settings);
  ASSERT_TRUE(controller.attach().ok());
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(wait_for([&] { return bus->connected(); }));

  // The node's key pair made before its first start and registered (no trust on first use).
  const std::string key_file = dir.file("node.key");
  auto node_keys = runtime::load_or_create_key_pair(key_file);
  ASSERT_TRUE(node_keys.ok());
  controller::NodeInput in;
  in.id = "n1";
  in.area = "79/26734/03";
  in.public_key_hex = runtime::to_hex(protocol::ByteView(node_keys->public_key));
  ASSERT_TRUE(controller.add_node(in).ok());
  const std::string controller_key = dir.file("controller.pub");
  ASSERT_TRUE(runtime::write_public_key(controller_key, controller_keys.public_key).ok());

  const std::string wav = dir.file("wav");
  test::Process node(
      {LOA_NODE_BIN, "--id", "n1", "--area", "79/26734/03", "--broker", broker.url(), "--cache",
       dir.file("cache"), "--key", key_file, "--controller-key", controller_key, "--sink",
       "wav:" + wav, "--status-interval", "1", "--site-script", "echo rssi -71"},
      dir.file("node.log"));
  const auto last = [&]() -> std::optional<protocol::Status> {
    auto h = controller.node_history("n1", 1);
    if (!h.ok() || h->empty()) return std::nullopt;
    return h->front().status;
  };
  ASSERT_TRUE(wait_for([&] { return controller.get_node("n1")->online; }, 10000)) << node.log();
  ASSERT_TRUE(wait_for(
      [&] {
        const auto s = last();
        return s && s->site_output == "rssi -71";
      },
      10000))
      << node.log();
  EXPECT_TRUE(last()->online);
  EXPECT_NE(last()->session, 0u);
  EXPECT_EQ(last()->output_device, "wav:" + wav);

  // A control signed by the controller changes the volume; the node says so in its status.
  ASSERT_TRUE(controller.send_node_control({"volume", 30, {"n1"}, ""}).ok());
  ASSERT_TRUE(wait_for([&] { return last() && last()->volume == 30; }, 5000)) << node.log();
  // One signed by another key is ignored (and logged).
  auto stranger_bus = runtime::make_mosquitto_bus(broker_bus_config(broker.url(), "stranger"));
  ASSERT_TRUE(stranger_bus->start().ok());
  ASSERT_TRUE(wait_for([&] { return stranger_bus->connected(); }));
  const auto stranger = protocol::KeyPair::generate();
  ASSERT_TRUE(stranger_bus
                  ->publish(protocol::topics::node_control("n1"),
                            protocol::seal(protocol::MessageType::control, stranger, clock.now_us(),
                                           static_cast<std::uint64_t>(clock.now_us()),
                                           protocol::encode(protocol::Control{
                                               protocol::ControlCommand::volume, 5, "node:n1"})))
                  .ok());
  ASSERT_TRUE(
      wait_for([&] { return node.log().find("control rejected") != std::string::npos; }, 5000))
      << node.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a status or two later
  EXPECT_EQ(last()->volume, 30);
  stranger_bus->stop(0);

  // A test tone: a WAV of the tone, no playback event.
  ASSERT_TRUE(controller.send_node_control({"test-tone", 300, {"n1"}, ""}).ok());
  const std::string tone = wav + "/" + std::to_string((std::uint64_t{1} << 63) | 1) + ".wav";
  ASSERT_TRUE(
      wait_for([&] { return node::test::read_wav(tone).samples.size() >= 300u * 48; }, 5000))
      << node.log();
  const auto w = node::test::read_wav(tone);
  std::size_t crossings = 0;
  for (std::size_t i = 1; i < w.samples.size(); ++i) {
    if ((w.samples[i - 1] < 0) != (w.samples[i] < 0)) ++crossings;
  }
  EXPECT_NEAR(static_cast<double>(crossings), 600.0, 30.0);  // 1 kHz, 30 % volume
  EXPECT_TRUE(
      wait_for([&] { return node.log().find("test tone ended") != std::string::npos; }, 5000))
      << node.log();

  // Killed: the broker publishes the node's will; the controller lists it offline.
  node.stop(SIGKILL);
  ASSERT_TRUE(wait_for([&] { return last() && !last()->online; }, 10000));
  EXPECT_FALSE(controller.get_node("n1")->online);
  auto health = controller.node_health(300'000'000);
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->offline, (std::vector<std::string>{"n1"}));
  bus->stop(0);
}

// A node whose clock ran a day ahead, and was corrected, is still accepted by the controller
// after it restarts: its sequences (persisted) stay above the controller's mark (persisted),
// so its statuses keep being recorded. In process, over the in-memory hub.
TEST(ClockJump, ANodeWhoseClockJumpedADayAndBackIsStillAcceptedAfterARestart) {
  node::test::TempDir dir;
  auto store = controller::open_sqlite_store(":memory:");
  ASSERT_TRUE(store.ok());
  runtime::SystemClock clock;
  runtime::MemoryHub hub;
  auto bus = hub.connect("loa-controller");
  controller::ControllerSettings settings;
  settings.audio_dir = dir.file("audio");
  settings.fetch_window_ms = 0;
  const protocol::KeyPair controller_keys = protocol::KeyPair::generate();
  controller::Controller controller(**store, *bus, clock, controller_keys, settings);
  ASSERT_TRUE(controller.attach().ok());
  ASSERT_TRUE(bus->start().ok());

  node::NodeConfig config =
      node::test::test_config("n1", "79/26734/03", dir.file("cache"), controller_keys.public_key);
  controller::NodeInput in;
  in.id = "n1";
  in.area = "79/26734/03";
  in.public_key_hex = runtime::to_hex(protocol::ByteView(config.key.public_key));
  ASSERT_TRUE(controller.add_node(in).ok());
  const auto recorded = [&] {
    auto h = controller.node_history("n1", 1000);
    return h.ok() ? h->size() : 0;
  };
  node::CorrectedClock node_clock(clock);
  node_clock.set_correction(24LL * 3600 * 1'000'000);
  const auto run = [&](std::size_t then_more_than) {
    auto node_bus = hub.connect("n1");
    auto sinks = node::make_sink_factory(node::SinkSpec{}, node_clock);
    ASSERT_TRUE(sinks.ok());
    auto node = node::Node::create(config, *node_bus, node_clock, *sinks);
    ASSERT_TRUE(node.ok()) << node.error().message;
    ASSERT_TRUE((*node)->start().ok());
    EXPECT_TRUE(wait_for([&] { return recorded() > then_more_than; }, 5000));
    (*node)->stop();
  };
  run(0);  // a day ahead
  const std::size_t ahead = recorded();
  ASSERT_GT(ahead, 0u);
  node_clock.set_correction(0);  // corrected, then restarted
  run(ahead);
  EXPECT_GT(recorded(), ahead);
}

}  // namespace
