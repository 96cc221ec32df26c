// One loudspeaker node: link, plans, prefetch, player, outbox and status, wired together.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "loa/node/bus_actions.hpp"
#include "loa/node/cache.hpp"
#include "loa/node/clock_offset.hpp"
#include "loa/node/config.hpp"
#include "loa/node/health.hpp"
#include "loa/node/live_streams.hpp"
#include "loa/node/outbox.hpp"
#include "loa/node/plan_book.hpp"
#include "loa/node/player.hpp"
#include "loa/node/prefetcher.hpp"
#include "loa/node/sink.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"
#include "loa/runtime/sequence.hpp"

namespace loa::node {

// A node instance. Everything it uses is injected, so many can run in one process (the fleet
// simulator). The bus and the clock must outlive the Node; the Node sets the bus's handlers,
// starts it in start() and stops it in stop().
// The outbox of a node whose cache directory is `cache_dir`: <cache_dir>/outbox.db.
std::string outbox_path(const std::string& cache_dir);

class Node {
 public:
  // Opens the cache and the outbox (outbox_path) and loads the persisted plans.
  static Result<std::unique_ptr<Node>> create(NodeConfig config, runtime::Bus& bus,
                                              runtime::Clock& clock, SinkFactory sinks);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Subscribes, connects and starts the player and the housekeeping thread.
  loa::Status start();
  // The same without the housekeeping thread and the player thread (the fleet simulator): the
  // caller calls poll() and step_player(), both from one thread.
  loa::Status start_driven();
  // One housekeeping pass (prefetch timeouts, progress notes, event resends, status); returns
  // the instant by the node's clock when the next pass is due. Driven mode: one caller thread.
  protocol::Micros poll();
  // Driven mode: steps the player (Player::step); returns the instant by the injected clock
  // (not corrected) when it is due next. Its sinks must pace with a FiberClock.
  protocol::Micros step_player();
  // Driven mode: see Player::on_wake. Set before start_driven().
  void on_player_wake(std::function<void()> waker) { player_.on_wake(std::move(waker)); }
  // Stops the player (a playback in progress ends as partial), the housekeeping thread and the
  // bus. Idempotent; the outbox keeps what was not receipted.
  void stop();

  // Called on the housekeeping thread at every pass (about every 200 ms) while the node is
  // healthy: housekeeping runs and the player thread is alive. loa-node feeds the systemd
  // watchdog from it, so a hung or dead node is restarted. Set before start().
  void on_healthy(std::function<void()> heartbeat) { heartbeat_ = std::move(heartbeat); }

  // Remote control (issue 6). A `restart` Control calls `restart` after logging it (loa-node
  // stops the node, which keeps its outbox, and exits with kRestartExitCode); without one the
  // control is refused in the log. A `reload` Control calls `reload` for the settings re-read
  // from the config file and applies them; without one it is refused likewise. Set before start().
  using Reloader = std::function<Result<RuntimeSettings>()>;
  void on_restart(std::function<void()> restart) { restart_ = std::move(restart); }
  void on_reload(Reloader reload) { reload_ = std::move(reload); }
  // What a `reload` Control does (loa-node also calls it on SIGHUP). Thread-safe.
  void reload() { apply_reload(); }
  // The measured offset of the controller's clock from the node's (nothing before the first
  // answer), and the correction the node plays by (0 while the offset is within its bound).
  std::optional<OffsetEstimator::Estimate> clock_offset() const { return offset_.estimate(); }
  protocol::Micros clock_correction() const { return clock_.correction(); }

  // For tests, the fleet simulator and the status message.
  struct Snapshot {
    std::vector<protocol::HeldPlan> plans;
    std::vector<protocol::Occurrence> queued;
    std::size_t unreceipted_events = 0;
    std::uint64_t plans_rejected = 0;
    std::uint64_t controls_rejected = 0;
    Prefetcher::Stats prefetch;
  };
  Snapshot snapshot() const;
  const NodeConfig& config() const { return config_; }
  const Cache& cache() const { return cache_; }

 private:
  Node(NodeConfig config, runtime::Bus& bus, runtime::Clock& clock, Cache cache,
       std::unique_ptr<Outbox> outbox, std::uint64_t reserved, SinkFactory sinks);

