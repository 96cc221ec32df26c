// The production broker security (firmware-config/mosquitto) against a real Mosquitto with TLS,
// a password file and an ACL, written by the provisioning code: who may connect, publish and
// receive what; and a node that works end to end over TLS with its own credential.
#include <gtest/gtest.h>
#include <mosquitto.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "loa/controller/provision.hpp"
#include "loa/node/node.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/topics.hpp"
#include "mosquitto_broker.hpp"
#include "node_test_support.hpp"

namespace loa::node {
namespace {

namespace topics = protocol::topics;
using protocol::Micros;

constexpr const char* kControllerPassword = "controller-secret";

// A bare libmosquitto client (MQTT 3.1.1, as the nodes speak), to see the broker's answers
// (CONNACK code, granted QoS) that the Bus abstraction hides.
class RawClient {
 public:
  // `client_id` empty: a random one.
  RawClient(const std::string& ca_file, int port, const std::string& user,
            const std::string& password, const std::string& client_id = "")
      : port_(port) {
    mosquitto_lib_init();
    mosq_ = mosquitto_new(client_id.empty() ? nullptr : client_id.c_str(), true, this);
    if (!user.empty()) mosquitto_username_pw_set(mosq_, user.c_str(), password.c_str());
    mosquitto_tls_set(mosq_, ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    mosquitto_connect_callback_set(mosq_, [](mosquitto*, void* self, int rc) {
      static_cast<RawClient*>(self)->connack_ = rc;
    });
    mosquitto_subscribe_callback_set(
        mosq_, [](mosquitto*, void* self, int, int count, const int* granted) {
          if (count > 0) static_cast<RawClient*>(self)->granted_ = granted[0];
        });
  }
  ~RawClient() {
    mosquitto_loop_stop(mosq_, true);
    mosquitto_destroy(mosq_);
  }
  // The CONNACK return code (0 accepted, 5 not authorised), or -1 if none came.
  int connect() {
    if (mosquitto_connect(mosq_, "127.0.0.1", port_, 30) != MOSQ_ERR_SUCCESS) return -1;
    mosquitto_loop_start(mosq_);
    test::wait_for([&] { return connack_ >= 0; }, 5000);
    return connack_;
  }
  // The granted QoS of a SUBACK (0x80: refused), or -1 if none came.
  int subscribe(const std::string& filter) {
    granted_ = -1;
    mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 1);
    test::wait_for([&] { return granted_ >= 0; }, 5000);
    return granted_;
  }

 private:
  mosquitto* mosq_ = nullptr;
  int port_ = 0;
  std::atomic<int> connack_{-1};
  std::atomic<int> granted_{-1};
};

// Messages a bus received and the connections it lost, thread-safe.
struct Inbox {
  std::mutex mu;
  std::vector<runtime::BusMessage> messages;
  std::atomic<int> lost{0};
  void attach(runtime::Bus& bus) {
    bus.on_message([this](const runtime::BusMessage& m) {
      std::lock_guard lock(mu);
      messages.push_back(m);
    });
    bus.on_connection([this](bool up) {
      if (!up) ++lost;
    });
  }
  std::vector<std::string> topics() {
    std::lock_guard lock(mu);
    std::vector<std::string> t;
    for (const auto& m : messages) t.push_back(m.topic);
    return t;
  }
  bool has(const std::string& topic, const protocol::Bytes& payload) {
    std::lock_guard lock(mu);
    return std::any_of(messages.begin(), messages.end(), [&](const runtime::BusMessage& m) {
      return m.topic == topic && m.payload == payload;
    });
  }
  bool has(const std::string& topic) {
    const auto t = topics();
    return std::find(t.begin(), t.end(), topic) != t.end();
  }
  // Topics of the retained messages received (those the broker kept from before subscribing).
  std::vector<std::string> retained_topics() {
    std::lock_guard lock(mu);
    std::vector<std::string> t;
    for (const auto& m : messages) {
      if (m.retained) t.push_back(m.topic);
    }
    return t;
  }
};

class BrokerSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto pki = loa::test::make_test_pki(dir_.path(), why);
    if (!pki) GTEST_SKIP() << "no TLS material for the test broker: " << why;
    pki_ = *pki;
    const std::string passwd = dir_.file("loa.passwd");
    const std::string acl = dir_.file("loa.acl");
    // The ACL as firmware-config/mosquitto/loa.acl ships it, plus two provisioned nodes.
    { std::ofstream(acl) << controller::controller_acl_block() << "\n"; }
    ASSERT_TRUE(controller::set_node_acl(acl, "na", node_acl_block("na", "79/1/01")).ok());
    ASSERT_TRUE(controller::set_node_acl(acl, "nb", node_acl_block("nb", "79/2/01")).ok());
    for (const auto& [user, pass] :
         {std::pair{"loa-controller", kControllerPassword}, std::pair{"na", "password-a"},
          std::pair{"nb", "password-b"}}) {
      ASSERT_TRUE(controller::set_password_line(passwd, user,
                                                controller::mosquitto_password_line(user, pass))
                      .ok());
    }
    ::chmod(passwd.c_str(), 0644);  // the broker may read it as its own user
    ::chmod(acl.c_str(), 0644);
    ::chmod(dir_.path().c_str(), 0755);
    broker_ = std::make_unique<loa::test::MosquittoBroker>(loa::test::SecureBrokerConfig{
        pki_, passwd, acl,
        std::string(LOA_SOURCE_DIR) + "/firmware-config/mosquitto/mosquitto.conf"});
  }

