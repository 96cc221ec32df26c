#include "loa/controller/accounts.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "loa/protocol/area_path.hpp"
#include "loa/runtime/sqlite.hpp"

namespace loa::controller {
namespace {

using runtime::Database;

// Tables of their own beside the Store's: the Store's migrations own PRAGMA user_version.
const char* const kSchema = R"(
CREATE TABLE IF NOT EXISTS account_users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, area TEXT NOT NULL, hash TEXT NOT NULL,
  created INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS account_sessions (
  token_sha256 TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
  bearer INTEGER NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS account_login_failures (key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS account_login_failures_key ON account_login_failures (key, at);
CREATE INDEX IF NOT EXISTS account_login_failures_at ON account_login_failures (at);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
  role TEXT NOT NULL, area TEXT NOT NULL, remote TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, outcome TEXT NOT NULL);
)";

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  hex.pop_back();
  return hex;
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::string hex(sizeof digest * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest, sizeof digest);
  hex.pop_back();
  return hex;
}

ApiError unknown_user(const std::string& name) {
  return api_error(ErrorCode::not_found, "user: unknown user '" + name + "'");
}

class SqliteAccountStore final : public AccountStore {
 public:
  explicit SqliteAccountStore(Database db) : db_(std::move(db)) {}

  Reply<User> add_user(const std::string& name, Role role, const std::string& area,
                       std::string_view password, Micros now_us) override {
    auto user = validate_user(name, role, area);
    if (!user) return user;
    if (auto s = check_password_strength(password); !s) {
      return api_error(ErrorCode::bad_request, s.message());
    }
    auto hash = hash_password(password);
    if (!hash) return hash.error();
    std::lock_guard lock(mu_);
    if (auto existing = find_user(name); !existing || *existing) {
      if (!existing) return existing.error();
      return api_error(ErrorCode::conflict, "user: '" + name + "' exists");
    }
    auto st = db_.prepare(
        "INSERT INTO account_users (name, role, area, hash, created) VALUES (?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, name).bind(2, std::string(to_string(role))).bind(3, area).bind(4, *hash);
    st->bind(5, now_us);
    if (auto s = st->run(); !s) return make_error(s.message());
    user->created_us = now_us;
    return user;
  }

  Reply<User> change_user(const std::string& name, const UserChange& change) override {
    std::optional<std::string> hash;
    if (change.password) {
      if (auto s = check_password_strength(*change.password); !s) {
        return api_error(ErrorCode::bad_request, s.message());
      }
      auto h = hash_password(*change.password);
      if (!h) return h.error();
      hash = *h;
    }
    std::lock_guard lock(mu_);
    auto found = find_user(name);
    if (!found) return found.error();
    if (!*found) return unknown_user(name);
    User u = **found;
    auto checked = validate_user(name, change.role.value_or(u.role), change.area.value_or(u.area));
    if (!checked) return checked;
    u.role = checked->role;
    u.area = checked->area;
    u.disabled = change.disabled.value_or(u.disabled);
    auto st = db_.prepare(
        "UPDATE account_users SET role = ?, area = ?, disabled = ?, "
        "hash = COALESCE(?, hash) WHERE name = ?");
    if (!st) return st.error();
    st->bind(1, std::string(to_string(u.role)))
        .bind(2, u.area)
        .bind(3, std::int64_t{u.disabled ? 1 : 0});
    if (hash) {
      st->bind(4, *hash);
    } else {
      st->bind_null(4);
    }
    st->bind(5, name);
    if (auto s = st->run(); !s) return make_error(s.message());
    if (hash || u.disabled) {
      if (auto s = end_sessions_of(name); !s) return make_error(s.message());
    }
    return u;
  }

  Reply<User> remove_user(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto found = find_user(name);
    if (!found) return found.error();
    if (!*found) return unknown_user(name);
    auto st = db_.prepare("DELETE FROM account_users WHERE name = ?");
    if (!st) return st.error();
    if (auto s = st->bind(1, name).run(); !s) return make_error(s.message());
    if (auto s = end_sessions_of(name); !s) return make_error(s.message());
    return **found;
  }

  Reply<User> get_user(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto found = find_user(name);
    if (!found) return found.error();
    if (!*found) return unknown_user(name);
    return **found;
  }

  Reply<std::vector<User>> list_users() override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT name, role, area, created, disabled, hash FROM account_users ORDER BY name");
    if (!st) return st.error();
    std::vector<User> out;
    while (true) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(user_of(*st));
    }
    return out;
  }

