// A Bus that forwards to another and counts what goes through it, by kind of topic: the fleet
// benchmark's measure of bytes published and delivered.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "loa/runtime/bus.hpp"

namespace loa::bench {

// What a topic carries, as far as traffic figures care.
enum class TrafficKind {
  plan,
  manifest,
  chunk,
  receipt,
  control,
  up_fetch,
  up_report,
  up_event,
  up_other,
  other
};
inline constexpr std::size_t kTrafficKinds = 10;
const char* to_string(TrafficKind kind);
TrafficKind classify_topic(std::string_view topic);

// Nanoseconds on the steady clock (the timeline of TrafficCounters).
std::int64_t steady_ns();

// Message and payload-byte counts per kind, with the first and last instant (steady_ns; 0: none)
// a message of each kind went through. Shared by many buses; every member is atomic, except the
// optional per-message instants of `timed` kinds, kept under a mutex.
struct TrafficCounters {
  std::array<std::atomic<std::uint64_t>, kTrafficKinds> messages{};
  std::array<std::atomic<std::uint64_t>, kTrafficKinds> bytes{};
  std::array<std::atomic<std::int64_t>, kTrafficKinds> first_ns{};
  std::array<std::atomic<std::int64_t>, kTrafficKinds> last_ns{};

  // Keeps the instant of every message of `kind` (call before any traffic).
  void keep_times(TrafficKind kind) { timed_[static_cast<std::size_t>(kind)] = true; }
  std::vector<std::int64_t> times(TrafficKind kind) const;

  void add(std::string_view topic, std::size_t payload_bytes);
  std::uint64_t total_bytes() const;
  std::uint64_t total_messages() const;

 private:
  std::array<bool, kTrafficKinds> timed_{};
  mutable std::mutex mu_;
  std::array<std::vector<std::int64_t>, kTrafficKinds> times_;
};

// Forwards every call to `inner`. Publishes (accepted by `inner`) are counted in `published`,
// delivered messages in `delivered` before the handler runs. The counters must outlive the bus.
class CountingBus final : public runtime::Bus {
 public:
  CountingBus(std::unique_ptr<runtime::Bus> inner, TrafficCounters& published,
              TrafficCounters& delivered)
      : inner_(std::move(inner)), published_(published), delivered_(delivered) {}

  void on_message(MessageHandler handler) override;
  void on_connection(ConnectHandler handler) override { inner_->on_connection(std::move(handler)); }
  Status start() override { return inner_->start(); }
  void stop(int drain_ms = 1000) override { inner_->stop(drain_ms); }
  Status subscribe(const std::string& filter) override { return inner_->subscribe(filter); }
  Status subscribe_best_effort(const std::string& filter) override {
    return inner_->subscribe_best_effort(filter);
  }
  Status unsubscribe(const std::string& filter) override { return inner_->unsubscribe(filter); }
  Status publish(const std::string& topic, runtime::ByteView payload, bool retain) override;
  bool connected() const override { return inner_->connected(); }

 private:
  std::unique_ptr<runtime::Bus> inner_;
  TrafficCounters& published_;
  TrafficCounters& delivered_;
};

}  // namespace loa::bench
