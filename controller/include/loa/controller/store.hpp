// The controller's state behind a narrow interface: nodes, bulletins, occurrences, plans, cache
// reports and the playback ledger. The default implementation is SQLite (sqlite_store.hpp); a
// server database can take its place for a national deployment.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loa/controller/cap_records.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::controller {

using protocol::Micros;

// A registered loudspeaker cluster.
struct NodeRecord {
  std::string id;
  std::string name;
  std::string area;  // area path, e.g. "79/26734/03"
  std::int64_t speakers = 0;
  std::int64_t residents = 0;
  std::optional<protocol::PublicKey> public_key;  // set at registration or on first hello
  Micros last_seen_us = 0;                        // 0: never seen
  bool online = false;
  // When it was decommissioned (0: in service). A decommissioned node stays for history; its
  // events are refused and it is no longer targeted.
  Micros decommissioned_us = 0;
};

// A bulletin's audio, stored as an Ogg Opus file.
struct BulletinRecord {
  std::uint64_t id = 0;
  std::string title;
  std::string source;  // "audio" or "tts"
  double duration_s = 0;
  std::string ogg_path;
  std::string sha256_hex;  // of the Ogg file
  std::uint32_t bitrate = 24000;
  std::uint16_t frame_ms = 20;
  Micros created_us = 0;
};

// A targeted node with the figures that counted when the occurrence was planned.
struct TargetedNode {
  std::string node_id;
  std::string area;
  std::int64_t residents = 0;
  // Approval of an occurrence pushed from above an area that requires it (docs/scheduling.md):
  // none (not needed), pending (not given to the node yet), approved or rejected.
  std::string approval = "none";
  friend bool operator==(const TargetedNode&, const TargetedNode&) = default;
};

// One scheduled playback of a bulletin. The node set is frozen at schedule time so coverage has
// a fixed denominator.
struct OccurrenceRecord {
  std::uint64_t id = 0;
  std::uint64_t bulletin_id = 0;
  Micros start_us = 0;
  Micros expiry_us = 0;
  protocol::Priority priority = protocol::Priority::normal;
  std::uint8_t volume = 100;
  std::string local_time;            // as the operator wrote it
  std::string tz;                    // IANA zone of local_time
  std::vector<std::string> targets;  // as given: "area:PATH" / "node:ID"
  std::vector<std::string> scopes;   // plan scopes it is published in (covering set of targets)
  std::vector<TargetedNode> nodes;   // expanded at schedule time
  Micros created_us = 0;
  std::uint64_t series_id = 0;  // 0: a single occurrence; else the series it was expanded from
  // Plans keep it until then: max(expiry, start + duration) + 60 s (session decision 2).
  Micros keep_until_us = 0;
  Micros cancelled_us = 0;  // 0: not cancelled
  bool cancelled() const { return cancelled_us != 0; }
};

// A recurring bulletin (RRULE) or an emergency repeat: the template its occurrences are
// materialized from, up to the plan horizon, by the controller's tick.
struct SeriesRecord {
  std::uint64_t id = 0;
  std::uint64_t bulletin_id = 0;
  std::string rrule;           // empty for a repeat
  Micros repeat_every_us = 0;  // 0 for an rrule
  Micros until_us = 0;         // repeat: last start (0: until cancelled)
  std::string local_time;      // the first start, local wall time
  std::string tz;
  std::vector<std::string> targets;  // as given
  protocol::Priority priority = protocol::Priority::normal;
  std::uint8_t volume = 100;
  Micros expiry_after_us = 0;        // expiry - start of each occurrence
  Micros materialized_until_us = 0;  // occurrences with a start before this exist
  Micros cancelled_us = 0;
  Micros created_us = 0;
};

// The last plan published for a scope: its encoded body, re-sealed for catch-up.
struct PlanRecord {
  std::string scope;
  std::uint64_t version = 0;
  protocol::Bytes body;  // encode(Plan)
  Micros published_us = 0;
};

struct CacheReportRecord {
  std::string node_id;
  std::uint64_t bulletin_id = 0;
  protocol::CacheState state = protocol::CacheState::cached;
  std::string detail;
  Micros reported_us = 0;
};

