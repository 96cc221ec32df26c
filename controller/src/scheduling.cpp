// Controller: series (RRULE and emergency repeat), cancel, change, dry run and conflicts
// (issue 4). The single-occurrence path of schedule() goes through submit() too.
#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/controller/recurrence.hpp"
#include "loa/protocol/area_path.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

using runtime::Log;
using runtime::LogLevel;

constexpr const char* kComponent = "controller";
constexpr Micros kMinute = 60'000'000;
constexpr Micros kDay = 24 * 60 * kMinute;
constexpr Micros kDefaultExpiryMargin = 10 * kMinute;
constexpr Micros kKeepMargin = kMinute;  // session decision 2
constexpr std::size_t kMaxWarnings = 50;

ApiError bad(std::string message) {
  return api_error(ErrorCode::bad_request, std::move(message));
}

std::string occurrence_name(std::uint64_t id) {
  return "occurrence " + std::to_string(id);
}

// "2026-12-01T06:30" of an instant in `tz` (the wall time a series' occurrence is at).
std::string wall_time(Micros t, const std::string& tz) {
  return format_local(t, tz).substr(0, 16);
}

// Appends the scopes of `add` that `to` lacks, keeping order.
void add_scopes(std::vector<std::string>& to, const std::vector<std::string>& add) {
  for (const auto& s : add) {
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
  }
}

// The deepest area path that contains every one of `areas` ("" if none in common).
std::string common_area(const std::vector<std::string>& areas) {
  if (areas.empty()) return {};
  std::vector<std::string> common;
  bool first = true;
  for (const auto& a : areas) {
    auto path = protocol::AreaPath::parse(a);
    if (!path) return {};
    const auto& segs = path->segments();
    if (first) {
      common = segs;
      first = false;
      continue;
    }
    std::size_t n = 0;
    while (n < common.size() && n < segs.size() && common[n] == segs[n]) ++n;
    common.resize(n);
  }
  std::string out;
  for (const auto& s : common) out += (out.empty() ? "" : "/") + s;
  return out;
}

}  // namespace

Micros Controller::duration_of(std::uint64_t bulletin_id) {
  auto b = store_.find_bulletin(bulletin_id);
  if (!b || !*b) return 0;
  return static_cast<Micros>((*b)->duration_s * 1e6);
}

namespace {

// Targets as written, checked: the areas to cover (the smallest set: an area inside another
// adds nothing), nodes named one by one (node: and group: members) and exclusions.
struct ParsedTargets {
  std::vector<protocol::AreaPath> roots;
  std::vector<std::string> node_ids;  // with the target that named each, for messages
  std::vector<std::string> node_targets;
  std::vector<protocol::AreaPath> excluded_areas;
  std::set<std::string> excluded_nodes;
};

bool valid_group_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::vector<protocol::AreaPath> minimal_areas(const std::vector<protocol::AreaPath>& areas) {
  std::vector<protocol::AreaPath> kept;
  for (std::size_t i = 0; i < areas.size(); ++i) {
    bool covered = false;
    for (std::size_t j = 0; j < areas.size() && !covered; ++j) {
      if (i == j) continue;
      // A strict ancestor covers; of equal paths the first one stays.
      covered = areas[j].contains(areas[i]) && (!(areas[j] == areas[i]) || j < i);
    }
    if (!covered) kept.push_back(areas[i]);
  }
  return kept;
}

// The area roots of stored targets (already validated when they were given).
std::vector<protocol::AreaPath> area_roots(const std::vector<std::string>& targets) {
  std::vector<protocol::AreaPath> areas;
  for (const auto& t : targets) {
    if (!t.starts_with("area:")) continue;
    if (auto a = protocol::AreaPath::parse(std::string_view(t).substr(5))) areas.push_back(*a);
  }
  return minimal_areas(areas);
}

}  // namespace

Result<std::vector<std::string>> Controller::scopes_for(const std::vector<std::string>& targets,
                                                        const std::vector<TargetedNode>& nodes) {
  std::set<std::string> deliver;
  for (const auto& n : nodes) {
    if (n.approval != "pending" && n.approval != "rejected") deliver.insert(n.node_id);
  }
  std::vector<std::string> scopes;
  std::set<std::string> covered;
  // Covers `members` (the registered nodes below `path`): one area scope where every member is
  // delivered, else node scopes for the members directly in `path` and the same for each child.
  std::function<void(const std::string&, const std::vector<const NodeRecord*>&)> cover =
      [&](const std::string& path, const std::vector<const NodeRecord*>& members) {
        std::size_t in = 0;
        for (const auto* m : members) in += deliver.count(m->id);
        if (in == 0) return;
        if (in == members.size()) {
          scopes.push_back("area:" + path);
          for (const auto* m : members) covered.insert(m->id);
          return;
        }
        std::map<std::string, std::vector<const NodeRecord*>> children;
        for (const auto* m : members) {
          if (m->area == path) {
            if (deliver.count(m->id) && covered.insert(m->id).second) {
              scopes.push_back(protocol::node_scope(m->id));
            }
            continue;
          }
          const std::string rest = m->area.substr(path.size() + 1);
          children[rest.substr(0, rest.find('/'))].push_back(m);
        }
        for (const auto& [segment, list] : children) cover(path + "/" + segment, list);
      };
  for (const auto& root : area_roots(targets)) {
    auto members = store_.nodes_in_area(root.str());
    if (!members) return members.error();
    std::vector<const NodeRecord*> list;
    for (const auto& m : *members) list.push_back(&m);
    cover(root.str(), list);
  }
  for (const auto& n : nodes) {
    if (deliver.count(n.node_id) && !covered.count(n.node_id)) {
      covered.insert(n.node_id);
      scopes.push_back(protocol::node_scope(n.node_id));
    }
  }
  return scopes;
}

