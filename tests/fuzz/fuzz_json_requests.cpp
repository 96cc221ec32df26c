// libFuzzer target: the JSON request bodies of the scheduling routes (controller/src/
// json_requests.cpp), then what the controller reads from an accepted one before it touches the
// store: the zone, the wall times, the RRULE and its expansion over the planning window. Whatever
// is refused has a message; whatever is accepted respects the decoders' bounds.
#include <nlohmann/json.hpp>
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/json_codec.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/controller/recurrence.hpp"

namespace {

using namespace loa::controller;
using loa::protocol::fuzz::fail;

constexpr Micros kNow = 1'796'083'200'000'000;  // 2026-12-01T00:00:00Z
constexpr Micros kDay = 86'400'000'000;

template <typename T>
void check_error(const Reply<T>& r) {
  if (!r.ok() && r.error().message.empty()) fail("an error without a message");
}

void check_targets(const std::vector<std::string>& targets) {
  if (targets.size() > 1000) fail("more targets than the bound");
  for (const auto& t : targets) {
    if (t.size() > loa::protocol::kMaxScopeLength) fail("a target longer than a scope");
  }
}

// What Controller::submit reads from the request's text fields.
void interpret(const ScheduleRequest& r) {
  const std::string tz = r.tz.empty() ? "Asia/Ho_Chi_Minh" : r.tz;
  (void)check_zone(tz);
  (void)local_to_utc(r.at, tz);
  if (!r.expiry.empty()) (void)local_to_utc(r.expiry, tz);
  if (!r.until.empty()) (void)local_to_utc(r.until, tz);
  if (r.rrule.empty()) return;
  auto rule = parse_rrule(r.rrule);
  if (!rule.ok()) return;
  (void)expand(*rule, r.at, tz, kNow, kNow + 14 * kDay, 1025);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;

  auto schedule = schedule_request_from_json(j);
  check_error(schedule);
  if (schedule.ok()) {
    if (schedule->bulletin_id == 0) fail("bulletin 0 accepted");
    check_targets(schedule->targets);
    for (const std::string* s : {&schedule->at, &schedule->tz, &schedule->rrule, &schedule->expiry,
                                 &schedule->until, &schedule->priority}) {
      if (s->size() > 8192) fail("a string field longer than the bound");
    }
    interpret(*schedule);
  }
  auto change = change_request_from_json(j);
  check_error(change);
  if (change.ok() && change->targets) check_targets(*change->targets);
  return 0;
}
