// The player: waits for each occurrence's instant by the node's clock and plays it from the cache,
// arbitrating between levels (docs/architecture.md, "Levels on the node").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "loa/node/cache.hpp"
#include "loa/node/fiber.hpp"
#include "loa/node/live_streams.hpp"
#include "loa/node/sink.hpp"
#include "loa/protocol/messages.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::node {

struct PlayerConfig {
  std::string node_id;
  protocol::Micros extra_latency_us = 0;  // added to the sink's reported output latency
  std::uint8_t volume = 100;              // node level, percent
  // Emergencies play at this level, whatever the node's volume or mute (a mute for maintenance
  // must not silence a storm warning).
  std::uint8_t emergency_volume = 100;
  protocol::Micros open_ahead_us = 500'000;  // the sink is opened this long before the instant
  // An occurrence whose expiry is not after its start may start this late at most.
  protocol::Micros default_grace_us = 5'000'000;
  // Live occurrences: each frame leaves at its sender instant + this (PROTOCOL.md, live stream).
  protocol::Micros live_latency_us = 300'000;
  protocol::Micros live_dry_us = 5'000'000;  // no chunk for this long: the stream ends partial
  // False (the fleet simulator): cached bulletins are not decoded; each packet becomes silence of
  // its length (opus_packet_samples), so frames, instants and events are those of a decoding
  // player, at a fraction of the CPU. Volume is not applied to that silence. Live streams are
  // still decoded.
  bool decode = true;
};

// Plays occurrences one at a time on its own thread, or, started by start_driven(), on a Fiber
// that the caller's loop steps (the fleet simulator): the same logic either way, only its sleeps
// differ (a thread sleeps; a fiber hands control back to step()'s caller). Every occurrence it
// takes on ends in exactly one PlaybackEvent handed to `record` (completed, partial, preempted,
// cancelled, expired or failed). Arbitration:
// - an emergency takes over from a lower level at its start instant: the other playback stops
//   where the emergency's first sample begins (same sink, no gap) and ends `preempted`; it is
//   dropped, never resumed;
// - otherwise nothing interrupts: an occurrence whose instant comes while another plays waits;
//   when the output is free the waiting one with the highest level goes first, then the earliest
//   start, then the lowest occurrence id;
// - a waiting occurrence ends `expired` at its expiry, and is never played late.
// Public methods are thread-safe.
class Player {
 public:
  // Records an event durably; called from the player thread, or from the thread of cancel() and
  // set_schedule(). Never called with the player's lock held.
  using Record = std::function<void(protocol::PlaybackEvent)>;
  // True if the occurrence already ended (in an earlier run too).
  using IsHandled = std::function<bool(std::uint64_t occurrence_id)>;

  Player(PlayerConfig config, runtime::Clock& clock, const Cache& cache, SinkFactory sinks,
         IsHandled is_handled, Record record);
  ~Player();
  Player(const Player&) = delete;
  Player& operator=(const Player&) = delete;

  // Called on the player thread after the first samples of a playback are written and then
  // about every second of audio: a `partial` event with start_us, end_us (now) and frames_played
  // so far. It must not block (the node persists it from another thread). Set before start().
  using Progress = std::function<void(const protocol::PlaybackEvent&)>;
  void on_progress(Progress progress) { progress_ = std::move(progress); }

  void start();
  // The same without a thread: the caller calls step() on one thread, at the latest at the
  // instant it returned, and its sinks must sleep through a FiberClock (or not at all).
  void start_driven();
  // Driven mode: runs the player until it next sleeps if it is due (its wake instant has come
  // or a schedule change woke it); returns the instant by the player's clock when it is due
  // next (now if woken meanwhile; the largest Micros once stopped). Plays every frame whose
  // time has come: a sink paced by a FiberClock hands control back until the next one is due.
  protocol::Micros step();
  // Driven mode: called (on any thread) whenever a schedule change wants the player stepped
  // now, so the driver need not poll woken players. Must not block. Set before start_driven().
  void on_wake(std::function<void()> waker) { waker_ = std::move(waker); }
  // Stops the thread (or runs the fiber to its end); a playback in progress ends as `partial`
  // ("node stopping"); one that has not started records nothing (a restart before its expiry still
  // plays it).
  void stop();

