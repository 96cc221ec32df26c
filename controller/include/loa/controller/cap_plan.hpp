// What an Actual CAP Alert or Update asks loa to do, decided from its <info> alone: when it first
// plays, where (its geocodes through the geocode table), how loud and how often. A pure function:
// Controller::ingest_cap adds what needs the store (nodes in the areas) and the audio.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "loa/controller/api_error.hpp"
#include "loa/controller/cap_alert.hpp"

namespace loa::controller {

// Geocode (valueName, value) to area path, as stored by loactl cap geocode set.
using CapGeocodeTable = std::map<std::pair<std::string, std::string>, std::string>;

// An <info> block may name at most this many geocodes (areas' codes and areas without one).
inline constexpr std::size_t kMaxCapGeocodes = 1000;
// The first playback may be at most this far ahead (CAP effective).
inline constexpr Micros kMaxCapLeadUs = 366LL * 86'400'000'000;

struct CapPlan {
  Micros start = 0;  // the first playback, whole seconds, >= now + lead, before expires
  std::vector<std::pair<std::string, std::string>> mapped;  // area path, geocode ("NAME=VALUE")
  std::vector<std::string> unmapped;  // geocodes not in the table, then areas without a geocode
  std::string level;                  // emergency or priority (cap_level)
  std::int64_t repeat_min = 0;        // 0..1440; 0 when the alert gives no expires
};

// Plans `info` received at `now`. Refuses (unprocessable or bad_request, the message naming the
// element by its path) an expired alert, one whose first playback would not come before it
// expires or more than kMaxCapLeadUs ahead, one with no area, too many geocodes, no geocode in
// the table, and a LOA_REPEAT_MINUTES parameter outside 0..1440.
Reply<CapPlan> plan_cap_alert(const CapInfo& info, const CapGeocodeTable& table, Micros now,
                              Micros lead_us, std::int64_t default_repeat_min);

// "a, b, c ... and 7 more": at most 10 items, each cut to 128 bytes, for refusals and reasons.
std::string brief_list(const std::vector<std::string>& items, const std::string& separator);

// UTF-8 text cut to at most `max` bytes without splitting a character.
std::string cut_utf8(const std::string& s, std::size_t max);

}  // namespace loa::controller
