// The controller: nodes, bulletins, schedules and the ledger, over a Store, a Bus and a Clock.
// The HTTP API and the daemon's main use it; tests drive it with an in-memory store, a MemoryHub
// and a ManualClock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "loa/controller/api_error.hpp"
#include "loa/controller/audio.hpp"
#include "loa/controller/cap_ingest.hpp"
#include "loa/controller/catalog.hpp"
#include "loa/controller/coverage.hpp"
#include "loa/controller/dispatcher.hpp"
#include "loa/controller/health.hpp"
#include "loa/controller/live_session.hpp"
#include "loa/controller/report.hpp"
#include "loa/controller/signer.hpp"
#include "loa/controller/store.hpp"
#include "loa/controller/timeline.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::controller {

struct ControllerSettings {
  // Live broadcasts (issue 5): packets (20 ms) per chunk, 3..5; how long after the plans go out
  // the stream's first sample is stamped (nodes subscribe meanwhile); the longest stream.
  int live_packets_per_chunk = 4;
  Micros live_join_us = 300'000;
  Micros live_max_us = 6LL * 3600 * 1'000'000;
  std::string audio_dir = "loa-controller.audio";
  std::string tz = "Asia/Ho_Chi_Minh";  // default zone of schedules and filters
  Micros missed_grace_us = 300'000'000;
  Micros offline_after_us = 180'000'000;
  // Fetches from all nodes are collected for this long, then served together (each chunk
  // published once). 0: served as each arrives (tests).
  int fetch_window_ms = 200;
  // Prefetched audio is published at most this fast, counted as delivered: a chunk costs its
  // size times the nodes fetching its bulletin (Pacer). Bytes per second, 0: no limit. Applies
  // only with a fetch window (the window's timer publishes what the budget held back).
  double prefetch_bytes_per_s = 0;
  // Messages from nodes (events, hellos, reports, statuses) are recorded in batches of at most
  // this many by an ingest thread, one durable commit per batch; receipts go out only after the
  // commit. 1 (embedding, unit tests): each is handled on the bus's thread as it arrives, so a
  // test that waits for the bus to be idle sees it recorded. The daemon's default is 256.
  int ingest_batch_max = 1;
  // Ledger (issue 9): trust a registered node's first hello key when it has none (development
  // only), and the allowance around an occurrence's window for event instants.
  bool trust_first_key = false;
  Micros event_tolerance_us = 120'000'000;
  // Refused events kept: the newest this many per node and of all nodes together.
  std::size_t refused_keep_per_node = 1000;
  std::size_t refused_keep_total = 100'000;
  EncodeOptions encode;
  // Series are materialized into occurrences (with frozen node sets) this far ahead; nodes can
  // play that long without the controller (>= 7 days of autonomy).
  int plan_horizon_days = 8;
  // An emergency repeat without an end is materialized this far ahead (a rolling window).
  Micros repeat_window_us = 24LL * 3600 * 1'000'000;
  // CAP alerts (docs/cap.md): the first playback is at least this far after receipt (nodes
  // fetch the audio first); repeats when the alert gives no LOA_REPEAT_MINUTES; the directory
  // file: resource URIs must lie in (empty: file URIs are refused).
  Micros cap_lead_us = 5'000'000;
  std::int64_t cap_default_repeat_min = 30;
  std::string cap_file_root;
  // Where the controller's envelope sequence is reserved (Signer; loa-controller: "<db>.sequence"
  // next to the database). Empty: in memory only (tests). An unreadable file stops the start.
  std::string sequence_file;
};

// The most residents and loudspeakers one node is registered with (a node serves a village or
// a ward): every way a node is added or imported refuses more, so that sums over any number of
// nodes stay far inside 64 bits.
inline constexpr std::int64_t kMaxNodeResidents = 1'000'000;
inline constexpr std::int64_t kMaxNodeSpeakers = 1'000;

struct NodeInput {
  std::string id;
  std::string area;
  std::int64_t speakers = 1;   // 0..kMaxNodeSpeakers
  std::int64_t residents = 0;  // 0..kMaxNodeResidents
  std::string name;
  std::string public_key_hex;  // optional: 64 hex digits
};

