#include "loa/controller/json_codec.hpp"

#include <set>

#include "loa/controller/local_time.hpp"
#include "loa/runtime/keys.hpp"

namespace loa::controller {
namespace {

using nlohmann::json;

json instant(Micros t) {
  return t == 0 ? json(nullptr) : json(format_utc(t));
}

ApiError field_error(const std::string& where, const std::string& field, const std::string& why) {
  return api_error(ErrorCode::bad_request, where + field + ": " + why);
}

// Reads an optional string field; error if present with another type.
Reply<std::string> get_string(const json& j, const std::string& where, const std::string& field,
                              bool required) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) return field_error(where, field, "is missing");
    return std::string();
  }
  if (!it->is_string()) return field_error(where, field, "must be a string");
  return it->get<std::string>();
}

Reply<std::optional<std::int64_t>> get_int(const json& j, const std::string& where,
                                           const std::string& field, bool required) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) return field_error(where, field, "is missing");
    return std::optional<std::int64_t>();
  }
  if (it->is_number_integer()) return std::optional<std::int64_t>(it->get<std::int64_t>());
  if (it->is_string()) {
    // CSV imports and shell users send numbers as text; accept plain decimal digits only.
    const std::string s = it->get<std::string>();
    if (!s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos) {
      return std::optional<std::int64_t>(std::stoll(s));
    }
  }
  return field_error(where, field, "must be a whole number");
}

}  // namespace

json to_json(const NodeView& v) {
  const auto& n = v.record;
  return json{{"id", n.id},
              {"name", n.name},
              {"area", n.area},
              {"speakers", n.speakers},
              {"residents", n.residents},
              {"public_key", n.public_key ? json(runtime::to_hex(protocol::ByteView(*n.public_key)))
                                          : json(nullptr)},
              {"online", v.online},
              {"last_seen", instant(n.last_seen_us)},
              {"decommissioned", instant(n.decommissioned_us)}};
}

json to_json(const BulletinRecord& b) {
  return json{{"id", b.id},
              {"title", b.title},
              {"source", b.source},
              {"duration_s", b.duration_s},
              {"sha256", b.sha256_hex},
              {"bitrate", b.bitrate},
              {"frame_ms", b.frame_ms},
              {"created", instant(b.created_us)},
              {"audio_url", "/api/v1/bulletins/" + std::to_string(b.id) + "/audio"}};
}

json to_json(const OccurrenceRecord& o) {
  json nodes = json::array();
  std::int64_t residents = 0;
  for (const auto& n : o.nodes) {
    nodes.push_back(json{
        {"id", n.node_id}, {"area", n.area}, {"residents", n.residents}, {"approval", n.approval}});
    residents += n.residents;
  }
  return json{{"id", o.id},
              {"bulletin", o.bulletin_id},
              {"start", format_utc(o.start_us)},
              {"start_local", format_local(o.start_us, o.tz)},
              {"at", o.local_time},
              {"tz", o.tz},
              {"expiry", format_utc(o.expiry_us)},
              {"priority", protocol::to_string(o.priority)},
              {"volume", o.volume},
              {"targets", o.targets},
              {"scopes", o.scopes},
              {"nodes", nodes},
              {"residents_targeted", residents},
              {"created", instant(o.created_us)},
              {"series", o.series_id == 0 ? json(nullptr) : json(o.series_id)},
              {"status", o.cancelled() ? "cancelled" : "scheduled"},
              {"cancelled", instant(o.cancelled_us)}};
}

json to_json(const CoverageCounts& c) {
  return json{{"targeted", c.targeted},
              {"cached", c.cached},
              {"completed", c.completed},
              {"partial", c.partial},
              {"failed", c.failed},
              {"preempted", c.preempted},
              {"expired", c.expired},
              {"cancelled", c.cancelled},
              {"missed", c.missed},
              {"pending", c.pending},
              {"cancelled_unheard", c.cancelled_unheard},
              {"approval_rejected", c.approval_rejected},
              {"expired_unapproved", c.expired_unapproved},
              {"residents_targeted", c.residents_targeted},
              {"residents_reached", c.residents_reached}};
}

json to_json(const CoverageReport& r) {
  // The totals sit at the top level, next to what they are the totals of.
  json j = to_json(r.total);
  j["bulletin"] = r.bulletin_id;
  j["occurrence"] = r.occurrence_id == 0 ? json(nullptr) : json(r.occurrence_id);
  j["occurrences"] = r.occurrences;
  j["computed"] = instant(r.computed_us);
  json rows = json::array();
  for (const auto& row : r.rows) {
    json x = to_json(row.counts);
    x["area"] = row.area;
    rows.push_back(std::move(x));
  }
  j["rows"] = std::move(rows);
  return j;
}

