// Node health and remote control (issue 6).
#include <algorithm>
#include <map>
#include <set>

#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {

namespace {

ApiError bad_request(std::string message) {
  return api_error(ErrorCode::bad_request, std::move(message));
}

}  // namespace

Reply<HealthReport> Controller::node_health(Micros offline_after_us, Micros silent_window_us) {
  if (offline_after_us <= 0) return bad_request("offline-after: must be positive");
  std::lock_guard lock(mu_);
  HealthReport report;
  report.now_us = clock_.now_us();
  report.offline_after_us = offline_after_us;
  const Micros now = report.now_us;
  auto nodes = store_.list_nodes();
  if (!nodes) return nodes.error();
  auto latest = store_.latest_node_statuses();
  if (!latest) return latest.error();
  std::map<std::string, NodeStatusRecord> last;
  for (auto& s : *latest) last.emplace(s.status.node_id, std::move(s));
  std::set<std::string> in_service;
  for (auto& n : *nodes) {
    if (n.decommissioned_us != 0) continue;
    in_service.insert(n.id);
    NodeHealth h;
    const bool recent = n.last_seen_us != 0 && now - n.last_seen_us <= offline_after_us;
    h.online = n.online && recent;
    h.offline_for_us = h.online ? 0 : (n.last_seen_us == 0 ? 0 : now - n.last_seen_us);
    if (const auto it = last.find(n.id); it != last.end()) h.last = it->second;
    if (!h.online) report.offline.push_back(n.id);
    h.record = std::move(n);
    report.nodes.push_back(std::move(h));
  }
  // Silent: an occurrence of the window whose end (plus the tolerance) has passed, a node of
  // its frozen set that got it (approval none or approved), and no event from that node.
  auto occurrences = store_.occurrences_starting(now - silent_window_us, now);
  if (!occurrences) return occurrences.error();
  auto events = store_.events_of_period(now - silent_window_us, now);
  if (!events) return events.error();
  std::set<std::pair<std::string, std::uint64_t>> heard;
  for (const auto& e : *events) heard.emplace(e.event.node_id, e.event.occurrence_id);
  for (const auto& o : *occurrences) {
    if (o.cancelled()) continue;
    const Micros end = std::max({o.expiry_us, o.keep_until_us, o.start_us});
    const Micros due = end + settings_.missed_grace_us;
    if (due > now) continue;
    for (const auto& t : o.nodes) {
      if (t.approval == "pending" || t.approval == "rejected") continue;
      if (!in_service.count(t.node_id)) continue;
      if (heard.count({t.node_id, o.id})) continue;
      report.silent.push_back(SilentNode{t.node_id, o.id, o.bulletin_id, o.start_us, due});
    }
  }
  return report;
}

Reply<std::vector<NodeStatusRecord>> Controller::node_history(const std::string& id,
                                                              std::size_t limit) {
  std::lock_guard lock(mu_);
  auto node = store_.find_node(id);
  if (!node) return node.error();
  if (!*node) return api_error(ErrorCode::not_found, "unknown node '" + id + "'");
  auto history = store_.node_statuses(id, std::clamp<std::size_t>(limit, 1, 10000));
  if (!history) return history.error();
  return std::move(history).value();
}