  Reply<std::optional<User>> check_login(const std::string& name,
                                         std::string_view password) override {
    std::string hash;
    std::optional<User> user;
    {
      std::lock_guard lock(mu_);
      auto st = db_.prepare(
          "SELECT name, role, area, created, disabled, hash FROM account_users WHERE name = ?");
      if (!st) return st.error();
      auto row = st->bind(1, name).step();
      if (!row) return row.error();
      if (*row) {
        user = user_of(*st);
        hash = st->text(5);
      }
    }
    // Verified outside the lock (tens of ms, by design). An unknown name costs the same: a
    // hash of a throwaway password is verified so timing does not tell which names exist.
    if (!user) {
      static const std::string dummy = hash_password("not a password of anyone").value();
      (void)verify_password(dummy, password);
      return std::optional<User>();
    }
    if (!verify_password(hash, password) || user->disabled) return std::optional<User>();
    return user;
  }

  Reply<NewSession> create_session(const std::string& user, bool bearer, Micros now_us,
                                   Micros ttl_us) override {
    NewSession s{random_hex(32), random_hex(32), now_us + ttl_us};
    std::lock_guard lock(mu_);
    // Expired sessions go as new ones come.
    if (auto del = db_.prepare("DELETE FROM account_sessions WHERE expires <= ?"); del) {
      (void)del->bind(1, now_us).run();
    }
    auto st = db_.prepare(
        "INSERT INTO account_sessions (token_sha256, user, csrf, bearer, created, expires) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, sha256_hex(s.token))
        .bind(2, user)
        .bind(3, s.csrf)
        .bind(4, std::int64_t{bearer ? 1 : 0});
    st->bind(5, now_us).bind(6, s.expires_us);
    if (auto r = st->run(); !r) return make_error(r.message());
    return s;
  }

  Reply<std::optional<SessionInfo>> find_session(const std::string& token, Micros now_us) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT u.name, u.role, u.area, u.created, u.disabled, u.hash, s.csrf, s.bearer, "
        "s.expires FROM account_sessions s JOIN account_users u ON u.name = s.user "
        "WHERE s.token_sha256 = ? AND s.expires > ?");
    if (!st) return st.error();
    auto row = st->bind(1, sha256_hex(token)).bind(2, now_us).step();
    if (!row) return row.error();
    if (!*row) return std::optional<SessionInfo>();
    SessionInfo info{user_of(*st), st->text(6), st->int64(7) != 0, st->int64(8)};
    if (info.user.disabled) return std::optional<SessionInfo>();
    return std::optional<SessionInfo>(std::move(info));
  }

  loa::Status end_session(const std::string& token) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("DELETE FROM account_sessions WHERE token_sha256 = ?");
    if (!st) return st.error();
    return st->bind(1, sha256_hex(token)).run();
  }

  loa::Status record_failure(const std::string& key, Micros now_us) override {
    std::lock_guard lock(mu_);
    auto old = db_.prepare("DELETE FROM account_login_failures WHERE at < ?");
    if (!old) return old.error();
    if (auto s = old->bind(1, now_us - kLoginFailureMemoryUs).run(); !s) return s;
    auto st = db_.prepare("INSERT INTO account_login_failures (key, at) VALUES (?, ?)");
    if (!st) return st.error();
    return st->bind(1, key).bind(2, now_us).run();
  }

  Reply<std::size_t> failure_count(const std::string& key, Micros since_us) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT count(*) FROM account_login_failures WHERE key = ? AND at > ?");
    if (!st) return st.error();
    st->bind(1, key).bind(2, since_us);
    auto row = st->step();
    if (!row) return row.error();
    return static_cast<std::size_t>(*row ? st->int64(0) : 0);
  }

  Reply<Micros> blocked_until(const std::string& key, Micros now_us, int max,
                              Micros window_us) override {
    std::lock_guard lock(mu_);
    // The newest `max` failures in the window; blocked while there are `max` of them.
    auto st = db_.prepare(
        "SELECT at FROM account_login_failures WHERE key = ? AND at > ? ORDER BY at DESC "
        "LIMIT ?");
    if (!st) return st.error();
    st->bind(1, key).bind(2, now_us - window_us).bind(3, std::int64_t{max});
    int n = 0;
    Micros oldest = 0;
    while (true) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      ++n;
      oldest = st->int64(0);
    }
    return n >= max ? oldest + window_us : Micros{0};
  }

  loa::Status clear_failures(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("DELETE FROM account_login_failures WHERE key = ?");
    if (!st) return st.error();
    return st->bind(1, key).run();
  }

  Reply<std::uint64_t> append_audit(const AuditEntry& e) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT INTO audit_log (at, actor, role, area, remote, action, target, outcome) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, e.at_us).bind(2, e.actor).bind(3, e.role).bind(4, e.area).bind(5, e.remote);
    st->bind(6, e.action).bind(7, e.target).bind(8, e.outcome);
    if (auto s = st->run(); !s) return make_error(s.message());
    return static_cast<std::uint64_t>(db_.last_insert_rowid());
  }

  Reply<std::vector<AuditEntry>> audit(const AuditQuery& q) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT id, at, actor, role, area, remote, action, target, outcome FROM audit_log "
        "WHERE at >= ? AND (? = '' OR actor = ?) ORDER BY id DESC");
    if (!st) return st.error();
    st->bind(1, q.since_us).bind(2, q.actor).bind(3, q.actor);
    std::vector<AuditEntry> out;
    while (out.size() < q.limit) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      AuditEntry e{static_cast<std::uint64_t>(st->int64(0)),
                   st->int64(1),
                   st->text(2),
                   st->text(3),
                   st->text(4),
                   st->text(5),
                   st->text(6),
                   st->text(7),
                   st->text(8)};
      // An administrator's entries (whole-tree area "") are outside every narrower scope.
      if (q.scope && !(e.area.empty() ? q.scope->empty() : area_in_scope(*q.scope, e.area))) {
        continue;
      }
      out.push_back(std::move(e));
    }
    return out;
  }

 private:
  static User user_of(const runtime::Statement& st) {
    return User{st.text(0), parse_role(st.text(1)).value_or(Role::viewer), st.text(2), st.int64(3),
                st.int64(4) != 0};
  }

  Result<std::optional<User>> find_user(const std::string& name) {
    auto st = db_.prepare(
        "SELECT name, role, area, created, disabled, hash FROM account_users WHERE name = ?");
    if (!st) return st.error();
    auto row = st->bind(1, name).step();
    if (!row) return row.error();
    if (!*row) return std::optional<User>();
    return std::optional<User>(user_of(*st));
  }

  loa::Status end_sessions_of(const std::string& name) {
    auto st = db_.prepare("DELETE FROM account_sessions WHERE user = ?");
    if (!st) return st.error();
    return st->bind(1, name).run();
  }

  std::mutex mu_;
  Database db_;
};

}  // namespace