json to_json(const LogEntry& e) {
  const auto& ev = e.record.event;
  return json{{"node", ev.node_id},
              {"area", e.area},
              {"occurrence", ev.occurrence_id},
              {"bulletin", ev.bulletin_id},
              {"title", e.bulletin_title},
              {"outcome", protocol::to_string(ev.outcome)},
              {"start", instant(ev.start_us)},
              {"end", instant(ev.end_us)},
              {"start_us", ev.start_us},
              {"end_us", ev.end_us},
              {"frames_played", ev.frames_played},
              {"frames_concealed", ev.frames_concealed},
              {"frames_dropped", ev.frames_dropped},
              {"seq", ev.event_seq},
              {"detail", ev.detail},
              {"recorded", instant(e.record.recorded_us)}};
}

json to_json(const ApiError& e) {
  return json{{"error", {{"code", to_string(e.code)}, {"message", e.message}}}};
}

Reply<NodeInput> node_input_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, where + "expected a JSON object");
  NodeInput in;
  auto id = get_string(j, where, "id", true);
  if (!id) return id.error();
  in.id = *id;
  auto area = get_string(j, where, "area", true);
  if (!area) return area.error();
  in.area = *area;
  auto name = get_string(j, where, "name", false);
  if (!name) return name.error();
  in.name = *name;
  auto key = get_string(j, where, "public_key", false);
  if (!key) return key.error();
  in.public_key_hex = *key;
  auto speakers = get_int(j, where, "speakers", false);
  if (!speakers) return speakers.error();
  in.speakers = speakers->value_or(1);
  auto residents = get_int(j, where, "residents", false);
  if (!residents) return residents.error();
  in.residents = residents->value_or(0);
  return in;
}

Reply<ScheduleRequest> schedule_request_from_json(const json& j) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, "expected a JSON object");
  ScheduleRequest r;
  auto bulletin = get_int(j, "", "bulletin", true);
  if (!bulletin) return bulletin.error();
  if (**bulletin <= 0) return field_error("", "bulletin", "must be a bulletin id");
  r.bulletin_id = static_cast<std::uint64_t>(**bulletin);
  auto at = get_string(j, "", "at", true);
  if (!at) return at.error();
  r.at = *at;
  auto tz = get_string(j, "", "tz", false);
  if (!tz) return tz.error();
  r.tz = *tz;
  auto priority = get_string(j, "", "priority", false);
  if (!priority) return priority.error();
  if (!priority->empty()) r.priority = *priority;
  auto volume = get_int(j, "", "volume", false);
  if (!volume) return volume.error();
  r.volume = *volume;
  auto expiry = get_string(j, "", "expiry", false);
  if (!expiry) return expiry.error();
  r.expiry = *expiry;
  auto rrule = get_string(j, "", "rrule", false);
  if (!rrule) return rrule.error();
  r.rrule = *rrule;
  auto every = get_int(j, "", "repeat_every_min", false);
  if (!every) return every.error();
  r.repeat_every_min = every->value_or(0);
  auto until = get_string(j, "", "until", false);
  if (!until) return until.error();
  r.until = *until;
  if (const auto dry = j.find("dry_run"); dry != j.end() && !dry->is_null()) {
    if (!dry->is_boolean()) return field_error("", "dry_run", "must be true or false");
    r.dry_run = dry->get<bool>();
  }
  auto days = get_int(j, "", "days", false);
  if (!days) return days.error();
  r.days = days->value_or(7);
  const auto targets = j.find("targets");
  if (targets == j.end() || !targets->is_array()) {
    return field_error("", "targets", "must be an array of \"area:PATH\" or \"node:ID\"");
  }
  for (const auto& t : *targets) {
    if (!t.is_string()) return field_error("", "targets", "every target must be a string");
    r.targets.push_back(t.get<std::string>());
  }
  return r;
}

json to_json(const RefusedEventRecord& r) {
  const json digest = r.envelope_sha256.empty()
                          ? json(nullptr)
                          : json(runtime::to_hex(protocol::ByteView(r.envelope_sha256)));
  return json{{"id", r.id},
              {"node", r.node_id},
              {"occurrence", r.occurrence_id == 0 ? json(nullptr) : json(r.occurrence_id)},
              {"reason", r.reason},
              {"detail", r.detail},
              {"at", instant(r.at_us)},
              {"envelope", runtime::to_hex(protocol::ByteView(r.envelope))},
              {"envelope_size", r.envelope_size},
              {"envelope_sha256", digest}};
}

json to_json(const ReportFigures& f) {
  const auto& p = f.plays;
  return json{{"occurrences", f.occurrences},
              {"targeted", p.targeted},
              {"completed", p.completed},
              {"partial", p.partial},
              {"failed", p.failed},
              {"preempted", p.preempted},
              {"expired", p.expired},
              {"cancelled", p.cancelled},
              {"missed", p.missed},
              {"pending", p.pending},
              {"cancelled_unheard", p.cancelled_unheard},
              {"approval_rejected", p.approval_rejected},
              {"expired_unapproved", p.expired_unapproved},
              {"completion_rate", f.completion_rate()},
              {"residents_targeted", p.residents_targeted},
              {"residents_reached", p.residents_reached},
              {"frames_aired", f.frames_aired},
              {"hours_aired", f.hours_aired()}};
}

