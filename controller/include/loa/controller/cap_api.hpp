// The CAP endpoints of the HTTP API (docs/api.md, docs/cap.md), added to the ApiServer's routes.
#pragma once

#include <nlohmann/json.hpp>

#include "loa/controller/controller.hpp"

namespace loa::http {
class Server;
}

namespace loa::controller {

nlohmann::json to_json(const CapAlertRecord& alert);
nlohmann::json to_json(const CapIngestResult& result);
nlohmann::json to_json(const CapGeocodeRecord& geocode);

// POST /api/v1/cap (the XML as the body), GET /api/v1/cap[?limit=N], GET /api/v1/cap/ID,
// GET/POST /api/v1/cap/geocodes, DELETE /api/v1/cap/geocodes/NAME/VALUE.
void add_cap_routes(http::Server& server, Controller& controller);

}  // namespace loa::controller
