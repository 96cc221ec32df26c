// The address an HTTP request comes from when the API is reached through reverse proxies: the
// peer of the connection, unless the peer is a proxy the configuration trusts, in which case
// the address that proxy (and any trusted proxy before it) recorded in X-Forwarded-For. Pure
// functions, no I/O; the work is linear in the size of the text given.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loa/protocol/result.hpp"

namespace loa::controller {

// An IPv4 or IPv6 network; IPv4 is held as its IPv4-mapped IPv6 form (::ffff:a.b.c.d/96+n).
struct AddressRange {
  std::array<std::uint8_t, 16> base{};
  int prefix = 128;  // leading bits that must match
};

// The 16 bytes of an IPv4 or IPv6 address in text ("192.0.2.1", "2001:db8::1",
// "::ffff:192.0.2.1"), or nullopt if it is not one.
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text);

// A comma-separated list of addresses and networks ("127.0.0.1, 10.0.0.0/8, fd00::/8");
// empty text gives none. The error names the entry that is not an address or network.
Result<std::vector<AddressRange>> parse_address_ranges(std::string_view text);

// Whether `address` (text) lies in one of `ranges`; false when it is not an address.
bool in_ranges(std::string_view address, const std::vector<AddressRange>& ranges);

// The client of a request: `peer` when it is not in `trusted`; else, reading the
// X-Forwarded-For values (`forwarded_for`, one string per header line, in the order received)
// from the right, the first address that is not in `trusted` (the left-most when all are). The
// peer when there is no such header or the entry reached is not an address (a trusted proxy
// that writes garbage lumps its clients together rather than letting them choose an address).
std::string client_address(const std::string& peer, const std::vector<std::string>& forwarded_for,
                           const std::vector<AddressRange>& trusted);

}  // namespace loa::controller