namespace {
json period_json(const ReportPeriod& p) {
  const bool all = p.label == "all";
  return json{{"label", p.label},
              {"tz", p.tz},
              {"from", all ? json(nullptr) : json(format_local(p.from_us, p.tz))},
              {"to", all ? json(nullptr) : json(format_local(p.to_us, p.tz))}};
}
}  // namespace

json to_json(const PeriodReport& r) {
  json rows = json::array();
  for (const auto& row : r.rows) {
    json j = to_json(row.figures);
    j["key"] = row.key;
    j["label"] = row.label;
    rows.push_back(std::move(j));
  }
  return json{
      {"period", period_json(r.period)}, {"area", r.area.empty() ? json(nullptr) : json(r.area)},
      {"by", to_string(r.by)},           {"rows", rows},
      {"total", to_json(r.total)},       {"computed", instant(r.computed_us)}};
}

json to_json(const VerifyReport& v) {
  return json{{"period", period_json(v.period)},
              {"verified", v.verified()},
              {"events_checked", v.events_checked},
              {"discrepancies", v.discrepancies}};
}

json to_json(const SeriesRecord& r) {
  return json{{"id", r.id},
              {"bulletin", r.bulletin_id},
              {"rrule", r.rrule.empty() ? json(nullptr) : json(r.rrule)},
              {"repeat_every_min",
               r.repeat_every_us == 0 ? json(nullptr) : json(r.repeat_every_us / 60'000'000)},
              {"until", instant(r.until_us)},
              {"at", r.local_time},
              {"tz", r.tz},
              {"targets", r.targets},
              {"priority", protocol::to_string(r.priority)},
              {"volume", r.volume},
              {"materialized_until", instant(r.materialized_until_us)},
              {"status", r.cancelled_us != 0 ? "cancelled" : "active"},
              {"cancelled", instant(r.cancelled_us)},
              {"created", instant(r.created_us)}};
}

json to_json(const TimelineEntry& e, const std::string& tz) {
  return json{
      {"occurrence", e.item.occurrence_id == 0 ? json(nullptr) : json(e.item.occurrence_id)},
      {"label", e.item.label},
      {"bulletin", e.item.bulletin_id},
      {"priority", protocol::to_string(e.item.priority)},
      {"new", e.item.is_new},
      {"start", format_utc(e.item.start_us)},
      {"start_local", format_local(e.item.start_us, tz)},
      {"fate", to_string(e.fate)},
      {"plays", instant(e.plays_us)},
      {"ends", instant(e.ends_us)},
      {"behind", e.other_label.empty() ? json(nullptr) : json(e.other_label)}};
}

json to_json(const ScheduleResult& r) {
  json occurrences = json::array();
  for (const auto& o : r.occurrences) occurrences.push_back(to_json(o));
  const std::string tz = r.occurrences.empty() ? std::string("UTC") : r.occurrences.front().tz;
  json timelines = json::array();
  for (const auto& g : r.timelines) {
    json entries = json::array();
    for (const auto& e : g.entries) entries.push_back(to_json(e, tz));
    timelines.push_back(json{
        {"label", g.label}, {"nodes", g.nodes}, {"entries", entries}, {"conflicts", g.conflicts}});
  }
  return json{{"dry_run", r.dry_run},
              {"series", r.series ? to_json(*r.series) : json(nullptr)},
              {"occurrences", occurrences},
              {"warnings", r.warnings},
              {"timelines", timelines}};
}

Reply<ChangeRequest> change_request_from_json(const json& j) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, "expected a JSON object");
  ChangeRequest c;
  for (const char* field : {"at", "tz", "expiry", "priority"}) {
    if (!j.contains(field) || j[field].is_null()) continue;
    auto v = get_string(j, "", field, true);
    if (!v) return v.error();
    const std::string f = field;
    (f == "at" ? c.at : f == "tz" ? c.tz : f == "expiry" ? c.expiry : c.priority) = *v;
  }
  auto bulletin = get_int(j, "", "bulletin", false);
  if (!bulletin) return bulletin.error();
  if (*bulletin) {
    if (**bulletin <= 0) return field_error("", "bulletin", "must be a bulletin id");
    c.bulletin_id = static_cast<std::uint64_t>(**bulletin);
  }
  auto volume = get_int(j, "", "volume", false);
  if (!volume) return volume.error();
  c.volume = *volume;
  if (const auto targets = j.find("targets"); targets != j.end() && !targets->is_null()) {
    if (!targets->is_array()) return field_error("", "targets", "must be an array of targets");
    std::vector<std::string> list;
    for (const auto& t : *targets) {
      if (!t.is_string()) return field_error("", "targets", "every target must be a string");
      list.push_back(t.get<std::string>());
    }
    c.targets = std::move(list);
  }
  for (const auto& [key, value] : j.items()) {
    static const std::set<std::string> known = {"at",       "tz",     "expiry", "priority",
                                                "bulletin", "volume", "targets"};
    if (!known.count(key)) return field_error("", key, "cannot be changed (unknown field)");
  }
  return c;
}

}  // namespace loa::controller
