// One loudspeaker node: link, plans, prefetch, player, outbox and status, wired together.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "loa/node/bus_actions.hpp"
#include "loa/node/cache.hpp"
#include "loa/node/config.hpp"
#include "loa/node/outbox.hpp"
#include "loa/node/plan_book.hpp"
#include "loa/node/player.hpp"
#include "loa/node/prefetcher.hpp"
#include "loa/node/sink.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::node {

// A node instance. Everything it uses is injected, so many can run in one process (the fleet
// simulator). The bus and the clock must outlive the Node; the Node sets the bus's handlers,
// starts it in start() and stops it in stop().
class Node {
 public:
  // Opens the cache and the outbox (<cache>/outbox.db) and loads the persisted plans.
  static Result<std::unique_ptr<Node>> create(NodeConfig config, runtime::Bus& bus,
                                              runtime::Clock& clock, SinkFactory sinks);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Subscribes, connects and starts the player and the housekeeping thread.
  loa::Status start();
  // Stops the player (a playback in progress ends as partial), the housekeeping thread and the
  // bus. Idempotent; the outbox keeps what was not receipted.
  void stop();

  // Called on the housekeeping thread at every pass (about every 200 ms) while the node is
  // healthy: housekeeping runs and the player thread is alive. loa-node feeds the systemd
  // watchdog from it, so a hung or dead node is restarted. Set before start().
  void on_healthy(std::function<void()> heartbeat) { heartbeat_ = std::move(heartbeat); }

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
       std::unique_ptr<Outbox> outbox, SinkFactory sinks);

  void on_message(const runtime::BusMessage& message);
  void on_connection(bool connected);
  void handle_plan(protocol::ByteView envelope);
  // Verifies a controller message: key, type, age (0: none) and the topic's last sequence.
  std::optional<protocol::Opened> open_from_controller(const std::string& topic,
                                                       protocol::ByteView envelope,
                                                       protocol::MessageType type,
                                                       protocol::Micros max_age_us,
                                                       std::string& why);
  void handle_control(const std::string& topic, protocol::ByteView envelope);
  void handle_receipt(const std::string& topic, protocol::ByteView envelope);
  BusActions refresh_locked(protocol::Micros now);
  void record_event(protocol::PlaybackEvent event);
  // Writes the latest progress note of the playing occurrence to the outbox (housekeeping).
  void persist_progress();
  void publish_pending_events();
  void publish_hello();
  void publish_status();
  void housekeeping();
  void apply(BusActions actions);
  protocol::Bytes seal(protocol::MessageType type, const protocol::Bytes& body,
                       std::optional<std::uint64_t> sequence = std::nullopt);

  NodeConfig config_;
  runtime::Bus& bus_;
  runtime::Clock& clock_;
  Cache cache_;
  std::unique_ptr<Outbox> outbox_;
  protocol::Micros started_us_ = 0;

  mutable std::mutex mu_;  // guards book_, prefetcher_ and the counters
  PlanBook book_;
  Prefetcher prefetcher_;
  std::uint64_t plans_rejected_ = 0;
  std::uint64_t controls_rejected_ = 0;
  std::map<std::string, std::uint64_t> last_sequence_;  // controller messages, per topic
  std::atomic<std::uint64_t> next_sequence_{0};         // envelope sequence of non-event messages

  // The player's latest progress note, persisted by the housekeeping thread (no disk write on
  // the player thread).
  std::mutex progress_mu_;
  std::optional<protocol::PlaybackEvent> progress_;

  Player player_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> housekeeping_exited_{false};
  std::thread housekeeping_;
  std::function<void()> heartbeat_;
};

}  // namespace loa::node
