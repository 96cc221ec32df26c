#include "loa/controller/report.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>
#include <utility>

#include "loa/controller/local_time.hpp"

namespace loa::controller {
namespace {

constexpr double kFrameSeconds = 0.020;  // PlaybackEvent frames are 20 ms

const date::time_zone* zone(std::string_view tz) {
  try {
    return date::locate_zone(std::string(tz));
  } catch (const std::exception&) {
    return nullptr;
  }
}

// Strict decimal digits of `text` (all of it), or -1.
long digits(std::string_view text) {
  if (text.empty() || text.size() > 9) return -1;
  long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<date::year_month_day> parse_date(std::string_view text, const std::string& option) {
  const auto bad = [&] {
    return make_error("--" + option + " '" + std::string(text) + "': expected YYYY-MM-DD");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  const long y = digits(text.substr(0, 4));
  const long m = digits(text.substr(5, 2));
  const long d = digits(text.substr(8, 2));
  if (y < 0 || m < 0 || d < 0) return bad();
  const date::year_month_day ymd{date::year(static_cast<int>(y)),
                                 date::month(static_cast<unsigned>(m)),
                                 date::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return make_error("--" + option + " '" + std::string(text) + "': no such date");
  return ymd;
}

// The instant of local midnight starting `day` in `z` (the first instant of the day if a
// daylight-saving jump skips midnight).
Micros midnight(date::local_days day, const date::time_zone* z) {
  const date::zoned_time<std::chrono::seconds> zt(z, date::local_seconds(day.time_since_epoch()),
                                                  date::choose::earliest);
  return std::chrono::duration_cast<std::chrono::microseconds>(zt.get_sys_time().time_since_epoch())
      .count();
}

std::string local_date(Micros t, const date::time_zone* z) {
  const date::sys_seconds s{
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::microseconds(t))};
  const auto local = date::make_zoned(z, s).get_local_time();
  return date::format("%F", date::floor<date::days>(local));
}

ReportFigures& add(ReportFigures& a, const ReportFigures& b) {
  a.occurrences += b.occurrences;
  a.plays += b.plays;
  a.frames_aired += b.frames_aired;
  return a;
}

// One targeted node-play in scope with its row key.
struct Play {
  const OccurrenceRecord* occurrence;
  const TargetedNode* node;
  std::string row;
};

bool in_area(const std::string& node_area, const std::string& area) {
  return area.empty() || node_area == area ||
         (node_area.size() > area.size() && node_area.compare(0, area.size(), area) == 0 &&
          node_area[area.size()] == '/');
}

// The area row of a node: one level below `area`.
std::string area_row(const std::string& node_area, const std::string& area) {
  if (node_area == area) return area;
  const std::size_t from = area.empty() ? 0 : area.size() + 1;
  const std::size_t slash = node_area.find('/', from);
  return slash == std::string::npos ? node_area : node_area.substr(0, slash);
}

void compare(std::vector<std::string>& out, const std::string& where, const ReportFigures& stored,
             const ReportFigures& signed_) {
  const auto check = [&](const char* name, long double a, long double b) {
    if (a != b) {
      char line[256];
      std::snprintf(line, sizeof line, "%s %s: stored rows give %.0Lf, signed events give %.0Lf",
                    where.c_str(), name, a, b);
      out.emplace_back(line);
    }
  };
  const auto& s = stored.plays;
  const auto& g = signed_.plays;
  check("occurrences", stored.occurrences, signed_.occurrences);
  check("targeted", s.targeted, g.targeted);
  check("completed", s.completed, g.completed);
  check("partial", s.partial, g.partial);
  check("failed", s.failed, g.failed);
  check("preempted", s.preempted, g.preempted);
  check("expired", s.expired, g.expired);
  check("cancelled", s.cancelled, g.cancelled);
  check("missed", s.missed, g.missed);
  check("pending", s.pending, g.pending);
  check("cancelled unheard", s.cancelled_unheard, g.cancelled_unheard);
  check("approval rejected", s.approval_rejected, g.approval_rejected);
  check("expired unapproved", s.expired_unapproved, g.expired_unapproved);
  check("residents reached", s.residents_reached, g.residents_reached);
  check("frames aired", stored.frames_aired, signed_.frames_aired);
}

std::string describe(const EventRecord& r) {
  return "event row " + std::to_string(r.row_id) + " (node " + r.event.node_id + ", occurrence " +
         std::to_string(r.event.occurrence_id) + ")";
}

// The fields in which the stored row differs from the signed event.
std::vector<std::string> differences(const protocol::PlaybackEvent& stored,
                                     const protocol::PlaybackEvent& sig) {
  std::vector<std::string> out;
  const auto num = [&](const char* name, long long a, long long b) {
    if (a != b) {
      out.push_back(std::string(name) + " stored " + std::to_string(a) + ", signed " +
                    std::to_string(b));
    }
  };
  if (stored.node_id != sig.node_id) {
    out.push_back("node stored '" + stored.node_id + "', signed '" + sig.node_id + "'");
  }
  num("occurrence", static_cast<long long>(stored.occurrence_id),
      static_cast<long long>(sig.occurrence_id));
  num("bulletin", static_cast<long long>(stored.bulletin_id),
      static_cast<long long>(sig.bulletin_id));
  if (stored.outcome != sig.outcome) {
    out.push_back(std::string("outcome stored ") + protocol::to_string(stored.outcome) +
                  ", signed " + protocol::to_string(sig.outcome));
  }
  num("start_us", stored.start_us, sig.start_us);
  num("end_us", stored.end_us, sig.end_us);
  num("frames_played", stored.frames_played, sig.frames_played);
  num("frames_concealed", stored.frames_concealed, sig.frames_concealed);
  num("frames_dropped", stored.frames_dropped, sig.frames_dropped);
  num("event_seq", static_cast<long long>(stored.event_seq), static_cast<long long>(sig.event_seq));
  if (stored.detail != sig.detail) out.push_back("detail differs");
  return out;
}

}  // namespace

const char* to_string(ReportGrouping by) {
  switch (by) {
    case ReportGrouping::none:
      return "none";
    case ReportGrouping::area:
      return "area";
    case ReportGrouping::day:
      return "day";
    case ReportGrouping::bulletin:
      return "bulletin";
  }
  return "none";
}

Result<ReportGrouping> parse_grouping(std::string_view text) {
  if (text.empty() || text == "none") return ReportGrouping::none;
  if (text == "area") return ReportGrouping::area;
  if (text == "day") return ReportGrouping::day;
  if (text == "bulletin") return ReportGrouping::bulletin;
  return make_error("by: '" + std::string(text) + "' is not one of area, day, bulletin");
}

double ReportFigures::completion_rate() const {
  return plays.targeted == 0
             ? 0.0
             : static_cast<double>(plays.completed) / static_cast<double>(plays.targeted);
}

double ReportFigures::hours_aired() const {
  return static_cast<double>(frames_aired) * kFrameSeconds / 3600.0;
}

ReportPeriod all_time(std::string_view tz) {
  return ReportPeriod{std::numeric_limits<Micros>::min(), std::numeric_limits<Micros>::max(), "all",
                      std::string(tz)};
}

Result<ReportPeriod> resolve_period(const PeriodSpec& spec, std::string_view tz) {
  const date::time_zone* z = zone(tz);
  if (!z) return make_error("tz '" + std::string(tz) + "' is not a known time zone");
  const int styles = (!spec.from.empty() || !spec.to.empty()) + !spec.month.empty() +
                     !spec.quarter.empty() + !spec.year.empty();
  if (styles != 1) {
    return make_error(
        "give exactly one period: --from DATE --to DATE, --month YYYY-MM, --quarter YYYY-Qn or "
        "--year YYYY");
  }
  ReportPeriod p;
  p.tz = std::string(tz);
  date::local_days first{};
  date::local_days after{};
  if (!spec.from.empty() || !spec.to.empty()) {
    if (spec.from.empty() || spec.to.empty()) return make_error("--from and --to go together");
    auto f = parse_date(spec.from, "from");
    if (!f) return f.error();
    auto t = parse_date(spec.to, "to");
    if (!t) return t.error();
    first = date::local_days(*f);
    after = date::local_days(*t) + date::days(1);
    if (after <= first) {
      return make_error("--to " + spec.to + " is before --from " + spec.from);
    }
    p.label = spec.from + ".." + spec.to;
  } else if (!spec.month.empty()) {
    const std::string& m = spec.month;
    const long y = m.size() == 7 && m[4] == '-' ? digits(m.substr(0, 4)) : -1;
    const long mo = y >= 0 ? digits(m.substr(5, 2)) : -1;
    if (y < 0 || mo < 1 || mo > 12) return make_error("--month '" + m + "': expected YYYY-MM");
    const date::year_month ym{date::year(static_cast<int>(y)),
                              date::month(static_cast<unsigned>(mo))};
    first = date::local_days(ym / 1);
    after = date::local_days((ym + date::months(1)) / 1);
    p.label = m;
  } else if (!spec.quarter.empty()) {
    const std::string& q = spec.quarter;
    const long y =
        q.size() == 7 && q[4] == '-' && (q[5] == 'Q' || q[5] == 'q') ? digits(q.substr(0, 4)) : -1;
    const long n = y >= 0 ? digits(q.substr(6, 1)) : -1;
    if (y < 0 || n < 1 || n > 4) return make_error("--quarter '" + q + "': expected YYYY-Qn");
    const date::year_month ym{date::year(static_cast<int>(y)),
                              date::month(static_cast<unsigned>(3 * (n - 1) + 1))};
    first = date::local_days(ym / 1);
    after = date::local_days((ym + date::months(3)) / 1);
    p.label = q.substr(0, 5) + "Q" + q.substr(6, 1);
  } else {
    const long y = spec.year.size() == 4 ? digits(spec.year) : -1;
    if (y < 0) return make_error("--year '" + spec.year + "': expected YYYY");
    first = date::local_days(date::year(static_cast<int>(y)) / 1 / 1);
    after = date::local_days(date::year(static_cast<int>(y) + 1) / 1 / 1);
    p.label = spec.year;
  }
  p.from_us = midnight(first, z);
  p.to_us = midnight(after, z);
  return p;
}

PeriodReport compute_period_report(const ReportPeriod& period, const ReportInputs& in,
                                   const std::string& area, ReportGrouping by, Micros now_us,
                                   Micros grace_us) {
  PeriodReport report;
  report.period = period;
  report.area = area;
  report.by = by;
  report.computed_us = now_us;
  const date::time_zone* z = zone(period.tz);
  if (!z) z = date::locate_zone("UTC");

  std::map<std::pair<std::string, std::uint64_t>, const protocol::PlaybackEvent*> by_play;
  for (const auto& r : in.events) {
    by_play.emplace(std::make_pair(r.event.node_id, r.event.occurrence_id), &r.event);
  }
  std::map<std::string, ReportFigures> rows;
  std::map<std::string, std::string> labels;
  for (const auto& o : in.occurrences) {
    if (o.start_us < period.from_us || o.start_us >= period.to_us) continue;
    std::set<std::string> rows_reached;
    bool any = false;
    for (const auto& n : o.nodes) {
      if (!in_area(n.area, area)) continue;
      any = true;
      const auto it = by_play.find({n.node_id, o.id});
      const protocol::PlaybackEvent* e = it == by_play.end() ? nullptr : it->second;
      ReportFigures f;
      f.plays = classify_play(o, n, e, false, now_us, grace_us);
      f.frames_aired = e ? e->frames_played : 0;
      add(report.total, f);
      std::string key;
      switch (by) {
        case ReportGrouping::none:
          continue;
        case ReportGrouping::area:
          key = area_row(n.area, area);
          labels[key] = key == area ? key + " (itself)" : key;
          break;
        case ReportGrouping::day:
          key = local_date(o.start_us, z);
          labels[key] = key;
          break;
        case ReportGrouping::bulletin: {
          key = std::to_string(o.bulletin_id);
          const auto t = in.bulletin_titles.find(o.bulletin_id);
          labels[key] = t == in.bulletin_titles.end() ? key : t->second;
          break;
        }
      }
      add(rows[key], f);
      rows_reached.insert(key);
    }
    if (!any) continue;
    ++report.total.occurrences;
    for (const auto& key : rows_reached) ++rows[key].occurrences;
  }
  for (auto& [key, figures] : rows) {
    report.rows.push_back(ReportRow{key, labels[key], figures});
  }
  if (by == ReportGrouping::bulletin) {
    std::sort(report.rows.begin(), report.rows.end(), [](const ReportRow& a, const ReportRow& b) {
      return std::stoull(a.key) < std::stoull(b.key);
    });
  }
  return report;
}

VerifyReport verify_ledger(const ReportPeriod& period, const ReportInputs& stored,
                           const std::map<std::string, NodeRecord>& nodes, Micros now_us,
                           Micros grace_us) {
  VerifyReport v;
  v.period = period;
  ReportInputs signed_inputs;
  signed_inputs.occurrences = stored.occurrences;
  signed_inputs.bulletin_titles = stored.bulletin_titles;
  std::map<std::uint64_t, const OccurrenceRecord*> occurrences;
  for (const auto& o : stored.occurrences) occurrences[o.id] = &o;

  for (const auto& r : stored.events) {
    ++v.events_checked;
    const std::string what = describe(r);
    const auto node = nodes.find(r.event.node_id);
    if (node == nodes.end()) {
      v.discrepancies.push_back(what + ": no such node");
      continue;
    }
    if (!node->second.public_key) {
      v.discrepancies.push_back(what + ": the node has no registered key to verify with");
      continue;
    }
    const protocol::PublicKey key = *node->second.public_key;
    protocol::VerifyPolicy policy;
    policy.now_us = now_us;
    const protocol::OpenResult opened = protocol::open(r.envelope, protocol::KeySet(key), policy);
    if (!opened.ok()) {
      v.discrepancies.push_back(what + ": stored envelope does not verify with the node's key (" +
                                protocol::to_string(opened.rejection) + ")");
      continue;
    }
    if (opened.opened->header.type != protocol::MessageType::playback_event) {
      v.discrepancies.push_back(what + ": stored envelope is not a playback event");
      continue;
    }
    auto decoded = protocol::decode_playback_event(opened.opened->body);
    if (!decoded) {
      v.discrepancies.push_back(what + ": signed body does not decode: " + decoded.error().message);
      continue;
    }
    for (const auto& d : differences(r.event, *decoded)) {
      v.discrepancies.push_back(what + ": " + d);
    }
    const auto o = occurrences.find(decoded->occurrence_id);
    const bool targeted =
        o != occurrences.end() &&
        std::any_of(o->second->nodes.begin(), o->second->nodes.end(),
                    [&](const TargetedNode& n) { return n.node_id == decoded->node_id; });
    if (!targeted) {
      v.discrepancies.push_back(what + ": the signed event's occurrence did not target the node");
    }
    EventRecord s = r;
    s.event = std::move(*decoded);
    signed_inputs.events.push_back(std::move(s));
  }

  // Totals and day rows from the stored rows and from the signed events must agree.
  const PeriodReport from_rows =
      compute_period_report(period, stored, "", ReportGrouping::day, now_us, grace_us);
  const PeriodReport from_signed =
      compute_period_report(period, signed_inputs, "", ReportGrouping::day, now_us, grace_us);
  compare(v.discrepancies, "total", from_rows.total, from_signed.total);
  std::map<std::string, ReportFigures> signed_days;
  for (const auto& row : from_signed.rows) signed_days[row.key] = row.figures;
  for (const auto& row : from_rows.rows) {
    compare(v.discrepancies, "day " + row.key, row.figures, signed_days[row.key]);
  }
  return v;
}

}  // namespace loa::controller
