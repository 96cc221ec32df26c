// The playback ledger's gate: every PlaybackEvent a node sends is checked here before it counts.
// An event is recorded only if it is signed by the node's registered key, comes from a node in
// service, names an occurrence that targeted the node, has instants inside the occurrence's
// window and does not contradict an event already recorded for the same (node, occurrence).
// Everything else is refused, stored with its raw envelope (Store::add_refused_event) and
// logged. docs/reports.md explains each rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "loa/controller/store.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::controller {

// Why an event was refused. The names (to_string) are stable: they are stored and shown.
enum class RefusalReason {
  malformed,            // not a playback event envelope, or its body does not decode
  unknown_node,         // no node of that id is registered
  no_registered_key,    // the node has no public key yet (and trust-first-key is off)
  wrong_key,            // signed by another key than the node's registered one
  bad_signature,        // the signature does not verify: forged, or altered after signing
  node_mismatch,        // the signed event names another node than the topic
  decommissioned_node,  // the node was decommissioned before this event arrived
  unknown_occurrence,   // no such occurrence
  wrong_bulletin,       // the occurrence plays another bulletin
  not_targeted,         // the occurrence's frozen node set does not include the node
  outside_window,       // start or end instant outside the occurrence's window
  implausible,          // e.g. played without a start instant, or more audio than the bulletin has
  conflicting,          // another, different event is already recorded for (node, occurrence)
};
const char* to_string(RefusalReason reason);
// True if `text` is one of the names above.
bool is_refusal_reason(std::string_view text);

struct LedgerSettings {
  // Allowance for node clock error and processing delay around the occurrence's window.
  Micros tolerance_us = 120'000'000;
};

// Checks an authentic event's instants and figures against its occurrence (whose bulletin lasts
// `duration_s`). Returns nullopt if plausible, else the reason (outside_window or implausible)
// with a detail naming the instant and the bound it broke. Pure.
struct WindowRefusal {
  RefusalReason reason = RefusalReason::outside_window;
  std::string detail;
};
std::optional<WindowRefusal> check_event_window(const protocol::PlaybackEvent& event,
                                                const OccurrenceRecord& occurrence,
                                                double duration_s, const LedgerSettings& settings);

// What became of one event.
struct LedgerVerdict {
  // failed: the store could not be read or written; nothing is receipted, the node resends.
  enum class Kind { recorded, duplicate, refused, failed };
  Kind kind = Kind::refused;
  RefusalReason reason = RefusalReason::malformed;  // when refused
  std::string detail;                               // when refused
  std::uint64_t occurrence_id = 0;                  // 0 if unknown
  // The node's receipt to send (recorded_through), when the event was authentic: recorded,
  // duplicate and refused-but-signed events all count as received so the node's outbox drains.
  std::optional<std::uint64_t> receipt_through;
};

// Not thread-safe: the Controller calls it under its lock.
class Ledger {
 public:
  Ledger(Store& store, runtime::Clock& clock, LedgerSettings settings = {})
      : store_(store), clock_(clock), settings_(settings) {}

  void set_settings(const LedgerSettings& settings) { settings_ = settings; }
  const LedgerSettings& settings() const { return settings_; }

  // Checks, and records or refuses, the envelope `payload` that arrived on node `node`'s event
  // topic. Never throws.
  LedgerVerdict accept(const std::string& node, protocol::ByteView payload);

 private:
  LedgerVerdict refuse(const std::string& node, protocol::ByteView payload, RefusalReason reason,
                       std::string detail, std::uint64_t occurrence_id,
                       std::optional<std::uint64_t> event_seq);

  Store& store_;
  runtime::Clock& clock_;
  LedgerSettings settings_;
};

}  // namespace loa::controller
