#include "loa/controller/recurrence.hpp"

#include "loa/controller/local_time.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <exception>
#include <iterator>
#include <string>

namespace loa::controller {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

constexpr int kMaxInterval = 1000;
constexpr std::size_t kMaxCount = 1'000'000;
// The rule text and its EXDATE list: a year of excluded days fits.
constexpr std::size_t kMaxRuleText = 8192;
constexpr std::size_t kMaxExdates = 366;
// A rule that yields nothing for this long after its start is refused (about 10 years).
constexpr int kBarrenDays = 3653;

constexpr std::array<const char*, 7> kWeekdayNames = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};

Error rrule_error(std::string message) {
  return make_error("RRULE: " + std::move(message));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, next - pos));
    pos = next + 1;
  }
}

// A signed decimal integer with at most 9 digits, nothing else.
std::optional<int> to_int(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

// "YYYY-MM-DD" or "YYYYMMDD", a date that exists.
std::optional<LocalDate> to_date(std::string_view s) {
  std::string digits;
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    digits =
        std::string(s.substr(0, 4)) + std::string(s.substr(5, 2)) + std::string(s.substr(8, 2));
  } else if (s.size() == 8) {
    digits = std::string(s);
  } else {
    return std::nullopt;
  }
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const LocalDate d{std::stoi(digits.substr(0, 4)), std::stoi(digits.substr(4, 2)),
                    std::stoi(digits.substr(6, 2))};
  const date::year_month_day ymd{date::year{d.year}, date::month{static_cast<unsigned>(d.month)},
                                 date::day{static_cast<unsigned>(d.day)}};
  if (!ymd.ok()) return std::nullopt;
  return d;
}

std::optional<Weekday> to_weekday(std::string_view s) {
  for (std::size_t i = 0; i < kWeekdayNames.size(); ++i) {
    if (s == kWeekdayNames[i]) return static_cast<Weekday>(i);
  }
  return std::nullopt;
}

