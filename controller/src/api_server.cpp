#include "loa/controller/api_server.hpp"

#include <cstdio>

#include "loa/http/server.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "loa/controller/auth.hpp"
#include "loa/controller/cap_api.hpp"
#include "loa/controller/console.hpp"
#include "loa/controller/json_body.hpp"
#include "loa/controller/json_codec.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"

#ifndef LOA_VERSION
#define LOA_VERSION "dev"
#endif

namespace loa::controller {
namespace {

using nlohmann::json;
using runtime::Log;
using runtime::LogLevel;

constexpr const char* kJson = "application/json";
constexpr std::uint64_t kMaxOfflineAfterS = 366 * 24 * 3600;

void send_json(http::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", kJson);
}

void send_error(http::Response& res, const ApiError& e) {
  send_json(res, http_status(e.code), to_json(e));
}

template <typename T, typename Fn>
void reply(http::Response& res, const Reply<T>& r, int ok_status, Fn&& to_body) {
  if (!r) return send_error(res, r.error());
  send_json(res, ok_status, to_body(*r));
}

// A positive decimal id from a path or query parameter.
Reply<std::uint64_t> parse_id(const std::string& text, const std::string& what) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end || v == 0 ||
      v > static_cast<std::uint64_t>(INT64_MAX)) {
    return api_error(ErrorCode::bad_request, what + ": '" + text + "' is not an id");
  }
  return v;
}

Reply<json> parse_body(const http::Request& req) {
  return parse_json_body(req.body);
}

// The live request of POST /api/v1/live: targets (comma-separated), priority, chime (0/1),
// format s16le:RATE:CHANNELS, title.
Reply<LiveRequest> live_request_from_query(const http::Request& req) {
  LiveRequest r;
  const std::string targets = req.get_param_value("targets");
  std::size_t pos = 0;
  while (pos < targets.size()) {
    const auto comma = targets.find(',', pos);
    const std::string t = targets.substr(pos, comma == std::string::npos ? comma : comma - pos);
    if (!t.empty()) r.targets.push_back(t);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (req.has_param("priority")) r.priority = req.get_param_value("priority");
  if (req.has_param("chime")) {
    const std::string c = req.get_param_value("chime");
    if (c != "0" && c != "1") {
      return api_error(ErrorCode::bad_request, "chime: '" + c + "' is not 0 or 1");
    }
    r.chime = c == "1";
  }
  r.title = req.get_param_value("title");
  const std::string format =
      req.has_param("format") ? req.get_param_value("format") : std::string("s16le:48000:1");
  unsigned rate = 0;
  unsigned channels = 0;
  char tail = 0;
  if (std::sscanf(format.c_str(), "s16le:%u:%u%c", &rate, &channels, &tail) != 2 || channels == 0 ||
      channels > 8 || rate == 0) {
    return api_error(ErrorCode::bad_request,
                     "format: '" + format + "' is not s16le:RATE:CHANNELS (channels 1..8)");
  }
  r.rate = rate;
  r.channels = static_cast<std::uint8_t>(channels);
  return r;
}

}  // namespace

struct ApiServer::Impl {
  Controller& controller;
  Access* access;  // null: every caller trusted (in-process tests)
  http::Server server;
  int port = 0;

  Impl(Controller& c, const http::Limits& limits, Access* a)
      : controller(c), access(a), server(limits) {
    if (access) access->attach(server);
    routes();
  }

  // The caller's area (issue 7): checks of what the body targets, and read filters.
  std::optional<ApiError> denied_targets(const std::vector<std::string>& targets) {
    return access ? access->check_targets(targets) : std::nullopt;
  }
  std::optional<ApiError> denied_area(const std::string& area, const std::string& what) {
    return access ? access->check_area(area, what) : std::nullopt;
  }
  std::optional<ApiError> denied_nodes(const std::vector<std::string>& ids) {
    return access ? access->check_nodes(ids) : std::nullopt;
  }
  bool sees(const std::string& area) { return !access || access->sees(area); }
  Reply<std::string> narrow(const std::string& area) {
    return access ? access->narrow_area(area) : Reply<std::string>(area);
  }