Reply<Controller::Resolved> Controller::resolve_targets(const std::vector<std::string>& targets) {
  if (targets.empty()) return bad("targets: at least one target is needed");
  ParsedTargets p;
  std::vector<protocol::AreaPath> areas;
  bool positive = false;
  for (const auto& target : targets) {
    const bool exclude = target.starts_with("-");
    const std::string_view t = std::string_view(target).substr(exclude ? 1 : 0);
    positive = positive || !exclude;
    if (t.starts_with("area:")) {
      auto area = protocol::AreaPath::parse(t.substr(5));
      if (!area) return bad("target '" + target + "': " + area.error().message);
      if (exclude) {
        p.excluded_areas.push_back(std::move(*area));
        continue;
      }
      auto members = store_.nodes_in_area(area->str());
      if (!members) return members.error();
      if (members->empty()) {
        return api_error(ErrorCode::unprocessable, "target '" + target + "': area " + area->str() +
                                                       " contains no registered node");
      }
      areas.push_back(std::move(*area));
    } else if (t.starts_with("node:")) {
      const std::string id(t.substr(5));
      if (loa::Status s = protocol::validate_node_id(id); !s) {
        return bad("target '" + target + "': " + s.message());
      }
      auto node = store_.find_node(id);
      if (!node) return node.error();
      if (!*node) {
        return api_error(ErrorCode::not_found,
                         "target '" + target + "': unknown node '" + id + "'");
      }
      if (exclude) {
        p.excluded_nodes.insert(id);
      } else {
        p.node_ids.push_back(id);
        p.node_targets.push_back(target);
      }
    } else if (t.starts_with("group:")) {
      const std::string name(t.substr(6));
      if (!valid_group_name(name)) {
        return bad("target '" + target + "': a group name is 1..64 of [A-Za-z0-9_-]");
      }
      auto members = store_.group_members(name);
      if (!members) return members.error();
      if (members->empty()) {
        return bad("target '" + target + "': unknown group '" + name +
                   "' (loactl group add NAME NODE...)");
      }
      for (const auto& id : *members) {
        if (exclude) {
          p.excluded_nodes.insert(id);
        } else {
          p.node_ids.push_back(id);
          p.node_targets.push_back(target);
        }
      }
    } else {
      return bad("target '" + target +
                 "': expected area:PATH, node:ID or group:NAME (a leading '-' excludes)");
    }
  }
  if (!positive) return bad("targets: only exclusions; name what to include too");
  p.roots = minimal_areas(areas);

  auto excluded = [&](const NodeRecord& n) {
    if (p.excluded_nodes.count(n.id)) return true;
    auto path = protocol::AreaPath::parse(n.area);
    return path && std::any_of(p.excluded_areas.begin(), p.excluded_areas.end(),
                               [&](const protocol::AreaPath& a) { return a.contains(*path); });
  };
  auto approval_areas = store_.approval_areas();
  if (!approval_areas) return approval_areas.error();
  std::vector<protocol::AreaPath> approval;
  for (const auto& a : *approval_areas) {
    if (auto path = protocol::AreaPath::parse(a)) approval.push_back(*path);
  }
  // A node needs its area's approval when it is reached only from above that area: through an
  // area target that strictly contains the area requiring approval.
  std::set<std::string> named(p.node_ids.begin(), p.node_ids.end());
  auto needs_approval = [&](const NodeRecord& n) {
    if (named.count(n.id)) return false;
    auto path = protocol::AreaPath::parse(n.area);
    if (!path) return false;
    for (const auto& a : approval) {
      if (!a.contains(*path)) continue;
      const bool from_inside = std::any_of(p.roots.begin(), p.roots.end(), [&](const auto& r) {
        return a.contains(r) && r.contains(*path);
      });
      if (!from_inside) return true;
    }
    return false;
  };

  Resolved r;
  std::map<std::string, TargetedNode> expanded;
  for (const auto& root : p.roots) {
    auto members = store_.nodes_in_area(root.str());
    if (!members) return members.error();
    for (const auto& n : *members) {
      if (excluded(n)) continue;
      expanded[n.id] =
          TargetedNode{n.id, n.area, n.residents, needs_approval(n) ? "pending" : "none"};
    }
  }
  for (const auto& id : p.node_ids) {
    auto node = store_.find_node(id);
    if (!node) return node.error();
    if (!*node || excluded(**node)) continue;  // a group may name a node since removed
    expanded[id] = TargetedNode{id, (*node)->area, (*node)->residents, "none"};
  }
  if (expanded.empty()) {
    return api_error(ErrorCode::unprocessable, "targets: the exclusions leave no node");
  }
  for (auto& [id, n] : expanded) r.nodes.push_back(std::move(n));
  std::sort(r.nodes.begin(), r.nodes.end(), [](const auto& a, const auto& b) {
    return std::tie(a.area, a.node_id) < std::tie(b.area, b.node_id);
  });
  auto scopes = scopes_for(targets, r.nodes);
  if (!scopes) return scopes.error();
  r.scopes = std::move(*scopes);
  return r;
}

loa::Status Controller::publish_scopes(const std::vector<std::string>& scopes, Outbox& out) {
  std::set<std::string> done;
  for (const auto& scope : scopes) {
    if (!done.insert(scope).second) continue;
    if (loa::Status s = dispatcher_.publish_plan(scope, out); !s) {
      return make_error("plan for " + scope + " was not published: " + s.message());
    }
  }
  return {};
}

