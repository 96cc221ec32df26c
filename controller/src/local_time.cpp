#include "loa/controller/local_time.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace loa::controller {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

// The longest text read: "YYYY-MM-DDTHH:MM:SS" with a fraction and a Z fits with room to spare.
// Longer text is refused without being echoed in the error.
constexpr std::size_t kMaxTimeText = 64;
// IANA names are at most 32 bytes ("America/Argentina/ComodRivadavia").
constexpr std::size_t kMaxZoneName = 64;
// Wall times are read in these years, and instants must fall before the end of the last one:
// format_utc() writes four-digit years only, and nothing before the epoch is scheduled.
constexpr int kMinYear = 1970;
constexpr int kMaxYear = 9999;

struct Fields {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::int64_t micros = 0;
  bool has_time = false;
  bool utc = false;
};

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

Error bad_time(std::string_view text, std::string_view why) {
  return make_error("time '" + std::string(text) + "': " + std::string(why) +
                    " (expected YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS)");
}

// Parses "YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]]][Z]".
Result<Fields> parse_fields(std::string_view text, bool allow_date_only, bool allow_fraction,
                            bool allow_z) {
  if (text.size() > kMaxTimeText) {
    return make_error("time: " + std::to_string(text.size()) + " bytes; at most " +
                      std::to_string(kMaxTimeText) +
                      " are read (expected YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS)");
  }
  Fields f;
  std::size_t pos = 0;
  int month = 0;
  int day = 0;
  if (!digits(text, pos, 4, f.year) || pos >= text.size() || text[pos++] != '-' ||
      !digits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !digits(text, pos, 2, day)) {
    return bad_time(text, "not a date");
  }
  f.month = static_cast<unsigned>(month);
  f.day = static_cast<unsigned>(day);
  const date::year_month_day ymd{date::year{f.year}, date::month{f.month}, date::day{f.day}};
  if (!ymd.ok()) return bad_time(text, "no such date");
  if (f.year < kMinYear || f.year > kMaxYear) {
    return bad_time(
        text, "the year is outside " + std::to_string(kMinYear) + ".." + std::to_string(kMaxYear));
  }
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
    ++pos;
    if (!digits(text, pos, 2, f.hour) || pos >= text.size() || text[pos++] != ':' ||
        !digits(text, pos, 2, f.minute)) {
      return bad_time(text, "not a time of day");
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!digits(text, pos, 2, f.second)) return bad_time(text, "bad seconds");
      if (allow_fraction && pos < text.size() && text[pos] == '.') {
        ++pos;
        std::int64_t scale = 100000;
        std::size_t n = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (scale > 0) f.micros += (text[pos] - '0') * scale;
          scale /= 10;
          ++pos;
          ++n;
        }
        if (n == 0) return bad_time(text, "bad fraction of a second");
      }
    }
    if (f.hour > 23 || f.minute > 59 || f.second > 59) return bad_time(text, "no such time of day");
    f.has_time = true;
  } else if (!allow_date_only) {
    return bad_time(text, "the time of day is missing");
  }
  if (allow_z && pos < text.size() && text[pos] == 'Z') {
    f.utc = true;
    ++pos;
  }
  if (pos != text.size())
    return bad_time(text, "unexpected text at character " + std::to_string(pos + 1));
  return f;
}

Result<const date::time_zone*> find_zone(std::string_view tz) {
  if (tz.empty()) return make_error("time zone is empty");
  if (tz.size() > kMaxZoneName) {
    return make_error("time zone: " + std::to_string(tz.size()) +
                      " bytes; an IANA name has at most " + std::to_string(kMaxZoneName));
  }
  try {
    return date::locate_zone(std::string(tz));
  } catch (const std::exception&) {
    return make_error("unknown time zone '" + std::string(tz) +
                      "' (expected an IANA name such as Asia/Ho_Chi_Minh)");
  }
}

