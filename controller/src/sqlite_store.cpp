#include <algorithm>
#include <cstring>
#include <utility>
#include <variant>

#include "loa/controller/cap_store.hpp"
#include "loa/controller/store.hpp"
#include "loa/runtime/sqlite.hpp"

namespace loa::controller {
namespace {

using runtime::Database;
using runtime::Statement;

std::int64_t i64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
std::uint64_t u64(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

const std::vector<std::string> kMigrations = {
    // 1: the first schema.
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES ('plan_version', 0);
CREATE TABLE nodes(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  area TEXT NOT NULL,
  speakers INTEGER NOT NULL,
  residents INTEGER NOT NULL,
  public_key BLOB,
  last_seen_us INTEGER NOT NULL DEFAULT 0,
  online INTEGER NOT NULL DEFAULT 0);
CREATE INDEX nodes_area ON nodes(area);
CREATE TABLE bulletins(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  source TEXT NOT NULL,
  duration_s REAL NOT NULL,
  ogg_path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bitrate INTEGER NOT NULL,
  frame_ms INTEGER NOT NULL,
  created_us INTEGER NOT NULL);
CREATE TABLE occurrences(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  bulletin_id INTEGER NOT NULL REFERENCES bulletins(id),
  start_us INTEGER NOT NULL,
  expiry_us INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  volume INTEGER NOT NULL,
  local_time TEXT NOT NULL,
  tz TEXT NOT NULL,
  created_us INTEGER NOT NULL);
CREATE INDEX occurrences_bulletin ON occurrences(bulletin_id);
CREATE INDEX occurrences_start ON occurrences(start_us);
CREATE TABLE occurrence_targets(
  occurrence_id INTEGER NOT NULL REFERENCES occurrences(id),
  position INTEGER NOT NULL,
  target TEXT NOT NULL,
  PRIMARY KEY(occurrence_id, position));
CREATE TABLE occurrence_scopes(
  occurrence_id INTEGER NOT NULL REFERENCES occurrences(id),
  scope TEXT NOT NULL,
  PRIMARY KEY(occurrence_id, scope));
CREATE INDEX occurrence_scopes_scope ON occurrence_scopes(scope);
CREATE TABLE occurrence_nodes(
  occurrence_id INTEGER NOT NULL REFERENCES occurrences(id),
  node_id TEXT NOT NULL,
  area TEXT NOT NULL,
  residents INTEGER NOT NULL,
  PRIMARY KEY(occurrence_id, node_id));
CREATE TABLE plans(
  scope TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  body BLOB NOT NULL,
  published_us INTEGER NOT NULL);
CREATE TABLE cache_reports(
  node_id TEXT NOT NULL,
  bulletin_id INTEGER NOT NULL,
  state INTEGER NOT NULL,
  detail TEXT NOT NULL,
  reported_us INTEGER NOT NULL,
  PRIMARY KEY(node_id, bulletin_id));
CREATE TABLE events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  node_id TEXT NOT NULL,
  occurrence_id INTEGER NOT NULL,
  bulletin_id INTEGER NOT NULL,
  outcome INTEGER NOT NULL,
  start_us INTEGER NOT NULL,
  end_us INTEGER NOT NULL,
  frames_played INTEGER NOT NULL,
  frames_concealed INTEGER NOT NULL,
  frames_dropped INTEGER NOT NULL,
  event_seq INTEGER NOT NULL,
  detail TEXT NOT NULL,
  recorded_us INTEGER NOT NULL,
  envelope BLOB NOT NULL,
  UNIQUE(node_id, occurrence_id));
CREATE INDEX events_occurrence ON events(occurrence_id);
CREATE INDEX events_bulletin ON events(bulletin_id);
CREATE TABLE event_seqs(
  node_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(node_id, seq)) WITHOUT ROWID;
CREATE TABLE receipts(
  node_id TEXT PRIMARY KEY,
  recorded_through INTEGER NOT NULL);
)sql",
    // sched (issue 4): series, cancel, keep-until, approval, area settings, groups.
    R"sql(
ALTER TABLE occurrences ADD COLUMN series_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE occurrences ADD COLUMN keep_until_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE occurrences ADD COLUMN cancelled_us INTEGER NOT NULL DEFAULT 0;
UPDATE occurrences SET keep_until_us = expiry_us + 60000000;
CREATE INDEX occurrences_keep ON occurrences(keep_until_us);
CREATE INDEX occurrences_series ON occurrences(series_id, start_us);
ALTER TABLE occurrence_nodes ADD COLUMN approval TEXT NOT NULL DEFAULT 'none';
CREATE INDEX occurrence_nodes_node ON occurrence_nodes(node_id);
CREATE TABLE series(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  bulletin_id INTEGER NOT NULL REFERENCES bulletins(id),
  rrule TEXT NOT NULL,
  repeat_every_us INTEGER NOT NULL,
  until_us INTEGER NOT NULL,
  local_time TEXT NOT NULL,
  tz TEXT NOT NULL,
  targets TEXT NOT NULL,
  priority INTEGER NOT NULL,
  volume INTEGER NOT NULL,
  expiry_after_us INTEGER NOT NULL,
  materialized_until_us INTEGER NOT NULL,
  cancelled_us INTEGER NOT NULL DEFAULT 0,
  created_us INTEGER NOT NULL);
CREATE TABLE area_settings(
  area TEXT PRIMARY KEY,
  approval TEXT NOT NULL);
CREATE TABLE node_groups(
  name TEXT NOT NULL,
  node_id TEXT NOT NULL,
  PRIMARY KEY(name, node_id));
)sql",
    // ledger (issue 9): decommissioned nodes, refused events.
    R"sql(
ALTER TABLE nodes ADD COLUMN decommissioned_us INTEGER NOT NULL DEFAULT 0;
CREATE TABLE refused_events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  node_id TEXT NOT NULL,
  occurrence_id INTEGER NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  envelope BLOB NOT NULL,
  at_us INTEGER NOT NULL,
  UNIQUE(node_id, envelope));
CREATE INDEX refused_events_at ON refused_events(at_us);
)sql",
    // cap (issue 5): CAP messages received, geocode -> area table.
    R"sql(
CREATE TABLE cap_alerts(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_us INTEGER NOT NULL,
  sender TEXT NOT NULL,
  identifier TEXT NOT NULL,
  sent TEXT NOT NULL,
  sent_us INTEGER NOT NULL,
  status TEXT NOT NULL,
  msg_type TEXT NOT NULL,
  refs TEXT NOT NULL,
  language TEXT NOT NULL,
  event TEXT NOT NULL,
  headline TEXT NOT NULL,
  urgency TEXT NOT NULL,
  severity TEXT NOT NULL,
  certainty TEXT NOT NULL,
  expires_us INTEGER NOT NULL,
  level TEXT NOT NULL,
  repeat_every_min INTEGER NOT NULL,
  areas TEXT NOT NULL,
  unmapped TEXT NOT NULL,
  bulletin_id INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  occurrences TEXT NOT NULL,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL,
  closed_us INTEGER NOT NULL DEFAULT 0,
  closed_by INTEGER NOT NULL DEFAULT 0,
  xml TEXT NOT NULL);