// A node as listed: its record, and whether it counts as online now.
struct NodeView {
  NodeRecord record;
  bool online = false;
};

struct ScheduleRequest {
  std::uint64_t bulletin_id = 0;
  std::string at;                    // local wall time "YYYY-MM-DDTHH:MM[:SS]"
  std::string tz;                    // empty: the default zone
  std::vector<std::string> targets;  // "area:PATH" / "node:ID"
  std::string priority = "normal";
  std::optional<std::int64_t> volume;  // 0..100; default 100
  std::string expiry;  // optional local wall time in the same zone; default start+duration+10min
  // A series (docs/scheduling.md): `at` is its first start. At most one of rrule and repeat.
  std::string rrule;                  // RRULE subset
  std::int64_t repeat_every_min = 0;  // > 0: a repeat every N minutes from `at`
  std::string until;                  // repeat only: last start, local wall time; empty: forever
  bool dry_run = false;               // compute and report, store and publish nothing
  std::int64_t days = 7;              // dry run: length of the timelines shown
};

// Fields of a future occurrence to change; unset fields keep their value.
struct ChangeRequest {
  std::optional<std::string> at;
  std::optional<std::string> tz;
  std::optional<std::string> expiry;
  std::optional<std::vector<std::string>> targets;
  std::optional<std::uint64_t> bulletin_id;
  std::optional<std::string> priority;
  std::optional<std::int64_t> volume;
};

// Nodes whose timelines over the dry run's days are identical, and that timeline.
struct TimelineGroup {
  std::string label;               // the nodes' common area, or "node:ID"
  std::vector<std::string> nodes;  // ids, sorted
  std::vector<TimelineEntry> entries;
  std::vector<std::string> conflicts;  // describe() of the entries that conflict
};

// What a schedule request did (or would do, dry_run).
struct ScheduleResult {
  std::optional<SeriesRecord> series;
  std::vector<OccurrenceRecord> occurrences;  // stored (dry run: id 0, not stored)
  std::vector<std::string> warnings;          // conflicts the request causes
  std::vector<TimelineGroup> timelines;       // dry run only
  bool dry_run = false;
};

// Nodes of one area waiting for that area's approval of one occurrence.
struct ApprovalItem {
  std::uint64_t occurrence_id = 0;
  std::uint64_t bulletin_id = 0;
  std::string area;  // the area whose approval is required
  Micros start_us = 0;
  Micros expiry_us = 0;
  std::string tz;
  std::vector<std::string> nodes;  // pending node ids
};

struct SeriesCancel {
  SeriesRecord series;
  std::vector<std::uint64_t> cancelled;  // occurrences cancelled with it
};

struct LogQuery {
  std::string node_id;
  std::string area;
  std::string since;  // parse_instant() syntax; empty: no limit
  std::uint64_t bulletin_id = 0;
  std::uint64_t occurrence_id = 0;
  std::size_t limit = 1000;
};

// The most rows of the refused-events log in one answer.
inline constexpr std::size_t kMaxRefusedPage = 1000;

// Filters of the refused-events log (loactl log --refused), and the page: `limit` rows
// (1..kMaxRefusedPage) listed after the row `after` (newest first; 0: from the newest).
struct RefusedQuery {
  std::string node_id;
  std::string reason;  // a RefusalReason name (ledger.hpp)
  std::string since;   // parse_instant() syntax; empty: no limit
  std::uint64_t after = 0;
  std::size_t limit = kMaxRefusedPage;
};

// A period report or verification request (loactl report period / verify).
struct PeriodQuery {
  PeriodSpec period;  // empty: all time (verify only)
  std::string area;   // optional filter
  std::string by;     // "", area, day or bulletin
};

// A live broadcast to start (loactl live, POST /api/v1/live).
struct LiveRequest {
  std::vector<std::string> targets;   // as for schedules
  std::string priority = "priority";  // priority or emergency
  std::optional<bool> chime;          // default: on for emergency, off for priority
  std::uint32_t rate = 48000;         // input PCM, s16le
  std::uint8_t channels = 1;
  std::string title;  // default "live <UTC start>"
};

