// Period reports of the playback ledger (monthly, quarterly, yearly reports on grassroots
// information) and their verification against the node-signed events. Pure: the Controller
// reads the store and hands the records over. docs/reports.md defines every figure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loa/controller/coverage.hpp"
#include "loa/controller/store.hpp"

namespace loa::controller {

enum class ReportGrouping { none, area, day, bulletin };
const char* to_string(ReportGrouping by);
// "", "area", "day" or "bulletin"; the error names the text.
Result<ReportGrouping> parse_grouping(std::string_view text);

// [from_us, to_us): local midnights in `tz`.
struct ReportPeriod {
  Micros from_us = 0;
  Micros to_us = 0;
  std::string label;  // "2026-11", "2026-Q4", "2026", "2026-11-03..2026-11-09" or "all"
  std::string tz;
};

// How a period is asked for: exactly one of from+to (dates YYYY-MM-DD, `to` included), month
// (YYYY-MM), quarter (YYYY-Qn) or year (YYYY); all empty means all time (verify only).
struct PeriodSpec {
  std::string from;
  std::string to;
  std::string month;
  std::string quarter;
  std::string year;
  bool empty() const {
    return from.empty() && to.empty() && month.empty() && quarter.empty() && year.empty();
  }
};
// The period in zone `tz`. Errors name the option and the text.
Result<ReportPeriod> resolve_period(const PeriodSpec& spec, std::string_view tz);
// All time: every occurrence ever scheduled.
ReportPeriod all_time(std::string_view tz);

// The figures of a set of node-plays. Node-play counts (and residents, frames) are additive over
// any partition; `occurrences` is additive over days and bulletins but not over areas (an
// occurrence that reached two areas counts once in each).
struct ReportFigures {
  std::uint64_t occurrences = 0;   // with at least one targeted node-play in scope
  CoverageCounts plays;            // targeted node-plays by outcome (coverage.hpp's rules)
  std::uint64_t frames_aired = 0;  // 20 ms frames played, every outcome
  // completed / targeted (0 when nothing was targeted).
  double completion_rate() const;
  double hours_aired() const;
  friend bool operator==(const ReportFigures&, const ReportFigures&) = default;
};

struct ReportRow {
  std::string key;    // area path, local date, or bulletin id
  std::string label;  // the key, "PATH (itself)" for nodes at the parent area, a bulletin title
  ReportFigures figures;
};

struct PeriodReport {
  ReportPeriod period;
  std::string area;  // filter: the area and everything below it ("" = everything)
  ReportGrouping by = ReportGrouping::none;
  std::vector<ReportRow> rows;  // sorted by key; empty when by == none
  ReportFigures total;
  Micros computed_us = 0;
};

// What a report is computed from.
struct ReportInputs {
  std::vector<OccurrenceRecord> occurrences;  // those starting in the period, with node sets
  std::vector<EventRecord> events;            // recorded events of those occurrences
  std::map<std::uint64_t, std::string> bulletin_titles;
};

// Rows by area are one level below `area` (the first level when it is empty). Events of
// (node, occurrence) pairs not targeted are ignored, as in coverage.
PeriodReport compute_period_report(const ReportPeriod& period, const ReportInputs& inputs,
                                   const std::string& area, ReportGrouping by, Micros now_us,
                                   Micros grace_us);

// The outcome of `report verify`.
struct VerifyReport {
  ReportPeriod period;
  std::size_t events_checked = 0;
  std::vector<std::string> discrepancies;  // one line each, naming the row and the figure
  bool verified() const { return discrepancies.empty(); }
};

// Re-verifies every stored event's envelope with its node's key (nodes by id), re-decodes it,
// compares the signed event with the stored row field by field, and recomputes the period's
// totals and day rows from the signed events to compare them with those of the stored rows.
VerifyReport verify_ledger(const ReportPeriod& period, const ReportInputs& stored,
                           const std::map<std::string, NodeRecord>& nodes, Micros now_us,
                           Micros grace_us);

}  // namespace loa::controller