CREATE INDEX cap_alerts_key ON cap_alerts(sender, identifier);
CREATE TABLE cap_geocodes(
  value_name TEXT NOT NULL,
  value TEXT NOT NULL,
  area TEXT NOT NULL,
  PRIMARY KEY(value_name, value));
)sql",
    // health (issue 6): the statuses nodes sent (and their last wills), a bounded history.
    R"sql(
CREATE TABLE node_status(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  node_id TEXT NOT NULL,
  received_us INTEGER NOT NULL,
  online INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX node_status_node ON node_status(node_id, received_us);
)sql",
    // refused events keep a bounded prefix of the envelope, with its size and digest (a node
    // could otherwise fill the disk with refusals), and are trimmed per node and in total.
    R"sql(
CREATE TABLE refused_events_bounded(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  node_id TEXT NOT NULL,
  occurrence_id INTEGER NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  envelope BLOB NOT NULL,
  envelope_size INTEGER NOT NULL,
  envelope_sha256 BLOB,
  at_us INTEGER NOT NULL,
  UNIQUE(node_id, envelope_sha256));
INSERT INTO refused_events_bounded(id, node_id, occurrence_id, reason, detail, envelope,
                                   envelope_size, envelope_sha256, at_us)
  SELECT id, node_id, occurrence_id, reason, substr(detail, 1, 1024), substr(envelope, 1, 1024),
         length(envelope), NULL, at_us FROM refused_events;
DROP TABLE refused_events;
ALTER TABLE refused_events_bounded RENAME TO refused_events;
CREATE INDEX refused_events_at ON refused_events(at_us);
CREATE INDEX refused_events_node ON refused_events(node_id, id);
)sql",
    // replay: the highest envelope sequence accepted per (node key id, topic).
    R"sql(
CREATE TABLE replay_marks(
  key_id INTEGER NOT NULL,
  topic TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  PRIMARY KEY(key_id, topic));
)sql",
};

// Runs `fn` in a transaction, rolled back when `fn` fails. Outermost, it is BEGIN IMMEDIATE:
// it takes the write lock first (waiting up to the busy timeout), because a deferred transaction
// that has read cannot take it once another connection (the accounts' audit log) has committed
// since: SQLite refuses at once ("database is locked"), and a batch of node messages was lost.
// Nested inside Store::batch(), it is a savepoint that commits with the batch.
template <typename Fn>
auto in_transaction(Database& db, Fn&& fn) -> decltype(fn()) {
  const bool outermost = !db.in_transaction();
  if (loa::Status s = db.exec(outermost ? "BEGIN IMMEDIATE" : "SAVEPOINT loa"); !s) {
    return make_error(s.message());
  }
  const auto undo = [&] {
    if (outermost) {
      (void)db.exec("ROLLBACK");
    } else {
      (void)db.exec("ROLLBACK TO loa");
      (void)db.exec("RELEASE loa");
    }
  };
  auto r = fn();
  if (!r.ok()) {
    undo();
    return r;
  }
  if (loa::Status c = db.exec(outermost ? "COMMIT" : "RELEASE loa"); !c) {
    undo();
    return make_error(c.message());
  }
  return r;
}

// Every row `st` steps through, each made by read(st).
template <typename Read>
auto read_rows(Statement& st, Read&& read) -> Result<std::vector<decltype(read(st))>> {
  std::vector<decltype(read(st))> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(read(st));
  }
  return out;
}

// The first row of `st`, made by read(st); nullopt when there is none.
template <typename Read>
auto read_first(Statement& st, Read&& read) -> Result<std::optional<decltype(read(st))>> {
  auto row = st.step();
  if (!row) return row.error();
  if (!*row) return std::optional<decltype(read(st))>();
  return std::optional<decltype(read(st))>(read(st));
}

// Values of the '?' placeholders of a query built condition by condition, in order.
using SqlArgs = std::vector<std::variant<std::int64_t, std::string>>;

void bind_all(Statement& st, const SqlArgs& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::visit([&](const auto& v) { st.bind(static_cast<int>(i + 1), v); }, args[i]);
  }
}

NodeRecord read_node(const Statement& s) {
  NodeRecord n;
  n.id = s.text(0);
  n.name = s.text(1);
  n.area = s.text(2);
  n.speakers = s.int64(3);
  n.residents = s.int64(4);
  if (!s.is_null(5)) {
    const protocol::Bytes key = s.blob(5);
    if (key.size() == protocol::PublicKey{}.size()) {
      protocol::PublicKey k{};
      std::copy(key.begin(), key.end(), k.begin());
      n.public_key = k;
    }
  }
  n.last_seen_us = s.int64(6);
  n.online = s.int64(7) != 0;
  n.decommissioned_us = s.int64(8);
  return n;
}
constexpr const char* kNodeColumns =
    "id, name, area, speakers, residents, public_key, last_seen_us, online, decommissioned_us";

// Binds ?1 to ?6: id, name, area, speakers, residents, public_key.
void bind_node(Statement& st, const NodeRecord& n) {
  st.bind(1, n.id).bind(2, n.name).bind(3, n.area).bind(4, n.speakers).bind(5, n.residents);
  if (n.public_key) {
    st.bind(6, protocol::ByteView(*n.public_key));
  } else {
    st.bind_null(6);
  }
}

BulletinRecord read_bulletin(const Statement& s) {
  BulletinRecord b;
  b.id = u64(s.int64(0));
  b.title = s.text(1);
  b.source = s.text(2);
  b.duration_s = s.real(3);
  b.ogg_path = s.text(4);
  b.sha256_hex = s.text(5);
  b.bitrate = static_cast<std::uint32_t>(s.int64(6));
  b.frame_ms = static_cast<std::uint16_t>(s.int64(7));
  b.created_us = s.int64(8);
  return b;
}
constexpr const char* kBulletinColumns =
    "id, title, source, duration_s, ogg_path, sha256, bitrate, frame_ms, created_us";

// Binds ?1 to ?7: title, source, duration_s, ogg_path, sha256, bitrate, frame_ms.
void bind_bulletin(Statement& st, const BulletinRecord& b) {
  st.bind(1, b.title)
      .bind(2, b.source)
      .bind(3, b.duration_s)
      .bind(4, b.ogg_path)
      .bind(5, b.sha256_hex)
      .bind(6, std::int64_t{b.bitrate})
      .bind(7, std::int64_t{b.frame_ms});
}

