#include "loa/controller/cap_store.hpp"

#include <charconv>

namespace loa::controller::cap_store {
namespace {

using runtime::Database;
using runtime::Statement;

std::string join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : "\n") + s;
  return out;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

std::string join_ids(const std::vector<std::uint64_t>& ids) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

std::vector<std::uint64_t> split_ids(const std::string& text) {
  std::vector<std::uint64_t> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), v);
    if (ec != std::errc()) break;
    out.push_back(v);
    pos = static_cast<std::size_t>(p - text.data()) + 1;
  }
  return out;
}

constexpr const char* kColumns =
    "id, received_us, sender, identifier, sent, sent_us, status, msg_type, refs, language, event, "
    "headline, urgency, severity, certainty, expires_us, level, repeat_every_min, areas, "
    "unmapped, bulletin_id, series_id, occurrences, outcome, reason, closed_us, closed_by";

CapAlertRecord read(const Statement& s, bool with_xml) {
  CapAlertRecord r;
  r.id = static_cast<std::uint64_t>(s.int64(0));
  r.received_us = s.int64(1);
  r.sender = s.text(2);
  r.identifier = s.text(3);
  r.sent = s.text(4);
  r.sent_us = s.int64(5);
  r.status = s.text(6);
  r.msg_type = s.text(7);
  r.references = s.text(8);
  r.language = s.text(9);
  r.event = s.text(10);
  r.headline = s.text(11);
  r.urgency = s.text(12);
  r.severity = s.text(13);
  r.certainty = s.text(14);
  r.expires_us = s.int64(15);
  r.level = s.text(16);
  r.repeat_every_min = s.int64(17);
  r.areas = split(s.text(18));
  r.unmapped = split(s.text(19));
  r.bulletin_id = static_cast<std::uint64_t>(s.int64(20));
  r.series_id = static_cast<std::uint64_t>(s.int64(21));
  r.occurrences = split_ids(s.text(22));
  r.outcome = s.text(23);
  r.reason = s.text(24);
  r.closed_us = s.int64(25);
  r.closed_by = static_cast<std::uint64_t>(s.int64(26));
  if (with_xml) r.xml = s.text(27);
  return r;
}

Result<std::optional<CapAlertRecord>> one(Statement& st) {
  auto row = st.step();
  if (!row) return row.error();
  if (!*row) return std::optional<CapAlertRecord>();
  return std::optional<CapAlertRecord>(read(st, true));
}

}  // namespace

Result<std::uint64_t> add_alert(Database& db, const CapAlertRecord& a) {
  auto st = db.prepare(
      "INSERT INTO cap_alerts(received_us, sender, identifier, sent, sent_us, status, msg_type, "
      "refs, language, event, headline, urgency, severity, certainty, expires_us, level, "
      "repeat_every_min, areas, unmapped, bulletin_id, series_id, occurrences, outcome, reason, "
      "closed_us, closed_by, xml) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, a.received_us)
      .bind(2, a.sender)
      .bind(3, a.identifier)
      .bind(4, a.sent)
      .bind(5, a.sent_us)
      .bind(6, a.status)
      .bind(7, a.msg_type)
      .bind(8, a.references)
      .bind(9, a.language)
      .bind(10, a.event)
      .bind(11, a.headline)
      .bind(12, a.urgency)
      .bind(13, a.severity)
      .bind(14, a.certainty)
      .bind(15, a.expires_us)
      .bind(16, a.level)
      .bind(17, a.repeat_every_min)
      .bind(18, join(a.areas))
      .bind(19, join(a.unmapped))
      .bind(20, static_cast<std::int64_t>(a.bulletin_id))
      .bind(21, static_cast<std::int64_t>(a.series_id))
      .bind(22, join_ids(a.occurrences))
      .bind(23, a.outcome)
      .bind(24, a.reason)
      .bind(25, a.closed_us)
      .bind(26, static_cast<std::int64_t>(a.closed_by))
      .bind(27, a.xml);
  if (loa::Status s = st->run(); !s) return make_error("CAP alert: " + s.message());
  return static_cast<std::uint64_t>(db.last_insert_rowid());
}

loa::Status close_alert(Database& db, std::uint64_t id, protocol::Micros at_us, std::uint64_t by) {
  auto st = db.prepare("UPDATE cap_alerts SET closed_us = ?, closed_by = ? WHERE id = ?");
  if (!st) return make_error(st.error().message);
  st->bind(1, at_us).bind(2, static_cast<std::int64_t>(by)).bind(3, static_cast<std::int64_t>(id));
  return st->run();
}

Result<std::optional<CapAlertRecord>> find_alert(Database& db, const std::string& sender,
                                                 const std::string& identifier) {
  auto st = db.prepare(std::string("SELECT ") + kColumns +
                       ", xml FROM cap_alerts WHERE sender = ? AND identifier = ? AND outcome != "
                       "'refused' ORDER BY id DESC LIMIT 1");
  if (!st) return st.error();
  st->bind(1, sender).bind(2, identifier);
  return one(*st);
}

Result<std::optional<CapAlertRecord>> get_alert(Database& db, std::uint64_t id) {
  auto st = db.prepare(std::string("SELECT ") + kColumns + ", xml FROM cap_alerts WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, static_cast<std::int64_t>(id));
  return one(*st);
}

Result<std::vector<CapAlertRecord>> alerts(Database& db, std::size_t limit) {
  auto st =
      db.prepare(std::string("SELECT ") + kColumns + " FROM cap_alerts ORDER BY id DESC LIMIT ?");
  if (!st) return st.error();
  st->bind(1, static_cast<std::int64_t>(limit == 0 ? 1000 : limit));
  std::vector<CapAlertRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(read(*st, false));
  }
  return out;
}

loa::Status set_geocode(Database& db, const CapGeocodeRecord& g) {
  auto st = db.prepare(
      "INSERT INTO cap_geocodes(value_name, value, area) VALUES (?, ?, ?) "
      "ON CONFLICT(value_name, value) DO UPDATE SET area = excluded.area");
  if (!st) return make_error(st.error().message);
  st->bind(1, g.value_name).bind(2, g.value).bind(3, g.area);
  return st->run();
}

Result<bool> remove_geocode(Database& db, const std::string& value_name, const std::string& value) {
  auto st = db.prepare("DELETE FROM cap_geocodes WHERE value_name = ? AND value = ?");
  if (!st) return st.error();
  st->bind(1, value_name).bind(2, value);
  if (loa::Status s = st->run(); !s) return make_error(s.message());
  return db.changes() > 0;
}

Result<std::vector<CapGeocodeRecord>> geocodes(Database& db) {
  auto st =
      db.prepare("SELECT value_name, value, area FROM cap_geocodes ORDER BY value_name, value");
  if (!st) return st.error();
  std::vector<CapGeocodeRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(CapGeocodeRecord{st->text(0), st->text(1), st->text(2)});
  }
  return out;
}

}  // namespace loa::controller::cap_store
