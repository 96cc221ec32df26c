#include "loa/controller/client_address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace loa::controller {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An X-Forwarded-For entry as an address: "[v6]" or "[v6]:port" unbracketed, "v4:port" without
// the port (some proxies add it).
std::string_view entry_address(std::string_view e) {
  e = trim(e);
  if (!e.empty() && e.front() == '[') {
    const auto close = e.find(']');
    return close == std::string_view::npos ? std::string_view() : e.substr(1, close - 1);
  }
  const auto colon = e.find(':');
  if (colon != std::string_view::npos && e.find(':', colon + 1) == std::string_view::npos) {
    return e.substr(0, colon);
  }
  return e;
}

bool matches(const std::array<std::uint8_t, 16>& a, const AddressRange& r) {
  const int whole = r.prefix / 8;
  for (int i = 0; i < whole; ++i) {
    if (a[static_cast<std::size_t>(i)] != r.base[static_cast<std::size_t>(i)]) return false;
  }
  const int bits = r.prefix % 8;
  if (bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
  const auto i = static_cast<std::size_t>(whole);
  return (a[i] & mask) == (r.base[i] & mask);
}

}  // namespace

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  const std::string s(text);
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    const auto* b = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
    std::copy(b, b + 4, out.begin() + 12);
    return out;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::copy(v6.s6_addr, v6.s6_addr + 16, out.begin());
    return out;
  }
  return std::nullopt;
}

Result<std::vector<AddressRange>> parse_address_ranges(std::string_view text) {
  std::vector<AddressRange> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = std::min(text.find(',', pos), text.size());
    const std::string_view entry = trim(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (entry.empty()) {
      if (comma == text.size()) break;
      return make_error("empty entry in '" + std::string(text) + "'");
    }
    const auto slash = entry.find('/');
    const auto ip = parse_ip(entry.substr(0, slash));
    if (!ip) return make_error("'" + std::string(entry) + "' is not an IP address or network");
    const bool v4 = entry.substr(0, slash).find(':') == std::string_view::npos;
    AddressRange r{*ip, 128};
    if (slash != std::string_view::npos) {
      const std::string_view bits = entry.substr(slash + 1);
      int n = -1;
      const auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
      if (bits.empty() || ec != std::errc() || p != bits.data() + bits.size() || n < 0 ||
          n > (v4 ? 32 : 128)) {
        return make_error("'" + std::string(entry) + "': the prefix length is not 0.." +
                          (v4 ? "32" : "128"));
      }
      r.prefix = v4 ? 96 + n : n;
    }
    out.push_back(r);
  }
  return out;
}

bool in_ranges(std::string_view address, const std::vector<AddressRange>& ranges) {
  const auto ip = parse_ip(address);
  if (!ip) return false;
  for (const auto& r : ranges) {
    if (matches(*ip, r)) return true;
  }
  return false;
}

std::string client_address(const std::string& peer, const std::vector<std::string>& forwarded_for,
                           const std::vector<AddressRange>& trusted) {
  if (trusted.empty() || !in_ranges(peer, trusted)) return peer;
  std::string_view leftmost;
  for (auto line = forwarded_for.rbegin(); line != forwarded_for.rend(); ++line) {
    std::string_view rest = *line;
    while (true) {
      const auto comma = rest.rfind(',');
      const std::string_view entry =
          entry_address(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      if (!parse_ip(entry)) return peer;
      if (!in_ranges(entry, trusted)) return std::string(entry);
      leftmost = entry;
      if (comma == std::string_view::npos) break;
      rest = rest.substr(0, comma);
    }
  }
  return leftmost.empty() ? peer : std::string(leftmost);
}

}  // namespace loa::controller