// One status a node sent (or its last will), as received (issue 6: health history).
struct NodeStatusRecord {
  Micros received_us = 0;
  protocol::Status status;
};

// A recorded playback event with the raw signed envelope it came in.
struct EventRecord {
  protocol::PlaybackEvent event;
  Micros recorded_us = 0;
  protocol::Bytes envelope;
  std::int64_t row_id = 0;  // the store's id of the row; 0 before it is stored
};

// An event the ledger refused (ledger.hpp names the reasons), kept with the first bytes of its
// raw envelope (all of it when it is no longer than the ledger keeps), its size and digest.
struct RefusedEventRecord {
  std::int64_t id = 0;              // 0 before it is stored
  std::string node_id;              // as the topic named it
  std::uint64_t occurrence_id = 0;  // 0 when the body could not be read
  std::string reason;               // a RefusalReason's name
  std::string detail;               // human-readable, names what did not match
  protocol::Bytes envelope;         // its first bytes
  std::uint64_t envelope_size = 0;  // of the whole envelope
  protocol::Bytes envelope_sha256;  // of the whole envelope; empty for rows of older versions
  Micros at_us = 0;
};

// Filters of the refused-events log; empty/zero fields do not filter.
struct RefusedFilter {
  std::string node_id;
  std::string reason;
  Micros since_us = 0;
  std::int64_t before_id = 0;  // only rows with a smaller id (the next page); 0: from the newest
  std::size_t limit = 1000;
};

// Filters of the playback log; empty/zero fields do not filter.
struct LogFilter {
  std::string node_id;
  std::string area;  // prefix: the area or anything below it
  Micros since_us = 0;
  std::uint64_t bulletin_id = 0;
  std::uint64_t occurrence_id = 0;
  std::size_t limit = 1000;
};

// All methods may be called from one thread at a time (the Controller serializes them). Errors
// carry the backend's message and name the record involved.
class Store {
 public:
  virtual ~Store() = default;

  // Fails if a node with that id exists.
  virtual loa::Status add_node(const NodeRecord& node) = 0;
  // Inserts or replaces name, area, speakers and residents; keeps key, last seen and online.
  virtual loa::Status upsert_nodes(const std::vector<NodeRecord>& nodes) = 0;
  virtual Result<std::optional<NodeRecord>> find_node(const std::string& id) = 0;
  virtual Result<std::vector<NodeRecord>> list_nodes() = 0;
  // Nodes in service whose area equals `area` or lies below it (decommissioned ones left out).
  virtual Result<std::vector<NodeRecord>> nodes_in_area(const std::string& area) = 0;
  virtual loa::Status set_node_public_key(const std::string& id,
                                          const protocol::PublicKey& key) = 0;
  virtual loa::Status set_node_seen(const std::string& id, Micros at_us, bool online) = 0;

  // Returns the new bulletin id.
  virtual Result<std::uint64_t> add_bulletin(const BulletinRecord& bulletin) = 0;
  virtual Result<std::optional<BulletinRecord>> find_bulletin(std::uint64_t id) = 0;
  // Rewrites a bulletin's fields (a live broadcast's archive, known once it ended).
  virtual loa::Status update_bulletin(const BulletinRecord& bulletin) = 0;
  virtual Result<std::vector<BulletinRecord>> list_bulletins() = 0;

  // Stores the occurrence with its targets, scopes and nodes atomically; returns its id.
  virtual Result<std::uint64_t> add_occurrence(const OccurrenceRecord& occurrence) = 0;
  virtual Result<std::optional<OccurrenceRecord>> find_occurrence(std::uint64_t id) = 0;
  // The same WITHOUT its node set, and one node of that set (nullopt: not targeted): what the
  // ledger reads per event (a province's node set is 10,000 rows).
  virtual Result<std::optional<OccurrenceRecord>> find_occurrence_brief(std::uint64_t id) = 0;
  virtual Result<std::optional<TargetedNode>> find_targeted_node(std::uint64_t occurrence_id,
                                                                 const std::string& node_id) = 0;
  virtual Result<std::vector<OccurrenceRecord>> occurrences_of_bulletin(std::uint64_t id) = 0;
  // Occurrences published in `scope`, not cancelled, whose keep_until is after `now_us`, by start.
  // For plans: their node sets are left empty (a plan to a province would read every node).
  virtual Result<std::vector<OccurrenceRecord>> active_occurrences_in_scope(
      const std::string& scope, Micros now_us) = 0;
  virtual Result<std::vector<OccurrenceRecord>> list_occurrences(Micros since_us) = 0;