Reply<ScheduleResult> Controller::submit(const ScheduleRequest& req) {
  Reply<ScheduleResult> r = [&] {
    std::lock_guard lock(mu_);
    return submit_locked(req);
  }();
  drain();
  return r;
}

Reply<OccurrenceRecord> Controller::schedule(const ScheduleRequest& req) {
  ScheduleRequest single = req;
  single.rrule.clear();
  single.repeat_every_min = 0;
  single.until.clear();
  single.dry_run = false;
  auto r = submit(single);
  if (!r) return r.error();
  if (r->occurrences.empty()) return make_error("no occurrence was created");
  return std::move(r->occurrences.front());
}

Reply<ScheduleResult> Controller::submit_locked(const ScheduleRequest& req) {
  const std::string tz = req.tz.empty() ? settings_.tz : req.tz;
  if (loa::Status s = check_zone(tz); !s) return bad("tz: " + s.message());
  auto start = local_to_utc(req.at, tz);
  if (!start) return bad("at: " + start.error().message);
  auto priority = protocol::parse_priority(req.priority);
  if (!priority) {
    return bad("priority: '" + req.priority + "' is not one of normal, priority, emergency");
  }
  const std::int64_t volume = req.volume.value_or(100);
  if (volume < 0 || volume > 100) {
    return bad("volume: " + std::to_string(volume) + " is outside 0..100");
  }
  if (req.targets.empty()) return bad("targets: at least one target is needed");
  if (!req.rrule.empty() && req.repeat_every_min != 0) {
    return bad("rrule: cannot be combined with repeat_every_min (give one of them)");
  }
  if (req.repeat_every_min < 0 || req.repeat_every_min > 7 * 24 * 60) {
    return bad("repeat_every_min: " + std::to_string(req.repeat_every_min) +
               " is not a number of minutes in 1..10080");
  }
  if (!req.until.empty() && req.repeat_every_min == 0) {
    return bad("until: goes with repeat_every_min (a rule gives its end with UNTIL or COUNT)");
  }
  std::optional<Rule> rule;
  if (!req.rrule.empty()) {
    auto parsed = parse_rrule(req.rrule);
    if (!parsed) return bad("rrule: " + parsed.error().message);
    rule = std::move(*parsed);
  }
  if (req.dry_run && (req.days < 1 || req.days > 366)) {
    return bad("days: " + std::to_string(req.days) + " is outside 1..366");
  }

  const Micros now = clock_.now_us();
  auto bulletin = store_.find_bulletin(req.bulletin_id);
  if (!bulletin) return bulletin.error();
  if (!*bulletin) {
    return api_error(ErrorCode::not_found,
                     "bulletin: unknown bulletin " + std::to_string(req.bulletin_id));
  }
  if (*start < now && !rule) {
    return api_error(ErrorCode::unprocessable, "at: " + req.at + " in " + tz + " (" +
                                                   format_utc(*start) +
                                                   ") is in the past; now is " + format_utc(now));
  }
  const Micros duration = static_cast<Micros>((*bulletin)->duration_s * 1e6);
  Micros expiry = *start + duration + kDefaultExpiryMargin;
  if (!req.expiry.empty()) {
    auto e = local_to_utc(req.expiry, tz);
    if (!e) return bad("expiry: " + e.error().message);
    if (*e <= *start) return bad("expiry: " + req.expiry + " is not after the start " + req.at);
    expiry = *e;
  }
  Micros until = 0;
  if (!req.until.empty()) {
    auto u = local_to_utc(req.until, tz);
    if (!u) return bad("until: " + u.error().message);
    if (*u < *start) return bad("until: " + req.until + " is before the start " + req.at);
    until = *u;
  }
  auto resolved = resolve_targets(req.targets);
  if (!resolved) return resolved.error();

  ScheduleResult result;
  result.dry_run = req.dry_run;
  const bool is_series = rule.has_value() || req.repeat_every_min > 0;
  SeriesRecord series;
  series.bulletin_id = req.bulletin_id;
  series.rrule = req.rrule;
  series.repeat_every_us = req.repeat_every_min * kMinute;
  series.until_us = until;
  series.local_time = req.at;
  series.tz = tz;
  series.targets = req.targets;
  series.priority = *priority;
  series.volume = static_cast<std::uint8_t>(volume);
  series.expiry_after_us = expiry - *start;
  series.created_us = now;

  // The starts this request plans now: one, or a series' up to its window.
  const Micros window_end =
      req.dry_run ? now + req.days * kDay
      : is_series && series.repeat_every_us > 0 && until == 0
          ? now + std::min<Micros>(settings_.plan_horizon_days * kDay, settings_.repeat_window_us)
          : now + settings_.plan_horizon_days * kDay;
  std::vector<Micros> starts;
  constexpr std::size_t kCap = protocol::kMaxOccurrencesPerPlan;
  if (rule) {
    auto instants = expand(*rule, req.at, tz, now, window_end, kCap + 1);
    if (!instants) return bad("rrule: " + instants.error().message);
    starts = std::move(*instants);
  } else if (series.repeat_every_us > 0) {
    for (Micros t = *start; t < window_end && (until == 0 || t <= until) && starts.size() <= kCap;
         t += series.repeat_every_us) {
      starts.push_back(t);
    }
  } else {
    starts.push_back(*start);
  }
  for (const auto& scope : resolved->scopes) {
    auto active = store_.active_occurrences_in_scope(scope, now);
    if (!active) return active.error();
    if (active->size() + starts.size() > kCap) {
      std::string message = "target scope " + scope + " would hold " +
                            std::to_string(active->size() + starts.size()) + " occurrences (" +
                            std::to_string(active->size()) + " planned + " +
                            std::to_string(starts.size()) + " new); the most a plan holds is " +
                            std::to_string(kCap);
      if (is_series) message += ": use a longer interval, an end, or fewer targets";
      if (req.dry_run) {
        result.warnings.push_back(message);
      } else {
        return api_error(ErrorCode::unprocessable, message);
      }
    }
  }

  std::vector<OccurrenceRecord> fresh;
  for (const Micros t : starts) {
    OccurrenceRecord occ;
    occ.bulletin_id = req.bulletin_id;
    occ.start_us = t;
    occ.expiry_us = t + series.expiry_after_us;
    occ.priority = *priority;
    occ.volume = static_cast<std::uint8_t>(volume);
    occ.local_time = is_series ? wall_time(t, tz) : req.at;
    occ.tz = tz;
    occ.targets = req.targets;
    occ.scopes = resolved->scopes;
    occ.nodes = resolved->nodes;
    occ.created_us = now;
    occ.keep_until_us = std::max(occ.expiry_us, t + duration) + kKeepMargin;
    fresh.push_back(std::move(occ));
  }
  const Micros conflict_end = req.dry_run ? window_end
                              : fresh.empty()
                                  ? now
                                  : fresh.back().start_us + duration + kDefaultExpiryMargin;
  auto groups = timelines(fresh, now, conflict_end, req.dry_run, 0);
  if (!groups) return groups.error();
  std::size_t more = 0;
  for (const auto& g : *groups) {
    for (const auto& c : g.conflicts) {
      if (result.warnings.size() < kMaxWarnings) {
        result.warnings.push_back(g.label + " (" + std::to_string(g.nodes.size()) +
                                  (g.nodes.size() == 1 ? " node): " : " nodes): ") + c);
      } else {
        ++more;
      }
    }
  }
  if (more > 0) result.warnings.push_back("... and " + std::to_string(more) + " more conflicts");
  if (req.dry_run) {
    if (is_series) result.series = series;
    result.occurrences = std::move(fresh);
    result.timelines = std::move(*groups);
    return result;
  }

  if (is_series) {
    series.materialized_until_us = window_end;
    auto id = store_.add_series(series);
    if (!id) return id.error();
    series.id = *id;
    result.series = series;
  }
  for (auto& occ : fresh) {
    occ.series_id = series.id;
    auto id = store_.add_occurrence(occ);
    if (!id) return id.error();
    occ.id = *id;
  }
  Outbox out;
  if (loa::Status s = publish_scopes(resolved->scopes, out); !s) {
    enqueue(std::move(out));
    return make_error("stored, but " + s.message());
  }
  if (loa::Status s = dispatcher_.publish_manifest(**bulletin, out); !s) {
    Log(LogLevel::error, kComponent).kv("bulletin", req.bulletin_id).kv("reason", s.message())
        << "manifest not published; nodes will ask for it";
  }
  enqueue(std::move(out));
  Log(LogLevel::info, kComponent)
          .kv("series", series.id)
          .kv("occurrences", fresh.size())
          .kv("bulletin", req.bulletin_id)
          .kv("first", fresh.empty() ? std::string("-") : format_utc(fresh.front().start_us))
          .kv("priority", protocol::to_string(*priority))
          .kv("scopes", resolved->scopes.size())
          .kv("nodes", resolved->nodes.size())
          .kv("warnings", result.warnings.size())
      << (is_series ? "series scheduled" : "occurrence scheduled");
  result.occurrences = std::move(fresh);
  return result;
}

