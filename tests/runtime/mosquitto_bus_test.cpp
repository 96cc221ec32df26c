// The libmosquitto bus against a real broker on a free loopback port.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "loa/runtime/bus.hpp"
#include "mosquitto_broker.hpp"

using namespace loa::runtime;
using namespace std::chrono_literals;

namespace {

struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<BusMessage> messages;
  std::atomic<bool> up{false};

  void attach(Bus& bus) {
    bus.on_message([this](const BusMessage& m) {
      std::lock_guard lock(mu);
      messages.push_back(m);
      cv.notify_all();
    });
    bus.on_connection([this](bool c) { up = c; });
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return messages.size() >= n; });
  }
};

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

BusConfig config(const loa::test::MosquittoBroker& broker, std::string id) {
  BusConfig c;
  c.url = broker.url();
  c.client_id = std::move(id);
  c.reconnect_min_ms = 200;
  c.reconnect_max_ms = 1000;
  return c;
}

}  // namespace

TEST(MosquittoBus, PublishSubscribeAndRetained) {
  loa::test::MosquittoBroker broker;
  auto a = make_mosquitto_bus(config(broker, "a"));
  auto b = make_mosquitto_bus(config(broker, "b"));
  Inbox ia, ib;
  ia.attach(*a);
  ib.attach(*b);
  {
    auto st = a->start();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  ASSERT_TRUE(b->start().ok());
  ASSERT_TRUE(wait_until([&] { return a->connected() && b->connected(); }));
  ASSERT_TRUE(a->publish("loa/v1/plan/79", bytes("retained plan"), true).ok());
  a->stop(5000);  // waits for the broker's acknowledgement: the message is now retained
  ASSERT_TRUE(b->subscribe("loa/v1/plan/#").ok());
  ASSERT_TRUE(ib.wait_for(1));
  EXPECT_EQ(ib.messages[0].topic, "loa/v1/plan/79");
  EXPECT_EQ(ib.messages[0].payload, bytes("retained plan"));
  EXPECT_TRUE(ib.messages[0].retained);
  b->stop();
}

TEST(MosquittoBus, SurvivesBrokerRestartResubscribesAndSendsQueued) {
  loa::test::MosquittoBroker broker;
  auto a = make_mosquitto_bus(config(broker, "pub"));
  auto b = make_mosquitto_bus(config(broker, "sub"));
  Inbox ia, ib;
  ia.attach(*a);
  ib.attach(*b);
  {
    auto st = a->start();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  ASSERT_TRUE(b->start().ok());
  ASSERT_TRUE(b->subscribe("t/#").ok());
  ASSERT_TRUE(wait_until([&] { return a->connected() && b->connected(); }));

  broker.stop();
  ASSERT_TRUE(wait_until([&] { return !a->connected() && !b->connected(); }));
  // Published while the broker is away: queued by the library, sent after reconnect. Retained,
  // so the subscriber gets it whichever of the two clients reconnects first.
  ASSERT_TRUE(a->publish("t/while-down", bytes("queued"), true).ok());
  broker.start();
  ASSERT_TRUE(wait_until([&] { return a->connected() && b->connected(); }))
      << "clients did not reconnect";
  ASSERT_TRUE(ib.wait_for(1, 15s)) << "queued message not delivered after reconnect";
  EXPECT_EQ(ib.messages[0].topic, "t/while-down");
  EXPECT_EQ(ib.messages[0].payload, bytes("queued"));
  a->stop();
  b->stop();
}

TEST(MosquittoBus, StartsWhileBrokerIsDownAndConnectsLater) {
  loa::test::MosquittoBroker broker;
  broker.stop();
  auto a = make_mosquitto_bus(config(broker, "late"));
  {
    auto st = a->start();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(a->connected());
  broker.start();
  EXPECT_TRUE(wait_until([&] { return a->connected(); }));
  a->stop();
}

TEST(MosquittoBus, BestEffortSubscriptionDeliversAndIsRenewedAfterARestart) {
  loa::test::MosquittoBroker broker;
  auto a = make_mosquitto_bus(config(broker, "pub"));
  auto b = make_mosquitto_bus(config(broker, "sub"));
  Inbox ia, ib;
  ia.attach(*a);
  ib.attach(*b);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(b->start().ok());
  ASSERT_TRUE(b->subscribe_best_effort("chunks/#").ok());
  ASSERT_TRUE(wait_until([&] { return a->connected() && b->connected(); }));
  // A QoS 1 publication reaches a QoS 0 subscriber (at QoS 0).
  ASSERT_TRUE(wait_until([&] {
    (void)a->publish("chunks/1", bytes("one"), false);
    return ib.wait_for(1, 200ms);
  }));
  EXPECT_EQ(ib.messages[0].topic, "chunks/1");
  broker.stop();
  ASSERT_TRUE(wait_until([&] { return !b->connected(); }));
  broker.start();
  ASSERT_TRUE(wait_until([&] { return a->connected() && b->connected(); }));
  // Subscribed again after the reconnect (best effort: publish until one arrives).
  ASSERT_TRUE(wait_until([&] {
    (void)a->publish("chunks/2", bytes("two"), false);
    std::lock_guard lock(ib.mu);
    return ib.messages.back().topic == "chunks/2";
  }));
  ASSERT_TRUE(b->unsubscribe("chunks/#").ok());
  a->stop();
  b->stop();
}