  // Cancels the occurrence (plans leave it out from then on).
  virtual loa::Status cancel_occurrence(std::uint64_t id, Micros at_us) = 0;
  // Replaces every field of the stored occurrence `o.id` (targets, scopes and nodes too).
  virtual loa::Status update_occurrence(const OccurrenceRecord& o) = 0;
  // Occurrences with keep_until after `now_us`, not cancelled, starting before `to_us`.
  virtual Result<std::vector<OccurrenceRecord>> live_occurrences(Micros now_us, Micros to_us) = 0;
  // Occurrences of a series by start, WITHOUT their node sets (10,000 rows each in a province;
  // reading them made every tick of a year-long series slower than the last): find_occurrence()
  // has them.
  virtual Result<std::vector<OccurrenceRecord>> occurrences_of_series(std::uint64_t id) = 0;

  virtual Result<std::uint64_t> add_series(const SeriesRecord& series) = 0;
  virtual Result<std::optional<SeriesRecord>> find_series(std::uint64_t id) = 0;
  // Series not cancelled, by id.
  virtual Result<std::vector<SeriesRecord>> active_series() = 0;
  virtual loa::Status set_series_materialized(std::uint64_t id, Micros until_us) = 0;
  virtual loa::Status cancel_series(std::uint64_t id, Micros at_us) = 0;

  // Approval setting per area ("required" or "none"; an area without a row: none).
  virtual loa::Status set_area_approval(const std::string& area, const std::string& approval) = 0;
  // Areas whose setting is "required", sorted.
  virtual Result<std::vector<std::string>> approval_areas() = 0;

  // Named groups of nodes (targets "group:NAME").
  virtual loa::Status add_group_members(const std::string& name,
                                        const std::vector<std::string>& node_ids) = 0;
  virtual loa::Status remove_group_members(const std::string& name,
                                           const std::vector<std::string>& node_ids) = 0;
  // Member ids, sorted; empty if the group does not exist.
  virtual Result<std::vector<std::string>> group_members(const std::string& name) = 0;
  // (group, member) pairs, sorted.
  virtual Result<std::vector<std::pair<std::string, std::string>>> list_groups() = 0;

  // A new plan version, greater than every one handed out before (across restarts).
  virtual Result<std::uint64_t> next_plan_version() = 0;
  virtual loa::Status save_plan(const PlanRecord& plan) = 0;
  virtual Result<std::optional<PlanRecord>> find_plan(const std::string& scope) = 0;

  // Keeps the latest report per (node, bulletin).
  virtual loa::Status save_cache_report(const CacheReportRecord& report) = 0;
  virtual Result<std::vector<CacheReportRecord>> cache_reports(std::uint64_t bulletin_id) = 0;

  // Health history (issue 6). Stores a status and keeps, for that node, the newest `keep` rows
  // received after `keep_since_us` (older ones are deleted).
  virtual loa::Status add_node_status(const NodeStatusRecord& record, std::size_t keep,
                                      Micros keep_since_us) = 0;
  // A node's statuses, newest first, at most `limit`.
  virtual Result<std::vector<NodeStatusRecord>> node_statuses(const std::string& node_id,
                                                              std::size_t limit) = 0;
  // The newest status of every node that sent one, by node id.
  virtual Result<std::vector<NodeStatusRecord>> latest_node_statuses() = 0;