Reply<NodeControlResult> Controller::send_node_control(const NodeControlRequest& request) {
  NodeControlResult result;
  result.command = request.command;
  protocol::Control control;
  const std::string& c = request.command;
  if (c == "volume") {
    if (request.value < 0 || request.value > 100) {
      return bad_request("value: volume " + std::to_string(request.value) + " is not in 0..100");
    }
    control = {protocol::ControlCommand::volume, static_cast<std::uint64_t>(request.value), {}};
  } else if (c == "mute" || c == "unmute") {
    control = {protocol::ControlCommand::mute, c == "mute" ? 1u : 0u, {}};
  } else if (c == "test-tone") {
    const std::int64_t ms = request.value == 0 ? 2000 : request.value;
    if (ms < 100 || ms > 30000) {
      return bad_request("value: test tone of " + std::to_string(ms) + " ms is not in 100..30000");
    }
    control = {protocol::ControlCommand::test_tone, static_cast<std::uint64_t>(ms), {}};
  } else if (c == "restart") {
    control = {protocol::ControlCommand::restart, 0, {}};
  } else if (c == "reload") {
    control = {protocol::ControlCommand::reload, 0, {}};
  } else if (c == "ping") {
    control = {protocol::ControlCommand::ping, static_cast<std::uint64_t>(request.value), {}};
  } else {
    return bad_request("command: '" + c +
                       "' is not one of volume, mute, unmute, test-tone, restart, reload, ping");
  }
  result.value = control.value;
  if (request.node_ids.empty() == request.area.empty()) {
    return bad_request("give either nodes or an area");
  }
  Outbox out;
  {
    std::lock_guard lock(mu_);
    // Each copy names the scope it is sent to, under the signature: a node obeys only a
    // control for itself or one of its areas, on that scope's topic (PROTOCOL.md, Control).
    std::vector<std::string> targets;
    if (!request.area.empty()) {
      auto area = protocol::AreaPath::parse(request.area);
      if (!area) return bad_request("area: " + area.error().message);
      result.topics.push_back(protocol::topics::area_control(*area));
      targets.push_back(protocol::area_scope(*area));
    }
    for (const auto& id : request.node_ids) {
      auto node = store_.find_node(id);
      if (!node) return node.error();
      if (!*node) return api_error(ErrorCode::not_found, "unknown node '" + id + "'");
      result.topics.push_back(protocol::topics::node_control(id));
      targets.push_back(protocol::node_scope(id));
    }
    for (std::size_t i = 0; i < result.topics.size(); ++i) {
      control.target = targets[i];
      out.push_back(runtime::BusMessage{
          result.topics[i], signer_.seal(protocol::MessageType::control, protocol::encode(control)),
          false});
    }
    runtime::Log(runtime::LogLevel::info, "controller")
            .kv("command", c)
            .kv("value", control.value)
            .kv("targets", result.topics.size())
        << "node control sent";
    enqueue(std::move(out));
  }
  drain();
  return result;
}

using nlohmann::json;

json to_json(const NodeStatusRecord& r) {
  const protocol::Status& s = r.status;
  json j{{"node", s.node_id},
         {"received", format_utc(r.received_us)},
         {"online", s.online},
         {"session", s.session},
         {"version", s.version},
         {"uptime_s", s.uptime_s},
         {"plan_version", s.plan_version},
         {"cache_bytes", s.cache_bytes},
         {"cache_limit_bytes", s.cache_limit_bytes},
         {"clock_offset_ms", static_cast<double>(s.clock_offset_us) / 1000.0},
         {"clock_corrected", s.clock_corrected},
         {"output_ok", s.output_ok},
         {"output_device", s.output_device},
         {"output_error", s.output_error},
         {"volume", s.volume},
         {"muted", s.muted},
         {"site", s.site_output}};
  j["cpu_temp_c"] = s.cpu_temp_mc ? json(static_cast<double>(*s.cpu_temp_mc) / 1000.0) : json();
  if (s.last_occurrence_id != 0) {
    j["last_playback"] = json{{"occurrence", s.last_occurrence_id},
                              {"end", format_utc(s.last_end_us)},
                              {"outcome", protocol::to_string(s.last_outcome)}};
  } else {
    j["last_playback"] = json();
  }
  return j;
}

json to_json(const HealthReport& r) {
  json nodes = json::array();
  for (const auto& h : r.nodes) {
    json n{{"id", h.record.id},
           {"area", h.record.area},
           {"online", h.online},
           {"last_seen",
            h.record.last_seen_us == 0 ? json() : json(format_utc(h.record.last_seen_us))},
           {"offline_for_s", h.offline_for_us / 1'000'000}};
    n["status"] = h.last ? to_json(*h.last) : json();
    nodes.push_back(std::move(n));
  }
  json silent = json::array();
  for (const auto& s : r.silent) {
    silent.push_back(json{{"node", s.node_id},
                          {"occurrence", s.occurrence_id},
                          {"bulletin", s.bulletin_id},
                          {"start", format_utc(s.start_us)},
                          {"due_by", format_utc(s.due_by_us)}});
  }
  return json{{"now", format_utc(r.now_us)},
              {"offline_after_s", r.offline_after_us / 1'000'000},
              {"nodes", nodes},
              {"offline", r.offline},
              {"silent", silent}};
}

json to_json(const NodeControlResult& r) {
  return json{{"command", r.command}, {"value", r.value}, {"topics", r.topics}};
}

}  // namespace loa::controller