Reply<std::size_t> Controller::materialize(SeriesRecord& series, Micros from_us, Micros to_us,
                                           std::set<std::string>& touched) {
  from_us = std::max(from_us, series.materialized_until_us);
  if (from_us >= to_us) return std::size_t{0};
  constexpr std::size_t kCap = protocol::kMaxOccurrencesPerPlan;
  std::vector<Micros> starts;
  if (!series.rrule.empty()) {
    auto rule = parse_rrule(series.rrule);
    if (!rule)
      return make_error("series " + std::to_string(series.id) + ": " + rule.error().message);
    auto instants = expand(*rule, series.local_time, series.tz, from_us, to_us, kCap + 1);
    if (!instants) {
      return make_error("series " + std::to_string(series.id) + ": " + instants.error().message);
    }
    starts = std::move(*instants);
  } else if (series.repeat_every_us > 0) {
    auto first = local_to_utc(series.local_time, series.tz);
    if (!first)
      return make_error("series " + std::to_string(series.id) + ": " + first.error().message);
    Micros t = *first;
    if (from_us > t) {
      t += (from_us - t + series.repeat_every_us - 1) / series.repeat_every_us *
           series.repeat_every_us;
    }
    for (; t < to_us && (series.until_us == 0 || t <= series.until_us) && starts.size() <= kCap;
         t += series.repeat_every_us) {
      starts.push_back(t);
    }
  }
  auto existing = store_.occurrences_of_series(series.id);
  if (!existing) return existing.error();
  std::set<Micros> have;
  for (const auto& o : *existing) have.insert(o.start_us);
  Micros reached = to_us;
  std::size_t created = 0;
  if (!starts.empty()) {
    auto resolved = resolve_targets(series.targets);
    if (!resolved) {
      return make_error("series " + std::to_string(series.id) + ": " + resolved.error().message);
    }
    const Micros now = clock_.now_us();
    std::map<std::string, std::size_t> counts;
    for (const auto& scope : resolved->scopes) {
      auto active = store_.active_occurrences_in_scope(scope, now);
      if (!active) return active.error();
      counts[scope] = active->size();
    }
    const Micros duration = duration_of(series.bulletin_id);
    for (const Micros t : starts) {
      if (have.count(t)) continue;
      const bool full = std::any_of(counts.begin(), counts.end(),
                                    [&](const auto& c) { return c.second + 1 > kCap; });
      if (full) {
        reached = t;
        Log(LogLevel::warn, kComponent).kv("series", series.id).kv("at", format_utc(t))
            << "a plan of the series' targets is full (1024 occurrences); the rest waits";
        break;
      }
      OccurrenceRecord occ;
      occ.bulletin_id = series.bulletin_id;
      occ.start_us = t;
      occ.expiry_us = t + series.expiry_after_us;
      occ.priority = series.priority;
      occ.volume = series.volume;
      occ.local_time = wall_time(t, series.tz);
      occ.tz = series.tz;
      occ.targets = series.targets;
      occ.scopes = resolved->scopes;
      occ.nodes = resolved->nodes;
      occ.created_us = now;
      occ.series_id = series.id;
      occ.keep_until_us = std::max(occ.expiry_us, t + duration) + kKeepMargin;
      auto id = store_.add_occurrence(occ);
      if (!id) return id.error();
      for (auto& c : counts) ++c.second;
      ++created;
    }
    if (created > 0) touched.insert(resolved->scopes.begin(), resolved->scopes.end());
  }
  if (loa::Status s = store_.set_series_materialized(series.id, reached); !s)
    return make_error(s.message());
  series.materialized_until_us = reached;
  return created;
}

