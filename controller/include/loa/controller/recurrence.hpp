// Recurring bulletins: a documented subset of iCalendar RRULE (RFC 5545), expanded from local wall
// time in an IANA zone to UTC instants. The syntax and the daylight-saving rules are described for
// operators in docs/scheduling.md.
#pragma once

#include <compare>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::controller {

using protocol::Micros;

// How often the rule's periods repeat.
enum class Frequency { daily, weekly, monthly };

// ISO order: weeks start on Monday (RRULE WKST=MO).
enum class Weekday { monday, tuesday, wednesday, thursday, friday, saturday, sunday };

// A calendar date in the rule's zone (no time of day, no zone).
struct LocalDate {
  int year = 0;
  int month = 0;  // 1..12
  int day = 0;    // 1..31
  auto operator<=>(const LocalDate&) const = default;
};

// One BYDAY entry: "MO" (ordinal 0: every Monday of the period) or "1MO" / "-1FR" (the first
// Monday / last Friday of the month; ordinals only with FREQ=MONTHLY).
struct ByDay {
  Weekday weekday = Weekday::monday;
  int ordinal = 0;  // 0, 1..5 or -1..-5
  bool operator==(const ByDay&) const = default;
};

// A parsed rule. Empty lists mean "not given"; the time of day then comes from DTSTART.
struct Rule {
  Frequency frequency = Frequency::daily;
  int interval = 1;                  // 1..1000 periods between repeats
  std::vector<ByDay> by_day;         // DAILY/WEEKLY: filter; MONTHLY: days of the month
  std::vector<int> by_month_day;     // MONTHLY only: 1..31 or -31..-1 (-1 = last day)
  std::vector<int> by_hour;          // 0..23, sorted, unique
  std::vector<int> by_minute;        // 0..59, sorted, unique
  std::optional<std::size_t> count;  // occurrences counted from DTSTART, EXDATEs included
  std::optional<LocalDate> until;    // last local date (inclusive)
  std::vector<LocalDate> exdates;    // local dates on which nothing is produced
};

// Parses "FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=6,17;BYMINUTE=30;UNTIL=2027-06-30;EXDATE=2027-01-01".
// Accepts an optional "RRULE:" prefix and part names in any case; EXDATE is a loa extension
// inside the rule text. Dates are YYYY-MM-DD or YYYYMMDD. Refuses unknown or repeated parts,
// values out of range, COUNT together with UNTIL, and parts given for a frequency that does not
// use them, with a message naming the part ("RRULE: BYDAY 'XX' is not a weekday"). Bounded: the
// text is at most 8192 bytes and EXDATE at most 366 dates, refused by length beyond.
Result<Rule> parse_rrule(std::string_view text);

// The UTC instants of `rule` in [from_us, to_us), ascending, at most `max` (the earliest ones).
// `dtstart_local` is "YYYY-MM-DDTHH:MM[:SS]" wall time in zone `tz`: the first period starts on
// its date, nothing earlier than it is produced, and its time of day is used where BYHOUR /
// BYMINUTE are not given. Daylight saving: a wall time skipped by a forward jump is moved forward
// by the length of the gap (02:30 in a 02:00->03:00 gap plays at 03:30); a wall time that occurs
// twice takes the first (earlier) instant. Refuses a malformed start, an unknown zone, and a rule
// that produces no occurrence within 10 years of its start. Stateless; safe from any thread.
Result<std::vector<Micros>> expand(const Rule& rule, std::string_view dtstart_local,
                                   std::string_view tz, Micros from_us, Micros to_us,
                                   std::size_t max);

}  // namespace loa::controller