  void routes() {
    server.set_error_handler([](const http::Request& req, http::Response& res) {
      if (!res.body.empty()) return;
      const ErrorCode code = res.status == 404   ? ErrorCode::not_found
                             : res.status == 413 ? ErrorCode::bad_request
                             : res.status >= 500 ? ErrorCode::internal
                                                 : ErrorCode::bad_request;
      const int status = res.status;
      send_error(res, api_error(code, !res.reason.empty() ? res.reason
                                      : res.status == 404
                                          ? "no such endpoint: " + req.method + " " + req.path
                                          : "HTTP " + std::to_string(res.status)));
      res.status = status;
    });
    server.set_exception_handler(
        [](const http::Request& req, http::Response& res, std::exception_ptr ep) {
          std::string what = "unexpected error";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          Log(LogLevel::error, "controller").kv("path", req.path).kv("reason", what)
              << "API handler failed";
          send_error(res, api_error(ErrorCode::internal, what));
        });
    server.set_logger([](const http::Request& req, const http::Response& res) {
      Log(LogLevel::debug, "controller")
              .kv("method", req.method)
              .kv("path", req.path)
              .kv("status", res.status)
          << "API request";
    });

    server.Get("/api/v1/health", [this](const http::Request&, http::Response& res) {
      send_json(res, 200,
                json{{"status", "ok"},
                     {"version", LOA_VERSION},
                     {"time", format_utc(controller.now_us())},
                     {"public_key", runtime::to_hex(protocol::ByteView(controller.public_key()))}});
    });

    // Nodes.
    server.Get("/api/v1/nodes", [this](const http::Request&, http::Response& res) {
      reply(res, controller.list_nodes(), 200, [this](const std::vector<NodeView>& nodes) {
        json list = json::array();
        for (const auto& n : nodes) {
          if (sees(n.record.area)) list.push_back(to_json(n));
        }
        return json{{"nodes", list}};
      });
    });
    server.Post("/api/v1/nodes", [this](const http::Request& req, http::Response& res) {
      auto body = parse_body(req);
      if (!body) return send_error(res, body.error());
      auto input = node_input_from_json(*body);
      if (!input) return send_error(res, input.error());
      if (auto denied = denied_area(input->area, "area")) return send_error(res, *denied);
      reply(res, controller.add_node(*input), 201, [](const NodeView& n) { return to_json(n); });
    });
    server.Post(
        "/api/v1/nodes/import",
        [this](const http::Request& req, http::Response& res) {
          auto body = parse_body(req);
          if (!body) return send_error(res, body.error());
          const auto nodes = body->find("nodes");
          if (!body->is_object() || nodes == body->end() || !nodes->is_array()) {
            return send_error(res, api_error(ErrorCode::bad_request, "nodes: must be an array"));
          }
          std::vector<NodeInput> inputs;
          for (std::size_t i = 0; i < nodes->size(); ++i) {
            auto in = node_input_from_json((*nodes)[i], "nodes[" + std::to_string(i) + "]: ");
            if (!in) return send_error(res, in.error());
            if (auto denied = denied_area(in->area, "nodes[" + std::to_string(i) + "].area")) {
              return send_error(res, *denied);
            }
            inputs.push_back(std::move(*in));
          }
          // A node that exists is changed only by a caller whose area holds it where it is as
          // well as where it goes.
          const auto allow = [this](const NodeRecord* existing, const NodeRecord& incoming) {
            if (existing) {
              if (auto denied =
                      denied_area(existing->area, "node '" + existing->id + "' (where it is)")) {
                return denied;
              }
            }
            return denied_area(incoming.area, "area");
          };
          reply(res, controller.import_nodes(inputs, allow), 200, [](std::size_t n) {
            return json{{"imported", n}};
          });
        },
        http::Body::large);  // a province's nodes at once: one upload
    server.Get(R"(/api/v1/nodes/([^/]+))", [this](const http::Request& req, http::Response& res) {
      reply(res, controller.get_node(req.matches[1]), 200,
            [](const NodeView& n) { return to_json(n); });
    });

    // Bulletins.
    server.Get("/api/v1/bulletins", [this](const http::Request&, http::Response& res) {
      reply(res, controller.list_bulletins(), 200, [](const std::vector<BulletinRecord>& list) {
        json out = json::array();
        for (const auto& b : list) out.push_back(to_json(b));
        return json{{"bulletins", out}};
      });
    });
    server.Post(
        "/api/v1/bulletins",
        [this](const http::Request& req, http::Response& res) {
          const std::string type = req.get_header_value("Content-Type");
          if (type.rfind(kJson, 0) == 0) {
            auto body = parse_body(req);
            if (!body) return send_error(res, body.error());
            if (!body->is_object()) {
              return send_error(res, api_error(ErrorCode::bad_request, "expected a JSON object"));
            }
            const std::string title = body->value("title", "");
            const std::string text = body->value("text", "");
            const std::string voice = body->value("voice", "vi");
            return reply(res, controller.create_bulletin_from_text(title, text, voice), 201,
                         [](const BulletinRecord& b) { return to_json(b); });
          }
          const std::string title = req.get_param_value("title");
          const protocol::ByteView audio(reinterpret_cast<const std::uint8_t*>(req.body.data()),
                                         req.body.size());
          reply(res, controller.create_bulletin_from_audio(title, audio), 201,
                [](const BulletinRecord& b) { return to_json(b); });
        },
        http::Body::large);
    server.Get(R"(/api/v1/bulletins/([^/]+))",
               [this](const http::Request& req, http::Response& res) {
                 auto id = parse_id(req.matches[1], "bulletin");
                 if (!id) return send_error(res, id.error());
                 reply(res, controller.get_bulletin(*id), 200,
                       [](const BulletinRecord& b) { return to_json(b); });
               });
    server.Get(R"(/api/v1/bulletins/([^/]+)/audio)",
               [this](const http::Request& req, http::Response& res) {
                 auto id = parse_id(req.matches[1], "bulletin");
                 if (!id) return send_error(res, id.error());
                 auto bytes = controller.bulletin_audio(*id);
                 if (!bytes) return send_error(res, bytes.error());
                 res.status = 200;
                 res.set_content(std::string(bytes->begin(), bytes->end()), "audio/ogg");
               });

    // Occurrences.
    // A live broadcast (docs/api.md): the body is the PCM, streamed (chunked), in the format of
    // the query; the stream ends on every node when the body ends or the client goes away.
    server.Post("/api/v1/live", [this](const http::Request& req, http::Response& res,
                                       const http::ContentReader& content) {
      auto request = live_request_from_query(req);
      if (!request) return send_error(res, request.error());
      auto session = controller.start_live(*request);
      if (!session) return send_error(res, session.error());
      std::string failure;
      const bool complete = content([&](const char* data, std::size_t size) {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
        if (loa::Status s = (*session)->push_s16le(protocol::ByteView(bytes, size)); !s) {
          failure = s.message();
          return false;
        }
        return true;
      });
      const LiveSummary summary =
          (*session)->finish(!failure.empty() ? "encoder: " + failure
                             : complete       ? std::string("end of source")
                                              : std::string("client disconnected"));
      send_json(res, 200,
                json{{"bulletin_id", summary.bulletin_id},
                     {"occurrence_id", summary.occurrence_id},
                     {"start", format_utc(summary.start_us)},
                     {"start_us", summary.start_us},
                     {"end", format_utc(summary.end_us)},
                     {"duration_s", summary.duration_s},
                     {"chunks", summary.chunks},
                     {"packets", summary.packets},
                     {"cpu_s", summary.cpu_s},
                     {"ended_by", summary.ended_by},
                     {"archived", summary.archive_error.empty()},
                     {"archive_error", summary.archive_error}});
    });
    server.Post("/api/v1/occurrences", [this](const http::Request& req, http::Response& res) {
      auto body = parse_body(req);
      if (!body) return send_error(res, body.error());
      auto request = schedule_request_from_json(*body);
      if (!request) return send_error(res, request.error());
      if (auto denied = denied_targets(request->targets)) return send_error(res, *denied);
      auto result = controller.submit(*request);
      if (!result) return send_error(res, result.error());
      if (!request->dry_run && !result->series && result->occurrences.size() == 1) {
        // A single occurrence: its record, as before, with the conflicts it causes.
        json j = to_json(result->occurrences.front());
        j["warnings"] = result->warnings;
        return send_json(res, 201, j);
      }
      send_json(res, request->dry_run ? 200 : 201, to_json(*result));
    });
    server.Post(R"(/api/v1/occurrences/([^/]+)/cancel)",
                [this](const http::Request& req, http::Response& res) {
                  auto id = parse_id(req.matches[1], "occurrence");
                  if (!id) return send_error(res, id.error());
                  reply(res, controller.cancel_occurrence(*id), 200,
                        [](const OccurrenceRecord& o) { return to_json(o); });
                });
    server.Patch(
        R"(/api/v1/occurrences/([^/]+))", [this](const http::Request& req, http::Response& res) {
          auto id = parse_id(req.matches[1], "occurrence");
          if (!id) return send_error(res, id.error());
          auto body = parse_body(req);
          if (!body) return send_error(res, body.error());
          auto change = change_request_from_json(*body);
          if (!change) return send_error(res, change.error());
          if (auto denied = denied_targets(change->targets.value_or(std::vector<std::string>{}))) {
            return send_error(res, *denied);
          }
          reply(res, controller.change_occurrence(*id, *change), 200,
                [](const OccurrenceRecord& o) { return to_json(o); });
        });
    // Approval and groups.
    server.Get("/api/v1/areas/approval", [this](const http::Request&, http::Response& res) {
      reply(res, controller.approval_areas(), 200, [](const std::vector<std::string>& areas) {
        return json{{"required", areas}};
      });
    });
    server.Post("/api/v1/areas/approval", [this](const http::Request& req, http::Response& res) {
      auto body = parse_body(req);
      if (!body) return send_error(res, body.error());
      if (!body->is_object() || !body->value("area", json()).is_string() ||
          !body->value("approval", json()).is_string()) {
        return send_error(
            res, api_error(ErrorCode::bad_request, "area, approval: both must be strings"));
      }
      const std::string area = (*body)["area"];
      if (auto denied = denied_area(area, "area")) return send_error(res, *denied);
      reply(res, controller.set_area_approval(area, (*body)["approval"]), 200,
            [&](const std::string& a) {
              return json{{"area", area}, {"approval", a}};
            });
    });
    server.Get("/api/v1/approvals", [this](const http::Request&, http::Response& res) {
      reply(res, controller.list_approvals(), 200, [this](const std::vector<ApprovalItem>& list) {
        json out = json::array();
        for (const auto& a : list) {
          if (!sees(a.area)) continue;
          out.push_back(json{{"occurrence", a.occurrence_id},
                             {"bulletin", a.bulletin_id},
                             {"area", a.area},
                             {"start", format_utc(a.start_us)},
                             {"start_local", format_local(a.start_us, a.tz)},
                             {"expiry", format_utc(a.expiry_us)},
                             {"nodes", a.nodes}});
        }
        return json{{"approvals", out}};
      });
    });
    for (const std::string verb : {"approve", "reject"}) {
      server.Post("/api/v1/approvals/" + verb, [this, verb](const http::Request& req,
                                                            http::Response& res) {
        auto body = parse_body(req);
        if (!body) return send_error(res, body.error());
        const json occ = body->is_object() ? body->value("occurrence", json()) : json();
        const json area = body->is_object() ? body->value("area", json()) : json();
        if (!occ.is_number_unsigned() || occ.get<std::uint64_t>() == 0) {
          return send_error(
              res, api_error(ErrorCode::bad_request, "occurrence: must be an occurrence id"));
        }
        if (!area.is_string()) {
          return send_error(res, api_error(ErrorCode::bad_request, "area: must be an area path"));
        }
        if (auto denied = denied_area(area, "area")) return send_error(res, *denied);
        reply(res, controller.decide_approval(occ.get<std::uint64_t>(), area, verb == "approve"),
              200, [](const OccurrenceRecord& o) { return to_json(o); });
      });
    }
    server.Get("/api/v1/groups", [this](const http::Request&, http::Response& res) {
      reply(res, controller.list_groups(), 200,
            [](const std::vector<std::pair<std::string, std::string>>& rows) {
              json groups = json::object();
              for (const auto& [name, node] : rows) groups[name].push_back(node);
              return json{{"groups", groups}};
            });
    });
    server.Post(R"(/api/v1/groups/([^/]+))", [this](const http::Request& req, http::Response& res) {
      auto body = parse_body(req);
      if (!body) return send_error(res, body.error());
      const bool add = body->is_object() && body->contains("add");
      const json list = body->is_object() ? body->value(add ? "add" : "remove", json()) : json();
      if (!list.is_array()) {
        return send_error(
            res, api_error(ErrorCode::bad_request, "add or remove: must be an array of node ids"));
      }
      std::vector<std::string> ids;
      for (const auto& id : list) {
        if (!id.is_string()) {
          return send_error(
              res, api_error(ErrorCode::bad_request, "add or remove: node ids are strings"));
        }
        ids.push_back(id);
      }
      const std::string name = req.matches[1];
      // The group as it is (every member) and the nodes given must lie in the caller's area.
      if (auto denied = denied_targets({"group:" + name})) return send_error(res, *denied);
      if (auto denied = denied_nodes(ids)) return send_error(res, *denied);
      reply(res, add ? controller.add_to_group(name, ids) : controller.remove_from_group(name, ids),
            200, [&](const std::vector<std::string>& members) {
              return json{{"name", name}, {"nodes", members}};
            });
    });
    server.Get(R"(/api/v1/series/([^/]+))", [this](const http::Request& req, http::Response& res) {
      auto id = parse_id(req.matches[1], "series");
      if (!id) return send_error(res, id.error());
      reply(res, controller.get_series(*id), 200, [](const SeriesRecord& r) { return to_json(r); });
    });
    server.Post(R"(/api/v1/series/([^/]+)/cancel)",
                [this](const http::Request& req, http::Response& res) {
                  auto id = parse_id(req.matches[1], "series");
                  if (!id) return send_error(res, id.error());
                  reply(res, controller.cancel_series(*id), 200, [](const SeriesCancel& c) {
                    json j = to_json(c.series);
                    j["cancelled_occurrences"] = c.cancelled;
                    return j;
                  });
                });
    server.Get("/api/v1/occurrences", [this](const http::Request& req, http::Response& res) {
      Micros since = controller.now_us();
      if (req.has_param("since")) {
        auto t = parse_instant(req.get_param_value("since"), controller.settings().tz);
        if (!t)
          return send_error(res, api_error(ErrorCode::bad_request, "since: " + t.error().message));
        since = *t;
      }
      reply(res, controller.list_occurrences(since), 200,
            [this](const std::vector<OccurrenceRecord>& list) {
              json out = json::array();
              for (const auto& o : list) {
                const bool seen =
                    std::any_of(o.nodes.begin(), o.nodes.end(),
                                [this](const TargetedNode& n) { return sees(n.area); });
                if (seen) out.push_back(to_json(o));
              }
              return json{{"occurrences", out}};
            });
    });
    server.Get(R"(/api/v1/occurrences/([^/]+))",
               [this](const http::Request& req, http::Response& res) {
                 auto id = parse_id(req.matches[1], "occurrence");
                 if (!id) return send_error(res, id.error());
                 reply(res, controller.get_occurrence(*id), 200,
                       [](const OccurrenceRecord& o) { return to_json(o); });
               });

    // Ledger.
    server.Get("/api/v1/coverage", [this](const http::Request& req, http::Response& res) {
      std::uint64_t bulletin = 0;
      std::uint64_t occurrence = 0;
      if (req.has_param("bulletin")) {
        auto id = parse_id(req.get_param_value("bulletin"), "bulletin");
        if (!id) return send_error(res, id.error());
        bulletin = *id;
      }
      if (req.has_param("occurrence")) {
        auto id = parse_id(req.get_param_value("occurrence"), "occurrence");
        if (!id) return send_error(res, id.error());
        occurrence = *id;
      }
      const std::string by = req.get_param_value("by");
      if (!by.empty() && by != "area") {
        return send_error(res, api_error(ErrorCode::bad_request,
                                         "by: '" + by + "' is not supported (expected area)"));
      }
      // A scoped caller sees the rows of its area and their sum.
      const bool scoped = !sees("");
      reply(res, controller.coverage(bulletin, occurrence, by == "area" || scoped), 200,
            [&](CoverageReport r) {
              if (scoped) {
                std::erase_if(r.rows, [this](const CoverageRow& row) { return !sees(row.area); });
                r.total = CoverageCounts{};
                for (const auto& row : r.rows) r.total += row.counts;
                if (by != "area") r.rows.clear();
              }
              return to_json(r);
            });
    });
    server.Get("/api/v1/log", [this](const http::Request& req, http::Response& res) {
      LogQuery q;
      q.node_id = req.get_param_value("node");
      auto area = narrow(req.get_param_value("area"));
      if (!area) return send_error(res, area.error());
      q.area = *area;
      q.since = req.get_param_value("since");
      if (req.has_param("bulletin")) {
        auto id = parse_id(req.get_param_value("bulletin"), "bulletin");
        if (!id) return send_error(res, id.error());
        q.bulletin_id = *id;
      }
      if (req.has_param("occurrence")) {
        auto id = parse_id(req.get_param_value("occurrence"), "occurrence");
        if (!id) return send_error(res, id.error());
        q.occurrence_id = *id;
      }
      if (req.has_param("limit")) {
        auto n = parse_count(req.get_param_value("limit"), "limit", 1, kMaxPageSize);
        if (!n) return send_error(res, n.error());
        q.limit = static_cast<std::size_t>(*n);
      }
      reply(res, controller.playback_log(q), 200, [](const std::vector<LogEntry>& list) {
        json out = json::array();
        for (const auto& e : list) out.push_back(to_json(e));
        return json{{"events", out}};
      });
    });
    ledger_routes();
    health_routes();
    add_cap_routes(server, controller);
  }

