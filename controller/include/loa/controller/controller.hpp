// The controller: nodes, bulletins, schedules and the ledger, over a Store, a Bus and a Clock.
// The HTTP API and the daemon's main use it; tests drive it with an in-memory store, a MemoryHub
// and a ManualClock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loa/controller/api_error.hpp"
#include "loa/controller/audio.hpp"
#include "loa/controller/catalog.hpp"
#include "loa/controller/coverage.hpp"
#include "loa/controller/dispatcher.hpp"
#include "loa/controller/signer.hpp"
#include "loa/controller/store.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::controller {

struct ControllerSettings {
  std::string audio_dir = "loa-controller.audio";
  std::string tz = "Asia/Ho_Chi_Minh";  // default zone of schedules and filters
  Micros missed_grace_us = 300'000'000;
  Micros offline_after_us = 180'000'000;
  // Fetches from all nodes are collected for this long, then served together (each chunk
  // published once). 0: served as each arrives (tests).
  int fetch_window_ms = 200;
  EncodeOptions encode;
};

struct NodeInput {
  std::string id;
  std::string area;
  std::int64_t speakers = 1;
  std::int64_t residents = 0;
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
};

struct LogQuery {
  std::string node_id;
  std::string area;
  std::string since;  // parse_instant() syntax; empty: no limit
  std::uint64_t bulletin_id = 0;
  std::uint64_t occurrence_id = 0;
  std::size_t limit = 1000;
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
  // or none, and its errors name the row (0-based) and field.
  Reply<NodeView> add_node(const NodeInput& input);
  Reply<std::size_t> import_nodes(const std::vector<NodeInput>& inputs);
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
  // Occurrences not expired before `since_us`.
  Reply<std::vector<OccurrenceRecord>> list_occurrences(Micros since_us);

  // Coverage of one occurrence (occurrence_id != 0) or of every occurrence of a bulletin.
  Reply<CoverageReport> coverage(std::uint64_t bulletin_id, std::uint64_t occurrence_id,
                                 bool by_area);
  Reply<std::vector<LogEntry>> playback_log(const LogQuery& query);

  // Handles one message from the bus (what attach() registers; public for tests).
  void on_message(const runtime::BusMessage& message);

  const protocol::PublicKey& public_key() const { return signer_.public_key(); }
  const ControllerSettings& settings() const { return settings_; }
  Micros now_us() const { return clock_.now_us(); }

 private:
  Reply<BulletinRecord> add_encoded(const std::string& title, const std::string& source,
                                    Result<EncodedAudio> encoded);
  Reply<OccurrenceRecord> schedule_locked(const ScheduleRequest& request);
  Reply<NodeRecord> validate_node(const NodeInput& input, const std::string& where) const;
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

  std::mutex mu_;  // guards store_ and dispatcher_

  std::mutex queue_mu_;  // guards queue_ and draining_
  std::deque<runtime::BusMessage> queue_;
  bool draining_ = false;
  std::mutex flush_mu_;  // guards flush_requested_ and stopping_
  std::condition_variable flush_cv_;
  bool flush_requested_ = false;
  bool stopping_ = false;
  std::thread flusher_;
};

}  // namespace loa::controller
