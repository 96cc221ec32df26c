// Authentication and authorization of the HTTP API (issue 7, docs/api.md "Accounts"): who a
// request is from (session cookie + CSRF token, bearer token, or the controller's local token),
// what its role and area allow, the audit row of every change, and the account endpoints.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loa/controller/accounts.hpp"
#include "loa/controller/client_address.hpp"
#include "loa/controller/config.hpp"
#include "loa/controller/controller.hpp"

namespace loa::http {
class Server;
}

namespace loa::controller {

// Who a request is from.
struct Principal {
  std::string name;
  Role role = Role::viewer;
  std::string area;  // scope; "" the whole tree
  std::string via;   // "cookie", "bearer" or "local"
};

// What a route needs. Every route the API serves has one (api_routes()); a request to a path
// with none is answered 404 before any handler runs.
enum class Rule {
  open,        // no authentication (health, the OpenAPI file, login)
  signed_in,   // any authenticated user (their own session)
  read,        // any role; answers are filtered to the caller's area
  read_all,    // any role whose area is the whole tree
  operate,     // operators and administrators, within their area
  manage,      // province operators and administrators, within their area (nodes, approval rules)
  administer,  // administrators only
};

struct RouteRule {
  const char* method;
  const char* path;  // OpenAPI template: "/api/v1/nodes/{id}"
  Rule rule;
};

// Every route of the API with its rule; docs/openapi.yaml documents exactly these.
const std::vector<RouteRule>& api_routes();

// The OpenAPI document served at /api/v1/openapi.yaml (docs/openapi.yaml, built in).
std::string_view openapi_yaml();

struct AuthSettings {
  // Accepted as "Authorization: Bearer <token>" from loopback addresses as the administrator
  // "local-admin" (the daemon writes it to a 0600 file at start; docs/api.md). Empty: none.
  std::string local_token;
  Micros session_ttl_us = 12LL * 3600 * 1'000'000;
  // Failed logins counted in the window per client address, for one name and for all names:
  // at max_login_failures of either, that address's logins are refused (429). Failures of one
  // name from every address together never refuse it: from max_login_failures on, each login
  // of that name waits login_delay_step_us more, at most login_delay_max_us.
  int max_login_failures = 5;
  Micros login_window_us = 15LL * 60 * 1'000'000;
  Micros login_delay_step_us = 100'000;
  Micros login_delay_max_us = 1'000'000;
  bool cookie_secure = false;  // the session cookie carries Secure (the API is behind TLS)
  // Reverse proxies whose X-Forwarded-For names the client (client_address.hpp); empty: the
  // peer is the client.
  std::vector<AddressRange> trusted_proxies;
};

// The settings of the config's session-ttl-s, login-max-failures, login-window-s,
// cookie-secure and trusted-proxies keys (local_token left empty); the error names the key that
// is out of range.
Result<AuthSettings> auth_settings(const ControllerConfig& config);

// The API's gatekeeper. attach() installs it on the server; the check functions are for route
// handlers and judge the request being handled on the calling thread (loa::http runs a request's
// pre-routing handler and route handler on one thread). Thread-safe.
class Access {
 public:
  // Both must outlive the Access.
  Access(AccountStore& accounts, Controller& controller, AuthSettings settings);

  // Installs the pre-routing check (authentication, CSRF, the route's rule, the area of ids in
  // the path and of live targets), the audit of every POST/PATCH/DELETE, and the routes of
  // sessions, users, the audit log and the OpenAPI file; exempts the trusted proxies from the
  // server's per-address connection limit.
  void attach(http::Server& server);

  // Checks for what a handler reads from the body; nullopt: allowed, else a forbidden error
  // naming the target and the caller's area. Exclusions ("-area:...") are always allowed.
  std::optional<ApiError> check_targets(const std::vector<std::string>& targets);
  std::optional<ApiError> check_area(const std::string& area, const std::string& what);
  std::optional<ApiError> check_nodes(const std::vector<std::string>& node_ids);
  // Read filters: whether the caller sees things placed at `area`; the area filter to apply
  // when the caller asked for `asked` (its own area when it asked for none or an ancestor).
  bool sees(const std::string& area);
  Reply<std::string> narrow_area(const std::string& asked);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The local token of `path`: the one it holds if it is a regular file of this user, mode 0600,
// holding 64 hex digits; else a fresh random one written there (mode 0600, atomically). Returns
// the token; the error names the file.
Result<std::string> write_local_token(const std::string& path);

}  // namespace loa::controller