  // Issue 6: node health, a node's status history, signed remote control.
  void health_routes() {
    server.Get("/api/v1/health/nodes", [this](const http::Request& req, http::Response& res) {
      Micros offline_after = 300'000'000;
      if (req.has_param("offline_after_s")) {
        auto s = parse_count(req.get_param_value("offline_after_s"), "offline_after_s", 1,
                             kMaxOfflineAfterS);
        if (!s) return send_error(res, s.error());
        offline_after = static_cast<Micros>(*s) * 1'000'000;
      }
      reply(res, controller.node_health(offline_after), 200, [this](HealthReport r) {
        std::set<std::string> hidden;
        for (const auto& n : r.nodes) {
          if (!sees(n.record.area)) hidden.insert(n.record.id);
        }
        std::erase_if(r.nodes, [&](const NodeHealth& n) { return hidden.count(n.record.id); });
        std::erase_if(r.offline, [&](const std::string& id) { return hidden.count(id); });
        std::erase_if(r.silent, [&](const SilentNode& s) { return hidden.count(s.node_id); });
        return to_json(r);
      });
    });
    server.Get(R"(/api/v1/nodes/([^/]+)/history)",
               [this](const http::Request& req, http::Response& res) {
                 std::size_t limit = 100;
                 if (req.has_param("limit")) {
                   auto n = parse_count(req.get_param_value("limit"), "limit", 1, kMaxPageSize);
                   if (!n) return send_error(res, n.error());
                   limit = static_cast<std::size_t>(*n);
                 }
                 reply(res, controller.node_history(req.matches[1], limit), 200,
                       [](const std::vector<NodeStatusRecord>& list) {
                         json out = json::array();
                         for (const auto& s : list) out.push_back(to_json(s));
                         return json{{"statuses", out}};
                       });
               });
    server.Post("/api/v1/control", [this](const http::Request& req, http::Response& res) {
      auto body = parse_body(req);
      if (!body) return send_error(res, body.error());
      NodeControlRequest r;
      try {
        r.command = body->value("command", "");
        r.value = body->value("value", std::int64_t{0});
        r.area = body->value("area", "");
        if (body->contains("nodes")) r.node_ids = body->at("nodes").get<std::vector<std::string>>();
      } catch (const json::exception&) {
        return send_error(res, api_error(ErrorCode::bad_request,
                                         "body: command (text), value (integer), nodes (list of "
                                         "ids) or area (text)"));
      }
      if (auto denied = denied_nodes(r.node_ids)) return send_error(res, *denied);
      if (!r.area.empty()) {
        if (auto denied = denied_area(r.area, "area")) return send_error(res, *denied);
      }
      reply(res, controller.send_node_control(r), 200,
            [](const NodeControlResult& c) { return to_json(c); });
    });
  }

