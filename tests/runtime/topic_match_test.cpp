#include <gtest/gtest.h>

#include "loa/runtime/bus.hpp"

using loa::runtime::parse_broker_url;
using loa::runtime::topic_matches;

TEST(TopicMatch, ExactAndWildcards) {
  EXPECT_TRUE(topic_matches("loa/v1/plan/79", "loa/v1/plan/79"));
  EXPECT_FALSE(topic_matches("loa/v1/plan/79", "loa/v1/plan/79/1"));
  EXPECT_TRUE(topic_matches("loa/v1/node/+/up/#", "loa/v1/node/n1/up/event"));
  EXPECT_FALSE(topic_matches("loa/v1/node/+/up/#", "loa/v1/node/n1/down/plan"));
  EXPECT_TRUE(topic_matches("loa/v1/bulletin/7/#", "loa/v1/bulletin/7"));
  EXPECT_TRUE(topic_matches("#", "a/b"));
  EXPECT_FALSE(topic_matches("a/+", "a"));
}

TEST(BrokerUrl, ParsesAndNamesErrors) {
  auto a = parse_broker_url("mqtt://127.0.0.1:1884");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 1884);
  EXPECT_FALSE(a->tls);
  auto t = parse_broker_url("mqtts://broker.local");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->port, 8883);
  EXPECT_TRUE(t->tls);
  auto bad = parse_broker_url("tcp://x:1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("mqtt://"), std::string::npos);
  auto port = parse_broker_url("mqtt://x:99999");
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().message.find("99999"), std::string::npos);
}
