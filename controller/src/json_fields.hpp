// Field readers of the request decoders (json_requests.cpp). Each
// refuses a missing or mistyped field with a bad_request naming it, prefixed by `where`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "loa/controller/api_error.hpp"

namespace loa::controller {

// The longest string a request field may hold (an RRULE with a year of EXDATEs fits).
inline constexpr std::size_t kMaxJsonString = 8192;

ApiError field_error(const std::string& where, const std::string& field, const std::string& why);

// An optional string field ("" when absent or null), at most `max` bytes.
Reply<std::string> get_string(const nlohmann::json& j, const std::string& where,
                              const std::string& field, bool required,
                              std::size_t max = kMaxJsonString);

// An optional whole number in the signed 64-bit range, or its decimal digits as a string.
Reply<std::optional<std::int64_t>> get_int(const nlohmann::json& j, const std::string& where,
                                           const std::string& field, bool required);

}  // namespace loa::controller