  // Replaces the occurrences to play with the effective plan; handled ones are skipped. What the
  // player held and `occurrences` lacks is cancelled: a waiting one ends `cancelled` ("removed
  // from " + `source`), or `expired` if its expiry has passed; a playing one stops now and ends
  // `cancelled`. A waiting one whose fields changed takes the new ones; a playing one whose start
  // or bulletin changed stops and ends `cancelled` (it is not played again).
  void set_schedule(std::vector<protocol::Occurrence> occurrences,
                    const std::string& source = "the plan");
  // Stops the occurrence if it plays, or drops it if it waits; either ends in a `cancelled` event.
  // Returns false if the occurrence is not scheduled (or already ended).
  bool cancel(std::uint64_t occurrence_id);
  // Items whose instant has already passed are not started before `t`, so that a node back from
  // a restart first hears the plans retained on the broker, which may cancel or change what it
  // missed; items due later are not affected. A smaller value releases the hold early.
  void hold_late_starts_until(protocol::Micros t);
  // True while the player thread (or fiber) runs (started, not exited): the node's watchdog
  // heartbeat.
  bool alive() const { return thread_started_.load() && !exited_.load(); }
  // Queues a test tone (a Control): played like a cached item at level `priority`, starting
  // as soon as the output is free (it never interrupts anything); it is no occurrence, so it
  // ends in no PlaybackEvent (only a log line). Its id has the top bit set (is_test_tone).
  std::uint64_t play_test_tone(protocol::OpusStream tone);
  static bool is_test_tone(std::uint64_t occurrence_id) { return (occurrence_id >> 63) != 0; }
  // Where live occurrences' chunks are buffered (see LiveStreams); set before start(). Without
  // it a live occurrence ends `failed`.
  void set_live_streams(LiveStreams* live) { live_ = live; }
  void set_volume(std::uint8_t percent);
  void set_muted(bool muted);
  bool muted() const { return muted_.load(); }
  std::uint8_t volume() const { return volume_.load(); }
  // False after the sink failed to open, true again after a successful open.
  bool output_ok() const { return output_ok_.load(); }
  // Occurrence playing now (its first sample written), if any.
  std::optional<std::uint64_t> playing() const;
  // Occurrences waiting to play (not started, not ended), by start.
  std::vector<protocol::Occurrence> queued() const;

 private:
  // An occurrence about to play, with its audio and, when it takes over, the open sink.
  // Its packets are read from the cached file a page at a time (a test tone's from memory), so
  // a playing node holds a few kilobytes of a bulletin however long it is.
  struct Playback {
    protocol::Occurrence occurrence;
    protocol::OpusStreamInfo info;                   // live: channels only
    std::optional<protocol::OggOpusReader> packets;  // none for a live occurrence
    std::shared_ptr<const protocol::Bytes> memory;   // what a test tone's packets are read from
    std::unique_ptr<Sink> sink;                      // null: open a new one
    std::uint8_t sink_channels = 0;                  // what `sink` was opened with
  };

  void run();
  // Wakes the player's sleep (thread or fiber) after a schedule change.
  void wake();
  // The waiting occurrence that goes next at `now` (see the class comment).
  std::optional<protocol::Occurrence> next_locked(protocol::Micros now) const;
  // The waiting emergency with the earliest start.
  std::optional<protocol::Occurrence> next_emergency_locked() const;
  // Removes `o` from the waiting ones if it is still there unchanged, and marks it ended.
  bool take_waiting_locked(const protocol::Occurrence& o);
  // Ends every waiting occurrence whose expiry has passed.
  std::vector<protocol::PlaybackEvent> take_expired_locked(protocol::Micros now);
  protocol::Micros expiry_of(const protocol::Occurrence& o) const;
  // Sleeps until `t` unless the schedule changed since `generation` or a stop was requested.
  void sleep_until(protocol::Micros t, std::uint64_t generation);
  // Ends a waiting occurrence as `failed` (if it still waits unchanged).
  void fail_waiting(const protocol::Occurrence& o, const std::string& detail);
  // Plays one occurrence; returns the emergency that took over, if one did.
  std::optional<Playback> play(Playback p);
  // Plays a live occurrence (play() hands it over); returns nothing (an emergency that preempts a
  // live stream starts after it, not sample-exact).
  std::optional<Playback> play_live_item(Playback p);
  protocol::PlaybackEvent event(const protocol::Occurrence& o, protocol::Outcome outcome,
                                protocol::Micros start_us, protocol::Micros end_us,
                                std::uint64_t samples, std::string detail) const;
  void record(protocol::PlaybackEvent e);
  void record_deferred();

  PlayerConfig config_;
  runtime::Clock& clock_;
  FiberClock pace_{clock_};  // every sleep of the player goes through it
  const Cache& cache_;
  SinkFactory sinks_;
  LiveStreams* live_ = nullptr;
  IsHandled is_handled_;
  Record record_;
  Progress progress_;

  mutable std::mutex mu_;
  std::vector<protocol::Occurrence> schedule_;   // waiting: not started, not ended; by start
  std::set<std::uint64_t> done_;                 // started or ended in this run
  std::optional<protocol::Occurrence> current_;  // playing
  std::optional<std::string> stop_current_;      // set: stop it, `cancelled` with this detail
  protocol::Micros hold_late_until_ = 0;         // see hold_late_starts_until()
  std::uint64_t generation_ = 0;                 // bumped on every schedule change
  std::map<std::uint64_t, protocol::OpusStream> tones_;  // waiting test tones' audio, by id
  std::uint64_t tones_queued_ = 0;

  // Player thread only: the preempted playback's event, recorded once the emergency that took
  // over has written its first samples (so the switch waits for no disk write).
  std::optional<protocol::PlaybackEvent> deferred_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  std::atomic<bool> thread_started_{false};
  // The gain of `o`'s samples, in units of 1/10,000: node level x occurrence volume.
  std::int32_t gain_of(const protocol::Occurrence& o) const;
  std::atomic<std::uint8_t> volume_{100};
  std::atomic<bool> muted_{false};
  std::atomic<bool> output_ok_{true};
  std::thread thread_;
  std::unique_ptr<Fiber> fiber_;  // driven mode
  std::function<void()> waker_;   // driven mode
};

}  // namespace loa::node
