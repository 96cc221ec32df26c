#include "loa/controller/cap_plan.hpp"

#include <charconv>

#include "loa/controller/cap_ingest.hpp"
#include "loa/controller/local_time.hpp"

namespace loa::controller {
namespace {

constexpr Micros kSecond = 1'000'000;
constexpr std::int64_t kMaxRepeatMin = 1440;
constexpr const char* kRepeatParameter = "LOA_REPEAT_MINUTES";
constexpr std::size_t kBriefItems = 10;
constexpr std::size_t kBriefItemBytes = 128;

ApiError bad(std::string message) {
  return api_error(ErrorCode::bad_request, std::move(message));
}
ApiError refused(std::string message) {
  return api_error(ErrorCode::unprocessable, std::move(message));
}

}  // namespace

std::string cut_utf8(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string brief_list(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < kBriefItems; ++i) {
    if (i > 0) out += separator;
    out += cut_utf8(items[i], kBriefItemBytes);
  }
  if (items.size() > kBriefItems) {
    out += " ... and " + std::to_string(items.size() - kBriefItems) + " more";
  }
  return out;
}

std::string cap_level(const std::string& severity, const std::string& urgency) {
  const bool severe = severity == "Extreme" || severity == "Severe";
  const bool soon = urgency == "Immediate" || urgency == "Expected";
  return severe && soon ? "emergency" : "priority";
}

Reply<CapPlan> plan_cap_alert(const CapInfo& info, const CapGeocodeTable& table, Micros now,
                              Micros lead_us, std::int64_t default_repeat_min) {
  CapPlan plan;
  const Micros earliest = (now + lead_us + kSecond - 1) / kSecond * kSecond;
  plan.start = std::max(earliest, info.effective_us.value_or(0));
  plan.start = (plan.start + kSecond - 1) / kSecond * kSecond;
  if (info.expires_us && *info.expires_us <= now) {
    return refused(info.path + "/expires: " + format_utc(*info.expires_us) + " has passed (now " +
                   format_utc(now) + ")");
  }
  if (info.expires_us && *info.expires_us <= plan.start) {
    return refused(info.path + "/expires: " + format_utc(*info.expires_us) +
                   " is not after the first playback at " + format_utc(plan.start));
  }
  if (plan.start - now > kMaxCapLeadUs) {
    return refused(info.path + "/effective: " + format_utc(plan.start) + " is more than " +
                   std::to_string(kMaxCapLeadUs / (86'400 * kSecond)) + " days ahead (now " +
                   format_utc(now) + ")");
  }
  if (info.areas.empty()) {
    return refused(info.path +
                   "/area: missing; loa sounds an alert only in areas given by geocode");
  }
  std::size_t codes = 0;
  for (const auto& area : info.areas) codes += std::max<std::size_t>(area.geocodes.size(), 1);
  if (codes > kMaxCapGeocodes) {
    return refused(info.path + "/area: " + std::to_string(codes) + " geocodes; at most " +
                   std::to_string(kMaxCapGeocodes) + " are taken");
  }
  std::vector<std::string> unmapped_codes;
  std::vector<std::string> geometric_only;
  for (const auto& area : info.areas) {
    if (area.geocodes.empty()) {
      geometric_only.push_back(area.desc);
      continue;
    }
    for (const auto& g : area.geocodes) {
      const auto it = table.find({g.value_name, g.value});
      if (it == table.end()) {
        unmapped_codes.push_back(g.str());
      } else {
        plan.mapped.emplace_back(it->second, g.str());
      }
    }
  }
  if (plan.mapped.empty()) {
    if (!unmapped_codes.empty()) {
      return refused("no area mapped for geocode " + brief_list(unmapped_codes, ", ") +
                     " (loactl cap geocode set VALUENAME VALUE AREA_PATH)");
    }
    return refused(info.path + "/area: '" + cut_utf8(geometric_only.front(), kBriefItemBytes) +
                   "' has no geocode (a polygon or circle is not mapped to areas; loa "
                   "needs a geocode in its table)");
  }
  plan.unmapped = std::move(unmapped_codes);
  for (const auto& d : geometric_only) plan.unmapped.push_back("area '" + d + "' (no geocode)");
  plan.level = cap_level(info.severity, info.urgency);
  if (auto p = info.parameter(kRepeatParameter)) {
    std::int64_t v = -1;
    const auto [end, ec] = std::from_chars(p->data(), p->data() + p->size(), v);
    if (p->empty() || ec != std::errc() || end != p->data() + p->size() || v < 0 ||
        v > kMaxRepeatMin) {
      return bad(info.path + "/parameter " + kRepeatParameter + ": '" +
                 cut_utf8(*p, kBriefItemBytes) + "' is not a number of minutes in 0..1440");
    }
    plan.repeat_min = v;
  } else {
    plan.repeat_min = default_repeat_min;
  }
  if (!info.expires_us) plan.repeat_min = 0;  // no end given: it plays once
  return plan;
}

}  // namespace loa::controller
