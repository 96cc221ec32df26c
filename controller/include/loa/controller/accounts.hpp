// Operator accounts (issue 7, docs/api.md "Accounts"): users with a role scoped to an area
// subtree, Argon2id password hashes, sessions, login failures for rate limiting and the audit
// log, kept in SQLite tables of their own (the controller's database file or ":memory:").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loa/controller/api_error.hpp"
#include "loa/protocol/messages.hpp"

namespace loa::controller {

using protocol::Micros;

enum class Role { administrator, province_operator, commune_operator, viewer };
// "administrator", "province_operator", "commune_operator", "viewer".
const char* to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

// Whether `area` is `scope` or lies below it; the empty scope is the whole tree.
bool area_in_scope(std::string_view scope, std::string_view area);

struct User {
  std::string name;
  Role role = Role::viewer;
  std::string area;  // scope: "" (whole tree) only for administrators and viewers
  Micros created_us = 0;
  bool disabled = false;
};

// A changed user; unset fields keep their value.
struct UserChange {
  std::optional<Role> role;
  std::optional<std::string> area;
  std::optional<std::string> password;
  std::optional<bool> disabled;
};

// A session as created: the secret token (given once, stored only as its SHA-256) and the CSRF
// token a cookie session's state-changing requests must carry.
struct NewSession {
  std::string token;
  std::string csrf;
  Micros expires_us = 0;
};

// A live session found by its token.
struct SessionInfo {
  User user;
  std::string csrf;
  bool bearer = false;  // a bearer token (loactl), not a browser cookie
  Micros expires_us = 0;
};

struct AuditEntry {
  std::uint64_t id = 0;
  Micros at_us = 0;
  std::string actor;    // user name, "local-admin", or the name a failed login gave
  std::string role;     // the actor's role, "" when not authenticated
  std::string area;     // the actor's scope (scoped readers see entries within theirs)
  std::string remote;   // remote address
  std::string action;   // "POST /api/v1/occurrences"
  std::string target;   // path, query and body summary (passwords removed)
  std::string outcome;  // "201" or "403 forbidden: ..."
};

struct AuditQuery {
  std::optional<std::string> scope;  // entries of actors within it; unset: all
  std::string actor;                 // "" : any
  Micros since_us = 0;
  std::size_t limit = 1000;
};

// Argon2id (libsodium crypto_pwhash_str, interactive limits): "$argon2id$v=19$m=...".
Result<std::string> hash_password(std::string_view password);
bool verify_password(const std::string& hash, std::string_view password);

// Checks a user's fields: name [0-9A-Za-z._-]{1,64}; area a valid area path, required for
// operators; password 10..1024 bytes.
Reply<User> validate_user(const std::string& name, Role role, const std::string& area);
loa::Status check_password_strength(std::string_view password);

// Thread-safe (one lock). Every failure of the database is an internal error.
class AccountStore {
 public:
  // Opens the tables in `path` (created if needed; ":memory:" for tests). The error names the file.
  static Result<std::unique_ptr<AccountStore>> open(const std::string& path);
  virtual ~AccountStore() = default;

  // conflict: the name exists; bad_request: invalid field or weak password.
  virtual Reply<User> add_user(const std::string& name, Role role, const std::string& area,
                               std::string_view password, Micros now_us) = 0;
  // A new password or disabling ends the user's sessions. not_found: unknown user.
  virtual Reply<User> change_user(const std::string& name, const UserChange& change) = 0;
  virtual Reply<User> remove_user(const std::string& name) = 0;
  virtual Reply<User> get_user(const std::string& name) = 0;
  virtual Reply<std::vector<User>> list_users() = 0;
  // The user if the password matches and the account is enabled, else nullopt.
  virtual Reply<std::optional<User>> check_login(const std::string& name,
                                                 std::string_view password) = 0;

  virtual Reply<NewSession> create_session(const std::string& user, bool bearer, Micros now_us,
                                           Micros ttl_us) = 0;
  // nullopt: unknown, expired, or its user is disabled or gone.
  virtual Reply<std::optional<SessionInfo>> find_session(const std::string& token,
                                                         Micros now_us) = 0;
  virtual loa::Status end_session(const std::string& token) = 0;

  // Login failures under a key ("name:alice", "addr:192.0.2.1"), kept across restarts; failures
  // older than kLoginFailureMemoryUs are forgotten as new ones are recorded.
  static constexpr Micros kLoginFailureMemoryUs = 24LL * 3600 * 1'000'000;
  virtual loa::Status record_failure(const std::string& key, Micros now_us) = 0;
  // How many failures `key` has after `since_us`.
  virtual Reply<std::size_t> failure_count(const std::string& key, Micros since_us) = 0;
  // When `key` may try again: 0 if it has fewer than `max` failures in the `window_us` before
  // now, else the instant the oldest counted failure leaves the window.
  virtual Reply<Micros> blocked_until(const std::string& key, Micros now_us, int max,
                                      Micros window_us) = 0;
  virtual loa::Status clear_failures(const std::string& key) = 0;

  // Audit log: appended durably (synchronous commit), read newest first.
  virtual Reply<std::uint64_t> append_audit(const AuditEntry& entry) = 0;
  virtual Reply<std::vector<AuditEntry>> audit(const AuditQuery& query) = 0;
};

}  // namespace loa::controller
