// libFuzzer target: CAP ingest's decisions (controller/src/cap_plan.cpp) on whatever the CAP
// parser accepts: the first playback, the geocodes mapped to areas, the level and the repeat.
// Refusals have a short message however large the alert; a plan's start is in whole seconds,
// after the lead and before the expiry, and its wall time reads back as the scheduling path does.
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/cap_alert.hpp"
#include "loa/controller/cap_plan.hpp"
#include "loa/controller/local_time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::controller;
  using loa::protocol::fuzz::fail;
  constexpr Micros kNow = 1'793'491'205'000'000;  // 2026-11-01T00:00:05Z
  constexpr Micros kLead = 5'000'000;
  constexpr Micros kSecond = 1'000'000;
  static const CapGeocodeTable table = {{{"MA_DVHC", "26734"}, "79/760/26734"},
                                        {{"MA_DVHC", "26737"}, "79/760/26737"},
                                        {{"EMMA_ID", "VN001"}, "01"}};

  auto alert = parse_cap(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!alert.ok()) return 0;
  for (const CapInfo& info : alert->infos) {
    auto plan = plan_cap_alert(info, table, kNow, kLead, 15);
    if (!plan.ok()) {
      if (plan.error().message.empty()) fail("an error without a message");
      if (plan.error().message.size() > 4096) fail("a refusal longer than 4 KiB");
      continue;
    }
    if (plan->start % kSecond != 0) fail("start not in whole seconds");
    if (plan->start < kNow + kLead) fail("start before the lead");
    if (plan->start - kNow > kMaxCapLeadUs) fail("start too far ahead");
    if (info.expires_us && *info.expires_us <= plan->start) fail("start not before expires");
    if (plan->repeat_min < 0 || plan->repeat_min > 1440) fail("repeat out of range");
    if (!info.expires_us && plan->repeat_min != 0) fail("a repeat without an end");
    if (plan->mapped.empty()) fail("a plan without an area");
    if (plan->mapped.size() + plan->unmapped.size() > kMaxCapGeocodes) fail("too many geocodes");
    for (const auto& [path, code] : plan->mapped) {
      bool known = false;
      for (const auto& [key, area] : table) known = known || area == path;
      if (!known) fail("an area not in the table");
    }
    if (plan->level != "emergency" && plan->level != "priority") fail("unknown level");
    // ingest_cap hands the start to scheduling as wall seconds in the controller's zone.
    const std::string wall = format_local(plan->start, "Asia/Ho_Chi_Minh").substr(0, 19);
    auto back = local_to_utc(wall, "Asia/Ho_Chi_Minh");
    if (!back.ok() || *back != plan->start) fail("the start's wall time does not read back");
  }
  return 0;
}
