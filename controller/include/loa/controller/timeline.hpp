// What one node's player would do with a set of occurrences (session decision 4, docs/scheduling.md
// "Levels and conflicts"): the controller's dry run and the warnings of a schedule. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loa/protocol/messages.hpp"

namespace loa::controller {

using protocol::Micros;

// An occurrence as the player sees it. `label` names it in messages ("occurrence 12", "new 1").
struct PlannedItem {
  std::uint64_t occurrence_id = 0;  // 0: not stored yet (a dry run's or a request's own)
  std::string label;
  std::uint64_t bulletin_id = 0;
  Micros start_us = 0;
  Micros duration_us = 0;
  Micros expiry_us = 0;
  protocol::Priority priority = protocol::Priority::normal;
  bool is_new = false;  // part of the request being checked
};

enum class Fate { plays, waits, expires, preempted };
const char* to_string(Fate fate);

// One item's fate: when it would play and, unless it plays on time, what it conflicts with.
struct TimelineEntry {
  PlannedItem item;
  Fate fate = Fate::plays;
  Micros plays_us = 0;        // actual start (plays, waits, preempted); 0 for expires
  Micros ends_us = 0;         // end of its audio, or of its wait when it expires
  std::string other_label;    // what it waited behind / what preempted it
  bool other_is_new = false;  // `other_label` belongs to the request
};

// Simulates one node: an emergency preempts anything lower that plays (the interrupted item is
// dropped); otherwise items never overlap: the later waits; a waiting item starts when the
// output is free if that is before its expiry, else it expires. Among waiting items: higher
// level first, then earlier start, then lower occurrence id. Returns the entries by start.
std::vector<TimelineEntry> simulate_player(std::vector<PlannedItem> items);

// A one-line description of a conflict ("new 1 (normal, 06:30) waits 2 min 30 s behind
// occurrence 12; plays at 06:32:30"), times local in `tz`. Empty for an item that plays on time.
std::string describe(const TimelineEntry& entry, const std::string& tz);

}  // namespace loa::controller