  static std::string node_acl_block(const std::string& id, const std::string& area) {
    return controller::node_acl_block(id, *protocol::AreaPath::parse(area));
  }

  runtime::BusConfig bus_config(const std::string& client, const std::string& user,
                                const std::string& password) const {
    runtime::BusConfig c;
    c.url = broker_->url();
    c.client_id = client;
    c.username = user;
    c.password = password;
    c.ca_file = pki_.ca_file;
    c.reconnect_min_ms = 100;
    c.reconnect_max_ms = 500;
    return c;
  }

  // A started bus with an inbox, connected (or failed).
  std::unique_ptr<runtime::Bus> connect(const runtime::BusConfig& config, Inbox& inbox) {
    auto bus = runtime::make_mosquitto_bus(config);
    inbox.attach(*bus);
    EXPECT_TRUE(bus->start().ok());
    test::wait_for([&] { return bus->connected(); }, 5000);
    return bus;
  }

  test::TempDir dir_;
  loa::test::TestPki pki_;
  std::unique_ptr<loa::test::MosquittoBroker> broker_;
};

const protocol::Bytes kPayload = {1, 2, 3};

TEST_F(BrokerSecurityTest, AnonymousAndWrongPasswordAreRefused) {
  EXPECT_EQ(RawClient(pki_.ca_file, broker_->port(), "", "").connect(), 5);  // not authorised
  EXPECT_EQ(RawClient(pki_.ca_file, broker_->port(), "na", "wrong").connect(), 5);
  EXPECT_EQ(RawClient(pki_.ca_file, broker_->port(), "nobody", "password-a").connect(), 5);
  EXPECT_EQ(RawClient(pki_.ca_file, broker_->port(), "na", "password-a").connect(), 0);

  // The Bus with a wrong password never counts as connected.
  Inbox inbox;
  auto bus = connect(bus_config("na", "na", "wrong"), inbox);
  EXPECT_FALSE(bus->connected());
  bus->stop(0);
  EXPECT_NE(broker_->log().find("not authorised"), std::string::npos) << broker_->log();
}

TEST_F(BrokerSecurityTest, PlainTcpIsNotServed) {
  Inbox inbox;
  runtime::BusConfig c = bus_config("na", "na", "password-a");
  c.url = "mqtt://127.0.0.1:" + std::to_string(broker_->port());
  c.ca_file.clear();
  auto bus = connect(c, inbox);
  EXPECT_FALSE(bus->connected());
  bus->stop(0);
}

// Sends `send` again and again until `arrived` (subscriptions take effect asynchronously; a
// message published before that is simply not delivered).
bool probe(const std::function<void()>& send, const std::function<bool()>& arrived) {
  return test::wait_for(
      [&] {
        send();
        return test::wait_for(arrived, 300);
      },
      15000);
}