Reply<std::size_t> Controller::tick() {
  std::size_t created = 0;
  {
    std::lock_guard lock(mu_);
    const Micros now = clock_.now_us();
    auto list = store_.active_series();
    if (!list) return list.error();
    std::set<std::string> touched;
    Outbox out;
    // One durable commit for the whole tick: a series that fails is rolled back alone (its
    // own savepoint) and logged, the others are kept.
    loa::Status stored = store_.batch([&]() -> loa::Status {
      for (auto& series : *list) {
        const bool rolling = series.repeat_every_us > 0 && series.until_us == 0;
        const Micros end = now + (rolling ? std::min<Micros>(settings_.plan_horizon_days * kDay,
                                                             settings_.repeat_window_us)
                                          : settings_.plan_horizon_days * kDay);
        std::size_t n = 0;
        std::set<std::string> scopes;
        loa::Status s = store_.batch([&]() -> loa::Status {
          auto made = materialize(series, now, end, scopes);
          if (!made) return make_error(made.error().message);
          n = *made;
          return {};
        });
        if (!s) {
          Log(LogLevel::warn, kComponent).kv("series", series.id).kv("reason", s.message())
              << "series not extended";
          continue;
        }
        created += n;
        touched.insert(scopes.begin(), scopes.end());
      }
      if (loa::Status s = publish_scopes({touched.begin(), touched.end()}, out); !s) {
        Log(LogLevel::error, kComponent).kv("reason", s.message()) << "tick";
      }
      return {};
    });
    if (!stored) return make_error("tick: " + stored.message());
    enqueue(std::move(out));
    if (created > 0)
      Log(LogLevel::info, kComponent).kv("occurrences", created) << "series extended";
  }
  drain();
  return created;
}

Reply<OccurrenceRecord> Controller::cancel_occurrence(std::uint64_t id) {
  Reply<OccurrenceRecord> r = [&]() -> Reply<OccurrenceRecord> {
    std::lock_guard lock(mu_);
    const Micros now = clock_.now_us();
    auto o = store_.find_occurrence(id);
    if (!o) return o.error();
    if (!*o) return api_error(ErrorCode::not_found, "unknown " + occurrence_name(id));
    OccurrenceRecord occ = std::move(**o);
    if (occ.cancelled()) {
      return api_error(ErrorCode::conflict, occurrence_name(id) + " is already cancelled (at " +
                                                format_utc(occ.cancelled_us) + ")");
    }
    if (now >= occ.keep_until_us - kKeepMargin) {
      return api_error(ErrorCode::conflict, occurrence_name(id) + " has already ended (" +
                                                format_utc(occ.keep_until_us - kKeepMargin) +
                                                "); nothing to cancel");
    }
    if (loa::Status s = store_.cancel_occurrence(id, now); !s) return make_error(s.message());
    occ.cancelled_us = now;
    Outbox out;
    loa::Status s = publish_scopes(occ.scopes, out);
    enqueue(std::move(out));
    if (!s) return make_error(occurrence_name(id) + " cancelled, but " + s.message());
    Log(LogLevel::info, kComponent).kv("occurrence", id).kv("scopes", occ.scopes.size())
        << "occurrence cancelled";
    return occ;
  }();
  drain();
  return r;
}

Reply<SeriesRecord> Controller::get_series(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto s = store_.find_series(id);
  if (!s) return s.error();
  if (!*s) return api_error(ErrorCode::not_found, "unknown series " + std::to_string(id));
  return std::move(**s);
}

