#include "loa/node/outbox.hpp"

#include <algorithm>
#include <limits>

namespace loa::node {
namespace {

const std::vector<std::string> kSchema = {
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, occurrence_id INTEGER NOT NULL,"
    " body BLOB NOT NULL);"
    "CREATE TABLE handled(occurrence_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL);"
    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO counters(name, value) VALUES('next_event_seq', 1);",
    // The playback in progress (at most one, two during an emergency's takeover): its latest
    // progress as an encoded partial PlaybackEvent.
    "CREATE TABLE playing(occurrence_id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
    // Replay state (PROTOCOL.md, security model): the highest sequence accepted per (controller
    // key, topic); the reservation of the node's own envelope sequence is a counters row.
    "CREATE TABLE replay_marks(key_id INTEGER NOT NULL, topic TEXT NOT NULL,"
    " sequence INTEGER NOT NULL, PRIMARY KEY(key_id, topic));",
};

constexpr const char* kSequenceReservation = "envelope_seq_reserved";

Outbox::CrashHook& crash_hook() {
  static Outbox::CrashHook hook;
  return hook;
}

// SQLite integers are signed 64-bit; ids travel through them bit for bit.
std::int64_t to_db(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& path) {
  auto db = runtime::Database::open(path);
  if (!db) return make_error("outbox: " + db.error().message);
  if (loa::Status s = db->migrate(kSchema); !s) return make_error("outbox: " + s.message());
  // A playing node notes its progress about once a second, a WAL page each time: with SQLite's
  // default (a checkpoint every 1,000 pages, the WAL never truncated) a 5-minute bulletin left
  // ~1.2 MB of WAL per node, flash on a device, RAM for the fleet simulator's tmpfs (where
  // 10,000 nodes ran the machine out of memory). The outbox's rows are few: checkpoint every
  // 16 pages and cut the WAL back to 64 KiB after each.
  for (const char* pragma : {"PRAGMA wal_autocheckpoint=16", "PRAGMA journal_size_limit=65536"}) {
    if (loa::Status s = db->exec(pragma); !s) return make_error("outbox: " + s.message());
  }
  return std::unique_ptr<Outbox>(new Outbox(std::move(db).value()));
}

void Outbox::set_crash_hook(CrashHook hook) {
  crash_hook() = std::move(hook);
}

void Outbox::crash_point(std::string_view point) {
  if (crash_hook()) crash_hook()(point);
}

Result<protocol::PlaybackEvent> Outbox::add(protocol::PlaybackEvent event) {
  std::lock_guard lock(mu_);
  return add_locked(std::move(event));
}

Result<protocol::PlaybackEvent> Outbox::add_locked(protocol::PlaybackEvent event) {
  if (loa::Status s = db_.exec("BEGIN IMMEDIATE"); !s) return make_error("outbox: " + s.message());
  auto fail = [&](const std::string& message) -> Error {
    (void)db_.exec("ROLLBACK");
    return make_error("outbox: " + message);
  };
  auto seq_q = db_.prepare("SELECT value FROM counters WHERE name = 'next_event_seq'");
  if (!seq_q) return fail(seq_q.error().message);
  auto row = seq_q->step();
  if (!row) return fail(row.error().message);
  if (!*row) return fail("counter next_event_seq missing");
  event.event_seq = static_cast<std::uint64_t>(seq_q->int64(0));

  auto ins = db_.prepare("INSERT INTO events(seq, occurrence_id, body) VALUES(?, ?, ?)");
  if (!ins) return fail(ins.error().message);
  const protocol::Bytes body = protocol::encode(event);
  ins->bind(1, to_db(event.event_seq))
      .bind(2, to_db(event.occurrence_id))
      .bind(3, protocol::ByteView(body));
  if (loa::Status s = ins->run(); !s) return fail(s.message());

  // A plain INSERT: a second event for a handled occurrence fails and rolls back (never two).
  auto done = db_.prepare("INSERT INTO handled(occurrence_id, seq) VALUES(?, ?)");
  if (!done) return fail(done.error().message);
  done->bind(1, to_db(event.occurrence_id)).bind(2, to_db(event.event_seq));
  if (loa::Status s = done->run(); !s) return fail(s.message());

  auto unmark = db_.prepare("DELETE FROM playing WHERE occurrence_id = ?");
  if (!unmark) return fail(unmark.error().message);
  unmark->bind(1, to_db(event.occurrence_id));
  if (loa::Status s = unmark->run(); !s) return fail(s.message());

  auto next = db_.prepare("UPDATE counters SET value = ? WHERE name = 'next_event_seq'");
  if (!next) return fail(next.error().message);
  next->bind(1, to_db(event.event_seq + 1));
  if (loa::Status s = next->run(); !s) return fail(s.message());

  crash_point("outbox-before-commit");
  if (loa::Status s = db_.exec("COMMIT"); !s) return fail(s.message());
  crash_point("outbox-after-commit");
  return event;
}

loa::Status Outbox::note_playing(const protocol::PlaybackEvent& progress) {
  std::lock_guard lock(mu_);
  // The guard makes a note that races with the final event harmless.
  auto q = db_.prepare(
      "INSERT OR REPLACE INTO playing(occurrence_id, body) SELECT ?, ?"
      " WHERE NOT EXISTS (SELECT 1 FROM handled WHERE occurrence_id = ?)");
  if (!q) return make_error("outbox: " + q.error().message);
  const protocol::Bytes body = protocol::encode(progress);
  q->bind(1, to_db(progress.occurrence_id))
      .bind(2, protocol::ByteView(body))
      .bind(3, to_db(progress.occurrence_id));
  if (loa::Status s = q->run(); !s) return make_error("outbox: " + s.message());
  return {};
}

Result<std::vector<protocol::PlaybackEvent>> Outbox::recover_interrupted() {
  std::lock_guard lock(mu_);
  std::vector<protocol::PlaybackEvent> marked;
  {
    auto q = db_.prepare("SELECT occurrence_id, body FROM playing ORDER BY occurrence_id");
    if (!q) return make_error("outbox: " + q.error().message);
    while (true) {
      auto row = q->step();
      if (!row) return make_error("outbox: " + row.error().message);
      if (!*row) break;
      auto e = protocol::decode_playback_event(q->blob(1));
      if (!e) {
        return make_error("outbox: playing marker of occurrence " + std::to_string(q->int64(0)) +
                          ": " + e.error().message);
      }
      marked.push_back(std::move(e).value());
    }
  }
  std::vector<protocol::PlaybackEvent> out;
  for (auto& e : marked) {
    auto handled_q = db_.prepare("SELECT 1 FROM handled WHERE occurrence_id = ?");
    if (!handled_q) return make_error("outbox: " + handled_q.error().message);
    handled_q->bind(1, to_db(e.occurrence_id));
    auto row = handled_q->step();
    if (!row) return make_error("outbox: " + row.error().message);
    if (*row) {
      if (auto del = db_.prepare("DELETE FROM playing WHERE occurrence_id = ?")) {
        del->bind(1, to_db(e.occurrence_id));
        (void)del->run();
      }
      continue;
    }
    e.outcome = e.frames_played > 0 ? protocol::Outcome::partial : protocol::Outcome::failed;
    e.detail =
        "interrupted: the node stopped without shutting down (power loss or crash) while "
        "playing; frames_played is what had been written at the last note";
    auto stored = add_locked(std::move(e));
    if (!stored) return stored.error();
    out.push_back(std::move(stored).value());
  }
  return out;
}

Result<std::vector<protocol::PlaybackEvent>> Outbox::pending() const {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT seq, body FROM events ORDER BY seq");
  if (!q) return make_error("outbox: " + q.error().message);
  std::vector<protocol::PlaybackEvent> out;
  while (true) {
    auto row = q->step();
    if (!row) return make_error("outbox: " + row.error().message);
    if (!*row) break;
    const protocol::Bytes body = q->blob(1);
    auto event = protocol::decode_playback_event(body);
    if (!event) {
      return make_error("outbox: event " + std::to_string(q->int64(0)) + ": " +
                        event.error().message);
    }
    out.push_back(std::move(event).value());
  }
  return out;
}

Result<std::size_t> Outbox::acknowledge(std::uint64_t recorded_through) {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("DELETE FROM events WHERE seq <= ?");
  if (!q) return make_error("outbox: " + q.error().message);
  // Sequences beyond INT64_MAX never occur; clamp so the comparison stays meaningful.
  const std::uint64_t through =
      std::min<std::uint64_t>(recorded_through, std::numeric_limits<std::int64_t>::max());
  q->bind(1, to_db(through));
  if (loa::Status s = q->run(); !s) return make_error("outbox: " + s.message());
  return static_cast<std::size_t>(db_.changes());
}

bool Outbox::handled(std::uint64_t occurrence_id) const {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT 1 FROM handled WHERE occurrence_id = ?");
  if (!q) return false;
  q->bind(1, to_db(occurrence_id));
  auto row = q->step();
  return row && *row;
}

Result<std::uint64_t> Outbox::sequence_reservation() const {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT value FROM counters WHERE name = ?");
  if (!q) return make_error("outbox: " + q.error().message);
  q->bind(1, std::string(kSequenceReservation));
  auto row = q->step();
  if (!row) return make_error("outbox: " + row.error().message);
  if (!*row) return std::uint64_t{0};
  return static_cast<std::uint64_t>(q->int64(0));
}

loa::Status Outbox::reserve_sequences(std::uint64_t through) {
  std::lock_guard lock(mu_);
  auto q = db_.prepare(
      "INSERT INTO counters(name, value) VALUES(?, ?) "
      "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)");
  if (!q) return make_error("outbox: " + q.error().message);
  q->bind(1, std::string(kSequenceReservation)).bind(2, to_db(through));
  if (loa::Status s = q->run(); !s) return make_error("outbox: " + s.message());
  return {};
}

Result<std::optional<std::uint64_t>> Outbox::replay_mark(protocol::KeyId key,
                                                         const std::string& topic) const {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT sequence FROM replay_marks WHERE key_id = ? AND topic = ?");
  if (!q) return make_error("outbox: " + q.error().message);
  q->bind(1, to_db(key)).bind(2, topic);
  auto row = q->step();
  if (!row) return make_error("outbox: " + row.error().message);
  if (!*row) return std::optional<std::uint64_t>();
  return std::optional(static_cast<std::uint64_t>(q->int64(0)));
}

loa::Status Outbox::set_replay_mark(protocol::KeyId key, const std::string& topic,
                                    std::uint64_t sequence) {
  std::lock_guard lock(mu_);
  auto q = db_.prepare(
      "INSERT INTO replay_marks(key_id, topic, sequence) VALUES(?, ?, ?) "
      "ON CONFLICT(key_id, topic) DO UPDATE SET sequence = excluded.sequence");
  if (!q) return make_error("outbox: " + q.error().message);
  q->bind(1, to_db(key)).bind(2, topic).bind(3, to_db(sequence));
  if (loa::Status s = q->run(); !s) return make_error("outbox: " + s.message());
  return {};
}

std::uint64_t Outbox::next_seq() const {
  std::lock_guard lock(mu_);
  auto q = db_.prepare("SELECT value FROM counters WHERE name = 'next_event_seq'");
  if (!q) return 0;
  auto row = q->step();
  if (!row || !*row) return 0;
  return static_cast<std::uint64_t>(q->int64(0));
}

}  // namespace loa::node