struct LogEntry {
  EventRecord record;
  std::string area;            // the node's area now
  std::string bulletin_title;  // empty if unknown
};

// Thread-safe: every operation takes one lock; messages to publish are queued under it and
// published in order after it is released (so a bus that delivers synchronously may call back).
class Controller {
 public:
  Controller(Store& store, runtime::Bus& bus, runtime::Clock& clock, protocol::KeyPair keys,
             ControllerSettings settings);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Registers the bus handler and subscribes to every node's up topics. Call before bus.start().
  loa::Status attach();

  // Nodes. add_node refuses an existing id (conflict); import_nodes inserts or updates all rows
  // or none, and its errors name the row (0-based) and field. `allow` (empty: everything) is
  // asked about every row, under the lock that the write holds, with the node as stored (null
  // for a new id) and as it will be; its first error refuses the whole batch. It must not call
  // back into the controller.
  using NodeChangeCheck = std::function<std::optional<ApiError>(const NodeRecord* existing,
                                                                const NodeRecord& incoming)>;
  Reply<NodeView> add_node(const NodeInput& input);
  Reply<std::size_t> import_nodes(const std::vector<NodeInput>& inputs,
                                  const NodeChangeCheck& allow = {});
  Reply<std::vector<NodeView>> list_nodes();
  Reply<NodeView> get_node(const std::string& id);

  // Bulletins. Encoding runs outside the lock. The error says why the input was refused.
  Reply<BulletinRecord> create_bulletin_from_audio(const std::string& title,
                                                   protocol::ByteView audio_file);
  Reply<BulletinRecord> create_bulletin_from_text(const std::string& title, const std::string& text,
                                                  const std::string& voice);
  Reply<std::vector<BulletinRecord>> list_bulletins();
  Reply<BulletinRecord> get_bulletin(std::uint64_t id);
  Reply<protocol::Bytes> bulletin_audio(std::uint64_t id);

  // Validates, stores the occurrence with its frozen node set, publishes one plan per target
  // scope and prefetches the audio. Returns the stored occurrence.
  Reply<OccurrenceRecord> schedule(const ScheduleRequest& request);
  Reply<OccurrenceRecord> get_occurrence(std::uint64_t id);

  // Any schedule request: a single occurrence, an RRULE series or an emergency repeat, or a dry
  // run of one. Series are materialized up to the plan horizon now and by tick() later.
  Reply<ScheduleResult> submit(const ScheduleRequest& request);
  // Cancels an occurrence that has not ended: plans are republished without it (nodes stop or
  // skip it and report `cancelled`). not_found / conflict (already cancelled or ended).
  Reply<OccurrenceRecord> cancel_occurrence(std::uint64_t id);
  // Cancels a series and every occurrence of it that has not ended.
  Reply<SeriesCancel> cancel_series(std::uint64_t id);
  Reply<SeriesRecord> get_series(std::uint64_t id);
  // Changes a future occurrence, keeping its id (conflict if it has started or is cancelled).
  // New targets re-freeze its node set; plans that add it go out before plans that remove it.
  Reply<OccurrenceRecord> change_occurrence(std::uint64_t id, const ChangeRequest& change);
  // Approval (docs/scheduling.md): "required" or "none" for an area path.
  Reply<std::string> set_area_approval(const std::string& area, const std::string& approval);
  Reply<std::vector<std::string>> approval_areas();
  // Pending approvals of occurrences that have not expired, by start.
  Reply<std::vector<ApprovalItem>> list_approvals();
  // Approves or rejects the pending nodes of `area` for the occurrence. Approved nodes get it
  // in their plans (plans that add go first); rejected ones never do and count as rejected.
  // not_found (unknown occurrence, nothing pending there), conflict (expired or cancelled).
  Reply<OccurrenceRecord> decide_approval(std::uint64_t occurrence_id, const std::string& area,
                                          bool approve);