Result<std::vector<int>> int_list(std::string_view name, std::string_view value, int lo, int hi,
                                  bool allow_negative) {
  std::vector<int> out;
  for (std::string_view item : split(value, ',')) {
    const auto v = to_int(item);
    const bool in_range =
        v && ((*v >= lo && *v <= hi) || (allow_negative && *v <= -lo && *v >= -hi));
    if (!in_range) {
      std::string range = std::to_string(lo) + ".." + std::to_string(hi);
      if (allow_negative) range += " or -" + std::to_string(hi) + "..-" + std::to_string(lo);
      return rrule_error(std::string(name) + " '" + std::string(item) + "' is not a number in " +
                         range);
    }
    out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<ByDay>> by_day_list(std::string_view value) {
  std::vector<ByDay> out;
  for (std::string_view item : split(value, ',')) {
    const std::string_view name = item.size() >= 2 ? item.substr(item.size() - 2) : item;
    const auto weekday = to_weekday(name);
    if (!weekday) return rrule_error("BYDAY '" + std::string(item) + "' is not a weekday");
    ByDay entry{*weekday, 0};
    const std::string_view ordinal = item.substr(0, item.size() - 2);
    if (!ordinal.empty()) {
      const auto n = to_int(ordinal);
      if (!n || *n == 0 || *n > 5 || *n < -5) {
        return rrule_error("BYDAY '" + std::string(item) +
                           "': the ordinal must be 1..5 or -1..-5 (as in 1MO or -1FR)");
      }
      entry.ordinal = *n;
    }
    if (std::find(out.begin(), out.end(), entry) == out.end()) out.push_back(entry);
  }
  return out;
}

struct DateTime {
  date::local_days day;
  seconds time_of_day{0};
};

Result<DateTime> parse_start(std::string_view text) {
  auto local = parse_local_time(text);
  if (!local) return make_error("start: " + local.error().message);
  DateTime out;
  out.day = date::floor<date::days>(*local);
  out.time_of_day = *local - out.day;
  return out;
}

LocalDate to_local_date(date::local_days d) {
  const date::year_month_day ymd{d};
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

date::local_days from_local_date(const LocalDate& d) {
  return date::local_days{date::year{d.year} / date::month{static_cast<unsigned>(d.month)} /
                          date::day{static_cast<unsigned>(d.day)}};
}

// Monday = 0 ... Sunday = 6.
int iso_index(date::local_days d) {
  return static_cast<int>((date::weekday{d}.c_encoding() + 6) % 7);
}

bool matches_weekdays(const std::vector<ByDay>& by_day, date::local_days d) {
  if (by_day.empty()) return true;
  const auto wd = static_cast<Weekday>(iso_index(d));
  return std::any_of(by_day.begin(), by_day.end(), [&](const ByDay& b) { return b.weekday == wd; });
}

// The days of month `ym` selected by a MONTHLY rule, ascending.
std::vector<int> month_days(const Rule& rule, date::year_month ym, int start_day) {
  const int last = static_cast<int>(static_cast<unsigned>((ym / date::last).day()));
  std::vector<int> from_month_day;
  for (int n : rule.by_month_day) {
    const int day = n > 0 ? n : last + 1 + n;
    if (day >= 1 && day <= last) from_month_day.push_back(day);
  }
  std::vector<int> from_by_day;
  const int first_index = iso_index(date::local_days{ym / date::day{1}});
  for (const ByDay& b : rule.by_day) {
    // Day of month of the first such weekday.
    const int first = 1 + (static_cast<int>(b.weekday) - first_index + 7) % 7;
    if (b.ordinal == 0) {
      for (int day = first; day <= last; day += 7) from_by_day.push_back(day);
    } else if (b.ordinal > 0) {
      const int day = first + 7 * (b.ordinal - 1);
      if (day <= last) from_by_day.push_back(day);
    } else {
      int day = first;
      while (day + 7 <= last) day += 7;
      day -= 7 * (-b.ordinal - 1);
      if (day >= 1) from_by_day.push_back(day);
    }
  }
  std::sort(from_month_day.begin(), from_month_day.end());
  std::sort(from_by_day.begin(), from_by_day.end());
  std::vector<int> out;
  if (!rule.by_month_day.empty() && !rule.by_day.empty()) {
    std::set_intersection(from_month_day.begin(), from_month_day.end(), from_by_day.begin(),
                          from_by_day.end(), std::back_inserter(out));
  } else if (!rule.by_month_day.empty()) {
    out = std::move(from_month_day);
  } else if (!rule.by_day.empty()) {
    out = std::move(from_by_day);
  } else if (start_day <= last) {
    out.push_back(start_day);
  }
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The dates of period `k` (0 = the period holding the start date), ascending; may be empty.
std::vector<date::local_days> period_dates(const Rule& rule, date::local_days start, long k) {
  std::vector<date::local_days> out;
  switch (rule.frequency) {
    case Frequency::daily: {
      const date::local_days d = start + date::days{k * rule.interval};
      if (matches_weekdays(rule.by_day, d)) out.push_back(d);
      break;
    }
    case Frequency::weekly: {
      const date::local_days monday =
          start - date::days{iso_index(start)} + date::days{7 * k * rule.interval};
      if (rule.by_day.empty()) {
        out.push_back(monday + date::days{iso_index(start)});
      } else {
        for (int i = 0; i < 7; ++i) {
          if (matches_weekdays(rule.by_day, monday + date::days{i}))
            out.push_back(monday + date::days{i});
        }
      }
      break;
    }
    case Frequency::monthly: {
      const date::year_month_day s{start};
      const date::year_month ym =
          date::year_month{s.year(), s.month()} + date::months{static_cast<int>(k) * rule.interval};
      for (int day : month_days(rule, ym, static_cast<int>(static_cast<unsigned>(s.day())))) {
        out.push_back(date::local_days{ym / date::day{static_cast<unsigned>(day)}});
      }
      break;
    }
  }
  return out;
}

// First day of period `k`, to bound the walk.
date::local_days period_begin(const Rule& rule, date::local_days start, long k) {
  switch (rule.frequency) {
    case Frequency::daily:
      return start + date::days{k * rule.interval};
    case Frequency::weekly:
      return start - date::days{iso_index(start)} + date::days{7 * k * rule.interval};
    case Frequency::monthly: {
      const date::year_month_day s{start};
      const date::year_month ym =
          date::year_month{s.year(), s.month()} + date::months{static_cast<int>(k) * rule.interval};
      return date::local_days{ym / date::day{1}};
    }
  }
  return start;
}

Micros to_micros(date::sys_seconds t) {
  return std::chrono::duration_cast<microseconds>(t.time_since_epoch()).count();
}

// Wall time to instant. info.first is the offset in force just before the wall time: for a
// skipped time that moves it forward by the gap, for a repeated one it is the earlier instant.
Micros resolve(const date::time_zone& zone, date::local_seconds local) {
  const date::local_info info = zone.get_info(local);
  return to_micros(date::sys_seconds{local.time_since_epoch() - info.first.offset});
}

// True if `zone`'s offset does not change from a day before local day `day` to a day after it,
// which covers the whole local day whatever the offset.
bool uniform_offset(const date::time_zone& zone, date::local_days day) {
  const date::sys_info info =
      zone.get_info(date::sys_days{(day - date::days{1}).time_since_epoch()});
  return info.end >= date::sys_days{(day + date::days{2}).time_since_epoch()};
}

}  // namespace

Result<Rule> parse_rrule(std::string_view text) {
  if (text.size() > kMaxRuleText) {
    return rrule_error("the rule is " + std::to_string(text.size()) + " bytes; at most " +
                       std::to_string(kMaxRuleText) + " are accepted");
  }
  std::string_view body = text;
  if (body.size() >= 6 && upper(body.substr(0, 6)) == "RRULE:") body.remove_prefix(6);
  while (!body.empty() && body.back() == ';') body.remove_suffix(1);
  if (body.empty()) return rrule_error("the rule is empty (expected e.g. FREQ=DAILY)");
  Rule rule;
  std::vector<std::string> seen;
  std::optional<std::string> freq;
  for (std::string_view part : split(body, ';')) {
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return rrule_error("part '" + std::string(part) + "' is not NAME=VALUE");
    }
    const std::string name = upper(part.substr(0, eq));
    const std::string_view raw = part.substr(eq + 1);
    const std::string value = upper(raw);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return rrule_error(name + " is given twice");
    }
    seen.push_back(name);
    if (name == "FREQ") {
      freq = value;
      if (value == "DAILY") {
        rule.frequency = Frequency::daily;
      } else if (value == "WEEKLY") {
        rule.frequency = Frequency::weekly;
      } else if (value == "MONTHLY") {
        rule.frequency = Frequency::monthly;
      } else {
        return rrule_error("FREQ '" + std::string(raw) +
                           "' is not supported (expected DAILY, WEEKLY or MONTHLY)");
      }
    } else if (name == "INTERVAL") {
      const auto n = to_int(value);
      if (!n || *n < 1 || *n > kMaxInterval) {
        return rrule_error("INTERVAL '" + std::string(raw) + "' is not a number in 1.." +
                           std::to_string(kMaxInterval));
      }
      rule.interval = *n;
    } else if (name == "BYDAY") {
      auto days = by_day_list(value);
      if (!days) return days.error();
      rule.by_day = std::move(*days);
    } else if (name == "BYMONTHDAY") {
      auto days = int_list(name, value, 1, 31, true);
      if (!days) return days.error();
      rule.by_month_day = std::move(*days);
    } else if (name == "BYHOUR") {
      auto hours = int_list(name, value, 0, 23, false);
      if (!hours) return hours.error();
      rule.by_hour = std::move(*hours);
    } else if (name == "BYMINUTE") {
      auto minutes = int_list(name, value, 0, 59, false);
      if (!minutes) return minutes.error();
      rule.by_minute = std::move(*minutes);
    } else if (name == "COUNT") {
      const auto n = to_int(value);
      if (!n || *n < 1 || static_cast<std::size_t>(*n) > kMaxCount) {
        return rrule_error("COUNT '" + std::string(raw) + "' is not a number in 1.." +
                           std::to_string(kMaxCount));
      }
      rule.count = static_cast<std::size_t>(*n);
    } else if (name == "UNTIL") {
      const auto d = to_date(value);
      if (!d) {
        return rrule_error("UNTIL '" + std::string(raw) +
                           "' is not a date YYYY-MM-DD or YYYYMMDD (a local date, inclusive)");
      }
      rule.until = *d;
    } else if (name == "EXDATE") {
      for (std::string_view item : split(value, ',')) {
        const auto d = to_date(item);
        if (!d) {
          return rrule_error("EXDATE '" + std::string(item) +
                             "' is not a date YYYY-MM-DD or YYYYMMDD");
        }
        rule.exdates.push_back(*d);
      }
      std::sort(rule.exdates.begin(), rule.exdates.end());
      rule.exdates.erase(std::unique(rule.exdates.begin(), rule.exdates.end()), rule.exdates.end());
      if (rule.exdates.size() > kMaxExdates) {
        return rrule_error("EXDATE lists " + std::to_string(rule.exdates.size()) +
                           " dates; at most " + std::to_string(kMaxExdates) + " are accepted");
      }
    } else if (name == "WKST") {
      if (value != "MO") {
        return rrule_error("WKST '" + std::string(raw) + "' is not supported (weeks start on MO)");
      }
    } else {
      return rrule_error(
          "part '" + name +
          "' is not supported (supported: FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYHOUR, BYMINUTE, "
          "COUNT, UNTIL, EXDATE, WKST=MO)");
    }
  }
  if (!freq) return rrule_error("FREQ is missing (expected DAILY, WEEKLY or MONTHLY)");
  if (rule.count && rule.until) return rrule_error("COUNT and UNTIL cannot both be given");
  if (!rule.by_month_day.empty() && rule.frequency != Frequency::monthly) {
    return rrule_error("BYMONTHDAY is only allowed with FREQ=MONTHLY");
  }
  if (rule.frequency != Frequency::monthly) {
    for (const ByDay& b : rule.by_day) {
      if (b.ordinal != 0) {
        return rrule_error("BYDAY '" + std::to_string(b.ordinal) +
                           kWeekdayNames[static_cast<std::size_t>(b.weekday)] +
                           "' has an ordinal, which is only allowed with FREQ=MONTHLY");
      }
    }
  }
  return rule;
}

Result<std::vector<Micros>> expand(const Rule& rule, std::string_view dtstart_local,
                                   std::string_view tz, Micros from_us, Micros to_us,
                                   std::size_t max) {
  auto start = parse_start(dtstart_local);
  if (!start) return start.error();
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(std::string(tz));
  } catch (const std::exception&) {
    return make_error("unknown time zone '" + std::string(tz) +
                      "' (expected an IANA name such as Asia/Ho_Chi_Minh)");
  }
  // A Rule may be built in code rather than parsed: check what the walk relies on.
  if (rule.interval < 1 || rule.interval > kMaxInterval) {
    return rrule_error("INTERVAL " + std::to_string(rule.interval) + " is not in 1.." +
                       std::to_string(kMaxInterval));
  }
  for (int h : rule.by_hour) {
    if (h < 0 || h > 23) return rrule_error("BYHOUR " + std::to_string(h) + " is not in 0..23");
  }
  for (int m : rule.by_minute) {
    if (m < 0 || m > 59) return rrule_error("BYMINUTE " + std::to_string(m) + " is not in 0..59");
  }
  for (int d : rule.by_month_day) {
    if (d == 0 || d > 31 || d < -31) {
      return rrule_error("BYMONTHDAY " + std::to_string(d) + " is not in 1..31 or -31..-1");
    }
  }
  for (const ByDay& b : rule.by_day) {
    if (b.ordinal > 5 || b.ordinal < -5) {
      return rrule_error("BYDAY ordinal " + std::to_string(b.ordinal) +
                         " is not in 1..5 or -5..-1");
    }
  }
  if (rule.count && *rule.count == 0) return rrule_error("COUNT 0 produces nothing");
  std::vector<LocalDate> exdates = rule.exdates;
  std::sort(exdates.begin(), exdates.end());

  // Times of day, ascending: BYHOUR x BYMINUTE, each defaulting to DTSTART's.
  const auto start_hms = date::hh_mm_ss<seconds>{start->time_of_day};
  std::vector<int> hours = rule.by_hour;
  if (hours.empty()) hours.push_back(static_cast<int>(start_hms.hours().count()));
  std::vector<int> minutes = rule.by_minute;
  if (minutes.empty()) minutes.push_back(static_cast<int>(start_hms.minutes().count()));
  std::vector<seconds> times;
  for (int h : hours) {
    for (int m : minutes) {
      times.push_back(std::chrono::hours{h} + std::chrono::minutes{m} + start_hms.seconds());
    }
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());

  const date::local_seconds first_local = start->day + start->time_of_day;
  // Last local date that can hold an instant before to_us (zone offsets stay within a day),
  // capped at year 9999.
  const Micros cap_us = to_micros(date::sys_days{date::year{9999} / 12 / 31});
  const Micros end_us = std::min(to_us, cap_us);
  const date::local_days end_day = date::floor<date::days>(date::local_seconds{
                                       std::chrono::floor<seconds>(microseconds{end_us})}) +
                                   date::days{2};
  // Days before this one cannot hold an instant at or after from_us; without COUNT their
  // instants need not be computed.
  const date::local_days skip_before = date::floor<date::days>(date::local_seconds{
                                           std::chrono::floor<seconds>(microseconds{from_us})}) -
                                       date::days{2};
  const date::local_days until_day =
      rule.until ? from_local_date(*rule.until) : date::local_days{date::year{9999} / 12 / 31};

  std::vector<Micros> out;
  std::size_t produced = 0;  // occurrences since DTSTART, for COUNT
  std::optional<date::local_days> last_hit;
  std::vector<Micros> day_instants;
  for (long k = 0;; ++k) {
    const date::local_days begin = period_begin(rule, start->day, k);
    const date::local_days barren_since = last_hit ? *last_hit : start->day;
    if (begin - barren_since > date::days{kBarrenDays}) break;
    if (last_hit && begin > end_day) break;
    if (begin > until_day) break;
    if (begin > date::local_days{date::year{9999} / 1 / 1}) break;
    for (const date::local_days day : period_dates(rule, start->day, k)) {
      if (day < start->day) continue;
      if (day > until_day) break;
      if (!rule.count && day < skip_before) {
        if (day > start->day || day + times.back() >= first_local) last_hit = day;
        continue;
      }
      const bool excluded = std::binary_search(exdates.begin(), exdates.end(), to_local_date(day));
      // A day that yields nothing (before the window, or excluded) is only counted. Where the
      // zone's offset is the same all day its times are distinct instants: one lookup per day
      // instead of one per time (COUNT over years of BYHOUR x BYMINUTE would cost seconds).
      if ((day < skip_before || excluded) && uniform_offset(*zone, day)) {
        const auto first = std::lower_bound(times.begin(), times.end(), first_local - day);
        const auto n = static_cast<std::size_t>(times.end() - first);
        if (n > 0) last_hit = day;
        produced += n;
        if (rule.count && produced >= *rule.count) return out;
        continue;
      }
      day_instants.clear();
      for (const seconds t : times) {
        const date::local_seconds local = day + t;
        if (local < first_local) continue;
        day_instants.push_back(resolve(*zone, local));
      }
      std::sort(day_instants.begin(), day_instants.end());
      day_instants.erase(std::unique(day_instants.begin(), day_instants.end()), day_instants.end());
      if (!day_instants.empty()) last_hit = day;
      for (const Micros instant : day_instants) {
        if (rule.count && produced >= *rule.count) return out;
        ++produced;
        if (excluded || instant < from_us || instant >= to_us) continue;
        if (out.size() >= max) return out;
        out.push_back(instant);
        if (out.size() >= max) return out;
      }
    }
    if (rule.count && produced >= *rule.count) break;
  }
  if (!last_hit) {
    return rrule_error("the rule produces no occurrence within 10 years of its start " +
                       std::string(dtstart_local) +
                       (rule.until ? " and before its UNTIL date" : ""));
  }
  return out;
}

}  // namespace loa::controller