constexpr const char* kOccurrenceColumns =
    "o.id, o.bulletin_id, o.start_us, o.expiry_us, o.priority, o.volume, o.local_time, o.tz, "
    "o.created_us, o.series_id, o.keep_until_us, o.cancelled_us";

OccurrenceRecord read_occurrence(const Statement& s) {
  OccurrenceRecord o;
  o.id = u64(s.int64(0));
  o.bulletin_id = u64(s.int64(1));
  o.start_us = s.int64(2);
  o.expiry_us = s.int64(3);
  o.priority = static_cast<protocol::Priority>(s.int64(4));
  o.volume = static_cast<std::uint8_t>(s.int64(5));
  o.local_time = s.text(6);
  o.tz = s.text(7);
  o.created_us = s.int64(8);
  o.series_id = u64(s.int64(9));
  o.keep_until_us = s.int64(10);
  o.cancelled_us = s.int64(11);
  return o;
}

constexpr const char* kSeriesColumns =
    "id, bulletin_id, rrule, repeat_every_us, until_us, local_time, tz, targets, priority, volume, "
    "expiry_after_us, materialized_until_us, cancelled_us, created_us";

SeriesRecord read_series(const Statement& s) {
  SeriesRecord r;
  r.id = u64(s.int64(0));
  r.bulletin_id = u64(s.int64(1));
  r.rrule = s.text(2);
  r.repeat_every_us = s.int64(3);
  r.until_us = s.int64(4);
  r.local_time = s.text(5);
  r.tz = s.text(6);
  const std::string targets = s.text(7);
  std::size_t pos = 0;
  while (pos < targets.size()) {
    const auto nl = targets.find('\n', pos);
    r.targets.push_back(targets.substr(pos, nl == std::string::npos ? nl : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  r.priority = static_cast<protocol::Priority>(s.int64(8));
  r.volume = static_cast<std::uint8_t>(s.int64(9));
  r.expiry_after_us = s.int64(10);
  r.materialized_until_us = s.int64(11);
  r.cancelled_us = s.int64(12);
  r.created_us = s.int64(13);
  return r;
}

constexpr const char* kEventColumns =
    "node_id, occurrence_id, bulletin_id, outcome, start_us, end_us, frames_played, "
    "frames_concealed, frames_dropped, event_seq, detail, recorded_us, envelope";

EventRecord read_event(const Statement& s) {
  EventRecord r;
  auto& e = r.event;
  e.node_id = s.text(0);
  e.occurrence_id = u64(s.int64(1));
  e.bulletin_id = u64(s.int64(2));
  e.outcome = static_cast<protocol::Outcome>(s.int64(3));
  e.start_us = s.int64(4);
  e.end_us = s.int64(5);
  e.frames_played = static_cast<std::uint32_t>(s.int64(6));
  e.frames_concealed = static_cast<std::uint32_t>(s.int64(7));
  e.frames_dropped = static_cast<std::uint32_t>(s.int64(8));
  e.event_seq = u64(s.int64(9));
  e.detail = s.text(10);
  r.recorded_us = s.int64(11);
  r.envelope = s.blob(12);
  r.row_id = s.int64(13);
  return r;
}

constexpr const char* kRefusedColumns =
    "id, node_id, occurrence_id, reason, detail, envelope, at_us, envelope_size, envelope_sha256";

RefusedEventRecord read_refused(const Statement& s) {
  RefusedEventRecord r;
  r.id = s.int64(0);
  r.node_id = s.text(1);
  r.occurrence_id = u64(s.int64(2));
  r.reason = s.text(3);
  r.detail = s.text(4);
  r.envelope = s.blob(5);
  r.at_us = s.int64(6);
  r.envelope_size = u64(s.int64(7));
  r.envelope_sha256 = s.blob(8);
  return r;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(Database db) : db_(std::move(db)) {}

  loa::Status add_node(const NodeRecord& n) override {
    auto st = db_.prepare(
        "INSERT INTO nodes(id, name, area, speakers, residents, public_key) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    bind_node(*st, n);
    if (loa::Status s = st->run(); !s) return make_error("node '" + n.id + "': " + s.message());
    return {};
  }

  loa::Status upsert_nodes(const std::vector<NodeRecord>& nodes) override {
    return in_transaction(db_, [&]() -> loa::Status {
      auto st = db_.prepare(
          "INSERT INTO nodes(id, name, area, speakers, residents, public_key) "
          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
          "area = excluded.area, speakers = excluded.speakers, residents = excluded.residents, "
          "public_key = COALESCE(excluded.public_key, nodes.public_key)");
      if (!st) return st.error();
      for (const auto& n : nodes) {
        bind_node(*st, n);
        if (loa::Status s = st->run(); !s) {
          return make_error("node '" + n.id + "': " + s.message());
        }
      }
      return {};
    });
  }

  Result<std::optional<NodeRecord>> find_node(const std::string& id) override {
    auto st = db_.prepare(std::string("SELECT ") + kNodeColumns + " FROM nodes WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, id);
    return read_first(*st, read_node);
  }

  Result<std::vector<NodeRecord>> list_nodes() override {
    return query_nodes(std::string("SELECT ") + kNodeColumns + " FROM nodes ORDER BY area, id", {});
  }

  Result<std::vector<NodeRecord>> nodes_in_area(const std::string& area) override {
    // substr rather than LIKE: '_' is a LIKE wildcard and valid in area segments.
    return query_nodes(std::string("SELECT ") + kNodeColumns +
                           " FROM nodes WHERE decommissioned_us = 0 AND (area = ?1 OR "
                           "substr(area, 1, length(?1) + 1) = ?1 || '/') ORDER BY area, id",
                       area);
  }

  loa::Status set_node_public_key(const std::string& id, const protocol::PublicKey& key) override {
    auto st = db_.prepare("UPDATE nodes SET public_key = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, protocol::ByteView(key)).bind(2, id);
    return st->run();
  }

  loa::Status set_node_seen(const std::string& id, Micros at_us, bool online) override {
    auto st = db_.prepare(
        "UPDATE nodes SET last_seen_us = MAX(last_seen_us, ?), online = ? "
        "WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, at_us).bind(2, std::int64_t{online ? 1 : 0}).bind(3, id);
    return st->run();
  }

  Result<std::uint64_t> add_bulletin(const BulletinRecord& b) override {
    auto st = db_.prepare(
        "INSERT INTO bulletins(title, source, duration_s, ogg_path, sha256, bitrate, frame_ms, "
        "created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    bind_bulletin(*st, b);
    st->bind(8, b.created_us);
    if (loa::Status s = st->run(); !s) return make_error("bulletin: " + s.message());
    return u64(db_.last_insert_rowid());
  }

  loa::Status update_bulletin(const BulletinRecord& b) override {
    auto st = db_.prepare(
        "UPDATE bulletins SET title = ?, source = ?, duration_s = ?, ogg_path = ?, sha256 = ?, "
        "bitrate = ?, frame_ms = ? WHERE id = ?");
    if (!st) return st.error();
    bind_bulletin(*st, b);
    st->bind(8, i64(b.id));
    if (loa::Status s = st->run(); !s) {
      return make_error("bulletin " + std::to_string(b.id) + ": " + s.message());
    }
    return {};
  }

  Result<std::optional<BulletinRecord>> find_bulletin(std::uint64_t id) override {
    auto st =
        db_.prepare(std::string("SELECT ") + kBulletinColumns + " FROM bulletins WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, i64(id));
    return read_first(*st, read_bulletin);
  }

  Result<std::vector<BulletinRecord>> list_bulletins() override {
    auto st =
        db_.prepare(std::string("SELECT ") + kBulletinColumns + " FROM bulletins ORDER BY id");
    if (!st) return st.error();
    return read_rows(*st, read_bulletin);
  }

  Result<std::uint64_t> add_occurrence(const OccurrenceRecord& o) override {
    return in_transaction(db_, [&]() -> Result<std::uint64_t> {
      auto st = db_.prepare(
          "INSERT INTO occurrences(bulletin_id, start_us, expiry_us, priority, volume, "
          "local_time, tz, created_us, series_id, keep_until_us, cancelled_us) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!st) return st.error();
      st->bind(1, i64(o.bulletin_id))
          .bind(2, o.start_us)
          .bind(3, o.expiry_us)
          .bind(4, static_cast<std::int64_t>(o.priority))
          .bind(5, std::int64_t{o.volume})
          .bind(6, o.local_time)
          .bind(7, o.tz)
          .bind(8, o.created_us)
          .bind(9, i64(o.series_id))
          .bind(10, o.keep_until_us == 0 ? o.expiry_us + 60'000'000 : o.keep_until_us)
          .bind(11, o.cancelled_us);
      if (loa::Status s = st->run(); !s) return make_error("occurrence: " + s.message());
      const std::int64_t id = db_.last_insert_rowid();
      if (loa::Status s = insert_children(id, o); !s) return make_error(s.message());
      return u64(id);
    });
  }

  loa::Status insert_children(std::int64_t id, const OccurrenceRecord& o) {
    {
      auto t = db_.prepare(
          "INSERT INTO occurrence_targets(occurrence_id, position, target) VALUES (?, ?, ?)");
      if (!t) return t.error();
      for (std::size_t i = 0; i < o.targets.size(); ++i) {
        t->bind(1, id).bind(2, static_cast<std::int64_t>(i)).bind(3, o.targets[i]);
        if (loa::Status s = t->run(); !s) return make_error("target: " + s.message());
      }
      auto sc = db_.prepare(
          "INSERT OR IGNORE INTO occurrence_scopes(occurrence_id, scope) "
          "VALUES (?, ?)");
      if (!sc) return sc.error();
      for (const auto& scope : o.scopes) {
        sc->bind(1, id).bind(2, scope);
        if (loa::Status s = sc->run(); !s) return make_error("scope: " + s.message());
      }
      auto n = db_.prepare(
          "INSERT OR IGNORE INTO occurrence_nodes(occurrence_id, node_id, area, residents, "
          "approval) VALUES (?, ?, ?, ?, ?)");
      if (!n) return n.error();
      for (const auto& node : o.nodes) {
        n->bind(1, id)
            .bind(2, node.node_id)
            .bind(3, node.area)
            .bind(4, node.residents)
            .bind(5, node.approval);
        if (loa::Status s = n->run(); !s) return make_error("targeted node: " + s.message());
      }
      return {};
    }
  }

  loa::Status cancel_occurrence(std::uint64_t id, Micros at_us) override {
    auto st = db_.prepare("UPDATE occurrences SET cancelled_us = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, at_us).bind(2, i64(id));
    if (loa::Status s = st->run(); !s) {
      return make_error("occurrence " + std::to_string(id) + ": " + s.message());
    }
    return {};
  }

  loa::Status update_occurrence(const OccurrenceRecord& o) override {
    return in_transaction(db_, [&]() -> loa::Status {
      auto st = db_.prepare(
          "UPDATE occurrences SET bulletin_id = ?, start_us = ?, expiry_us = ?, priority = ?, "
          "volume = ?, local_time = ?, tz = ?, keep_until_us = ?, cancelled_us = ? WHERE id = ?");
      if (!st) return st.error();
      st->bind(1, i64(o.bulletin_id))
          .bind(2, o.start_us)
          .bind(3, o.expiry_us)
          .bind(4, static_cast<std::int64_t>(o.priority))
          .bind(5, std::int64_t{o.volume})
          .bind(6, o.local_time)
          .bind(7, o.tz)
          .bind(8, o.keep_until_us)
          .bind(9, o.cancelled_us)
          .bind(10, i64(o.id));
      if (loa::Status s = st->run(); !s) {
        return make_error("occurrence " + std::to_string(o.id) + ": " + s.message());
      }
      for (const char* table : {"occurrence_targets", "occurrence_scopes", "occurrence_nodes"}) {
        auto d = db_.prepare(std::string("DELETE FROM ") + table + " WHERE occurrence_id = ?");
        if (!d) return d.error();
        d->bind(1, i64(o.id));
        if (loa::Status s = d->run(); !s) return s;
      }
      return insert_children(i64(o.id), o);
    });
  }

  Result<std::vector<OccurrenceRecord>> live_occurrences(Micros now_us, Micros to_us) override {
    return query_occurrences(std::string("SELECT ") + kOccurrenceColumns +
                                 " FROM occurrences o WHERE o.keep_until_us > ? AND "
                                 "o.cancelled_us = 0 AND o.start_us < ? ORDER BY o.start_us, o.id",
                             [&](Statement& s) { s.bind(1, now_us).bind(2, to_us); });
  }

  Result<std::vector<OccurrenceRecord>> occurrences_of_series(std::uint64_t id) override {
    return query_occurrences(
        std::string("SELECT ") + kOccurrenceColumns +
            " FROM occurrences o WHERE o.series_id = ? ORDER BY o.start_us",
        [&](Statement& s) { s.bind(1, i64(id)); }, /*with_nodes=*/false);
  }

  Result<std::uint64_t> add_series(const SeriesRecord& r) override {
    auto st =
        db_.prepare(std::string("INSERT INTO series(") + std::string(kSeriesColumns).substr(4) +
                    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    std::string targets;
    for (const auto& t : r.targets) targets += (targets.empty() ? "" : "\n") + t;
    st->bind(1, i64(r.bulletin_id))
        .bind(2, r.rrule)
        .bind(3, r.repeat_every_us)
        .bind(4, r.until_us)
        .bind(5, r.local_time)
        .bind(6, r.tz)
        .bind(7, targets)
        .bind(8, static_cast<std::int64_t>(r.priority))
        .bind(9, std::int64_t{r.volume})
        .bind(10, r.expiry_after_us)
        .bind(11, r.materialized_until_us)
        .bind(12, r.cancelled_us)
        .bind(13, r.created_us);
    if (loa::Status s = st->run(); !s) return make_error("series: " + s.message());
    return u64(db_.last_insert_rowid());
  }

  Result<std::optional<SeriesRecord>> find_series(std::uint64_t id) override {
    auto list = query_series(" WHERE id = ?", i64(id));
    if (!list) return list.error();
    if (list->empty()) return std::optional<SeriesRecord>();
    return std::optional<SeriesRecord>(std::move(list->front()));
  }

  Result<std::vector<SeriesRecord>> active_series() override {
    return query_series(" WHERE cancelled_us = 0 ORDER BY id", std::nullopt);
  }

  loa::Status set_series_materialized(std::uint64_t id, Micros until_us) override {
    auto st = db_.prepare("UPDATE series SET materialized_until_us = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, until_us).bind(2, i64(id));
    return st->run();
  }

  loa::Status cancel_series(std::uint64_t id, Micros at_us) override {
    auto st = db_.prepare("UPDATE series SET cancelled_us = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, at_us).bind(2, i64(id));
    return st->run();
  }

  loa::Status set_area_approval(const std::string& area, const std::string& approval) override {
    auto st = db_.prepare(
        "INSERT INTO area_settings(area, approval) VALUES (?, ?) "
        "ON CONFLICT(area) DO UPDATE SET approval = excluded.approval");
    if (!st) return st.error();
    st->bind(1, area).bind(2, approval);
    if (loa::Status s = st->run(); !s) return make_error("area " + area + ": " + s.message());
    return {};
  }

  Result<std::vector<std::string>> approval_areas() override {
    auto st =
        db_.prepare("SELECT area FROM area_settings WHERE approval = 'required' ORDER BY area");
    if (!st) return st.error();
    return read_rows(*st, [](const Statement& r) { return r.text(0); });
  }

  loa::Status add_group_members(const std::string& name,
                                const std::vector<std::string>& ids) override {
    return in_transaction(db_, [&]() -> loa::Status {
      auto st = db_.prepare("INSERT OR IGNORE INTO node_groups(name, node_id) VALUES (?, ?)");
      if (!st) return st.error();
      for (const auto& id : ids) {
        st->bind(1, name).bind(2, id);
        if (loa::Status s = st->run(); !s) return make_error("group " + name + ": " + s.message());
      }
      return {};
    });
  }

  loa::Status remove_group_members(const std::string& name,
                                   const std::vector<std::string>& ids) override {
    return in_transaction(db_, [&]() -> loa::Status {
      auto st = db_.prepare("DELETE FROM node_groups WHERE name = ? AND node_id = ?");
      if (!st) return st.error();
      for (const auto& id : ids) {
        st->bind(1, name).bind(2, id);
        if (loa::Status s = st->run(); !s) return make_error("group " + name + ": " + s.message());
      }
      return {};
    });
  }

  Result<std::vector<std::string>> group_members(const std::string& name) override {
    auto st = db_.prepare("SELECT node_id FROM node_groups WHERE name = ? ORDER BY node_id");
    if (!st) return st.error();
    st->bind(1, name);
    return read_rows(*st, [](const Statement& r) { return r.text(0); });
  }

  Result<std::vector<std::pair<std::string, std::string>>> list_groups() override {
    auto st = db_.prepare("SELECT name, node_id FROM node_groups ORDER BY name, node_id");
    if (!st) return st.error();
    return read_rows(*st, [](const Statement& r) { return std::pair(r.text(0), r.text(1)); });
  }

  Result<std::vector<SeriesRecord>> query_series(const std::string& where,
                                                 std::optional<std::int64_t> arg) {
    auto st = db_.prepare(std::string("SELECT ") + kSeriesColumns + " FROM series" + where);
    if (!st) return st.error();
    if (arg) st->bind(1, *arg);
    return read_rows(*st, read_series);
  }

  Result<std::optional<OccurrenceRecord>> find_occurrence(std::uint64_t id) override {
    auto list = query_occurrences(
        std::string("SELECT ") + kOccurrenceColumns + " FROM occurrences o WHERE o.id = ?",
        [&](Statement& s) { s.bind(1, i64(id)); });
    if (!list) return list.error();
    if (list->empty()) return std::optional<OccurrenceRecord>();
    return std::optional<OccurrenceRecord>(std::move(list->front()));
  }

  Result<std::optional<OccurrenceRecord>> find_occurrence_brief(std::uint64_t id) override {
    auto list = query_occurrences(
        std::string("SELECT ") + kOccurrenceColumns + " FROM occurrences o WHERE o.id = ?",
        [&](Statement& s) { s.bind(1, i64(id)); }, false);
    if (!list) return list.error();
    if (list->empty()) return std::optional<OccurrenceRecord>();
    return std::optional<OccurrenceRecord>(std::move(list->front()));
  }

  Result<std::optional<TargetedNode>> find_targeted_node(std::uint64_t occurrence_id,
                                                         const std::string& node_id) override {
    auto st = db_.prepare(
        "SELECT node_id, area, residents, approval FROM occurrence_nodes "
        "WHERE occurrence_id = ? AND node_id = ?");
    if (!st) return st.error();
    st->bind(1, i64(occurrence_id)).bind(2, node_id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<TargetedNode>();
    return std::optional<TargetedNode>(
        TargetedNode{st->text(0), st->text(1), st->int64(2), st->text(3)});
  }

  Result<std::vector<OccurrenceRecord>> occurrences_of_bulletin(std::uint64_t id) override {
    return query_occurrences(std::string("SELECT ") + kOccurrenceColumns +
                                 " FROM occurrences o WHERE o.bulletin_id = ? ORDER BY o.id",
                             [&](Statement& s) { s.bind(1, i64(id)); });
  }

  Result<std::vector<OccurrenceRecord>> active_occurrences_in_scope(const std::string& scope,
                                                                    Micros now_us) override {
    return query_occurrences(
        std::string("SELECT ") + kOccurrenceColumns +
            " FROM occurrences o JOIN occurrence_scopes s ON s.occurrence_id = o.id "
            "WHERE s.scope = ? AND o.keep_until_us > ? AND o.cancelled_us = 0 "
            "ORDER BY o.start_us, o.id",
        [&](Statement& s) { s.bind(1, scope).bind(2, now_us); }, false);
  }

  Result<std::vector<OccurrenceRecord>> list_occurrences(Micros since_us) override {
    return query_occurrences(std::string("SELECT ") + kOccurrenceColumns +
                                 " FROM occurrences o WHERE o.expiry_us >= ? ORDER BY o.start_us, "
                                 "o.id",
                             [&](Statement& s) { s.bind(1, since_us); });
  }

  Result<std::uint64_t> next_plan_version() override {
    return in_transaction(db_, [&]() -> Result<std::uint64_t> {
      if (loa::Status s = db_.exec("UPDATE meta SET value = value + 1 WHERE key = 'plan_version'");
          !s) {
        return make_error(s.message());
      }
      auto st = db_.prepare("SELECT value FROM meta WHERE key = 'plan_version'");
      if (!st) return st.error();
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) return make_error("sqlite: meta row 'plan_version' is missing");
      return u64(st->int64(0));
    });
  }

  loa::Status save_plan(const PlanRecord& p) override {
    auto st = db_.prepare(
        "INSERT INTO plans(scope, version, body, published_us) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(scope) DO UPDATE SET version = excluded.version, body = excluded.body, "
        "published_us = excluded.published_us");
    if (!st) return st.error();
    st->bind(1, p.scope).bind(2, i64(p.version)).bind(3, protocol::ByteView(p.body));
    st->bind(4, p.published_us);
    return st->run();
  }

  Result<std::optional<PlanRecord>> find_plan(const std::string& scope) override {
    auto st = db_.prepare("SELECT scope, version, body, published_us FROM plans WHERE scope = ?");
    if (!st) return st.error();
    st->bind(1, scope);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<PlanRecord>();
    PlanRecord p;
    p.scope = st->text(0);
    p.version = u64(st->int64(1));
    p.body = st->blob(2);
    p.published_us = st->int64(3);
    return std::optional<PlanRecord>(std::move(p));
  }

  loa::Status save_cache_report(const CacheReportRecord& r) override {
    auto st = db_.prepare(
        "INSERT INTO cache_reports(node_id, bulletin_id, state, detail, reported_us) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(node_id, bulletin_id) DO UPDATE SET "
        "state = excluded.state, detail = excluded.detail, reported_us = excluded.reported_us");
    if (!st) return st.error();
    st->bind(1, r.node_id)
        .bind(2, i64(r.bulletin_id))
        .bind(3, static_cast<std::int64_t>(r.state))
        .bind(4, r.detail)
        .bind(5, r.reported_us);
    return st->run();
  }

  Result<std::vector<CacheReportRecord>> cache_reports(std::uint64_t bulletin_id) override {
    auto st = db_.prepare(
        "SELECT node_id, bulletin_id, state, detail, reported_us FROM cache_reports "
        "WHERE bulletin_id = ? ORDER BY node_id");
    if (!st) return st.error();
    st->bind(1, i64(bulletin_id));
    return read_rows(*st, [](const Statement& row) {
      CacheReportRecord r;
      r.node_id = row.text(0);
      r.bulletin_id = u64(row.int64(1));
      r.state = static_cast<protocol::CacheState>(row.int64(2));
      r.detail = row.text(3);
      r.reported_us = row.int64(4);
      return r;
    });
  }

  loa::Status add_node_status(const NodeStatusRecord& r, std::size_t keep,
                              Micros keep_since_us) override {
    const protocol::Bytes body = protocol::encode(r.status);
    auto st = db_.prepare(
        "INSERT INTO node_status(node_id, received_us, online, body) VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, r.status.node_id)
        .bind(2, r.received_us)
        .bind(3, std::int64_t{r.status.online ? 1 : 0})
        .bind(4, protocol::ByteView(body));
    if (loa::Status s = st->run(); !s) return s;
    auto old = db_.prepare("DELETE FROM node_status WHERE node_id = ? AND received_us < ?");
    if (!old) return old.error();
    old->bind(1, r.status.node_id).bind(2, keep_since_us);
    if (loa::Status s = old->run(); !s) return s;
    auto extra = db_.prepare(
        "DELETE FROM node_status WHERE node_id = ?1 AND id NOT IN (SELECT id FROM node_status "
        "WHERE node_id = ?1 ORDER BY received_us DESC, id DESC LIMIT ?2)");
    if (!extra) return extra.error();
    extra->bind(1, r.status.node_id).bind(2, static_cast<std::int64_t>(keep));
    return extra->run();
  }

  Result<std::vector<NodeStatusRecord>> node_statuses(const std::string& node_id,
                                                      std::size_t limit) override {
    auto st = db_.prepare(
        "SELECT received_us, body FROM node_status WHERE node_id = ? "
        "ORDER BY received_us DESC, id DESC LIMIT ?");
    if (!st) return st.error();
    st->bind(1, node_id).bind(2, static_cast<std::int64_t>(limit));
    return read_statuses(*st);
  }

  Result<std::vector<NodeStatusRecord>> latest_node_statuses() override {
    auto st = db_.prepare(
        "SELECT s.received_us, s.body FROM node_status s WHERE s.id = (SELECT id FROM node_status "
        "t WHERE t.node_id = s.node_id ORDER BY received_us DESC, id DESC LIMIT 1) "
        "ORDER BY s.node_id");
    if (!st) return st.error();
    return read_statuses(*st);
  }

  static Result<std::vector<NodeStatusRecord>> read_statuses(Statement& st) {
    std::vector<NodeStatusRecord> out;
    for (;;) {
      auto row = st.step();
      if (!row) return row.error();
      if (!*row) break;
      NodeStatusRecord r;
      r.received_us = st.int64(0);
      const protocol::Bytes body = st.blob(1);
      auto status = protocol::decode_status(body);
      if (!status) return make_error("sqlite: node_status: " + status.error().message);
      r.status = std::move(status).value();
      out.push_back(std::move(r));
    }
    return out;
  }

  Result<bool> add_event(const EventRecord& r) override {
    return in_transaction(db_, [&]() -> Result<bool> {
      const auto& e = r.event;
      auto st = db_.prepare(std::string("INSERT OR IGNORE INTO events(") + kEventColumns +
                            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!st) return st.error();
      st->bind(1, e.node_id)
          .bind(2, i64(e.occurrence_id))
          .bind(3, i64(e.bulletin_id))
          .bind(4, static_cast<std::int64_t>(e.outcome))
          .bind(5, e.start_us)
          .bind(6, e.end_us)
          .bind(7, std::int64_t{e.frames_played})
          .bind(8, std::int64_t{e.frames_concealed})
          .bind(9, std::int64_t{e.frames_dropped})
          .bind(10, i64(e.event_seq))
          .bind(11, e.detail)
          .bind(12, r.recorded_us)
          .bind(13, protocol::ByteView(r.envelope));
      if (loa::Status s = st->run(); !s) return make_error("event: " + s.message());
      const bool inserted = db_.changes() > 0;
      auto through = note_seq(e.node_id, e.event_seq);
      if (!through) return through.error();
      return inserted;
    });
  }

  Result<std::uint64_t> note_event_seq(const std::string& node_id, std::uint64_t seq) override {
    return in_transaction(db_, [&]() { return note_seq(node_id, seq); });
  }

  Result<std::uint64_t> recorded_through(const std::string& node_id) override {
    auto st = db_.prepare("SELECT recorded_through FROM receipts WHERE node_id = ?");
    if (!st) return st.error();
    st->bind(1, node_id);
    auto row = st->step();
    if (!row) return row.error();
    return *row ? u64(st->int64(0)) : std::uint64_t{0};
  }

  Result<std::vector<EventRecord>> events(const LogFilter& f) override {
    // Each condition adds its SQL and the values its '?' placeholders take, in order.
    std::string sql = std::string("SELECT ") + kEventColumns + ", id FROM events WHERE 1 = 1";
    SqlArgs args;
    const char* instant = "(CASE WHEN start_us > 0 THEN start_us ELSE recorded_us END)";
    if (!f.node_id.empty()) {
      sql += " AND node_id = ?";
      args.emplace_back(f.node_id);
    }
    if (!f.area.empty()) {
      // substr rather than LIKE: '_' is a LIKE wildcard and valid in area segments.
      sql += " AND node_id IN (SELECT id FROM nodes WHERE area = ? OR substr(area, 1, ?) = ?)";
      args.emplace_back(f.area);
      args.emplace_back(static_cast<std::int64_t>(f.area.size() + 1));
      args.emplace_back(f.area + "/");
    }
    if (f.since_us != 0) {
      sql += std::string(" AND ") + instant + " >= ?";
      args.emplace_back(f.since_us);
    }
    if (f.bulletin_id != 0) {
      sql += " AND bulletin_id = ?";
      args.emplace_back(i64(f.bulletin_id));
    }
    if (f.occurrence_id != 0) {
      sql += " AND occurrence_id = ?";
      args.emplace_back(i64(f.occurrence_id));
    }
    sql += std::string(" ORDER BY ") + instant + " DESC, id DESC LIMIT ?";
    args.emplace_back(static_cast<std::int64_t>(f.limit == 0 ? 1000 : f.limit));
    auto st = db_.prepare(sql);
    if (!st) return st.error();
    bind_all(*st, args);
    return read_rows(*st, read_event);
  }

  Result<std::optional<EventRecord>> find_event(const std::string& node_id,
                                                std::uint64_t occurrence_id) override {
    auto st = db_.prepare(std::string("SELECT ") + kEventColumns +
                          ", id FROM events WHERE node_id = ? AND occurrence_id = ?");
    if (!st) return st.error();
    st->bind(1, node_id).bind(2, i64(occurrence_id));
    return read_first(*st, read_event);
  }

  Result<std::vector<OccurrenceRecord>> occurrences_starting(Micros from_us,
                                                             Micros to_us) override {
    return query_occurrences(std::string("SELECT ") + kOccurrenceColumns +
                                 " FROM occurrences o WHERE o.start_us >= ? AND o.start_us < ? "
                                 "ORDER BY o.start_us, o.id",
                             [&](Statement& s) { s.bind(1, from_us).bind(2, to_us); });
  }

  Result<std::vector<EventRecord>> events_of_period(Micros from_us, Micros to_us) override {
    auto st = db_.prepare(std::string("SELECT ") + kEventColumns +
                          ", id FROM events WHERE occurrence_id IN (SELECT id FROM occurrences "
                          "WHERE start_us >= ? AND start_us < ?) ORDER BY id");
    if (!st) return st.error();
    st->bind(1, from_us).bind(2, to_us);
    return read_rows(*st, read_event);
  }

  Result<bool> add_refused_event(const RefusedEventRecord& r) override {
    if (r.envelope_sha256.size() != 32) {
      return make_error("refused event: envelope_sha256 of " +
                        std::to_string(r.envelope_sha256.size()) + " bytes, not 32");
    }
    auto st = db_.prepare(
        "INSERT OR IGNORE INTO refused_events(node_id, occurrence_id, reason, detail, envelope, "
        "at_us, envelope_size, envelope_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, r.node_id)
        .bind(2, i64(r.occurrence_id))
        .bind(3, r.reason)
        .bind(4, r.detail)
        .bind(5, protocol::ByteView(r.envelope))
        .bind(6, r.at_us)
        .bind(7, i64(r.envelope_size))
        .bind(8, protocol::ByteView(r.envelope_sha256));
    if (loa::Status s = st->run(); !s) return make_error("refused event: " + s.message());
    return db_.changes() > 0;
  }

  Result<std::size_t> trim_refused_events(const std::string& node_id, std::size_t keep_per_node,
                                          std::size_t keep_total) override {
    std::size_t deleted = 0;
    auto node = db_.prepare(
        "DELETE FROM refused_events WHERE node_id = ?1 AND id <= (SELECT id FROM refused_events "
        "WHERE node_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)");
    if (!node) return node.error();
    node->bind(1, node_id).bind(2, static_cast<std::int64_t>(keep_per_node));
    if (loa::Status s = node->run(); !s) return make_error("refused events: " + s.message());
    deleted += static_cast<std::size_t>(db_.changes());
    auto all = db_.prepare(
        "DELETE FROM refused_events WHERE id <= (SELECT id FROM refused_events ORDER BY id DESC "
        "LIMIT 1 OFFSET ?1)");
    if (!all) return all.error();
    all->bind(1, static_cast<std::int64_t>(keep_total));
    if (loa::Status s = all->run(); !s) return make_error("refused events: " + s.message());
    deleted += static_cast<std::size_t>(db_.changes());
    return deleted;
  }

  Result<std::vector<RefusedEventRecord>> refused_events(const RefusedFilter& f) override {
    std::string sql = std::string("SELECT ") + kRefusedColumns + " FROM refused_events WHERE 1 = 1";
    SqlArgs args;
    if (!f.node_id.empty()) {
      sql += " AND node_id = ?";
      args.emplace_back(f.node_id);
    }
    if (!f.reason.empty()) {
      sql += " AND reason = ?";
      args.emplace_back(f.reason);
    }
    if (f.since_us != 0) {
      sql += " AND at_us >= ?";
      args.emplace_back(f.since_us);
    }
    if (f.before_id != 0) {
      sql += " AND id < ?";
      args.emplace_back(f.before_id);
    }
    sql += " ORDER BY id DESC LIMIT ?";
    args.emplace_back(static_cast<std::int64_t>(f.limit == 0 ? 1000 : f.limit));
    auto st = db_.prepare(sql);
    if (!st) return st.error();
    bind_all(*st, args);
    return read_rows(*st, read_refused);
  }

  Result<std::optional<std::uint64_t>> replay_mark(protocol::KeyId key,
                                                   const std::string& topic) override {
    auto st = db_.prepare("SELECT sequence FROM replay_marks WHERE key_id = ? AND topic = ?");
    if (!st) return st.error();
    st->bind(1, i64(key)).bind(2, topic);
    return read_first(*st, [](Statement& s) { return u64(s.int64(0)); });
  }

  loa::Status set_replay_mark(protocol::KeyId key, const std::string& topic,
                              std::uint64_t sequence) override {
    auto st = db_.prepare(
        "INSERT INTO replay_marks(key_id, topic, sequence) VALUES (?, ?, ?) "
        "ON CONFLICT(key_id, topic) DO UPDATE SET sequence = excluded.sequence");
    if (!st) return st.error();
    st->bind(1, i64(key)).bind(2, topic).bind(3, i64(sequence));
    return st->run();
  }

  loa::Status batch(const std::function<loa::Status()>& fn) override {
    return in_transaction(db_, fn);
  }

  // CAP (cap_store.cpp).
  Result<std::uint64_t> add_cap_alert(const CapAlertRecord& a) override {
    return cap_store::add_alert(db_, a);
  }
  loa::Status close_cap_alert(std::uint64_t id, Micros at_us, std::uint64_t by) override {
    return cap_store::close_alert(db_, id, at_us, by);
  }
  Result<std::optional<CapAlertRecord>> find_cap_alert(const std::string& sender,
                                                       const std::string& identifier) override {
    return cap_store::find_alert(db_, sender, identifier);
  }
  Result<std::optional<CapAlertRecord>> get_cap_alert(std::uint64_t id) override {
    return cap_store::get_alert(db_, id);
  }
  Result<std::vector<CapAlertRecord>> cap_alerts(std::size_t limit) override {
    return cap_store::alerts(db_, limit);
  }
  loa::Status set_cap_geocode(const CapGeocodeRecord& g) override {
    return cap_store::set_geocode(db_, g);
  }
  Result<bool> remove_cap_geocode(const std::string& value_name,
                                  const std::string& value) override {
    return cap_store::remove_geocode(db_, value_name, value);
  }
  Result<std::vector<CapGeocodeRecord>> cap_geocodes() override { return cap_store::geocodes(db_); }

  Result<std::size_t> decommission_node(const std::string& id, Micros at_us) override {
    return in_transaction(db_, [&]() -> Result<std::size_t> {
      auto st = db_.prepare(
          "UPDATE nodes SET decommissioned_us = ? WHERE id = ? AND decommissioned_us = 0");
      if (!st) return st.error();
      st->bind(1, at_us).bind(2, id);
      if (loa::Status s = st->run(); !s) return make_error("node '" + id + "': " + s.message());
      auto del = db_.prepare(
          "DELETE FROM occurrence_nodes WHERE node_id = ? AND occurrence_id IN "
          "(SELECT id FROM occurrences WHERE start_us > ?)");
      if (!del) return del.error();
      del->bind(1, id).bind(2, at_us);
      if (loa::Status s = del->run(); !s) return make_error("node '" + id + "': " + s.message());
      return static_cast<std::size_t>(db_.changes());
    });
  }

 private:
  Result<std::uint64_t> note_seq(const std::string& node_id, std::uint64_t seq) {
    auto cur = recorded_through(node_id);
    if (!cur) return cur.error();
    std::uint64_t through = *cur;
    if (seq > through) {
      auto ins = db_.prepare("INSERT OR IGNORE INTO event_seqs(node_id, seq) VALUES (?, ?)");
      if (!ins) return ins.error();
      ins->bind(1, node_id).bind(2, i64(seq));
      if (loa::Status s = ins->run(); !s) return make_error(s.message());
      auto next = db_.prepare("SELECT 1 FROM event_seqs WHERE node_id = ? AND seq = ?");
      if (!next) return next.error();
      for (;;) {
        next->bind(1, node_id).bind(2, i64(through + 1));
        auto row = next->step();
        next->reset();
        if (!row) return row.error();
        if (!*row) break;
        ++through;
      }
      if (through != *cur) {
        auto del = db_.prepare("DELETE FROM event_seqs WHERE node_id = ? AND seq <= ?");
        if (!del) return del.error();
        del->bind(1, node_id).bind(2, i64(through));
        if (loa::Status s = del->run(); !s) return make_error(s.message());
        auto up = db_.prepare(
            "INSERT INTO receipts(node_id, recorded_through) VALUES (?, ?) ON CONFLICT(node_id) "
            "DO UPDATE SET recorded_through = excluded.recorded_through");
        if (!up) return up.error();
        up->bind(1, node_id).bind(2, i64(through));
        if (loa::Status s = up->run(); !s) return make_error(s.message());
      }
    }
    return through;
  }

  Result<std::vector<NodeRecord>> query_nodes(const std::string& sql,
                                              const std::optional<std::string>& arg) {
    auto st = db_.prepare(sql);
    if (!st) return st.error();
    if (arg) st->bind(1, *arg);
    return read_rows(*st, read_node);
  }

  template <typename Bind>
  Result<std::vector<OccurrenceRecord>> query_occurrences(const std::string& sql, Bind&& bind,
                                                          bool with_nodes = true) {
    auto st = db_.prepare(sql);
    if (!st) return st.error();
    bind(*st);
    auto read = read_rows(*st, read_occurrence);
    if (!read) return read.error();
    std::vector<OccurrenceRecord> out = std::move(*read);
    auto targets = db_.prepare(
        "SELECT target FROM occurrence_targets WHERE occurrence_id = ? ORDER BY position");
    auto scopes =
        db_.prepare("SELECT scope FROM occurrence_scopes WHERE occurrence_id = ? ORDER BY scope");
    auto nodes = db_.prepare(
        "SELECT node_id, area, residents, approval FROM occurrence_nodes WHERE occurrence_id = ? "
        "ORDER BY area, node_id");
    if (!targets) return targets.error();
    if (!scopes) return scopes.error();
    if (!nodes) return nodes.error();
    for (auto& o : out) {
      for (auto* q : {&*targets, &*scopes}) {
        q->bind(1, i64(o.id));
        for (;;) {
          auto row = q->step();
          if (!row) return row.error();
          if (!*row) break;
          (q == &*targets ? o.targets : o.scopes).push_back(q->text(0));
        }
        q->reset();
      }
      if (!with_nodes) continue;
      nodes->bind(1, i64(o.id));
      for (;;) {
        auto row = nodes->step();
        if (!row) return row.error();
        if (!*row) break;
        o.nodes.push_back(
            TargetedNode{nodes->text(0), nodes->text(1), nodes->int64(2), nodes->text(3)});
      }
      nodes->reset();
    }
    return out;
  }

  Database db_;
};

}  // namespace

const std::vector<std::string>& sqlite_store_migrations() {
  return kMigrations;
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  auto db = Database::open(path);
  if (!db) return db.error();
  if (loa::Status s = db->migrate(kMigrations); !s) {
    return make_error("store '" + path + "': " + s.message());
  }
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(*db)));
}

}  // namespace loa::controller
