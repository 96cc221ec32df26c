// libFuzzer target: the client address of a request behind proxies (client_address.hpp). The
// input is split at its first newline: the trusted-proxies text, then X-Forwarded-For lines.
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "loa/controller/client_address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::controller;
  namespace fuzz = loa::protocol::fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto nl = text.find('\n');
  auto trusted = parse_address_ranges(text.substr(0, nl));
  if (!trusted.ok()) {
    if (trusted.error().message.empty()) fuzz::fail("an error without a message");
    return 0;
  }
  std::vector<std::string> lines;
  for (std::size_t pos = nl; pos != std::string_view::npos && pos < text.size();) {
    const auto next = text.find('\n', pos + 1);
    lines.emplace_back(
        text.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1));
    pos = next;
  }
  const std::string peer = "127.0.0.1";
  const std::string client = client_address(peer, lines, *trusted);
  // The answer is the peer, or an address that a header line holds; never from an untrusted peer.
  if (client == peer) return 0;
  if (!parse_ip(client)) fuzz::fail("the client is not an address");
  if (!in_ranges(peer, *trusted)) fuzz::fail("an untrusted peer was overridden");
  bool written = false;
  for (const auto& l : lines) written = written || l.find(client) != std::string::npos;
  if (!written) fuzz::fail("an address no header line holds");
  return 0;
}