Reply<SeriesCancel> Controller::cancel_series(std::uint64_t id) {
  Reply<SeriesCancel> r = [&]() -> Reply<SeriesCancel> {
    std::lock_guard lock(mu_);
    const Micros now = clock_.now_us();
    auto found = store_.find_series(id);
    if (!found) return found.error();
    if (!*found) return api_error(ErrorCode::not_found, "unknown series " + std::to_string(id));
    SeriesCancel result{std::move(**found), {}};
    if (result.series.cancelled_us != 0) {
      return api_error(ErrorCode::conflict, "series " + std::to_string(id) +
                                                " is already cancelled (at " +
                                                format_utc(result.series.cancelled_us) + ")");
    }
    if (loa::Status s = store_.cancel_series(id, now); !s) return make_error(s.message());
    result.series.cancelled_us = now;
    auto list = store_.occurrences_of_series(id);
    if (!list) return list.error();
    std::vector<std::string> scopes;
    for (const auto& o : *list) {
      if (o.cancelled() || now >= o.keep_until_us - kKeepMargin) continue;
      if (loa::Status s = store_.cancel_occurrence(o.id, now); !s) return make_error(s.message());
      result.cancelled.push_back(o.id);
      add_scopes(scopes, o.scopes);
    }
    Outbox out;
    loa::Status s = publish_scopes(scopes, out);
    enqueue(std::move(out));
    if (!s) return make_error("series " + std::to_string(id) + " cancelled, but " + s.message());
    Log(LogLevel::info, kComponent)
            .kv("series", id)
            .kv("occurrences", result.cancelled.size())
            .kv("scopes", scopes.size())
        << "series cancelled";
    return result;
  }();
  drain();
  return r;
}

Reply<OccurrenceRecord> Controller::change_occurrence(std::uint64_t id, const ChangeRequest& ch) {
  Reply<OccurrenceRecord> r = [&]() -> Reply<OccurrenceRecord> {
    std::lock_guard lock(mu_);
    const Micros now = clock_.now_us();
    auto o = store_.find_occurrence(id);
    if (!o) return o.error();
    if (!*o) return api_error(ErrorCode::not_found, "unknown " + occurrence_name(id));
    const OccurrenceRecord old = std::move(**o);
    if (old.cancelled()) {
      return api_error(ErrorCode::conflict, occurrence_name(id) + " is cancelled; schedule anew");
    }
    if (now >= old.start_us) {
      return api_error(ErrorCode::conflict,
                       occurrence_name(id) + " already started at " +
                           format_local(old.start_us, old.tz) +
                           "; it cannot be changed (cancel it and schedule a new one)");
    }
    OccurrenceRecord occ = old;
    if (ch.tz) {
      if (loa::Status s = check_zone(*ch.tz); !s) return bad("tz: " + s.message());
      occ.tz = *ch.tz;
    }
    if (ch.bulletin_id) {
      auto b = store_.find_bulletin(*ch.bulletin_id);
      if (!b) return b.error();
      if (!*b) {
        return api_error(ErrorCode::not_found,
                         "bulletin: unknown bulletin " + std::to_string(*ch.bulletin_id));
      }
      occ.bulletin_id = *ch.bulletin_id;
    }
    if (ch.at || ch.tz) {
      occ.local_time = ch.at.value_or(old.local_time);
      auto start = local_to_utc(occ.local_time, occ.tz);
      if (!start) return bad("at: " + start.error().message);
      if (*start < now) {
        return api_error(ErrorCode::unprocessable, "at: " + occ.local_time + " in " + occ.tz +
                                                       " is in the past; now is " +
                                                       format_utc(now));
      }
      occ.start_us = *start;
    }
    if (ch.priority) {
      auto p = protocol::parse_priority(*ch.priority);
      if (!p)
        return bad("priority: '" + *ch.priority + "' is not one of normal, priority, emergency");
      occ.priority = *p;
    }
    if (ch.volume) {
      if (*ch.volume < 0 || *ch.volume > 100) {
        return bad("volume: " + std::to_string(*ch.volume) + " is outside 0..100");
      }
      occ.volume = static_cast<std::uint8_t>(*ch.volume);
    }
    const Micros duration = duration_of(occ.bulletin_id);
    if (ch.expiry) {
      auto e = local_to_utc(*ch.expiry, occ.tz);
      if (!e) return bad("expiry: " + e.error().message);
      if (*e <= occ.start_us) return bad("expiry: " + *ch.expiry + " is not after the start");
      occ.expiry_us = *e;
    } else if (occ.start_us != old.start_us || occ.bulletin_id != old.bulletin_id) {
      occ.expiry_us = occ.start_us + duration + kDefaultExpiryMargin;
    }
    occ.keep_until_us = std::max(occ.expiry_us, occ.start_us + duration) + kKeepMargin;
    if (ch.targets) {
      auto resolved = resolve_targets(*ch.targets);
      if (!resolved) return resolved.error();
      occ.targets = *ch.targets;
      occ.scopes = resolved->scopes;
      occ.nodes = resolved->nodes;
    }
    for (const auto& scope : occ.scopes) {
      if (std::find(old.scopes.begin(), old.scopes.end(), scope) != old.scopes.end()) continue;
      auto active = store_.active_occurrences_in_scope(scope, now);
      if (!active) return active.error();
      if (active->size() + 1 > protocol::kMaxOccurrencesPerPlan) {
        return api_error(ErrorCode::unprocessable,
                         "targets: scope " + scope + " already holds " +
                             std::to_string(active->size()) + " occurrences (the most is " +
                             std::to_string(protocol::kMaxOccurrencesPerPlan) + ")");
      }
    }
    if (loa::Status s = store_.update_occurrence(occ); !s) return make_error(s.message());
    // Add before remove (session decision 2): every scope that holds it now, then the scopes
    // it left.
    std::vector<std::string> order = occ.scopes;
    add_scopes(order, old.scopes);
    Outbox out;
    loa::Status s = publish_scopes(order, out);
    if (s && occ.bulletin_id != old.bulletin_id) {
      auto b = store_.find_bulletin(occ.bulletin_id);
      if (b && *b) (void)dispatcher_.publish_manifest(**b, out);
    }
    enqueue(std::move(out));
    if (!s) return make_error(occurrence_name(id) + " changed, but " + s.message());
    Log(LogLevel::info, kComponent)
            .kv("occurrence", id)
            .kv("start", format_utc(occ.start_us))
            .kv("scopes", occ.scopes.size())
            .kv("nodes", occ.nodes.size())
        << "occurrence changed";
    return occ;
  }();
  drain();
  return r;
}