  void on_message(const runtime::BusMessage& message);
  void on_connection(bool connected);
  void handle_plan(protocol::ByteView envelope);
  // Verifies a controller message: a trusted key, type, age (0: none) and a sequence above the
  // highest accepted from that key on that topic. Does not take the sequence: accept_sequence
  // does, once the body passed its checks too.
  std::optional<protocol::Opened> open_from_controller(const std::string& topic,
                                                       protocol::ByteView envelope,
                                                       protocol::MessageType type,
                                                       protocol::Micros max_age_us,
                                                       std::string& why);
  // Raises the topic's replay mark to the header's sequence; `durable`: also in the outbox, so a
  // restart does not reopen the gate (controls, receipts; a live chunk's replay can only put
  // its own audio at its own instant again, so its marks stay in memory).
  void accept_sequence(const std::string& topic, const protocol::EnvelopeHeader& header,
                       bool durable);
  // `target`: the scope the control topic it arrived on belongs to ("area:<path>" or
  // "node:<id>"); the control must name it (PROTOCOL.md, Control).
  void handle_control(const std::string& topic, const std::string& target,
                      protocol::ByteView envelope);
  // node_health.cpp: what a verified Control does; the volume and mute state kept in the cache
  // directory; the clock offset from a `time` answer; what a reload changes.
  void apply_control(const protocol::EnvelopeHeader& header, const protocol::Control& control);
  void start_health();
  void save_output_state();
  void on_time_answer(const protocol::EnvelopeHeader& header, std::uint64_t status_sequence);
  void apply_reload();
  // Fills the health fields of a status (online, session, clock, mute, last playback, output,
  // temperature, site script) and starts the next site script run.
  void add_health(protocol::Status& s);
  void note_playback(const protocol::PlaybackEvent& e);
  std::uint64_t next_sequence(protocol::Micros now);
  void handle_receipt(const std::string& topic, protocol::ByteView envelope);
  // A live chunk: verified (key, sequence per topic, max age) and buffered for the player.
  void handle_live(const std::string& topic, std::uint64_t stream_id, protocol::ByteView envelope);
  // Subscribes to the live streams of the plan union not yet ended here, unsubscribes the rest.
  BusActions live_actions_locked();
  BusActions refresh_locked(protocol::Micros now);
  void record_event(protocol::PlaybackEvent event);
  // Writes the latest progress note of the playing occurrence to the outbox (housekeeping).
  void persist_progress();
  // Stores again (every event_resend_us) the events the outbox refused, e.g. on a full disk.
  void store_unstored_events(protocol::Micros now);
  void publish_pending_events();
  void publish_hello();
  void publish_status();
  loa::Status start_with(bool housekeeping_thread);
  void housekeeping();
  void apply(BusActions actions);
  protocol::Bytes seal(protocol::MessageType type, const protocol::Bytes& body,
                       std::optional<std::uint64_t> sequence = std::nullopt);

  NodeConfig config_;
  runtime::Bus& bus_;
  CorrectedClock clock_;  // the injected clock plus the measured offset, once beyond its bound
  Cache cache_;
  std::unique_ptr<Outbox> outbox_;
  protocol::Micros started_us_ = 0;

  mutable std::mutex mu_;  // guards book_, prefetcher_ and the counters
  PlanBook book_;
  Prefetcher prefetcher_;
  std::uint64_t plans_rejected_ = 0;
  std::uint64_t controls_rejected_ = 0;
  // Replay marks of controller messages per (key id, topic): a cache of the outbox's.
  std::map<std::pair<protocol::KeyId, std::string>, std::uint64_t> marks_;
  // The envelope sequence of non-event messages, reserved in the outbox.
  std::unique_ptr<runtime::SequenceCounter> sequence_;
  LiveStreams live_;
  std::set<std::uint64_t> live_subscribed_;  // stream ids
  // Test hook (LOA_TEST_DROP_LIVE_PERCENT): this share of received live chunks is dropped, drawn
  // from a generator seeded with the node id (deterministic).
  std::uint32_t drop_live_percent_ = 0;
  std::mt19937 drop_rng_;

  // The player's latest progress note, persisted by the housekeeping thread (no disk write on
  // the player thread).
  std::mutex progress_mu_;
  std::optional<protocol::PlaybackEvent> progress_;
  std::vector<protocol::PlaybackEvent> unstored_events_;  // refused by the outbox; retried
  protocol::Micros next_event_retry_us_ = 0;

  Player player_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> housekeeping_exited_{false};
  std::thread housekeeping_;
  bool driven_ = false;                  // started by start_driven()
  protocol::Micros next_status_us_ = 0;  // housekeeping (one thread)
  protocol::Micros next_resend_us_ = 0;
  std::function<void()> heartbeat_;

  // Health (node_health.cpp).
  OffsetEstimator offset_;
  SiteScript site_;
  std::atomic<protocol::Micros> status_interval_us_{60'000'000};
  std::atomic<protocol::Micros> offset_bound_us_{2'000'000};
  std::function<void()> restart_;
  Reloader reload_;
  mutable std::mutex health_mu_;                          // guards last_playback_
  std::optional<protocol::PlaybackEvent> last_playback_;  // without detail
};

}  // namespace loa::node