  // Named groups of nodes: targets "group:NAME". Unknown nodes are refused (not_found).
  Reply<std::vector<std::string>> add_to_group(const std::string& name,
                                               const std::vector<std::string>& node_ids);
  Reply<std::vector<std::string>> remove_from_group(const std::string& name,
                                                    const std::vector<std::string>& node_ids);
  Reply<std::vector<std::pair<std::string, std::string>>> list_groups();

  // Periodic work (call at start and every minute or so): materializes series up to the plan
  // horizon. Idempotent. Returns the number of occurrences created.
  Reply<std::size_t> tick();
  // Occurrences not expired before `since_us`.
  Reply<std::vector<OccurrenceRecord>> list_occurrences(Micros since_us);

  // Coverage of one occurrence (occurrence_id != 0) or of every occurrence of a bulletin.
  Reply<CoverageReport> coverage(std::uint64_t bulletin_id, std::uint64_t occurrence_id,
                                 bool by_area);
  Reply<std::vector<LogEntry>> playback_log(const LogQuery& query);

  // Live broadcasts (live.cpp, PROTOCOL.md "Live stream"): stores a bulletin (source "live") and
  // a live occurrence to the targets (resolved like a schedule's; an emergency bypasses
  // approval), publishes the plans and returns the session to push the PCM into.
  Reply<std::unique_ptr<LiveSession>> start_live(const LiveRequest& request);

  // Ledger (issue 9, controller_ledger.cpp). Decommissioning keeps the node for history, refuses
  // its events from then on and removes it from occurrences that have not started; conflict if
  // it already is.
  Reply<NodeView> decommission_node(const std::string& id);
  Reply<std::vector<RefusedEventRecord>> refused_log(const RefusedQuery& query);
  // A period report in the deployment's zone (settings().tz).
  Reply<PeriodReport> period_report(const PeriodQuery& query);
  // Re-verifies the stored events of the period (all time if none given); see report.hpp.
  Reply<VerifyReport> verify_report(const PeriodQuery& query);

  // Node health (issue 6, health.cpp). Every node in service with its newest status; those not
  // heard for longer than `offline_after_us`; and those silent when they should have played an
  // occurrence that started within `silent_window_us` (its end plus missed_grace_us passed, no
  // event from the node). bad_request if the threshold is not positive.
  Reply<HealthReport> node_health(Micros offline_after_us,
                                  Micros silent_window_us = 24LL * 3600 * 1'000'000);
  // A node's stored statuses, newest first (not_found: unknown node).
  Reply<std::vector<NodeStatusRecord>> node_history(const std::string& id, std::size_t limit);
  // Signs and publishes one Control per node (down/control) or one for the area
  // (control/<area>). bad_request: unknown command, value out of range, not exactly one of
  // nodes/area; not_found: an unknown node.
  Reply<NodeControlResult> send_node_control(const NodeControlRequest& request);

  // CAP 1.2 alerts (cap_ingest.cpp, docs/cap.md). Every message is stored with what was done:
  // scheduled (Actual Alert/Update), logged (Test, Exercise, System, Ack, Error), applied
  // (Actual Cancel) or refused (the error, whose message names the element or geocode).
  Reply<CapIngestResult> ingest_cap(std::string_view xml);
  Reply<std::vector<CapAlertRecord>> list_cap_alerts(std::size_t limit);
  Reply<CapAlertRecord> get_cap_alert(std::uint64_t id);
  // The operator's geocode table: valueName/value -> area path.
  Reply<CapGeocodeRecord> set_cap_geocode(const CapGeocodeRecord& geocode);
  Reply<CapGeocodeRecord> remove_cap_geocode(const std::string& value_name,
                                             const std::string& value);
  Reply<std::vector<CapGeocodeRecord>> list_cap_geocodes();

  // Handles one message from the bus, or queues it for the ingest thread (what attach() registers).
  void on_message(const runtime::BusMessage& message);

  const protocol::PublicKey& public_key() const { return signer_.public_key(); }
  const ControllerSettings& settings() const { return settings_; }
  Micros now_us() const { return clock_.now_us(); }

