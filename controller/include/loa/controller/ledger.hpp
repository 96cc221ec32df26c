// The playback ledger's gate: every PlaybackEvent a node sends is checked here before it counts.
// An event is recorded only if it is signed by the node's registered key, comes from a node in
// service, names an occurrence that targeted the node, has instants inside the occurrence's
// window and does not contradict an event already recorded for the same (node, occurrence).
// Everything else is refused, stored with the first bytes of its raw envelope, its size and
// digest (Store::add_refused_event; the oldest refusals go beyond a count per node and in
// total), and logged; or, when the refusal may be cured later, deferred: neither stored nor
// receipted, so the node keeps the event and sends it again. docs/reports.md explains each rule.
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

// How much of a refused envelope and detail is stored: a well-formed playback event envelope
// (at most about 500 bytes) is kept whole.
inline constexpr std::size_t kRefusedEnvelopeKept = 1024;
inline constexpr std::size_t kRefusedDetailKept = 1024;

struct LedgerSettings {
  // Allowance for node clock error and processing delay around the occurrence's window.
  Micros tolerance_us = 120'000'000;
  // Refusals kept: the newest this many per node, and this many of all nodes together.
  std::size_t refused_keep_per_node = 1000;
  std::size_t refused_keep_total = 100'000;
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

// The duration an event of `occurrence` is checked against at `now_us`, for a bulletin whose
// duration is known (`bulletin`'s) or, for a live stream still on air (source "live", not yet
// archived, so its duration is 0), the time since the occurrence started, at most up to its
// expiry (the configured longest live stream). Pure.
double event_duration_bound_s(const BulletinRecord& bulletin, const OccurrenceRecord& occurrence,
                              Micros now_us);
// Whether `bulletin` is a live stream that has not been archived yet.
bool is_live_on_air(const BulletinRecord& bulletin);

// What became of one event.
struct LedgerVerdict {
  // refused: final; stored, and receipted when authentic, so the node deletes it.
  // deferred: refused for now for a reason that may be cured later (an event outside the
  //   bounds of a live stream still on air, whose duration grows); not stored, not receipted:
  //   the node keeps it and resends it, and it is checked again.
  // failed: the store could not be read or written; nothing is receipted, the node resends.
  enum class Kind { recorded, duplicate, refused, deferred, failed };
  Kind kind = Kind::refused;
  RefusalReason reason = RefusalReason::malformed;  // when refused or deferred
  std::string detail;                               // when refused or deferred
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