Reply<std::vector<TimelineGroup>> Controller::timelines(const std::vector<OccurrenceRecord>& fresh,
                                                        Micros from_us, Micros to_us,
                                                        bool all_entries, std::uint64_t replacing) {
  std::vector<TimelineGroup> groups;
  if (fresh.empty()) return groups;
  std::map<std::string, std::string> area_of;
  std::map<std::string, std::vector<PlannedItem>> items;  // by node
  std::map<std::uint64_t, Micros> durations;
  auto duration = [&](std::uint64_t bulletin) {
    auto it = durations.find(bulletin);
    if (it == durations.end()) it = durations.emplace(bulletin, duration_of(bulletin)).first;
    return it->second;
  };
  for (std::size_t k = 0; k < fresh.size(); ++k) {
    const auto& o = fresh[k];
    PlannedItem item{o.id,
                     o.id != 0 ? occurrence_name(o.id) : "new " + std::to_string(k + 1),
                     o.bulletin_id,
                     o.start_us,
                     duration(o.bulletin_id),
                     o.expiry_us,
                     o.priority,
                     true};
    for (const auto& n : o.nodes) {
      if (n.approval == "rejected") continue;
      area_of[n.node_id] = n.area;
      items[n.node_id].push_back(item);
    }
  }
  auto existing = store_.live_occurrences(from_us, to_us);
  if (!existing) return existing.error();
  for (const auto& o : *existing) {
    if (o.id == replacing) continue;
    PlannedItem item{o.id,
                     occurrence_name(o.id),
                     o.bulletin_id,
                     o.start_us,
                     duration(o.bulletin_id),
                     o.expiry_us,
                     o.priority,
                     false};
    for (const auto& n : o.nodes) {
      if (n.approval == "rejected") continue;
      auto it = items.find(n.node_id);
      if (it != items.end()) it->second.push_back(item);
    }
  }
  // Nodes with the same items have the same timeline: simulate once per group.
  std::map<std::string, std::vector<std::string>> by_signature;
  std::map<std::string, std::vector<PlannedItem>*> sample;
  for (auto& [node, list] : items) {
    std::sort(list.begin(), list.end(), [](const PlannedItem& a, const PlannedItem& b) {
      return std::tie(a.start_us, a.label) < std::tie(b.start_us, b.label);
    });
    std::string sig;
    for (const auto& i : list) sig += i.label + "@" + std::to_string(i.start_us) + ";";
    by_signature[sig].push_back(node);
    sample[sig] = &list;
  }
  const std::string tz = fresh.front().tz.empty() ? settings_.tz : fresh.front().tz;
  for (auto& [sig, nodes] : by_signature) {
    TimelineGroup g;
    std::vector<std::string> areas;
    for (const auto& n : nodes) areas.push_back(area_of[n]);
    g.label = nodes.size() == 1 ? "node:" + nodes.front() : "area:" + common_area(areas);
    g.nodes = nodes;
    auto entries = simulate_player(*sample[sig]);
    for (auto& e : entries) {
      if (e.fate != Fate::plays && (e.item.is_new || e.other_is_new)) {
        g.conflicts.push_back(describe(e, tz));
      }
    }
    if (!all_entries && g.conflicts.empty()) continue;
    if (all_entries) g.entries = std::move(entries);
    groups.push_back(std::move(g));
  }
  return groups;
}

loa::Status Controller::rescope_live_occurrences(Outbox& out) {
  const Micros now = clock_.now_us();
  auto live = store_.live_occurrences(now, std::numeric_limits<Micros>::max());
  if (!live) return live.error();
  std::vector<std::string> adds;
  std::vector<std::string> removes;
  std::size_t changed = 0;
  for (auto& o : *live) {
    auto scopes = scopes_for(o.targets, o.nodes);
    if (!scopes) return scopes.error();
    if (*scopes == o.scopes) continue;
    add_scopes(adds, *scopes);
    add_scopes(removes, o.scopes);
    o.scopes = std::move(*scopes);
    if (loa::Status s = store_.update_occurrence(o); !s) return s;
    ++changed;
  }
  if (changed == 0) return {};
  // Add before remove (session decision 2): every new scope, then the scopes that were left.
  add_scopes(adds, removes);
  Log(LogLevel::info, kComponent).kv("occurrences", changed).kv("plans", adds.size())
      << "covering sets recomputed after a change of nodes";
  return publish_scopes(adds, out);
}

Reply<std::string> Controller::set_area_approval(const std::string& area_text,
                                                 const std::string& approval) {
  auto area = protocol::AreaPath::parse(area_text);
  if (!area) return bad("area: " + area.error().message);
  if (approval != "required" && approval != "none") {
    return bad("approval: '" + approval + "' is not one of required, none");
  }
  std::lock_guard lock(mu_);
  if (loa::Status s = store_.set_area_approval(area->str(), approval); !s) {
    return make_error(s.message());
  }
  Log(LogLevel::info, kComponent).kv("area", area->str()).kv("approval", approval)
      << "area approval set";
  return approval;
}

