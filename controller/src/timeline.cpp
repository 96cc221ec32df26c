#include "loa/controller/timeline.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "loa/controller/local_time.hpp"

namespace loa::controller {
namespace {

// "06:32:30" (the time of day of format_local's output).
std::string clock_time(Micros t, const std::string& tz) {
  const std::string s = format_local(t, tz);
  const auto pos = s.find('T');
  return pos == std::string::npos ? s : s.substr(pos + 1, 8);
}

std::string span(Micros us) {
  const std::int64_t s = us / 1'000'000;
  if (s < 60) return std::to_string(s) + " s";
  const std::int64_t m = s / 60;
  return std::to_string(m) + " min" + (s % 60 ? " " + std::to_string(s % 60) + " s" : "");
}

// True if waiting item a goes before b.
bool before(const PlannedItem& a, const PlannedItem& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (a.start_us != b.start_us) return a.start_us < b.start_us;
  return a.occurrence_id < b.occurrence_id;
}

}  // namespace

const char* to_string(Fate fate) {
  switch (fate) {
    case Fate::plays:
      return "plays";
    case Fate::waits:
      return "waits";
    case Fate::expires:
      return "expires";
    case Fate::preempted:
      return "preempted";
  }
  return "plays";
}

std::vector<TimelineEntry> simulate_player(std::vector<PlannedItem> items) {
  std::stable_sort(items.begin(), items.end(), [](const PlannedItem& a, const PlannedItem& b) {
    if (a.start_us != b.start_us) return a.start_us < b.start_us;
    return a.occurrence_id < b.occurrence_id;
  });
  std::vector<TimelineEntry> out(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) out[i].item = items[i];
  constexpr Micros kNever = std::numeric_limits<Micros>::max();
  std::optional<std::size_t> playing;
  Micros playing_end = kNever;
  std::vector<std::size_t> waiting;
  std::size_t next = 0;

  auto start = [&](std::size_t i, Micros t) {
    out[i].plays_us = t;
    out[i].ends_us = t + items[i].duration_us;
    if (t > items[i].start_us) out[i].fate = Fate::waits;
    playing = i;
    playing_end = out[i].ends_us;
  };
  // The output is free at `t`: the best waiting item that has not expired starts.
  auto free_at = [&](Micros t) {
    playing.reset();
    playing_end = kNever;
    std::sort(waiting.begin(), waiting.end(),
              [&](std::size_t a, std::size_t b) { return before(items[a], items[b]); });
    while (!waiting.empty()) {
      const std::size_t i = waiting.front();
      waiting.erase(waiting.begin());
      if (items[i].expiry_us <= t) {
        out[i].fate = Fate::expires;
        out[i].plays_us = 0;
        out[i].ends_us = items[i].expiry_us;
        continue;
      }
      start(i, t);
      return;
    }
  };

  while (next < items.size() || playing || !waiting.empty()) {
    const Micros arrival = next < items.size() ? items[next].start_us : kNever;
    if (playing && playing_end <= arrival) {
      free_at(playing_end);
      continue;
    }
    if (!playing && next >= items.size()) {
      free_at(kNever - 1);  // nothing will free the output again: whatever waits expires
      continue;
    }
    const std::size_t i = next++;
    if (!playing) {
      start(i, arrival);
      continue;
    }
    const std::size_t p = *playing;
    if (items[i].priority == protocol::Priority::emergency &&
        items[p].priority < items[i].priority) {
      out[p].fate = Fate::preempted;
      out[p].ends_us = arrival;
      out[p].other_label = items[i].label;
      out[p].other_is_new = items[i].is_new;
      start(i, arrival);
      continue;
    }
    out[i].other_label = items[p].label;
    out[i].other_is_new = items[p].is_new;
    waiting.push_back(i);
  }
  return out;
}

std::string describe(const TimelineEntry& e, const std::string& tz) {
  const auto& it = e.item;
  const std::string who =
      it.label + " (" + protocol::to_string(it.priority) + ", " + clock_time(it.start_us, tz) + ")";
  switch (e.fate) {
    case Fate::plays:
      return {};
    case Fate::waits:
      return who + " waits " + span(e.plays_us - it.start_us) + " behind " + e.other_label +
             "; plays at " + clock_time(e.plays_us, tz);
    case Fate::expires:
      return who + " would expire at " + clock_time(it.expiry_us, tz) + " waiting behind " +
             e.other_label + "; it would never play";
    case Fate::preempted:
      return who + " would be preempted at " + clock_time(e.ends_us, tz) + " by " + e.other_label +
             " (emergency); it is dropped, not resumed";
  }
  return {};
}

}  // namespace loa::controller
