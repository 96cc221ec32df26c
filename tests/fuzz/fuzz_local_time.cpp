// libFuzzer target: the wall-time and instant parsers (controller/src/local_time.cpp) that read
// `at`, `expiry`, `until` and `tz` of requests and `since` of query strings. Input: "TEXT\nZONE"
// (no zone line: Asia/Ho_Chi_Minh). What is accepted must format back to the same instant.
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/local_time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::controller;
  using loa::protocol::fuzz::fail;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  const std::string_view text = input.substr(0, nl);
  const std::string_view tz =
      nl == std::string_view::npos ? std::string_view("Asia/Ho_Chi_Minh") : input.substr(nl + 1);

  (void)check_zone(tz);
  (void)parse_local_time(text);
  if (auto t = local_to_utc(text, tz); t.ok()) {
    // Accepted wall times are whole seconds; the UTC text reads back to the same instant.
    auto back = parse_utc(format_utc(*t));
    if (!back.ok() || *back != *t) fail("local_to_utc: format_utc does not read back");
    (void)format_local(*t, tz);
  } else if (t.error().message.empty()) {
    fail("local_to_utc: an error without a message");
  }
  if (auto t = parse_instant(text, tz); t.ok()) {
    auto back = parse_utc(format_utc(*t));
    // format_utc drops fractions of a second.
    if (!back.ok() || *back > *t || *t - *back >= 1'000'000) {
      fail("parse_instant: format_utc does not read back");
    }
  } else if (t.error().message.empty()) {
    fail("parse_instant: an error without a message");
  }
  if (auto t = parse_utc(text); t.ok()) {
    auto back = parse_utc(format_utc(*t));
    if (!back.ok() || *back > *t || *t - *back >= 1'000'000) fail("parse_utc does not read back");
  }
  return 0;
}