  // Records an event unless one exists for (node, occurrence): returns true if inserted, false
  // for a duplicate. Either way the event's sequence number counts as received.
  virtual Result<bool> add_event(const EventRecord& event) = 0;
  // Counts sequence `seq` of the node as received (for events not recorded, e.g. of an unknown
  // occurrence, so the node's outbox still drains); returns recorded_through().
  virtual Result<std::uint64_t> note_event_seq(const std::string& node_id, std::uint64_t seq) = 0;
  // Highest n such that events 1..n of the node have all been received (0: none).
  virtual Result<std::uint64_t> recorded_through(const std::string& node_id) = 0;
  // Events matching the filter, newest first.
  virtual Result<std::vector<EventRecord>> events(const LogFilter& filter) = 0;

  // Ledger (issue 9). The recorded event of (node, occurrence), if any.
  virtual Result<std::optional<EventRecord>> find_event(const std::string& node_id,
                                                        std::uint64_t occurrence_id) = 0;
  // Occurrences starting in [from_us, to_us), by start then id, with their node sets.
  virtual Result<std::vector<OccurrenceRecord>> occurrences_starting(Micros from_us,
                                                                     Micros to_us) = 0;
  // Every recorded event of an occurrence starting in [from_us, to_us), by row id.
  virtual Result<std::vector<EventRecord>> events_of_period(Micros from_us, Micros to_us) = 0;
  // Stores a refusal unless the same node already sent an envelope of the same digest: true if
  // inserted.
  virtual Result<bool> add_refused_event(const RefusedEventRecord& refused) = 0;
  // Deletes the oldest refusals beyond the newest `keep_per_node` of `node_id` and beyond the
  // newest `keep_total` of all nodes; returns how many went.
  virtual Result<std::size_t> trim_refused_events(const std::string& node_id,
                                                  std::size_t keep_per_node,
                                                  std::size_t keep_total) = 0;
  // Refusals matching the filter, newest (highest id) first.
  virtual Result<std::vector<RefusedEventRecord>> refused_events(const RefusedFilter& filter) = 0;
  // Marks the node decommissioned at `at_us` (keeps the first time) and removes it from the
  // node sets of occurrences starting after `at_us`; returns how many node sets it left.
  virtual Result<std::size_t> decommission_node(const std::string& id, Micros at_us) = 0;

  // CAP alerts (docs/cap.md). add_cap_alert returns the new id.
  virtual Result<std::uint64_t> add_cap_alert(const CapAlertRecord& alert) = 0;
  // Marks an alert closed by a later Update or Cancel (record `by`).
  virtual loa::Status close_cap_alert(std::uint64_t id, Micros at_us, std::uint64_t by) = 0;
  // The latest record of (sender, identifier) that was not refused, if any.
  virtual Result<std::optional<CapAlertRecord>> find_cap_alert(const std::string& sender,
                                                               const std::string& identifier) = 0;
  virtual Result<std::optional<CapAlertRecord>> get_cap_alert(std::uint64_t id) = 0;
  // Newest first, without their XML.
  virtual Result<std::vector<CapAlertRecord>> cap_alerts(std::size_t limit) = 0;
  // Inserts or replaces the area of a geocode.
  virtual loa::Status set_cap_geocode(const CapGeocodeRecord& geocode) = 0;
  // True if a row was removed.
  virtual Result<bool> remove_cap_geocode(const std::string& value_name,
                                          const std::string& value) = 0;
  // Sorted by valueName, value.
  virtual Result<std::vector<CapGeocodeRecord>> cap_geocodes() = 0;

  // Replay marks (PROTOCOL.md, security model): the highest envelope sequence accepted per
  // (node key id, topic), written with the batch that accepted it, so that a restart does not
  // reopen the gate to a copy of an old message. nullopt: none accepted yet.
  virtual Result<std::optional<std::uint64_t>> replay_mark(protocol::KeyId key,
                                                           const std::string& topic) = 0;
  virtual loa::Status set_replay_mark(protocol::KeyId key, const std::string& topic,
                                      std::uint64_t sequence) = 0;

  // Runs `fn`, whose writes are then made durable together (one commit instead of one per
  // write); if `fn` fails, none of them is kept. Calls may nest.
  virtual loa::Status batch(const std::function<loa::Status()>& fn) = 0;
};

// Opens (creating and migrating) an SQLite store; ":memory:" for tests.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

// The schema migrations, in order (exposed for tests).
const std::vector<std::string>& sqlite_store_migrations();

}  // namespace loa::controller
