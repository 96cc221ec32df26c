// The Controller's ledger operations (issue 9): decommissioning, the refused-events log, period
// reports and their verification.
#include <limits>

#include "loa/controller/controller.hpp"
#include "loa/controller/ledger.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/protocol/area_path.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

ApiError bad(std::string message) {
  return api_error(ErrorCode::bad_request, std::move(message));
}

}  // namespace

Reply<NodeView> Controller::decommission_node(const std::string& id) {
  std::lock_guard lock(mu_);
  auto node = store_.find_node(id);
  if (!node) return node.error();
  if (!*node) return api_error(ErrorCode::not_found, "unknown node '" + id + "'");
  if ((*node)->decommissioned_us != 0) {
    return api_error(ErrorCode::conflict, "node '" + id + "' was already decommissioned at " +
                                              format_utc((*node)->decommissioned_us));
  }
  const Micros now = clock_.now_us();
  auto left = store_.decommission_node(id, now);
  if (!left) return left.error();
  runtime::Log(runtime::LogLevel::info, "controller")
          .kv("node", id)
          .kv("future_occurrences_left", *left)
      << "node decommissioned; its events are refused from now on";
  auto updated = store_.find_node(id);
  if (!updated) return updated.error();
  if (!*updated) return api_error(ErrorCode::not_found, "unknown node '" + id + "'");
  return view(std::move(**updated));
}

Reply<std::vector<RefusedEventRecord>> Controller::refused_log(const RefusedQuery& q) {
  RefusedFilter filter;
  filter.node_id = q.node_id;
  if (q.limit < 1 || q.limit > kMaxRefusedPage) {
    return bad("limit: " + std::to_string(q.limit) + " is not in 1.." +
               std::to_string(kMaxRefusedPage) + " (the largest page; use after= for the next)");
  }
  filter.limit = q.limit;
  if (q.after > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return bad("after: " + std::to_string(q.after) + " is not a refused event id");
  }
  filter.before_id = static_cast<std::int64_t>(q.after);
  if (!q.reason.empty()) {
    if (!is_refusal_reason(q.reason)) {
      return bad("reason: '" + q.reason + "' is not a refusal reason (see docs/reports.md)");
    }
    filter.reason = q.reason;
  }
  if (!q.since.empty()) {
    auto since = parse_instant(q.since, settings_.tz);
    if (!since) return bad("since: " + since.error().message);
    filter.since_us = *since;
  }
  std::lock_guard lock(mu_);
  auto list = store_.refused_events(filter);
  if (!list) return list.error();
  return std::move(*list);
}

Reply<ReportInputs> Controller::report_inputs(const ReportPeriod& period) {
  ReportInputs in;
  auto occurrences = store_.occurrences_starting(period.from_us, period.to_us);
  if (!occurrences) return occurrences.error();
  in.occurrences = std::move(*occurrences);
  auto events = store_.events_of_period(period.from_us, period.to_us);
  if (!events) return events.error();
  in.events = std::move(*events);
  auto bulletins = store_.list_bulletins();
  if (!bulletins) return bulletins.error();
  for (const auto& b : *bulletins) in.bulletin_titles[b.id] = b.title;
  return in;
}

Reply<PeriodReport> Controller::period_report(const PeriodQuery& q) {
  if (q.period.empty()) {
    return bad(
        "give a period: --from DATE --to DATE, --month YYYY-MM, --quarter YYYY-Qn or --year YYYY");
  }
  auto period = resolve_period(q.period, settings_.tz);
  if (!period) return bad(period.error().message);
  auto by = parse_grouping(q.by);
  if (!by) return bad(by.error().message);
  std::string area;
  if (!q.area.empty()) {
    auto a = protocol::AreaPath::parse(q.area);
    if (!a) return bad("area: " + a.error().message);
    area = a->str();
  }
  std::lock_guard lock(mu_);
  auto inputs = report_inputs(*period);
  if (!inputs) return inputs.error();
  return compute_period_report(*period, *inputs, area, *by, clock_.now_us(),
                               settings_.missed_grace_us);
}

Reply<VerifyReport> Controller::verify_report(const PeriodQuery& q) {
  ReportPeriod period = all_time(settings_.tz);
  if (!q.period.empty()) {
    auto p = resolve_period(q.period, settings_.tz);
    if (!p) return bad(p.error().message);
    period = std::move(*p);
  }
  std::lock_guard lock(mu_);
  auto inputs = report_inputs(period);
  if (!inputs) return inputs.error();
  auto nodes = store_.list_nodes();
  if (!nodes) return nodes.error();
  std::map<std::string, NodeRecord> by_id;
  for (auto& n : *nodes) by_id.emplace(n.id, std::move(n));
  VerifyReport v =
      verify_ledger(period, *inputs, by_id, clock_.now_us(), settings_.missed_grace_us);
  runtime::Log(v.verified() ? runtime::LogLevel::info : runtime::LogLevel::error, "ledger")
          .kv("period", period.label)
          .kv("events", v.events_checked)
          .kv("discrepancies", v.discrepancies.size())
      << (v.verified() ? "ledger verified" : "ledger verification found discrepancies");
  return v;
}

}  // namespace loa::controller
