// What ingesting a CAP message returns (Controller::ingest_cap, cap_ingest.cpp; docs/cap.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loa/controller/cap_records.hpp"

namespace loa::controller {

struct CapIngestResult {
  CapAlertRecord alert;  // as stored (its XML left out)
  // The same sender and identifier (and sent) came before: this is that earlier answer and
  // nothing was done again.
  bool duplicate = false;
  std::vector<std::uint64_t> cancelled;  // occurrences an Update or Cancel cancelled
  std::vector<std::string> warnings;     // areas not mapped, scheduling conflicts
};

// The level of an alert that sounds: emergency for severity Extreme or Severe with urgency
// Immediate or Expected; priority otherwise.
std::string cap_level(const std::string& severity, const std::string& urgency);

}  // namespace loa::controller
