// The HTTP API's JSON shapes (docs/api.md): records to JSON, request bodies from JSON.
#pragma once

#include <nlohmann/json.hpp>

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

}  // namespace loa::controller