 private:
  // Records a bulletin whose audio file is stored (durably: the row may name it).
  Reply<BulletinRecord> add_bulletin(const std::string& title, const std::string& source,
                                     double duration_s, const StoredAudio& stored);
  Reply<NodeRecord> validate_node(const NodeInput& input, const std::string& where) const;
  // The records a period report is computed from (lock held).
  Reply<ReportInputs> report_inputs(const ReportPeriod& period);
  // Targets to the covering set of plan scopes and the frozen node set (lock held).
  struct Resolved {
    std::vector<std::string> scopes;
    std::vector<TargetedNode> nodes;
  };
  Reply<Resolved> resolve_targets(const std::vector<std::string>& targets);
  // The covering set of plan scopes for an occurrence's targets and frozen nodes: area scopes
  // where every registered node of the area is delivered (not excluded, pending or rejected),
  // else split into child areas and node scopes.
  Result<std::vector<std::string>> scopes_for(const std::vector<std::string>& targets,
                                              const std::vector<TargetedNode>& nodes);
  Reply<ScheduleResult> submit_locked(const ScheduleRequest& request);
  // Creates the occurrences of `series` with a start in [from_us, to_us) that do not exist yet;
  // adds the scopes touched to `touched`. Stops (clips) before a plan would overflow.
  Reply<std::size_t> materialize(SeriesRecord& series, Micros from_us, Micros to_us,
                                 std::set<std::string>& touched);
  // Publishes the plans of `scopes` (queued; lock held).
  loa::Status publish_scopes(const std::vector<std::string>& scopes, Outbox& out);
  // Conflicts the `fresh` occurrences cause with what is planned, per group of nodes.
  Reply<std::vector<TimelineGroup>> timelines(const std::vector<OccurrenceRecord>& fresh,
                                              Micros from_us, Micros to_us, bool all_entries,
                                              std::uint64_t replacing);
  Micros duration_of(std::uint64_t bulletin_id);
  // After nodes were added or moved: recomputes the covering sets of every live occurrence so
  // that no node gets an occurrence planned before it joined; publishes add before remove.
  loa::Status rescope_live_occurrences(Outbox& out);
  NodeView view(NodeRecord record) const;
  // Queues messages (lock held) and publishes everything queued (lock not held).
  void enqueue(Outbox&& out);
  void drain();

  Store& store_;
  runtime::Bus& bus_;
  runtime::Clock& clock_;
  ControllerSettings settings_;
  Signer signer_;
  Catalog catalog_;
  Dispatcher dispatcher_;

  // Serves collected fetches once per fetch window (only when fetch_window_ms > 0).
  void run_fetch_flusher();
  // Takes queued messages from nodes and records them in batches (ingest_batch_max).
  void run_ingest();
  // Handles `batch` in one store transaction, then publishes what it answered.
  void ingest(std::vector<runtime::BusMessage>& batch);

  // Cancels the occurrences of an earlier CAP alert that have not ended (only those not
  // started when `future_only`); adds them to `cancelled` and their scopes to `scopes`.
  loa::Status cancel_cap_occurrences(const CapAlertRecord& earlier, bool future_only,
                                     std::vector<std::uint64_t>& cancelled,
                                     std::vector<std::string>& scopes);

  std::mutex mu_;      // guards store_ and dispatcher_
  std::mutex cap_mu_;  // one CAP message at a time (held across its encoding)

  std::mutex queue_mu_;  // guards queue_ and draining_
  std::deque<runtime::BusMessage> queue_;
  bool draining_ = false;
  std::mutex flush_mu_;  // guards flush_requested_ and stopping_
  std::condition_variable flush_cv_;
  bool flush_requested_ = false;
  bool stopping_ = false;
  std::thread flusher_;
  std::mutex inbox_mu_;  // guards inbox_ and inbox_closed_
  std::condition_variable inbox_cv_;
  std::deque<runtime::BusMessage> inbox_;
  bool inbox_closed_ = false;
  std::thread ingester_;
};

}  // namespace loa::controller
