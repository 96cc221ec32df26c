// Wall-clock times in IANA zones, and instants as text. Instants are stored in UTC; operators
// write local wall time. Every parser here reads text from requests and is bounded: at most 64
// bytes of time text and of zone name (longer is refused by its length, not echoed), years
// 1970..9999, and instants no later than 9999-12-31T23:59:59Z (what format_utc can write).
#pragma once

#include <date/date.h>

#include <string>
#include <string_view>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::controller {

using protocol::Micros;

// Reads "YYYY-MM-DDTHH:MM[:SS]" (or with a space for the T) as a wall time in no zone yet.
// The error names the text and what is wrong with it.
Result<date::local_seconds> parse_local_time(std::string_view text);

// Converts "YYYY-MM-DDTHH:MM[:SS]" read as wall time in `tz` to an instant. Refuses a malformed
// text, an unknown zone, and local times that do not exist (skipped by a daylight-saving jump) or
// are ambiguous (repeated), with a message naming the time and zone.
Result<Micros> local_to_utc(std::string_view local, std::string_view tz);

// Reads an instant for filters: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" as wall time in `tz`, or
// either form followed by 'Z' as UTC.
Result<Micros> parse_instant(std::string_view text, std::string_view tz);

// True if `tz` names a zone of the tz database.
loa::Status check_zone(std::string_view tz);

// "2026-11-30T23:30:00Z" (seconds; fractions dropped).
std::string format_utc(Micros t);
// "2026-12-01T06:30:00+07:00" in `tz` (falls back to UTC if the zone is unknown).
std::string format_local(Micros t, std::string_view tz);
// Parses format_utc()'s output (and fractions of a second). For clients of the API.
Result<Micros> parse_utc(std::string_view text);

}  // namespace loa::controller