date::local_seconds to_local(const Fields& f) {
  const date::local_days day{date::year{f.year} / date::month{f.month} / date::day{f.day}};
  return day + std::chrono::hours{f.hour} + std::chrono::minutes{f.minute} + seconds{f.second};
}

Micros to_micros(date::sys_seconds t) {
  return std::chrono::duration_cast<microseconds>(t.time_since_epoch()).count();
}

// The last instant format_utc() can write.
constexpr Micros kLastInstant =
    std::chrono::duration_cast<microseconds>(
        (date::sys_days{date::year{kMaxYear + 1} / 1 / 1} - seconds{1}).time_since_epoch())
        .count();

Result<Micros> within_years(std::string_view text, Micros t) {
  if (t > kLastInstant) {
    return make_error("time '" + std::string(text) + "' is after " + std::to_string(kMaxYear) +
                      "-12-31T23:59:59Z");
  }
  return t;
}

Result<Micros> resolve(std::string_view text, const Fields& f, std::string_view tz) {
  if (f.utc) {
    const date::sys_seconds t{to_local(f).time_since_epoch()};
    return within_years(text, to_micros(t) + f.micros);
  }
  auto zone = find_zone(tz);
  if (!zone) return zone.error();
  const date::local_seconds local = to_local(f);
  const date::local_info info = (*zone)->get_info(local);
  switch (info.result) {
    case date::local_info::unique:
      return within_years(
          text,
          to_micros(date::sys_seconds{local.time_since_epoch() - info.first.offset}) + f.micros);
    case date::local_info::nonexistent:
      return make_error("local time '" + std::string(text) + "' does not exist in " +
                        std::string(tz) + " (skipped by a daylight-saving change); pick another");
    case date::local_info::ambiguous:
      return make_error("local time '" + std::string(text) + "' is ambiguous in " +
                        std::string(tz) +
                        " (it occurs twice at a daylight-saving change); pick "
                        "another");
  }
  return make_error("local time '" + std::string(text) + "': unexpected zone information");
}

std::string format_with_offset(Micros t, seconds offset, bool utc) {
  const date::sys_seconds s{std::chrono::floor<seconds>(microseconds{t})};
  const date::local_seconds local{s.time_since_epoch() + offset};
  std::string out = date::format("%Y-%m-%dT%H:%M:%S", local);
  if (utc) return out + "Z";
  auto off = offset.count();
  const char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, static_cast<int>(off / 3600),
                static_cast<int>(off % 3600 / 60));
  return out + buf;
}

}  // namespace

Result<Micros> local_to_utc(std::string_view local, std::string_view tz) {
  auto f = parse_fields(local, false, false, false);
  if (!f) return f.error();
  return resolve(local, *f, tz);
}

Result<date::local_seconds> parse_local_time(std::string_view text) {
  auto f = parse_fields(text, false, false, false);
  if (!f) return f.error();
  return to_local(*f);
}

Result<Micros> parse_instant(std::string_view text, std::string_view tz) {
  auto f = parse_fields(text, true, true, true);
  if (!f) return f.error();
  return resolve(text, *f, tz);
}

loa::Status check_zone(std::string_view tz) {
  auto zone = find_zone(tz);
  if (!zone) return zone.error();
  return {};
}

std::string format_utc(Micros t) {
  return format_with_offset(t, seconds{0}, true);
}

std::string format_local(Micros t, std::string_view tz) {
  auto zone = find_zone(tz);
  if (!zone) return format_utc(t);
  const date::sys_seconds s{std::chrono::floor<seconds>(microseconds{t})};
  return format_with_offset(t, (*zone)->get_info(s).offset, false);
}

Result<Micros> parse_utc(std::string_view text) {
  auto f = parse_fields(text, true, true, true);
  if (!f) return f.error();
  if (!f->utc)
    return make_error("time '" + std::string(text) + "': expected a UTC time ending in Z");
  return resolve(text, *f, "UTC");
}

}  // namespace loa::controller
