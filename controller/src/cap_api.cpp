#include "loa/controller/cap_api.hpp"

#include "loa/http/server.hpp"

#include <charconv>

#include "loa/controller/json_body.hpp"
#include "loa/controller/json_codec.hpp"
#include "loa/controller/local_time.hpp"

namespace loa::controller {
namespace {

using nlohmann::json;

void send(http::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

void send_error(http::Response& res, const ApiError& e) {
  send(res, http_status(e.code), to_json(e));
}

json instant(Micros t) {
  return t == 0 ? json() : json(format_utc(t));
}

Reply<std::uint64_t> positive(const std::string& text, const std::string& what) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end || v == 0) {
    return api_error(ErrorCode::bad_request, what + ": '" + text + "' is not a positive number");
  }
  return v;
}

}  // namespace

json to_json(const CapAlertRecord& a) {
  json j{{"id", a.id},
         {"received", instant(a.received_us)},
         {"sender", a.sender},
         {"identifier", a.identifier},
         {"sent", a.sent},
         {"status", a.status},
         {"msg_type", a.msg_type},
         {"references", a.references},
         {"language", a.language},
         {"event", a.event},
         {"headline", a.headline},
         {"urgency", a.urgency},
         {"severity", a.severity},
         {"certainty", a.certainty},
         {"expires", instant(a.expires_us)},
         {"level", a.level},
         {"repeat_every_min", a.repeat_every_min},
         {"areas", a.areas},
         {"unmapped", a.unmapped},
         {"bulletin", a.bulletin_id == 0 ? json() : json(a.bulletin_id)},
         {"series", a.series_id == 0 ? json() : json(a.series_id)},
         {"occurrences", a.occurrences},
         {"outcome", a.outcome},
         {"reason", a.reason},
         {"closed", instant(a.closed_us)},
         {"closed_by", a.closed_by == 0 ? json() : json(a.closed_by)}};
  return j;
}

json to_json(const CapIngestResult& r) {
  json j = to_json(r.alert);
  j["duplicate"] = r.duplicate;
  j["cancelled_occurrences"] = r.cancelled;
  j["warnings"] = r.warnings;
  return j;
}

json to_json(const CapGeocodeRecord& g) {
  return json{{"value_name", g.value_name}, {"value", g.value}, {"area", g.area}};
}

void add_cap_routes(http::Server& server, Controller& controller) {
  server.Post(
      "/api/v1/cap",
      [&controller](const http::Request& req, http::Response& res) {
        auto r = controller.ingest_cap(req.body);
        if (!r) return send_error(res, r.error());
        send(res, r->alert.outcome == "scheduled" && !r->duplicate ? 201 : 200, to_json(*r));
      },
      http::Body::large);
  server.Get("/api/v1/cap", [&controller](const http::Request& req, http::Response& res) {
    std::size_t limit = 100;
    if (req.has_param("limit")) {
      auto n = parse_count(req.get_param_value("limit"), "limit", 1, kMaxPageSize);
      if (!n) return send_error(res, n.error());
      limit = static_cast<std::size_t>(*n);
    }
    auto list = controller.list_cap_alerts(limit);
    if (!list) return send_error(res, list.error());
    json out = json::array();
    for (const auto& a : *list) out.push_back(to_json(a));
    send(res, 200, json{{"alerts", out}});
  });
  server.Get("/api/v1/cap/geocodes", [&controller](const http::Request&, http::Response& res) {
    auto list = controller.list_cap_geocodes();
    if (!list) return send_error(res, list.error());
    json out = json::array();
    for (const auto& g : *list) out.push_back(to_json(g));
    send(res, 200, json{{"geocodes", out}});
  });
  server.Post("/api/v1/cap/geocodes", [&controller](const http::Request& req, http::Response& res) {
    auto parsed = parse_json_body(req.body);
    if (!parsed) return send_error(res, parsed.error());
    auto geocode = geocode_input_from_json(*parsed);
    if (!geocode) return send_error(res, geocode.error());
    auto r = controller.set_cap_geocode(*geocode);
    if (!r) return send_error(res, r.error());
    send(res, 200, to_json(*r));
  });
  server.Delete(R"(/api/v1/cap/geocodes/([^/]+)/([^/]+))",
                [&controller](const http::Request& req, http::Response& res) {
                  auto r = controller.remove_cap_geocode(req.matches[1], req.matches[2]);
                  if (!r) return send_error(res, r.error());
                  send(res, 200, to_json(*r));
                });
  server.Get(R"(/api/v1/cap/(\d+))", [&controller](const http::Request& req, http::Response& res) {
    auto id = positive(req.matches[1], "CAP alert");
    if (!id) return send_error(res, id.error());
    auto a = controller.get_cap_alert(*id);
    if (!a) return send_error(res, a.error());
    json j = to_json(*a);
    j["xml"] = a->xml;
    send(res, 200, j);
  });
}

}  // namespace loa::controller
