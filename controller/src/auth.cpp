#include "loa/controller/auth.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loa/http/server.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "loa/controller/auth_header.hpp"
#include "loa/controller/json_body.hpp"
#include "loa/controller/json_codec.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

using nlohmann::json;

constexpr const char* kCookie = "loa_session";
constexpr const char* kCsrfHeader = "X-CSRF-Token";

// The caller of the request this thread is handling (set by the pre-routing check, which
// loa::http runs on the thread that then runs the route's handler and the post-routing audit).
// They describe the request t_request only: a request the check never saw (one the server
// refused before routing) is audited without them.
thread_local std::uint64_t t_request = 0;
thread_local std::optional<Principal> t_principal;
thread_local std::string t_login_name;  // the name a login attempt gave, for its audit row
thread_local const RouteRule* t_route = nullptr;

void send(http::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

void refuse(http::Response& res, const ApiError& e) {
  send(res, http_status(e.code), to_json(e));
  // The body of a refused request is never read: the connection cannot carry another request.
  res.set_header("Connection", "close");
}

std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const auto slash = path.find('/', pos);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    out.emplace_back(path.substr(pos, end - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return out;
}

// The route of a request: a template segment matches any non-empty segment; of several
// matches the one with the fewest template segments wins (/cap/geocodes over /cap/{id}).
const RouteRule* find_route(const std::string& method, const std::string& path) {
  const auto want = segments(path);
  const RouteRule* best = nullptr;
  int best_params = 1 << 20;
  for (const auto& r : api_routes()) {
    if (method != r.method) continue;
    const auto have = segments(r.path);
    if (have.size() != want.size()) continue;
    int params = 0;
    bool match = true;
    for (std::size_t i = 0; i < have.size() && match; ++i) {
      if (!have[i].empty() && have[i].front() == '{') {
        match = !want[i].empty();
        ++params;
      } else {
        match = have[i] == want[i];
      }
    }
    if (match && params < best_params) {
      best = &r;
      best_params = params;
    }
  }
  return best;
}

std::string cookie_value(const http::Request& req, const std::string& name) {
  return loa::controller::cookie_value(req.get_header_value("Cookie"), name);
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool loopback(const std::string& addr) {
  return addr.rfind("127.", 0) == 0 || addr == "::1" || addr == "::ffff:127.0.0.1";
}

std::string describe(const Principal& p) {
  return "user '" + p.name + "' (" + to_string(p.role) +
         (p.area.empty() ? std::string(", whole tree") : ", area " + p.area) + ")";
}

ApiError forbidden(const std::string& why) {
  return api_error(ErrorCode::forbidden, why);
}

json user_json(const User& u) {
  return json{{"name", u.name},
              {"role", to_string(u.role)},
              {"area", u.area},
              {"created", u.created_us == 0 ? json() : json(format_utc(u.created_us))},
              {"disabled", u.disabled}};
}

json audit_json(const AuditEntry& e) {
  return json{{"id", e.id},          {"at", format_utc(e.at_us)},
              {"actor", e.actor},    {"role", e.role},
              {"area", e.area},      {"remote", e.remote},
              {"action", e.action},  {"target", e.target},
              {"outcome", e.outcome}};
}

// The request as the audit log shows it: path, query and body, passwords left out.
std::string audit_target(const http::Request& req) {
  std::string t = req.path;
  char sep = '?';
  for (const auto& [k, v] : req.params) {
    t += sep + k + "=" + v;
    sep = '&';
  }
  if (!req.body.empty()) {
    auto parsed = parse_json_body(req.body);
    json body = parsed ? std::move(*parsed) : json(json::value_t::discarded);
    if (!body.is_discarded() && body.is_object()) {
      if (body.contains("password")) body["password"] = "(not logged)";
      t += " " + body.dump();
    } else {
      t += " <" + std::to_string(req.body.size()) + " bytes " +
           req.get_header_value("Content-Type") + ">";
    }
  }
  if (t.size() > 2000) t = t.substr(0, 2000) + "...";
  return t;
}

}  // namespace

const std::vector<RouteRule>& api_routes() {
  static const std::vector<RouteRule> routes = {
      {"GET", "/api/v1/health", Rule::open},
      {"GET", "/api/v1/openapi.yaml", Rule::open},
      {"POST", "/api/v1/session", Rule::open},
      {"GET", "/api/v1/session", Rule::signed_in},
      {"DELETE", "/api/v1/session", Rule::signed_in},
      {"GET", "/api/v1/users", Rule::administer},
      {"POST", "/api/v1/users", Rule::administer},
      {"PATCH", "/api/v1/users/{name}", Rule::administer},
      {"DELETE", "/api/v1/users/{name}", Rule::administer},
      {"GET", "/api/v1/audit", Rule::read},
      {"GET", "/api/v1/nodes", Rule::read},
      {"POST", "/api/v1/nodes", Rule::manage},
      {"POST", "/api/v1/nodes/import", Rule::manage},
      {"GET", "/api/v1/nodes/{id}", Rule::read},
      {"GET", "/api/v1/nodes/{id}/history", Rule::read},
      {"POST", "/api/v1/nodes/{id}/decommission", Rule::manage},
      {"GET", "/api/v1/health/nodes", Rule::read},
      {"POST", "/api/v1/control", Rule::operate},
      {"GET", "/api/v1/bulletins", Rule::read},
      {"POST", "/api/v1/bulletins", Rule::operate},
      {"GET", "/api/v1/bulletins/{id}", Rule::read},
      {"GET", "/api/v1/bulletins/{id}/audio", Rule::read},
      {"POST", "/api/v1/tts/preview", Rule::operate},
      {"POST", "/api/v1/live", Rule::operate},
      {"POST", "/api/v1/live/sessions", Rule::operate},
      {"POST", "/api/v1/live/sessions/{id}/pcm", Rule::operate},
      {"POST", "/api/v1/live/sessions/{id}/end", Rule::operate},
      {"GET", "/api/v1/occurrences", Rule::read},
      {"POST", "/api/v1/occurrences", Rule::operate},
      {"GET", "/api/v1/occurrences/{id}", Rule::read},
      {"PATCH", "/api/v1/occurrences/{id}", Rule::operate},
      {"POST", "/api/v1/occurrences/{id}/cancel", Rule::operate},
      {"GET", "/api/v1/series/{id}", Rule::read},
      {"POST", "/api/v1/series/{id}/cancel", Rule::operate},
      {"GET", "/api/v1/areas/approval", Rule::read},
      {"POST", "/api/v1/areas/approval", Rule::manage},
      {"GET", "/api/v1/approvals", Rule::read},
      {"POST", "/api/v1/approvals/approve", Rule::operate},
      {"POST", "/api/v1/approvals/reject", Rule::operate},
      {"GET", "/api/v1/groups", Rule::read},
      {"POST", "/api/v1/groups/{name}", Rule::operate},
      {"GET", "/api/v1/coverage", Rule::read},
      {"GET", "/api/v1/log", Rule::read},
      {"GET", "/api/v1/log/refused", Rule::read},
      {"GET", "/api/v1/reports/period", Rule::read},
      {"GET", "/api/v1/reports/verify", Rule::read_all},
      {"POST", "/api/v1/cap", Rule::administer},
      {"GET", "/api/v1/cap", Rule::read},
      {"GET", "/api/v1/cap/{id}", Rule::read},
      {"GET", "/api/v1/cap/geocodes", Rule::read},
      {"POST", "/api/v1/cap/geocodes", Rule::administer},
      {"DELETE", "/api/v1/cap/geocodes/{value_name}/{value}", Rule::administer},
  };
  return routes;
}

struct Access::Impl {
  AccountStore& accounts;
  Controller& controller;
  AuthSettings settings;

  // ---- who ----

  // The request's client address (client_address.hpp), from every X-Forwarded-For line in order.
  std::string client(const http::Request& req) const {
    std::vector<std::string> forwarded;
    if (!settings.trusted_proxies.empty()) {
      const auto [first, last] = req.headers.equal_range("X-Forwarded-For");
      for (auto it = first; it != last; ++it) forwarded.push_back(it->second);
    }
    return client_address(req.remote_addr, forwarded, settings.trusted_proxies);
  }

  // The caller, or the error to answer (401, or 403 for a missing CSRF token).
  Reply<Principal> authenticate(const http::Request& req) {
    const std::string auth = req.get_header_value("Authorization");
    if (const auto bearer = bearer_token(auth)) {
      const std::string& token = *bearer;
      if (!settings.local_token.empty() && same_secret(token, settings.local_token)) {
        if (!loopback(client(req))) {
          return api_error(ErrorCode::unauthorized,
                           "the local token is accepted only from the controller's host");
        }
        return Principal{"local-admin", Role::administrator, "", "local"};
      }
      auto s = accounts.find_session(token, controller.now_us());
      if (!s) return s.error();
      if (!*s || !(*s)->bearer) {
        return api_error(ErrorCode::unauthorized, "bearer token unknown or expired: log in again");
      }
      return Principal{(*s)->user.name, (*s)->user.role, (*s)->user.area, "bearer"};
    }
    const std::string cookie = cookie_value(req, kCookie);
    if (cookie.empty()) {
      return api_error(ErrorCode::unauthorized,
                       "not signed in: POST /api/v1/session, or send a bearer token (on the "
                       "controller's host loactl reads the local token file)");
    }
    auto s = accounts.find_session(cookie, controller.now_us());
    if (!s) return s.error();
    if (!*s || (*s)->bearer) {
      return api_error(ErrorCode::unauthorized, "session unknown or expired: log in again");
    }
    const bool changes = req.method != "GET" && req.method != "HEAD";
    if (changes && !same_secret(req.get_header_value(kCsrfHeader), (*s)->csrf)) {
      return forbidden(std::string("csrf: a change made with a session cookie must carry the "
                                   "session's CSRF token in the ") +
                       kCsrfHeader + " header");
    }
    return Principal{(*s)->user.name, (*s)->user.role, (*s)->user.area, "cookie"};
  }

  static std::optional<ApiError> check_rule(const Principal& p, const RouteRule& r) {
    const auto needs = [&](const char* what) {
      return forbidden(std::string(r.method) + " " + r.path + " needs " + what + "; " +
                       describe(p) + " may not");
    };
    switch (r.rule) {
      case Rule::open:
      case Rule::signed_in:
      case Rule::read:
        return std::nullopt;
      case Rule::read_all:
        if (!p.area.empty()) return needs("an account of the whole tree");
        return std::nullopt;
      case Rule::operate:
        if (p.role == Role::viewer) return needs("an operator or administrator");
        return std::nullopt;
      case Rule::manage:
        if (p.role != Role::administrator && p.role != Role::province_operator) {
          return needs("a province operator or administrator");
        }
        return std::nullopt;
      case Rule::administer:
        if (p.role != Role::administrator) return needs("an administrator");
        return std::nullopt;
    }
    return needs("a rule");
  }

  // ---- where ----

  std::optional<ApiError> node_area(const Principal& p, const std::string& id,
                                    const std::string& what) {
    if (p.area.empty()) return std::nullopt;
    auto n = controller.get_node(id);
    if (!n) return std::nullopt;  // unknown: the handler answers 404
    if (area_in_scope(p.area, n->record.area)) return std::nullopt;
    return forbidden(what + "node '" + id + "' (area " + n->record.area +
                     ") is outside the area of " + describe(p));
  }

  std::optional<ApiError> targets(const Principal& p, const std::vector<std::string>& list) {
    if (p.area.empty()) return std::nullopt;
    std::optional<std::vector<std::pair<std::string, std::string>>> groups;
    for (const auto& t : list) {
      if (t.empty() || t.front() == '-') continue;  // exclusions only take nodes away
      const auto colon = t.find(':');
      const std::string kind = t.substr(0, colon);
      const std::string value = colon == std::string::npos ? "" : t.substr(colon + 1);
      if (kind == "area" && !area_in_scope(p.area, value)) {
        return forbidden("target '" + t + "' is outside the area of " + describe(p));
      }
      if (kind == "node") {
        if (auto e = node_area(p, value, "target '" + t + "': ")) return e;
      }
      if (kind == "group") {
        if (!groups) {
          auto g = controller.list_groups();
          if (!g) return g.error();
          groups = *g;
        }
        for (const auto& [name, node] : *groups) {
          if (name != value) continue;
          if (auto e = node_area(p, node, "target '" + t + "': ")) return e;
        }
      }
    }
    return std::nullopt;
  }

  // The area of the ids in the path (and of live targets), for a scoped caller.
  std::optional<ApiError> path_scope(const Principal& p, const RouteRule& r,
                                     const http::Request& req) {
    if (p.area.empty()) return std::nullopt;
    const std::string path = r.path;
    const auto seg = segments(req.path);
    if (path.rfind("/api/v1/nodes/{id}", 0) == 0) return node_area(p, seg[4], "");
    if (path == "/api/v1/live") {
      std::vector<std::string> list;
      std::string all = req.get_param_value("targets");
      for (std::size_t pos = 0; pos <= all.size();) {
        const auto comma = std::min(all.find(',', pos), all.size());
        if (comma > pos) list.push_back(all.substr(pos, comma - pos));
        pos = comma + 1;
      }
      return targets(p, list);
    }
    const bool occurrence = path.rfind("/api/v1/occurrences/{id}", 0) == 0;
    const bool series = path == "/api/v1/series/{id}/cancel";
    if (!occurrence && !series) return std::nullopt;
    std::uint64_t id = 0;
    try {
      id = std::stoull(seg[4]);
    } catch (const std::exception&) {
      return std::nullopt;  // the handler answers 400
    }
    if (series) {
      auto s = controller.get_series(id);
      return s ? targets(p, s->targets) : std::nullopt;
    }
    auto o = controller.get_occurrence(id);
    if (!o) return std::nullopt;
    const bool any = std::any_of(o->nodes.begin(), o->nodes.end(), [&](const TargetedNode& n) {
      return area_in_scope(p.area, n.area);
    });
    if (req.method == "GET") {
      if (any) return std::nullopt;
      return forbidden("occurrence " + seg[4] + " plays nowhere in the area of " + describe(p));
    }
    for (const auto& n : o->nodes) {
      if (!area_in_scope(p.area, n.area)) {
        return forbidden("occurrence " + seg[4] + " also plays on node '" + n.node_id + "' (area " +
                         n.area + "), outside the area of " + describe(p));
      }
    }
    return targets(p, o->targets);
  }

  // ---- the gate and the audit ----

  http::Server::HandlerResponse gate(const http::Request& req, http::Response& res) {
    t_request = req.id;
    t_principal.reset();
    t_login_name.clear();
    t_route = nullptr;
    if (req.path.rfind("/api/", 0) != 0) return http::Server::HandlerResponse::Unhandled;
    t_route = find_route(req.method, req.path);
    if (!t_route) {
      refuse(res,
             api_error(ErrorCode::not_found, "no such endpoint: " + req.method + " " + req.path));
      return http::Server::HandlerResponse::Handled;
    }
    if (t_route->rule == Rule::open) return http::Server::HandlerResponse::Unhandled;
    auto who = authenticate(req);
    if (!who) {
      if (who.error().code == ErrorCode::unauthorized) res.set_header("WWW-Authenticate", "Bearer");
      refuse(res, who.error());
      return http::Server::HandlerResponse::Handled;
    }
    t_principal = *who;
    auto denied = check_rule(*who, *t_route);
    if (!denied) denied = path_scope(*who, *t_route, req);
    if (denied) {
      refuse(res, *denied);
      return http::Server::HandlerResponse::Handled;
    }
    return http::Server::HandlerResponse::Unhandled;
  }

  void audit(const http::Request& req, const http::Response& res) {
    if (req.method == "GET" || req.method == "HEAD" || req.path.rfind("/api/", 0) != 0) return;
    if (t_request != req.id) {
      t_principal.reset();
      t_login_name.clear();
      t_route = nullptr;
    }
    AuditEntry e;
    e.at_us = controller.now_us();
    if (t_principal) {
      e.actor = t_principal->name;
      e.role = to_string(t_principal->role);
      e.area = t_principal->area;
    } else {
      e.actor = t_login_name.empty() ? "-" : t_login_name;
    }
    e.remote = client(req);
    if (e.remote != req.remote_addr) e.remote += " via " + req.remote_addr;
    e.action = req.method + " " + (t_route ? std::string(t_route->path) : req.path);
    e.target = audit_target(req);
    e.outcome = std::to_string(res.status);
    const json body = json::parse(res.body, nullptr, false);
    if (!body.is_discarded() && body.is_object() && body.contains("error")) {
      e.outcome +=
          " " + body["error"].value("code", "") + ": " + body["error"].value("message", "");
    }
    if (auto r = accounts.append_audit(e); !r) {
      runtime::Log(runtime::LogLevel::error, "controller").kv("reason", r.error().message)
          << "cannot write the audit log";
    }
  }

  // ---- routes ----

  // The session cookie's attributes after its value.
  std::string cookie_flags() const {
    return std::string("; Path=/; HttpOnly; SameSite=Strict") +
           (settings.cookie_secure ? "; Secure" : "");
  }

  void login(const http::Request& req, http::Response& res) {
    auto parsed = parse_json_body(req.body);
    if (!parsed) return send(res, 400, to_json(parsed.error()));
    json body = std::move(*parsed);
    if (body.is_discarded() || !body.is_object() || !body.value("name", json()).is_string() ||
        !body.value("password", json()).is_string()) {
      return send(res, 400,
                  to_json(api_error(ErrorCode::bad_request,
                                    "body: {\"name\": text, \"password\": text, \"bearer\"?: "
                                    "true|false}")));
    }
    const std::string name = body["name"];
    const std::string password = body["password"];
    const bool bearer = body.value("bearer", false);
    t_login_name = name;
    // Names longer than any user's (64) are cut: the keys stay small whatever is sent.
    std::string lower = name.substr(0, 64);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const Micros now = controller.now_us();
    const std::string from = client(req);
    // Refusals are per client address only (for this name, and for all names): a stranger
    // elsewhere cannot lock a user out. Failures of the name from everywhere only slow it down.
    const std::string pair = "pair:" + from + " " + lower;
    const std::string addr = "addr:" + from;
    const std::string name_key = "name:" + lower;
    Micros until = 0;
    for (const auto& k : {pair, addr}) {
      auto b =
          accounts.blocked_until(k, now, settings.max_login_failures, settings.login_window_us);
      if (!b) return send(res, 500, to_json(b.error()));
      until = std::max(until, *b);
    }
    if (until > 0) {
      const auto wait_s = (until - now + 999'999) / 1'000'000;
      res.set_header("Retry-After", std::to_string(wait_s));
      return send(res, 429,
                  to_json(api_error(ErrorCode::too_many_requests,
                                    "login: too many failed attempts from this address; try "
                                    "again in " +
                                        std::to_string(wait_s) + " s")));
    }
    auto failures = accounts.failure_count(name_key, now - settings.login_window_us);
    if (!failures) return send(res, 500, to_json(failures.error()));
    if (*failures >= static_cast<std::size_t>(settings.max_login_failures)) {
      const auto over = static_cast<Micros>(*failures) - settings.max_login_failures + 1;
      std::this_thread::sleep_for(std::chrono::microseconds(
          std::min(settings.login_delay_max_us, over * settings.login_delay_step_us)));
    }
    auto user = accounts.check_login(name, password);
    if (!user) return send(res, 500, to_json(user.error()));
    if (!*user) {
      for (const auto& k : {pair, addr, name_key}) (void)accounts.record_failure(k, now);
      return send(res, 401,
                  to_json(api_error(ErrorCode::unauthorized, "login: wrong name or password")));
    }
    (void)accounts.clear_failures(pair);
    (void)accounts.clear_failures(name_key);
    auto session = accounts.create_session(name, bearer, now, settings.session_ttl_us);
    if (!session) return send(res, 500, to_json(session.error()));
    json out{{"user", user_json(**user)},
             {"csrf_token", session->csrf},
             {"expires", format_utc(session->expires_us)}};
    if (bearer) {
      out["token"] = session->token;
    } else {
      res.set_header("Set-Cookie",
                     std::string(kCookie) + "=" + session->token + cookie_flags() +
                         "; Max-Age=" + std::to_string(settings.session_ttl_us / 1'000'000));
    }
    send(res, 200, out);
  }

  void routes(http::Server& server) {
    server.Get("/api/v1/openapi.yaml", [](const http::Request&, http::Response& res) {
      res.set_content(std::string(openapi_yaml()), "application/yaml");
    });
    server.Post("/api/v1/session",
                [this](const http::Request& req, http::Response& res) { login(req, res); });
    server.Get("/api/v1/session", [](const http::Request&, http::Response& res) {
      const Principal& p = *t_principal;
      send(res, 200,
           json{{"user", {{"name", p.name}, {"role", to_string(p.role)}, {"area", p.area}}},
                {"via", p.via}});
    });
    server.Delete("/api/v1/session", [this](const http::Request& req, http::Response& res) {
      const std::string auth = req.get_header_value("Authorization");
      const std::string token = t_principal->via == "cookie" ? cookie_value(req, kCookie)
                                                             : bearer_token(auth).value_or("");
      if (t_principal->via != "local") {
        if (auto s = accounts.end_session(token); !s) {
          return send(res, 500, to_json(api_error(ErrorCode::internal, s.message())));
        }
      }
      if (t_principal->via == "cookie") {
        res.set_header("Set-Cookie", std::string(kCookie) + "=" + cookie_flags() + "; Max-Age=0");
      }
      send(res, 200, json{{"ended", t_principal->via != "local"}});
    });
    server.Get("/api/v1/users", [this](const http::Request&, http::Response& res) {
      auto list = accounts.list_users();
      if (!list) return send(res, http_status(list.error().code), to_json(list.error()));
      json out = json::array();
      for (const auto& u : *list) out.push_back(user_json(u));
      send(res, 200, json{{"users", out}});
    });
    server.Post("/api/v1/users", [this](const http::Request& req, http::Response& res) {
      auto parsed = parse_json_body(req.body);
      if (!parsed) return send(res, 400, to_json(parsed.error()));
      auto in = user_input_from_json(*parsed);
      if (!in) return send(res, 400, to_json(in.error()));
      auto u = accounts.add_user(in->name, in->role, in->area, in->password, controller.now_us());
      if (!u) return send(res, http_status(u.error().code), to_json(u.error()));
      send(res, 201, user_json(*u));
    });
    server.Patch(R"(/api/v1/users/([^/]+))", [this](const http::Request& req, http::Response& res) {
      auto parsed = parse_json_body(req.body);
      if (!parsed) return send(res, 400, to_json(parsed.error()));
      auto c = user_change_from_json(*parsed);
      if (!c) return send(res, 400, to_json(c.error()));
      auto u = accounts.change_user(req.matches[1], *c);
      if (!u) return send(res, http_status(u.error().code), to_json(u.error()));
      send(res, 200, user_json(*u));
    });
    server.Delete(R"(/api/v1/users/([^/]+))",
                  [this](const http::Request& req, http::Response& res) {
                    auto u = accounts.remove_user(req.matches[1]);
                    if (!u) return send(res, http_status(u.error().code), to_json(u.error()));
                    send(res, 200, user_json(*u));
                  });
    server.Get("/api/v1/audit", [this](const http::Request& req, http::Response& res) {
      AuditQuery q;
      if (t_principal->role != Role::administrator) q.scope = t_principal->area;
      q.actor = req.get_param_value("actor");
      if (req.has_param("since")) {
        auto t = parse_instant(req.get_param_value("since"), controller.settings().tz);
        if (!t) {
          return send(res, 400,
                      to_json(api_error(ErrorCode::bad_request, "since: " + t.error().message)));
        }
        q.since_us = *t;
      }
      if (req.has_param("limit")) {
        auto n = parse_count(req.get_param_value("limit"), "limit", 1, kMaxPageSize);
        if (!n) return send(res, 400, to_json(n.error()));
        q.limit = static_cast<std::size_t>(*n);
      }
      auto list = accounts.audit(q);
      if (!list) return send(res, http_status(list.error().code), to_json(list.error()));
      json out = json::array();
      for (const auto& e : *list) out.push_back(audit_json(e));
      send(res, 200, json{{"entries", out}});
    });
  }
};

Access::Access(AccountStore& accounts, Controller& controller, AuthSettings settings)
    : impl_(std::make_shared<Impl>(Impl{accounts, controller, std::move(settings)})) {}

void Access::attach(http::Server& server) {
  auto impl = impl_;
  server.set_pre_routing_handler(
      [impl](const http::Request& req, http::Response& res) { return impl->gate(req, res); });
  server.set_post_routing_handler(
      [impl](const http::Request& req, http::Response& res) { impl->audit(req, res); });
  // A trusted proxy carries every client's connections: only the global limit applies to it.
  server.set_exempt_from_address_limit(
      [impl](const std::string& peer) { return in_ranges(peer, impl->settings.trusted_proxies); });
  impl_->routes(server);
}

std::optional<ApiError> Access::check_targets(const std::vector<std::string>& targets) {
  if (!t_principal) return forbidden("not signed in");
  return impl_->targets(*t_principal, targets);
}

std::optional<ApiError> Access::check_area(const std::string& area, const std::string& what) {
  if (!t_principal) return forbidden("not signed in");
  if (area_in_scope(t_principal->area, area)) return std::nullopt;
  return forbidden(what + ": area '" + area + "' is outside the area of " + describe(*t_principal));
}

std::optional<ApiError> Access::check_nodes(const std::vector<std::string>& node_ids) {
  if (!t_principal) return forbidden("not signed in");
  for (const auto& id : node_ids) {
    if (auto e = impl_->node_area(*t_principal, id, "")) return e;
  }
  return std::nullopt;
}

bool Access::sees(const std::string& area) {
  return t_principal && area_in_scope(t_principal->area, area);
}

Reply<std::string> Access::narrow_area(const std::string& asked) {
  if (!t_principal) return forbidden("not signed in");
  const std::string& scope = t_principal->area;
  if (scope.empty() || (!asked.empty() && area_in_scope(scope, asked))) return asked;
  if (asked.empty() || area_in_scope(asked, scope)) return scope;
  return forbidden("area: '" + asked + "' is outside the area of " + describe(*t_principal));
}

Result<AuthSettings> auth_settings(const ControllerConfig& config) {
  AuthSettings s;
  if (config.session_ttl_s < 60 || config.session_ttl_s > 30LL * 24 * 3600) {
    return make_error("session-ttl-s: " + std::to_string(config.session_ttl_s) +
                      " is outside 60..2592000");
  }
  if (config.login_max_failures < 1 || config.login_max_failures > 1000) {
    return make_error("login-max-failures: " + std::to_string(config.login_max_failures) +
                      " is outside 1..1000");
  }
  if (config.login_window_s < 1 || config.login_window_s > 24 * 3600) {
    return make_error("login-window-s: " + std::to_string(config.login_window_s) +
                      " is outside 1..86400");
  }
  s.session_ttl_us = config.session_ttl_s * 1'000'000;
  s.max_login_failures = config.login_max_failures;
  s.login_window_us = config.login_window_s * 1'000'000;
  s.cookie_secure = config.cookie_secure;
  auto proxies = parse_address_ranges(config.trusted_proxies);
  if (!proxies) return make_error("trusted-proxies: " + proxies.error().message);
  s.trusted_proxies = std::move(*proxies);
  return s;
}

Result<std::string> write_local_token(const std::string& path) {
  if (sodium_init() < 0) return make_error("libsodium: cannot initialize");
  // Kept across restarts (clients holding it keep working) when the file is ours, private, not
  // a link, and holds a token; anything else is replaced.
  if (const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC); fd >= 0) {
    struct stat st {};
    char buf[65] = {};
    const bool mine = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
                      (st.st_mode & 077) == 0 && ::read(fd, buf, 64) == 64;
    ::close(fd);
    const std::string kept(buf, 64);
    if (mine && std::all_of(kept.begin(), kept.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
        })) {
      return kept;
    }
  }
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  std::string token(sizeof raw * 2 + 1, '\0');
  sodium_bin2hex(token.data(), token.size(), raw, sizeof raw);
  token.pop_back();
  // Written beside it and renamed over it: a reader never sees a partial file.
  const std::string temp = path + ".new";
  (void)::unlink(temp.c_str());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("local-token-file " + path + ": cannot create it");
  const std::string line = token + "\n";
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    return make_error("local-token-file " + path + ": cannot write it");
  }
  return token;
}

}  // namespace loa::controller