Reply<std::vector<std::string>> Controller::approval_areas() {
  std::lock_guard lock(mu_);
  auto list = store_.approval_areas();
  if (!list) return list.error();
  return std::move(*list);
}

Reply<std::vector<ApprovalItem>> Controller::list_approvals() {
  std::lock_guard lock(mu_);
  const Micros now = clock_.now_us();
  auto areas = store_.approval_areas();
  if (!areas) return areas.error();
  std::vector<protocol::AreaPath> approval;
  for (const auto& a : *areas) {
    if (auto p = protocol::AreaPath::parse(a)) approval.push_back(*p);
  }
  auto live = store_.live_occurrences(now, std::numeric_limits<Micros>::max());
  if (!live) return live.error();
  std::vector<ApprovalItem> out;
  for (const auto& o : *live) {
    if (o.expiry_us <= now) continue;
    std::map<std::string, ApprovalItem> by_area;
    for (const auto& n : o.nodes) {
      if (n.approval != "pending") continue;
      std::string where = n.area;  // the highest area requiring approval that holds the node
      if (auto path = protocol::AreaPath::parse(n.area)) {
        for (const auto& a : approval) {
          if (a.contains(*path)) {
            where = a.str();
            break;
          }
        }
      }
      auto& item = by_area[where];
      item.occurrence_id = o.id;
      item.bulletin_id = o.bulletin_id;
      item.area = where;
      item.start_us = o.start_us;
      item.expiry_us = o.expiry_us;
      item.tz = o.tz;
      item.nodes.push_back(n.node_id);
    }
    for (auto& [area, item] : by_area) out.push_back(std::move(item));
  }
  return out;
}

Reply<OccurrenceRecord> Controller::decide_approval(std::uint64_t id, const std::string& area_text,
                                                    bool approve) {
  auto area = protocol::AreaPath::parse(area_text);
  if (!area) return bad("area: " + area.error().message);
  Reply<OccurrenceRecord> r = [&]() -> Reply<OccurrenceRecord> {
    std::lock_guard lock(mu_);
    const Micros now = clock_.now_us();
    auto o = store_.find_occurrence(id);
    if (!o) return o.error();
    if (!*o) return api_error(ErrorCode::not_found, "unknown " + occurrence_name(id));
    OccurrenceRecord occ = std::move(**o);
    if (occ.cancelled())
      return api_error(ErrorCode::conflict, occurrence_name(id) + " is cancelled");
    if (now >= occ.expiry_us) {
      return api_error(ErrorCode::conflict, occurrence_name(id) + " expired at " +
                                                format_local(occ.expiry_us, occ.tz) +
                                                " unapproved; it was not played");
    }
    std::size_t decided = 0;
    for (auto& n : occ.nodes) {
      auto path = protocol::AreaPath::parse(n.area);
      if (n.approval != "pending" || !path || !area->contains(*path)) continue;
      n.approval = approve ? "approved" : "rejected";
      ++decided;
    }
    if (decided == 0) {
      return api_error(ErrorCode::not_found, "area: no node of " + occurrence_name(id) + " in " +
                                                 area->str() + " awaits approval");
    }
    const std::vector<std::string> old = occ.scopes;
    auto scopes = scopes_for(occ.targets, occ.nodes);
    if (!scopes) return scopes.error();
    occ.scopes = std::move(*scopes);
    if (loa::Status s = store_.update_occurrence(occ); !s) return make_error(s.message());
    std::vector<std::string> order = occ.scopes;
    add_scopes(order, old);
    Outbox out;
    loa::Status s = publish_scopes(order, out);
    enqueue(std::move(out));
    if (!s) return make_error(occurrence_name(id) + " decided, but " + s.message());
    Log(LogLevel::info, kComponent)
            .kv("occurrence", id)
            .kv("area", area->str())
            .kv("nodes", decided)
        << (approve ? "approved" : "rejected");
    return occ;
  }();
  drain();
  return r;
}

Reply<std::vector<std::string>> Controller::add_to_group(const std::string& name,
                                                         const std::vector<std::string>& ids) {
  if (!valid_group_name(name)) return bad("name: a group name is 1..64 of [A-Za-z0-9_-]");
  if (ids.empty()) return bad("nodes: at least one node is needed");
  std::lock_guard lock(mu_);
  for (const auto& id : ids) {
    auto node = store_.find_node(id);
    if (!node) return node.error();
    if (!*node) return api_error(ErrorCode::not_found, "nodes: unknown node '" + id + "'");
  }
  if (loa::Status s = store_.add_group_members(name, ids); !s) return make_error(s.message());
  auto members = store_.group_members(name);
  if (!members) return members.error();
  return std::move(*members);
}

Reply<std::vector<std::string>> Controller::remove_from_group(const std::string& name,
                                                              const std::vector<std::string>& ids) {
  if (!valid_group_name(name)) return bad("name: a group name is 1..64 of [A-Za-z0-9_-]");
  std::lock_guard lock(mu_);
  auto before = store_.group_members(name);
  if (!before) return before.error();
  if (before->empty()) return api_error(ErrorCode::not_found, "unknown group '" + name + "'");
  if (loa::Status s = store_.remove_group_members(name, ids); !s) return make_error(s.message());
  auto members = store_.group_members(name);
  if (!members) return members.error();
  return std::move(*members);
}

Reply<std::vector<std::pair<std::string, std::string>>> Controller::list_groups() {
  std::lock_guard lock(mu_);
  auto list = store_.list_groups();
  if (!list) return list.error();
  return std::move(*list);
}

}  // namespace loa::controller