  // Issue 9: refused events, decommissioning, period reports and their verification.
  void ledger_routes() {
    server.Get("/api/v1/log/refused", [this](const http::Request& req, http::Response& res) {
      RefusedQuery q;
      q.node_id = req.get_param_value("node");
      q.reason = req.get_param_value("reason");
      q.since = req.get_param_value("since");
      if (req.has_param("limit")) {
        auto n = parse_count(req.get_param_value("limit"), "limit", 1, kMaxRefusedPage);
        if (!n) return send_error(res, n.error());
        q.limit = static_cast<std::size_t>(*n);
      }
      if (req.has_param("after")) {
        auto n = parse_id(req.get_param_value("after"), "after");
        if (!n) return send_error(res, n.error());
        q.after = *n;
      }
      std::map<std::string, std::string> areas;  // node -> area, for a scoped caller's filter
      if (!sees("")) {
        auto nodes = controller.list_nodes();
        if (!nodes) return send_error(res, nodes.error());
        for (const auto& n : *nodes) areas[n.record.id] = n.record.area;
      }
      reply(res, controller.refused_log(q), 200, [&](const std::vector<RefusedEventRecord>& list) {
        json out = json::array();
        for (const auto& r : list) {
          if (areas.empty() || (areas.count(r.node_id) && sees(areas[r.node_id]))) {
            out.push_back(to_json(r));
          }
        }
        // A full page may have more after it (rows outside a scoped caller's area count too).
        const bool full = !list.empty() && list.size() == q.limit;
        return json{{"refused", out}, {"next", full ? json(list.back().id) : json(nullptr)}};
      });
    });
    server.Post(R"(/api/v1/nodes/([^/]+)/decommission)",
                [this](const http::Request& req, http::Response& res) {
                  reply(res, controller.decommission_node(req.matches[1]), 200,
                        [](const NodeView& n) { return to_json(n); });
                });
    const auto period_query = [](const http::Request& req) {
      PeriodQuery q;
      q.period.from = req.get_param_value("from");
      q.period.to = req.get_param_value("to");
      q.period.month = req.get_param_value("month");
      q.period.quarter = req.get_param_value("quarter");
      q.period.year = req.get_param_value("year");
      q.area = req.get_param_value("area");
      q.by = req.get_param_value("by");
      return q;
    };
    server.Get("/api/v1/reports/period",
               [this, period_query](const http::Request& req, http::Response& res) {
                 PeriodQuery q = period_query(req);
                 auto area = narrow(q.area);
                 if (!area) return send_error(res, area.error());
                 q.area = *area;
                 reply(res, controller.period_report(q), 200,
                       [](const PeriodReport& r) { return to_json(r); });
               });
    server.Get("/api/v1/reports/verify",
               [this, period_query](const http::Request& req, http::Response& res) {
                 reply(res, controller.verify_report(period_query(req)), 200,
                       [](const VerifyReport& r) { return to_json(r); });
               });
    // The web console, its TTS preview and live sessions.
    register_console(server, controller,
                     [this](const std::vector<std::string>& t) { return denied_targets(t); });
  }
};

