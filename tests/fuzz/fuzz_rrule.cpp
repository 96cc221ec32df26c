// libFuzzer target: the RRULE subset (controller/src/recurrence.cpp) as a schedule request gives
// it: the rule text, a start wall time and a zone. Input: three lines, "RULE\nSTART\nZONE"
// (missing lines: a start of 2026-12-01T06:30 in Asia/Ho_Chi_Minh). What parse_rrule accepts is
// expanded over the window a request plans (now to the plan horizon, as scheduling.cpp does);
// the instants must be ascending, unique, inside the window and at most `max`.
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/controller/recurrence.hpp"

namespace {

std::string_view line(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view out = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::controller;
  using loa::protocol::fuzz::fail;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view text = line(rest);
  std::string_view start = line(rest);
  std::string_view tz = line(rest);
  if (start.empty()) start = "2026-12-01T06:30";
  if (tz.empty()) tz = "Asia/Ho_Chi_Minh";

  auto rule = parse_rrule(text);
  if (!rule.ok()) {
    if (rule.error().message.empty()) fail("an error without a message");
    return 0;
  }
  // 2026-12-01T00:00:00Z and the default plan horizon of 14 days.
  constexpr Micros kNow = 1'796'083'200'000'000;
  constexpr Micros kDay = 86'400'000'000;
  constexpr std::size_t kMax = 1025;
  auto instants = expand(*rule, start, tz, kNow, kNow + 14 * kDay, kMax);
  if (!instants.ok()) {
    if (instants.error().message.empty()) fail("an expansion error without a message");
    return 0;
  }
  if (instants->size() > kMax) fail("more instants than max");
  for (std::size_t i = 0; i < instants->size(); ++i) {
    const Micros t = (*instants)[i];
    if (t < kNow || t >= kNow + 14 * kDay) fail("an instant outside the window");
    if (i > 0 && t <= (*instants)[i - 1]) fail("instants not ascending and unique");
  }
  return 0;
}
