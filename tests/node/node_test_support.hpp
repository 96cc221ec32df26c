// Test helpers for the node: a temporary directory, a real Opus stream, a WAV reader, waiting,
// and a fake controller that seals plans, manifests, chunks, controls and receipts on a MemoryHub.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "loa/node/config.hpp"
#include "loa/node/sink.hpp"
#include "loa/protocol/bulletin.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::node::test {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A real Opus stream (libopus, 48 kHz mono, 20 ms frames, 24 kbit/s) of a tone sweep lasting
// `seconds`, with pre-skip and end trimming like an encoder writes them.
protocol::OpusStream make_stream(double seconds, double base_hz = 440.0);

// Samples of a 16-bit PCM WAV file, with its rate and channels; empty samples on any error.
struct Wav {
  std::uint32_t rate = 0;
  std::uint16_t channels = 0;
  std::vector<std::int16_t> samples;
  bool ok = false;
};
Wav read_wav(const std::string& path);

// Polls `done` every 5 ms until it returns true or `timeout_ms` of real time pass.
bool wait_for(const std::function<bool()>& done, int timeout_ms = 5000);

// Simulated time for deterministic tests of threads that wait only on the clock. Time moves only
// in run_until(), and only once every one of `threads` threads is parked in sleep_until() (each
// has done all it can at the current instant); it then jumps to the earliest wake-up.
class SimClock final : public runtime::Clock {
 public:
  SimClock(protocol::Micros start, int threads) : now_(start), threads_(threads) {}
  protocol::Micros now_us() const override { return now_.load(); }
  void sleep_until(protocol::Micros t) override;
  void wake() override;
  // Waits (real time, up to `timeout_ms`) until every thread is parked; false if they do not.
  bool settle(int timeout_ms = 5000);
  // Moves time to `t` through every wake-up before it; false if the threads stopped parking.
  bool run_until(protocol::Micros t, int timeout_ms = 5000);
  // From now on sleep_until() moves time itself and returns at once (to tear down freely).
  void free_run();

 private:
  struct Sleeper {
    protocol::Micros until = 0;
    bool released = false;
  };
  std::atomic<protocol::Micros> now_;
  const int threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sleeper*> parked_;
  bool free_ = false;
};

// What RecordingSinks wrote, as a loudspeaker would have played it. Thread-safe.
class Timeline {
 public:
  struct Span {
    std::uint64_t occurrence = 0;    // the playback the sink was opened or handed over for
    protocol::Micros leaves_us = 0;  // when its first sample leaves the loudspeaker
    std::vector<std::int16_t> samples;
  };
  // Sinks with output latency `latency_us`, paced by `clock`; `can_continue`: whether they
  // accept continue_with().
  SinkFactory factory(runtime::Clock& clock, protocol::Micros latency_us, bool can_continue = true);
  void add(Span span);
  std::vector<Span> spans() const;
  // When the first sample of `occurrence` leaves, and when its last one has left (0: none).
  protocol::Micros first_us(std::uint64_t occurrence) const;
  protocol::Micros end_us(std::uint64_t occurrence) const;
  // Every sample written for `occurrence` (mono).
  std::vector<std::int16_t> samples(std::uint64_t occurrence) const;

 private:
  mutable std::mutex mu_;
  std::vector<Span> spans_;
};

// A NodeConfig for tests: fresh node key, short timers.
NodeConfig test_config(const std::string& id, const std::string& area, const std::string& cache,
                       const protocol::PublicKey& controller_key);

// Plays the controller's role on a MemoryHub. Thread-safe.
class FakeController {
 public:
  FakeController(runtime::MemoryHub& hub, runtime::Clock& clock);
  // On any bus (e.g. a real broker's); the bus is started here and stopped on destruction.
  FakeController(std::unique_ptr<runtime::Bus> bus, runtime::Clock& clock);
  ~FakeController();

  const protocol::KeyPair& key() const { return key_; }
  bool connected() const { return bus_->connected(); }
  // Node keys whose messages it accepts (as from provisioning: a Hello's key is not trusted).
  void trust(const protocol::PublicKey& node_key);

  // Seals with `sequence`, or (0) the next of an increasing counter.
  protocol::Bytes seal(protocol::MessageType type, const protocol::Bytes& body,
                       const protocol::KeyPair* signer = nullptr, std::uint64_t sequence = 0);
  // Publishes a plan (retained) on its scope's topic, signed by `signer` (default: own key).
  void publish_plan(const protocol::Plan& plan, const protocol::KeyPair* signer = nullptr);
  void publish(const std::string& topic, const protocol::Bytes& payload, bool retain = false);

  struct BulletinOptions {
    std::set<std::uint32_t> skip;    // chunks not sent at first (sent when fetched)
    std::set<std::uint32_t> tamper;  // chunks first sent with a flipped byte (validly sealed)
    bool publish_manifest = true;    // retained manifest on the bulletin's topic
    bool manifest_last = false;      // publish the chunks first (they wait as early chunks)
    const protocol::KeyPair* manifest_signer = nullptr;  // sign the published manifest with this
  };
  // Packages the stream and publishes manifest and chunks as asked. Fetches are answered with
  // the true manifest and chunks.
  protocol::PackagedBulletin offer_bulletin(std::uint64_t bulletin_id,
                                            const protocol::OpusStream& stream,
                                            const BulletinOptions& options);
  // Sealed on the node's control topic; an empty target is filled in as "node:<node_id>".
  void send_control(const std::string& node_id, protocol::Control control);
  void send_receipt(const std::string& node_id, std::uint64_t recorded_through);
  void set_auto_receipt(bool on);
  void set_answer_fetches(bool on);
  // Answers every online status with a `time` Control naming its sequence (clock offset), as
  // the controller does. Off by default.
  void set_answer_status_time(bool on);

  std::vector<protocol::PlaybackEvent> events() const;
  std::vector<protocol::Fetch> fetches() const;
  std::vector<protocol::CacheReport> reports() const;
  std::vector<protocol::Hello> hellos() const;
  std::vector<protocol::Status> statuses() const;
  std::size_t unverified() const;
  // Envelope sequences of received events, in arrival order.
  std::vector<std::uint64_t> event_sequences() const;
  // Envelope sequences of every other message received live (hello, status, fetch, report),
  // in arrival order.
  std::vector<std::uint64_t> up_sequences() const;

 private:
  void on_message(const runtime::BusMessage& m);
  std::optional<protocol::Opened> open_up(const protocol::Bytes& payload);

  runtime::Clock& clock_;
  protocol::KeyPair key_;
  std::unique_ptr<runtime::Bus> bus_;
  mutable std::mutex mu_;
  std::vector<protocol::PublicKey> trusted_;
  std::map<std::uint64_t, protocol::PackagedBulletin> bulletins_;
  bool auto_receipt_ = true;
  bool answer_fetches_ = true;
  bool answer_status_time_ = false;
  std::vector<protocol::PlaybackEvent> events_;
  std::vector<std::uint64_t> event_sequences_;
  std::vector<std::uint64_t> up_sequences_;
  std::vector<protocol::Fetch> fetches_;
  std::vector<protocol::CacheReport> reports_;
  std::vector<protocol::Hello> hellos_;
  std::vector<protocol::Status> statuses_;
  std::size_t unverified_ = 0;
  std::uint64_t sequence_ = 0;
};

}  // namespace loa::node::test
