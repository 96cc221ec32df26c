// The client address behind reverse proxies (client_address.hpp): X-Forwarded-For is believed
// only from a trusted peer, and then only as far as the trusted proxies wrote it.
#include "loa/controller/client_address.hpp"

#include <gtest/gtest.h>

using namespace loa::controller;

namespace {

std::vector<AddressRange> ranges(const std::string& text) {
  auto r = parse_address_ranges(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::vector<AddressRange>{};
}

TEST(ClientAddress, APeerThatIsNoTrustedProxyIsTheClientWhateverItForwards) {
  EXPECT_EQ(client_address("192.0.2.9", {"203.0.113.1"}, {}), "192.0.2.9");
  EXPECT_EQ(client_address("192.0.2.9", {"203.0.113.1"}, ranges("10.0.0.0/8")), "192.0.2.9");
}

TEST(ClientAddress, TheRightMostUntrustedForwardedAddressIsTheClient) {
  const auto trusted = ranges("127.0.0.1, 10.0.0.0/8");
  // The client claims 198.51.100.1; the outer proxy saw 203.0.113.5; the inner one 10.1.2.3.
  EXPECT_EQ(client_address("127.0.0.1", {"198.51.100.1, 203.0.113.5, 10.1.2.3"}, trusted),
            "203.0.113.5");
  // Several header lines are one list, in order.
  EXPECT_EQ(client_address("127.0.0.1", {"198.51.100.1", "203.0.113.5,10.1.2.3"}, trusted),
            "203.0.113.5");
  // Every hop trusted: the left-most; no header: the peer.
  EXPECT_EQ(client_address("127.0.0.1", {"10.0.0.7, 10.0.0.8"}, trusted), "10.0.0.7");
  EXPECT_EQ(client_address("127.0.0.1", {}, trusted), "127.0.0.1");
  // Ports and brackets as some proxies write them; IPv4-mapped peers.
  EXPECT_EQ(client_address("::ffff:127.0.0.1", {"203.0.113.5:4711"}, trusted), "203.0.113.5");
  EXPECT_EQ(client_address("127.0.0.1", {"[2001:db8::7]:443"}, trusted), "2001:db8::7");
  // What a trusted hop wrote that is no address lumps the clients under the peer.
  EXPECT_EQ(client_address("127.0.0.1", {"203.0.113.5, not-an-address"}, trusted), "127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", {"203.0.113.5,"}, trusted), "127.0.0.1");
}

TEST(ClientAddress, RangesAreAddressesOrNetworksAndBadEntriesAreNamed) {
  const auto r = ranges("192.0.2.0/24, fd00::/8, 2001:db8::1");
  EXPECT_TRUE(in_ranges("192.0.2.200", r));
  EXPECT_FALSE(in_ranges("192.0.3.1", r));
  EXPECT_TRUE(in_ranges("::ffff:192.0.2.1", r));
  EXPECT_TRUE(in_ranges("fd12::1", r));
  EXPECT_TRUE(in_ranges("2001:db8::1", r));
  EXPECT_FALSE(in_ranges("2001:db8::2", r));
  EXPECT_FALSE(in_ranges("not an address", r));
  EXPECT_TRUE(ranges("").empty());
  for (const std::string bad : {"10.0.0.0/33", "fd00::/129", "proxy.example", "10.0.0.1,,10.0.0.2",
                                "10.0.0.0/", "10.0.0.0/8x"}) {
    auto e = parse_address_ranges(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.error().message.find('\''), std::string::npos) << e.error().message;
  }
}

}  // namespace
