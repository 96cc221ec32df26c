// The durable outbox of playback events (SQLite, synchronous=FULL): an event is stored before it
// is published and deleted only when a receipt covers it. It also holds a marker for the playback
// in progress, so that one cut short by a crash or a power loss ends in one `partial` event.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loa/protocol/envelope.hpp"
#include "loa/protocol/messages.hpp"
#include "loa/runtime/sqlite.hpp"

namespace loa::node {

// Thread-safe.
class Outbox {
 public:
  // Opens (creating) the database at `path` (":memory:" for a private one).
  static Result<std::unique_ptr<Outbox>> open(const std::string& path);

  // Gives the event the next event_seq (from 1, no gaps, continuing across restarts), stores it,
  // marks its occurrence handled and drops its playing marker, in one transaction. Returns the
  // stored event. An occurrence already handled keeps its first event: add() fails.
  Result<protocol::PlaybackEvent> add(protocol::PlaybackEvent event);
  // Notes (durably) how far the playback of `progress.occurrence_id` got: start_us, end_us (the
  // instant of the note) and frames_played. Ignored once the occurrence is handled.
  loa::Status note_playing(const protocol::PlaybackEvent& progress);
  // After a crash: every playback that was noted but never ended becomes a `partial` event
  // (frames_played as last noted, end_us the last note; `failed` if no frame was noted), stored
  // like add(). Returns the stored events. Call before playing anything.
  Result<std::vector<protocol::PlaybackEvent>> recover_interrupted();
  // Events not yet covered by a receipt, by event_seq.
  Result<std::vector<protocol::PlaybackEvent>> pending() const;
  // Deletes every event with event_seq <= `recorded_through`; returns how many it deleted.
  Result<std::size_t> acknowledge(std::uint64_t recorded_through);
  // True once an event was recorded for the occurrence (it must not play again).
  bool handled(std::uint64_t occurrence_id) const;
  // The event_seq the next add() will use.
  std::uint64_t next_seq() const;

  // Replay state (PROTOCOL.md, security model), kept here to be as durable as the events.
  // The reservation of this node's envelope sequence (runtime::SequenceCounter); 0: none yet.
  // reserve_sequences never lowers it.
  Result<std::uint64_t> sequence_reservation() const;
  loa::Status reserve_sequences(std::uint64_t through);
  // The highest sequence accepted from a controller key on a topic; nullopt: none yet.
  Result<std::optional<std::uint64_t>> replay_mark(protocol::KeyId key,
                                                   const std::string& topic) const;
  loa::Status set_replay_mark(protocol::KeyId key, const std::string& topic,
                              std::uint64_t sequence);

  // Test builds of the node crash at named points: loa-node installs a hook (from
  // LOA_TEST_CRASH_AT) that raises SIGKILL when its point is reached. Points: outbox-before-commit,
  // outbox-after-commit (Outbox::add), event-after-publish (the node). Empty: no hook.
  using CrashHook = std::function<void(std::string_view point)>;
  static void set_crash_hook(CrashHook hook);
  static void crash_point(std::string_view point);

 private:
  explicit Outbox(runtime::Database db) : db_(std::move(db)) {}
  Result<protocol::PlaybackEvent> add_locked(protocol::PlaybackEvent event);
  mutable std::mutex mu_;
  mutable runtime::Database db_;  // reads prepare statements too
};

}  // namespace loa::node
