// The player: waits for each occurrence's instant by the node's clock and plays it from the cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "loa/node/cache.hpp"
#include "loa/node/sink.hpp"
#include "loa/protocol/messages.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::node {

struct PlayerConfig {
  std::string node_id;
  protocol::Micros extra_latency_us = 0;     // added to the sink's reported output latency
  std::uint8_t volume = 100;                 // node level, percent
  protocol::Micros open_ahead_us = 500'000;  // the sink is opened this long before the instant
  // An occurrence whose expiry is not after its start may start this late at most.
  protocol::Micros default_grace_us = 5'000'000;
};

// Plays occurrences one at a time on its own thread. Every occurrence it takes on ends in exactly
// one PlaybackEvent handed to `record` (completed, partial, cancelled, expired or failed).
// Public methods are thread-safe.
class Player {
 public:
  // Records an event durably; called from the player thread, or from cancel()'s caller.
  using Record = std::function<void(protocol::PlaybackEvent)>;
  // True if the occurrence already ended (in an earlier run too).
  using IsHandled = std::function<bool(std::uint64_t occurrence_id)>;

  Player(PlayerConfig config, runtime::Clock& clock, const Cache& cache, SinkFactory sinks,
         IsHandled is_handled, Record record);
  ~Player();
  Player(const Player&) = delete;
  Player& operator=(const Player&) = delete;

  void start();
  // Stops the thread; a playback in progress ends as `partial` ("node stopping").
  void stop();

  // Replaces the occurrences to play (the effective plan). Handled ones are skipped.
  void set_schedule(std::vector<protocol::Occurrence> occurrences);
  // Stops the occurrence if it plays, or drops it if it waits; either ends in a `cancelled` event.
  // Returns false if the occurrence is not scheduled (or already ended).
  bool cancel(std::uint64_t occurrence_id);
  void set_volume(std::uint8_t percent);
  void set_muted(bool muted);
  std::uint8_t volume() const { return volume_.load(); }
  // False after the sink failed to open, true again after a successful open.
  bool output_ok() const { return output_ok_.load(); }
  // Occurrence playing now, if any.
  std::optional<std::uint64_t> playing() const;
  // Occurrences still to play (not handled, not cancelled), by start.
  std::vector<protocol::Occurrence> queued() const;

 private:
  void run();
  std::optional<protocol::Occurrence> next_locked() const;
  protocol::Micros expiry_of(const protocol::Occurrence& o) const;
  // Sleeps until `t` unless the schedule changed or a stop was requested.
  void sleep_until(protocol::Micros t);
  void play(const protocol::Occurrence& o);
  void finish(const protocol::Occurrence& o, protocol::Outcome outcome, protocol::Micros start_us,
              protocol::Micros end_us, std::uint64_t samples, std::string detail);

  PlayerConfig config_;
  runtime::Clock& clock_;
  const Cache& cache_;
  SinkFactory sinks_;
  IsHandled is_handled_;
  Record record_;

  mutable std::mutex mu_;
  std::vector<protocol::Occurrence> schedule_;  // not yet handled, by start
  std::set<std::uint64_t> done_;                // ended in this run, or cancelled
  std::optional<std::uint64_t> current_;
  bool cancel_current_ = false;
  bool dirty_ = false;  // schedule changed since the thread last looked

  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  std::atomic<std::uint8_t> volume_{100};
  std::atomic<bool> muted_{false};
  std::atomic<bool> output_ok_{true};
  std::thread thread_;
};

}  // namespace loa::node