ApiServer::ApiServer(Controller& controller, std::size_t max_upload_bytes, Access* access)
    : ApiServer(controller, upload_limits(max_upload_bytes), access) {}

ApiServer::ApiServer(Controller& controller, const http::Limits& limits, Access* access)
    : impl_(std::make_unique<Impl>(controller, limits, access)) {}

ApiServer::~ApiServer() {
  stop();
}

Result<int> ApiServer::bind(const std::string& host, int port) {
  auto bound = impl_->server.bind(host, port);
  if (bound) impl_->port = *bound;
  return bound;
}

void ApiServer::start() {
  impl_->server.start();
}

void ApiServer::stop() {
  impl_->server.stop();
}

http::Limits upload_limits(std::size_t max_upload_bytes) {
  http::Limits l;
  l.max_upload_bytes = max_upload_bytes;
  return l;
}

Result<http::Limits> http_limits(const ControllerConfig& c) {
  const auto in = [](std::int64_t v, std::int64_t lo, std::int64_t hi) {
    return v >= lo && v <= hi;
  };
  const auto out = [](const char* key, std::int64_t v, const char* range) {
    return make_error(std::string(key) + ": " + std::to_string(v) + " is outside " + range);
  };
  if (!in(c.max_upload_mb, 1, 4096)) return out("max-upload-mb", c.max_upload_mb, "1..4096");
  if (!in(c.http_max_body_kb, 1, 65536))
    return out("http-max-body-kb", c.http_max_body_kb, "1..65536");
  if (!in(c.http_max_header_kb, 1, 1024)) {
    return out("http-max-header-kb", c.http_max_header_kb, "1..1024");
  }
  if (!in(c.http_max_headers, 1, 10000))
    return out("http-max-headers", c.http_max_headers, "1..10000");
  if (!in(c.http_max_connections, 1, 10000)) {
    return out("http-max-connections", c.http_max_connections, "1..10000");
  }
  if (!in(c.http_max_connections_per_address, 1, 10000)) {
    return out("http-max-connections-per-address", c.http_max_connections_per_address, "1..10000");
  }
  if (!in(c.http_header_timeout_s, 1, 3600)) {
    return out("http-header-timeout-s", c.http_header_timeout_s, "1..3600");
  }
  if (!in(c.http_body_idle_timeout_s, 1, 3600)) {
    return out("http-body-idle-timeout-s", c.http_body_idle_timeout_s, "1..3600");
  }
  if (!in(c.http_min_body_rate, 1, 1 << 30)) {
    return out("http-min-body-rate", c.http_min_body_rate, "1..1073741824");
  }
  if (!in(c.http_keep_alive_s, 1, 3600))
    return out("http-keep-alive-s", c.http_keep_alive_s, "1..3600");
  http::Limits l;
  l.max_upload_bytes = static_cast<std::size_t>(c.max_upload_mb) << 20;
  l.max_body_bytes = static_cast<std::size_t>(c.http_max_body_kb) << 10;
  l.max_header_bytes = static_cast<std::size_t>(c.http_max_header_kb) << 10;
  l.max_header_count = static_cast<std::size_t>(c.http_max_headers);
  l.max_connections = static_cast<std::size_t>(c.http_max_connections);
  l.max_connections_per_address = static_cast<std::size_t>(c.http_max_connections_per_address);
  l.header_timeout = std::chrono::seconds(c.http_header_timeout_s);
  l.body_idle_timeout = std::chrono::seconds(c.http_body_idle_timeout_s);
  l.min_body_rate = static_cast<std::size_t>(c.http_min_body_rate);
  l.keep_alive_timeout = std::chrono::seconds(c.http_keep_alive_s);
  return l;
}

Result<std::pair<std::string, int>> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return make_error("listen '" + text + "': expected HOST:PORT");
  }
  int port = -1;
  const std::string p = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || port < 0 || port > 65535) {
    return make_error("listen '" + text + "': bad port '" + p + "'");
  }
  return std::make_pair(text.substr(0, colon), port);
}

}  // namespace loa::controller
