// The durable outbox of playback events (SQLite, synchronous=FULL): an event is stored before it
// is published and deleted only when a receipt covers it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loa/protocol/messages.hpp"
#include "loa/runtime/sqlite.hpp"

namespace loa::node {

// Thread-safe.
class Outbox {
 public:
  // Opens (creating) the database at `path` (":memory:" for a private one).
  static Result<std::unique_ptr<Outbox>> open(const std::string& path);

  // Gives the event the next event_seq (from 1, no gaps, continuing across restarts), stores it
  // and marks its occurrence handled, in one transaction. Returns the stored event.
  Result<protocol::PlaybackEvent> add(protocol::PlaybackEvent event);
  // Events not yet covered by a receipt, by event_seq.
  Result<std::vector<protocol::PlaybackEvent>> pending() const;
  // Deletes every event with event_seq <= `recorded_through`; returns how many it deleted.
  Result<std::size_t> acknowledge(std::uint64_t recorded_through);
  // True once an event was recorded for the occurrence (it must not play again).
  bool handled(std::uint64_t occurrence_id) const;
  // The event_seq the next add() will use.
  std::uint64_t next_seq() const;

 private:
  explicit Outbox(runtime::Database db) : db_(std::move(db)) {}
  mutable std::mutex mu_;
  mutable runtime::Database db_;  // reads prepare statements too
};

}  // namespace loa::node