TEST_F(BrokerSecurityTest, ANodeCannotPublishAsAnotherNode) {
  Inbox controller_inbox, a_inbox, b_inbox;
  auto controller = connect(bus_config("loa-controller", "loa-controller", kControllerPassword),
                            controller_inbox);
  ASSERT_TRUE(controller->connected());
  ASSERT_TRUE(controller->subscribe(topics::all_up_filter()).ok());
  auto a = connect(bus_config("na", "na", "password-a"), a_inbox);
  ASSERT_TRUE(a->connected());
  auto b = connect(bus_config("nb", "nb", "password-b"), b_inbox);
  ASSERT_TRUE(b->connected());
  ASSERT_TRUE(b->subscribe(topics::node_down_filter("nb")).ok());
  ASSERT_TRUE(a->subscribe(topics::area_plan(*protocol::AreaPath::parse("79"))).ok());
  // Every subscription in place: each side receives something it may receive.
  const std::string a_status = topics::node_up("na", topics::UpKind::status);
  ASSERT_TRUE(probe([&] { (void)a->publish(a_status, kPayload); },
                    [&] { return controller_inbox.has(a_status); }));
  ASSERT_TRUE(probe([&] { (void)controller->publish(topics::node_receipt("nb"), kPayload); },
                    [&] { return b_inbox.has(topics::node_receipt("nb")); }));
  ASSERT_TRUE(probe(
      [&] {
        (void)controller->publish(topics::area_plan(*protocol::AreaPath::parse("79")), kPayload);
      },
      [&] { return !a_inbox.topics().empty(); }));

  // Node A forges node B's event and status, a control message for B and a plan for its own
  // area, then sends its own event. The broker handles one client's messages in order, so once
  // A's own event is in, the forged ones have been dealt with.
  ASSERT_TRUE(a->publish(topics::node_up("nb", topics::UpKind::event), kPayload).ok());
  ASSERT_TRUE(a->publish(topics::node_up("nb", topics::UpKind::status), kPayload, true).ok());
  ASSERT_TRUE(a->publish(topics::node_control("nb"), kPayload).ok());
  const protocol::Bytes forged = {6, 6, 6};
  ASSERT_TRUE(a->publish(topics::area_plan(*protocol::AreaPath::parse("79")), forged).ok());
  ASSERT_TRUE(a->publish(topics::node_up("na", topics::UpKind::event), kPayload).ok());
  ASSERT_TRUE(test::wait_for(
      [&] { return controller_inbox.has(topics::node_up("na", topics::UpKind::event)); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(controller_inbox.has(topics::node_up("nb", topics::UpKind::event)));
  EXPECT_FALSE(controller_inbox.has(topics::node_up("nb", topics::UpKind::status)));
  EXPECT_FALSE(b_inbox.has(topics::node_control("nb")));
  // Its own forged plan never came back to it.
  EXPECT_FALSE(a_inbox.has(topics::area_plan(*protocol::AreaPath::parse("79")), forged));

  // Mosquitto 2.0 acknowledges a denied QoS 1 publish of an MQTT 3.1.1 client as usual (the
  // client cannot tell) and drops it, logging it.
  EXPECT_NE(broker_->log().find("Denied PUBLISH"), std::string::npos);
  a->stop(0);
  b->stop(0);
  controller->stop(0);
}

// The client id is the user name (use_username_as_clientid): a node's credential that connects
// with the controller's client id, or another node's, gets its own id and takes no session over.
TEST_F(BrokerSecurityTest, ANodeCredentialCannotTakeOverAnotherClientsId) {
  Inbox controller_inbox, b_inbox;
  auto controller = connect(bus_config("loa-controller", "loa-controller", kControllerPassword),
                            controller_inbox);
  ASSERT_TRUE(controller->connected());
  ASSERT_TRUE(controller->subscribe(topics::all_up_filter()).ok());
  auto b = connect(bus_config("nb", "nb", "password-b"), b_inbox);
  ASSERT_TRUE(b->connected());
  const std::string b_status = topics::node_up("nb", topics::UpKind::status);
  ASSERT_TRUE(probe([&] { (void)b->publish(b_status, kPayload); },
                    [&] { return controller_inbox.has(b_status); }));

  // Node A's credential under the controller's client id, then under node B's (the id that B's
  // bus sends, and B's user name): both accepted, as "na".
  // (One after the other: to the broker both are "na".)
  EXPECT_EQ(
      RawClient(pki_.ca_file, broker_->port(), "na", "password-a", "loa-controller").connect(), 0);
  EXPECT_EQ(RawClient(pki_.ca_file, broker_->port(), "na", "password-a", "nb").connect(), 0);
  // Neither the controller nor B lost its connection: a takeover closes the old one at once.
  EXPECT_FALSE(test::wait_for([&] { return controller_inbox.lost > 0 || b_inbox.lost > 0; }, 1000))
      << broker_->log();
  const std::string b_event = topics::node_up("nb", topics::UpKind::event);
  ASSERT_TRUE(b->publish(b_event, kPayload).ok());
  EXPECT_TRUE(test::wait_for([&] { return controller_inbox.has(b_event); }));
  EXPECT_EQ(controller_inbox.lost, 0);
  EXPECT_EQ(b_inbox.lost, 0);
  b->stop(0);
  controller->stop(0);
}

// A node may write exactly its five up topics: nothing of its own making under them, retained
// or not, so the broker keeps at most five retained messages of a node.
TEST_F(BrokerSecurityTest, ANodeCanPublishAndRetainOnlyOnItsOwnUpTopics) {
  Inbox controller_inbox, a_inbox;
  auto controller = connect(bus_config("loa-controller", "loa-controller", kControllerPassword),
                            controller_inbox);
  ASSERT_TRUE(controller->connected());
  ASSERT_TRUE(controller->subscribe(topics::all_up_filter()).ok());
  auto a = connect(bus_config("na", "na", "password-a"), a_inbox);
  ASSERT_TRUE(a->connected());
  const std::string a_hello = topics::node_up("na", topics::UpKind::hello);
  ASSERT_TRUE(probe([&] { (void)a->publish(a_hello, kPayload); },
                    [&] { return controller_inbox.has(a_hello); }));

  const std::vector<std::string> made_up = {"loa/v1/node/na/up/junk-1", "loa/v1/node/na/up/junk-2",
                                            "loa/v1/node/na/up/status/more",
                                            "loa/v1/node/na/up/event/x/y"};
  for (const auto& t : made_up) ASSERT_TRUE(a->publish(t, kPayload, true).ok());
  ASSERT_TRUE(a->publish("loa/v1/node/na/up/other", kPayload).ok());
  const std::string a_status = topics::node_up("na", topics::UpKind::status);
  ASSERT_TRUE(a->publish(a_status, kPayload, true).ok());
  // One client's messages are handled in order: once the status is in, the rest was dealt with.
  ASSERT_TRUE(test::wait_for([&] { return controller_inbox.has(a_status); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (const auto& t : made_up) EXPECT_FALSE(controller_inbox.has(t)) << t;
  EXPECT_FALSE(controller_inbox.has("loa/v1/node/na/up/other"));

  // What the broker kept: a controller that subscribes afresh gets the retained status only.
  controller->stop(0);
  Inbox later;
  auto again = connect(bus_config("loa-controller", "loa-controller", kControllerPassword), later);
  ASSERT_TRUE(again->connected());
  ASSERT_TRUE(again->subscribe(topics::all_up_filter()).ok());
  ASSERT_TRUE(test::wait_for([&] { return later.has(a_status); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(later.retained_topics(), std::vector<std::string>{a_status});
  a->stop(0);
  again->stop(0);
}

// The largest message of the protocol passes; one byte more is dropped, and a packet far larger
// costs its sender the connection.
TEST_F(BrokerSecurityTest, AnOversizedPublishIsDropped) {
  Inbox controller_inbox, a_inbox;
  auto controller = connect(bus_config("loa-controller", "loa-controller", kControllerPassword),
                            controller_inbox);
  ASSERT_TRUE(controller->connected());
  ASSERT_TRUE(controller->subscribe(topics::all_up_filter()).ok());
  auto a = connect(bus_config("na", "na", "password-a"), a_inbox);
  ASSERT_TRUE(a->connected());
  ASSERT_TRUE(a->subscribe(topics::bulletin_chunks(9)).ok());
  const std::string a_hello = topics::node_up("na", topics::UpKind::hello);
  ASSERT_TRUE(probe([&] { (void)a->publish(a_hello, kPayload); },
                    [&] { return controller_inbox.has(a_hello); }));

  constexpr std::size_t kLargest =
      protocol::kEnvelopeHeaderSize + protocol::kMaxBodySize + protocol::kSignatureSize;
  const protocol::Bytes largest(kLargest, 0x5a);
  ASSERT_TRUE(probe([&] { (void)controller->publish(topics::bulletin_chunks(9), largest); },
                    [&] { return a_inbox.has(topics::bulletin_chunks(9), largest); }));
  const std::string a_event = topics::node_up("na", topics::UpKind::event);
  ASSERT_TRUE(a->publish(a_event, largest).ok());
  ASSERT_TRUE(test::wait_for([&] { return controller_inbox.has(a_event, largest); }));

  // One byte over: dropped, the connection kept.
  const std::string a_status = topics::node_up("na", topics::UpKind::status);
  ASSERT_TRUE(a->publish(a_status, protocol::Bytes(kLargest + 1, 0x5a), true).ok());
  const protocol::Bytes marker = {7};
  ASSERT_TRUE(a->publish(a_hello, marker).ok());
  ASSERT_TRUE(test::wait_for([&] { return controller_inbox.has(a_hello, marker); }));
  EXPECT_FALSE(controller_inbox.has(a_status));
  EXPECT_EQ(a_inbox.lost, 0);

  // A packet far over the limit is not read: its sender is disconnected (and reconnects).
  ASSERT_TRUE(a->publish(a_status, protocol::Bytes(4 * kLargest, 0x5a), true).ok());
  EXPECT_TRUE(test::wait_for([&] { return a_inbox.lost > 0; }));
  EXPECT_FALSE(controller_inbox.has(a_status));
  a->stop(0);
  controller->stop(0);
}

TEST_F(BrokerSecurityTest, ANodeReceivesOnlyItsOwnAreasTopics) {
  Inbox controller_inbox, a_inbox;
  auto controller = connect(bus_config("loa-controller", "loa-controller", kControllerPassword),
                            controller_inbox);
  ASSERT_TRUE(controller->connected());

  // Mosquitto 2.0.11 grants the SUBSCRIBE (SUBACK QoS 1, not 0x80): read access is checked
  // per message at delivery. What matters is that nothing of another area is delivered.
  {
    // Gone before the bus below connects: both are "na" to the broker, and each would take the
    // session over from the other.
    RawClient raw(pki_.ca_file, broker_->port(), "na", "password-a");
    ASSERT_EQ(raw.connect(), 0);
    EXPECT_EQ(raw.subscribe(topics::area_plan(*protocol::AreaPath::parse("79/2/01"))), 1);
  }

  auto a = connect(bus_config("na", "na", "password-a"), a_inbox);
  ASSERT_TRUE(a->connected());
  for (const char* f : {"loa/v1/plan/#", "loa/v1/control/#", "loa/v1/node/+/up/#", "loa/v1/live/#",
                        "loa/v1/bulletin/#", "loa/v1/node/+/down/#"}) {
    ASSERT_TRUE(a->subscribe(f).ok());
  }
  // Subscriptions are handled in order: once the last one delivers, all are in place.
  ASSERT_TRUE(probe([&] { (void)controller->publish(topics::node_receipt("na"), kPayload); },
                    [&] { return a_inbox.has(topics::node_receipt("na")); }));
  const std::vector<std::string> foreign = {
      topics::area_plan(*protocol::AreaPath::parse("79/2/01")),
      topics::area_plan(*protocol::AreaPath::parse("79/2")),
      topics::area_control(*protocol::AreaPath::parse("79/2/01")),
      topics::area_plan(*protocol::AreaPath::parse("80")),
      topics::node_plan("nb"),
      topics::node_control("nb")};
  const std::vector<std::string> own = {topics::area_plan(*protocol::AreaPath::parse("79")),
                                        topics::area_plan(*protocol::AreaPath::parse("79/1")),
                                        topics::area_control(*protocol::AreaPath::parse("79/1/01")),
                                        topics::node_plan("na"),
                                        topics::bulletin_manifest(9),
                                        topics::bulletin_chunks(9),
                                        topics::live_stream(3)};
  for (const auto& t : foreign) ASSERT_TRUE(controller->publish(t, kPayload).ok());
  for (const auto& t : own) ASSERT_TRUE(controller->publish(t, kPayload).ok());
  // One publisher's messages arrive in order: the last one in means all were routed.
  ASSERT_TRUE(test::wait_for([&] { return a_inbox.has(own.back()); }));
  for (const auto& t : own) EXPECT_TRUE(a_inbox.has(t)) << t;
  for (const auto& t : foreign) EXPECT_FALSE(a_inbox.has(t)) << t;

  // Node A may not read other nodes' up topics either (their status and events).
  Inbox b_inbox;
  auto b = connect(bus_config("nb", "nb", "password-b"), b_inbox);
  ASSERT_TRUE(b->connected());
  ASSERT_TRUE(controller->subscribe(topics::all_up_filter()).ok());
  const std::string b_event = topics::node_up("nb", topics::UpKind::event);
  ASSERT_TRUE(probe([&] { (void)b->publish(b_event, kPayload); },
                    [&] { return controller_inbox.has(b_event); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(a_inbox.has(b_event));
  a->stop(0);
  b->stop(0);
  controller->stop(0);
}

TEST_F(BrokerSecurityTest, RevokedCredentialIsRefusedAfterReload) {
  ASSERT_EQ(RawClient(pki_.ca_file, broker_->port(), "nb", "password-b").connect(), 0);
  Inbox inbox;
  auto b = connect(bus_config("nb", "nb", "password-b"), inbox);
  ASSERT_TRUE(b->connected());
  auto removed = controller::remove_password_user(dir_.file("loa.passwd"), "nb");
  ASSERT_TRUE(removed.ok() && *removed);
  auto acl = controller::remove_node_acl(dir_.file("loa.acl"), "nb");
  ASSERT_TRUE(acl.ok() && *acl);
  broker_->reload();
  EXPECT_TRUE(test::wait_for(
      [&] { return RawClient(pki_.ca_file, broker_->port(), "nb", "password-b").connect() == 5; },
      5000));
  EXPECT_EQ(RawClient(pki_.ca_file, broker_->port(), "na", "password-a").connect(), 0);
  // Mosquitto 2.0.11 re-checks connected clients on reload: the open session is cut too.
  EXPECT_TRUE(test::wait_for([&] { return !b->connected(); }, 5000));
  b->stop(0);
}

TEST_F(BrokerSecurityTest, NodeWorksOverTlsAndIgnoresForgedControl) {
  runtime::SystemClock clock;
  test::FakeController controller(runtime::make_mosquitto_bus(bus_config(
                                      "loa-controller", "loa-controller", kControllerPassword)),
                                  clock);
  // Subscribed before the node says hello (the hello is not retained).
  ASSERT_TRUE(test::wait_for([&] { return controller.connected(); }, 10000));
  NodeConfig config =
      test::test_config("na", "79/1/01", dir_.file("na"), controller.key().public_key);
  controller.trust(config.key.public_key);
  auto bus = runtime::make_mosquitto_bus(bus_config("na", "na", "password-a"));
  auto node = Node::create(config, *bus, clock, make_sink_factory(SinkSpec{}, clock).value());
  ASSERT_TRUE(node.ok()) << node.error().message;
  ASSERT_TRUE((*node)->start().ok());
  ASSERT_TRUE(test::wait_for([&] { return !controller.hellos().empty(); }, 10000));

  const Micros start = clock.now_us() + 600'000'000;
  controller.publish_plan(protocol::Plan{
      "area:79/1", 4, {{11, 5, start, start + 60'000'000, protocol::Priority::normal, 100}}});
  ASSERT_TRUE(test::wait_for([&] { return (*node)->snapshot().queued.size() == 1; }));
  EXPECT_EQ((*node)->snapshot().queued[0].occurrence_id, 11u);

  // A control message sealed by another key, on a topic the controller may write: ignored
  // (the occurrence stays queued) and logged.
  testing::internal::CaptureStderr();
  const auto stranger = protocol::KeyPair::generate();
  controller.publish(topics::node_control("na"),
                     controller.seal(protocol::MessageType::control,
                                     protocol::encode(protocol::Control{
                                         protocol::ControlCommand::cancel, 11, "node:na"}),
                                     &stranger));
  const bool rejected =
      test::wait_for([&] { return (*node)->snapshot().controls_rejected == 1; }, 5000);
  const std::string log = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rejected);
  EXPECT_NE(log.find("control rejected"), std::string::npos) << log;
  EXPECT_EQ((*node)->snapshot().queued.size(), 1u);
  (*node)->stop();
}

}  // namespace
}  // namespace loa::node
