// What the store keeps of CAP alerts (docs/cap.md): every message received, and the operator's
// table from CAP geocodes to area paths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loa/protocol/messages.hpp"

namespace loa::controller {

// One CAP message as received and what was done with it.
struct CapAlertRecord {
  std::uint64_t id = 0;
  protocol::Micros received_us = 0;
  std::string sender;
  std::string identifier;
  std::string sent;  // as written
  protocol::Micros sent_us = 0;
  std::string status;    // Actual, Test, ... (may be empty when the XML could not be read)
  std::string msg_type;  // Alert, Update, Cancel, Ack, Error
  std::string references;
  std::string language;
  std::string event;
  std::string headline;
  std::string urgency;
  std::string severity;
  std::string certainty;
  protocol::Micros expires_us = 0;  // 0: none given
  std::string level;                // emergency / priority when it sounds
  std::int64_t repeat_every_min = 0;
  std::vector<std::string> areas;     // mapped area paths that sound
  std::vector<std::string> unmapped;  // geocodes "NAME=VALUE" (or areas) that did not map
  std::uint64_t bulletin_id = 0;
  std::uint64_t series_id = 0;             // repeats
  std::vector<std::uint64_t> occurrences;  // planned when received
  // scheduled (sounds), logged (Test/Exercise/System/Ack/Error: stored, never played),
  // applied (a Cancel that took effect), refused.
  std::string outcome;
  std::string reason;  // refusal message, or notes (areas not mapped, ...)
  // When a later Update or Cancel closed this alert, and which CAP record did.
  protocol::Micros closed_us = 0;
  std::uint64_t closed_by = 0;
  std::string xml;  // the message as received
};

// Geocode valueName/value -> area path, kept by the operator.
struct CapGeocodeRecord {
  std::string value_name;
  std::string value;
  std::string area;
};

}  // namespace loa::controller