Result<std::string> hash_password(std::string_view password) {
  if (sodium_init() < 0) return make_error("libsodium: cannot initialize");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error("password hash: out of memory");
  }
  return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view password) {
  if (sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Reply<User> validate_user(const std::string& name, Role role, const std::string& area) {
  const bool name_ok =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (!name_ok) {
    return api_error(ErrorCode::bad_request,
                     "name: '" + name + "' is not 1..64 characters of [0-9A-Za-z._-]");
  }
  if (role == Role::administrator && !area.empty()) {
    return api_error(ErrorCode::bad_request,
                     "area: an administrator works on the whole tree; give no area");
  }
  if (area.empty() && (role == Role::province_operator || role == Role::commune_operator)) {
    return api_error(ErrorCode::bad_request,
                     std::string("area: a ") + to_string(role) + " needs an area path");
  }
  if (!area.empty()) {
    if (auto p = protocol::AreaPath::parse(area); !p) {
      return api_error(ErrorCode::bad_request, "area: " + p.error().message);
    }
  }
  return User{name, role, area, 0, false};
}

loa::Status check_password_strength(std::string_view password) {
  if (password.size() < 10 || password.size() > 1024) {
    return make_error("password: must be 10..1024 bytes");
  }
  return {};
}

Result<std::unique_ptr<AccountStore>> AccountStore::open(const std::string& path) {
  if (sodium_init() < 0) return make_error("libsodium: cannot initialize");
  auto db = Database::open(path);
  if (!db) return make_error("accounts " + path + ": " + db.error().message);
  if (auto s = db->exec(kSchema); !s) return make_error("accounts " + path + ": " + s.message());
  return std::unique_ptr<AccountStore>(std::make_unique<SqliteAccountStore>(std::move(*db)));
}

}  // namespace loa::controller
