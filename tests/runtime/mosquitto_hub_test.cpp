// MosquittoHub (many connections, one network thread) against a real broker on a free loopback
// port: delivery between its buses, QoS 1 while the broker is away, cut() and restore.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "loa/runtime/mosquitto_hub.hpp"
#include "mosquitto_broker.hpp"

using namespace loa::runtime;
using namespace std::chrono_literals;

namespace {

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// A bus of the hub with what it received.
struct Client {
  std::unique_ptr<Bus> bus;
  std::mutex mu;
  std::vector<std::string> payloads;
  std::atomic<int> connects{0};
  std::atomic<int> losses{0};

  Client(MosquittoHub& hub, const loa::test::MosquittoBroker& broker, const std::string& id) {
    BusConfig c;
    c.url = broker.url();
    c.client_id = id;
    c.reconnect_min_ms = 200;
    c.reconnect_max_ms = 1000;
    bus = hub.make_bus(c);
    bus->on_message([this](const BusMessage& m) {
      std::lock_guard lock(mu);
      payloads.emplace_back(m.payload.begin(), m.payload.end());
    });
    bus->on_connection([this](bool up) { ++(up ? connects : losses); });
  }
  std::size_t received() {
    std::lock_guard lock(mu);
    return payloads.size();
  }
};

Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

TEST(MosquittoHub, ManyBusesOnOneThreadDeliverToEachOther) {
  loa::test::MosquittoBroker broker;
  MosquittoHub hub;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<Client>(hub, broker, "hub-" + std::to_string(i)));
    ASSERT_TRUE(clients.back()->bus->subscribe("t/all"));
    ASSERT_TRUE(clients.back()->bus->start());
  }
  ASSERT_TRUE(wait_until([&] { return hub.connected_count() == clients.size(); }));
  // Each publishes once from this thread: every bus gets all 50.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(clients[i]->bus->publish("t/all", bytes("m" + std::to_string(i)), false));
  }
  EXPECT_TRUE(wait_until([&] {
    for (auto& c : clients) {
      if (c->received() < 50) return false;
    }
    return true;
  }));
  for (auto& c : clients) EXPECT_EQ(c->received(), 50u);
  for (auto& c : clients) c->bus->stop(1000);
  EXPECT_EQ(hub.connected_count(), 0u);
}

TEST(MosquittoHub, ReconnectsAfterABrokerRestartAndSendsWhatWasQueued) {
  loa::test::MosquittoBroker broker;
  MosquittoHub hub;
  Client a(hub, broker, "hub-a"), b(hub, broker, "hub-b");
  ASSERT_TRUE(b.bus->subscribe("t/q"));
  ASSERT_TRUE(a.bus->start());
  ASSERT_TRUE(b.bus->start());
  ASSERT_TRUE(wait_until([&] { return hub.connected_count() == 2; }));
  broker.stop();
  ASSERT_TRUE(wait_until([&] { return hub.connected_count() == 0; }));
  ASSERT_TRUE(a.bus->publish("t/q", bytes("while away"), false));  // QoS 1: queued
  // The publisher comes back only after the subscriber has resubscribed (clean sessions).
  hub.cut("hub-a", true);
  broker.start();
  ASSERT_TRUE(wait_until([&] { return b.bus->connected(); }));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(b.received(), 0u);
  hub.cut("hub-a", false);
  ASSERT_TRUE(wait_until([&] { return hub.connected_count() == 2; }));
  EXPECT_TRUE(wait_until([&] { return b.received() == 1; }));
  EXPECT_GE(b.losses.load(), 1);
  EXPECT_GE(b.connects.load(), 2);
}

TEST(MosquittoHub, CutDropsOneConnectionUntilRestored) {
  loa::test::MosquittoBroker broker;
  MosquittoHub hub;
  Client a(hub, broker, "hub-a"), b(hub, broker, "hub-b");
  ASSERT_TRUE(b.bus->subscribe("t/c"));
  ASSERT_TRUE(a.bus->start());
  ASSERT_TRUE(b.bus->start());
  ASSERT_TRUE(wait_until([&] { return hub.connected_count() == 2; }));
  hub.cut("hub-b", true);
  ASSERT_TRUE(wait_until([&] { return !b.bus->connected(); }));
  ASSERT_TRUE(a.bus->publish("t/c", bytes("missed"), false));
  std::this_thread::sleep_for(1500ms);  // several reconnect intervals: it must stay away
  EXPECT_FALSE(b.bus->connected());
  EXPECT_TRUE(a.bus->connected());
  EXPECT_EQ(b.received(), 0u);
  hub.cut("hub-b", false);
  ASSERT_TRUE(wait_until([&] { return b.bus->connected(); }));
  ASSERT_TRUE(a.bus->publish("t/c", bytes("after"), false));
  EXPECT_TRUE(wait_until([&] { return b.received() == 1; }));
}

}  // namespace
