// libFuzzer target: the request head and body of loa::http (controller/http), through Beast's
// parser with the server's limits: the header is bounded in bytes and fields, the body by the
// route's limit whatever its framing, and nothing the parser keeps outgrows them.
#include <boost/asio/buffer.hpp>
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/http/request_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using loa::protocol::fuzz::fail;
  constexpr std::size_t kHeaderBytes = 2048;
  constexpr std::size_t kFields = 16;
  constexpr std::size_t kBody = 4096;
  loa::http::RequestParser parser(kHeaderBytes, kFields);
  boost::system::error_code ec;
  // Fed in two parts, as a socket might deliver them.
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = size > 0 ? data[0] % (size + 1) : 0;
  std::string pending;
  bool body_limit_set = false;
  const auto feed = [&](std::string_view part) {
    pending.append(part);
    while (!ec && !pending.empty() && !parser.is_done()) {
      const std::size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
      if (ec == boost::beast::http::error::need_more) {
        ec = {};
        return;
      }
      pending.erase(0, used);
      if (parser.is_header_done() && !body_limit_set) {
        parser.set_body_limit(kBody);
        body_limit_set = true;
      }
      if (used == 0) return;
    }
  };
  feed(input.substr(0, split));
  feed(input.substr(split));
  const auto& req = parser.request();
  if (req.headers.size() > kFields) fail("more fields kept than the limit");
  if (req.body.size() > kBody) fail("more body kept than the limit");
  if (req.target.size() + req.method.size() > kHeaderBytes) fail("a request line over the limit");
  return 0;
}
