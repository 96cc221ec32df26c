#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "loa/runtime/bus.hpp"

using namespace loa::runtime;

namespace {

struct Recorder {
  std::mutex mu;
  std::vector<BusMessage> messages;
  std::atomic<int> connects{0};
  std::atomic<int> disconnects{0};
  void attach(Bus& bus) {
    bus.on_message([this](const BusMessage& m) {
      std::lock_guard lock(mu);
      messages.push_back(m);
    });
    bus.on_connection([this](bool up) { (up ? connects : disconnects)++; });
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return messages.size();
  }
};

Bytes bytes(const char* s) {
  return Bytes(s, s + std::strlen(s));
}

}  // namespace

TEST(MemoryHub, DeliversToMatchingSubscribersAndRetains) {
  MemoryHub hub;
  auto a = hub.connect("a");
  auto b = hub.connect("b");
  Recorder ra, rb;
  ra.attach(*a);
  rb.attach(*b);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(b->start().ok());
  ASSERT_TRUE(b->subscribe("x/+").ok());
  ASSERT_TRUE(a->publish("x/1", bytes("one"), true).ok());
  ASSERT_TRUE(a->publish("y/1", bytes("no"), false).ok());
  ASSERT_TRUE(hub.wait_idle());
  ASSERT_EQ(rb.count(), 1u);
  EXPECT_EQ(rb.messages[0].topic, "x/1");
  EXPECT_EQ(ra.count(), 0u);
  // A late subscriber gets the retained message.
  ASSERT_TRUE(a->subscribe("x/#").ok());
  ASSERT_TRUE(hub.wait_idle());
  ASSERT_EQ(ra.count(), 1u);
  EXPECT_TRUE(ra.messages[0].retained);
  EXPECT_EQ(ra.connects.load(), 1);
}

TEST(MemoryHub, QueuesWhileOfflineAndRedeliversRetainedOnReconnect) {
  MemoryHub hub;
  auto a = hub.connect("a");
  auto b = hub.connect("b");
  Recorder ra, rb;
  ra.attach(*a);
  rb.attach(*b);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(b->start().ok());
  ASSERT_TRUE(b->subscribe("t/#").ok());
  ASSERT_TRUE(a->publish("t/r", bytes("kept"), true).ok());
  ASSERT_TRUE(hub.wait_idle());
  hub.set_online(false);
  ASSERT_TRUE(a->publish("t/q", bytes("queued"), false).ok());
  ASSERT_TRUE(hub.wait_idle());
  EXPECT_EQ(rb.count(), 1u);
  EXPECT_EQ(rb.disconnects.load(), 1);
  hub.set_online(true);
  ASSERT_TRUE(hub.wait_idle());
  // The retained message again (resubscription), then the queued one.
  ASSERT_EQ(rb.count(), 3u);
  EXPECT_EQ(rb.messages[1].topic, "t/r");
  EXPECT_EQ(rb.messages[2].topic, "t/q");
  EXPECT_EQ(rb.connects.load(), 2);
}
