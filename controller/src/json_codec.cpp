#include "loa/controller/json_codec.hpp"

#include <charconv>
#include <cstdint>

#include "loa/controller/local_time.hpp"
#include "loa/runtime/keys.hpp"

namespace loa::controller {
namespace {

using nlohmann::json;

json instant(Micros t) {
  return t == 0 ? json(nullptr) : json(format_utc(t));
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
    residents = saturating_add(residents, n.residents);
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

Reply<std::uint64_t> parse_count(std::string_view text, const std::string& what, std::uint64_t min,
                                 std::uint64_t max) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  const bool digits = !text.empty() && ec != std::errc::invalid_argument && p == end;
  if (!digits || ec == std::errc::result_out_of_range || v < min || v > max) {
    const std::string shown =
        text.size() > 40 ? std::string(text.substr(0, 40)) + "..." : std::string(text);
    return api_error(ErrorCode::bad_request, what + ": '" + shown + "' is not a whole number in " +
                                                 std::to_string(min) + ".." + std::to_string(max));
  }
  return v;
}

}  // namespace loa::controller
