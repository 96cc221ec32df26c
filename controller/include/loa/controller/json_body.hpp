// Request bodies in JSON. Every route that reads JSON parses it here: the nesting depth is
// checked by a flat scan before the parser builds a value, because copying, dumping and
// comparing a value recurse once per level (a body nested 300,000 deep would overflow the
// stack wherever the value is next touched).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "loa/controller/api_error.hpp"

namespace loa::controller {

inline constexpr std::size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, brackets inside strings not counted;
// counting stops at `stop_at` (so the scan is O(size) and allocates nothing). Not a validator.
std::size_t json_depth(std::string_view text, std::size_t stop_at);

// The body as JSON, or a bad_request naming what was wrong: "body: not valid JSON" or "body:
// JSON nested deeper than 64 levels".
Reply<nlohmann::json> parse_json_body(std::string_view body, std::size_t max_depth = kMaxJsonDepth);

}  // namespace loa::controller
