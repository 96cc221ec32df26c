// The HTTP API's JSON shapes (docs/api.md): records to JSON, request bodies from JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "loa/controller/accounts.hpp"
#include "loa/controller/api_error.hpp"
#include "loa/controller/controller.hpp"

namespace loa::controller {

nlohmann::json to_json(const NodeView& node);
nlohmann::json to_json(const BulletinRecord& bulletin);
nlohmann::json to_json(const OccurrenceRecord& occurrence);
nlohmann::json to_json(const CoverageCounts& counts);
nlohmann::json to_json(const CoverageReport& report);
nlohmann::json to_json(const LogEntry& entry);
nlohmann::json to_json(const SeriesRecord& series);
nlohmann::json to_json(const ScheduleResult& result);
nlohmann::json to_json(const RefusedEventRecord& refused);
nlohmann::json to_json(const ReportFigures& figures);
nlohmann::json to_json(const PeriodReport& report);
nlohmann::json to_json(const VerifyReport& report);
nlohmann::json to_json(const ApiError& error);  // {"error": {"code": ..., "message": ...}}

// Each refuses a missing or mistyped field with a bad_request naming it (prefixed by `where`).
Reply<NodeInput> node_input_from_json(const nlohmann::json& j, const std::string& where = "");
Reply<ScheduleRequest> schedule_request_from_json(const nlohmann::json& j);
// Refuses unknown fields (a typo must not silently change nothing).
Reply<ChangeRequest> change_request_from_json(const nlohmann::json& j);

// A new account as POST /api/v1/users gives it; the account store checks name, area and password.
struct UserInput {
  std::string name;
  Role role = Role::viewer;
  std::string area;
  std::string password;
};
// The administration bodies (docs/api.md "Accounts", "CAP"): each text field at most
// kMaxJsonString bytes; the account store and the controller check what the fields mean.
Reply<UserInput> user_input_from_json(const nlohmann::json& j);
// PATCH /api/v1/users/{name}: role, area, password, disabled; any other field is refused.
Reply<UserChange> user_change_from_json(const nlohmann::json& j);
// POST /api/v1/cap/geocodes: value_name, value and area, each a string.
Reply<CapGeocodeRecord> geocode_input_from_json(const nlohmann::json& j);

// The most rows one list answer holds (the `limit` of the log, refused log, audit, history and
// CAP lists); a larger `limit` is refused.
inline constexpr std::uint64_t kMaxPageSize = 10'000;

// A number of a query parameter (`what` names it): plain decimal digits within min..max, else a
// bad_request naming the parameter, the text and the range.
Reply<std::uint64_t> parse_count(std::string_view text, const std::string& what, std::uint64_t min,
                                 std::uint64_t max);

}  // namespace loa::controller
