#include "counting_bus.hpp"

#include <chrono>

#include "loa/protocol/topics.hpp"

namespace loa::bench {

const char* to_string(TrafficKind kind) {
  switch (kind) {
    case TrafficKind::plan:
      return "plan";
    case TrafficKind::manifest:
      return "manifest";
    case TrafficKind::chunk:
      return "chunk";
    case TrafficKind::receipt:
      return "receipt";
    case TrafficKind::control:
      return "control";
    case TrafficKind::up_fetch:
      return "fetch (up)";
    case TrafficKind::up_report:
      return "cache report (up)";
    case TrafficKind::up_event:
      return "playback event (up)";
    case TrafficKind::up_other:
      return "hello/status (up)";
    case TrafficKind::other:
      return "other";
  }
  return "other";
}

TrafficKind classify_topic(std::string_view topic) {
  namespace topics = protocol::topics;
  auto parsed = topics::parse(topic);
  if (!parsed) return TrafficKind::other;
  using K = topics::Parsed::Kind;
  switch (parsed->kind) {
    case K::area_plan:
    case K::node_plan:
      return TrafficKind::plan;
    case K::bulletin_manifest:
      return TrafficKind::manifest;
    case K::bulletin_chunk:
      return TrafficKind::chunk;
    case K::node_receipt:
      return TrafficKind::receipt;
    case K::area_control:
    case K::node_control:
      return TrafficKind::control;
    case K::node_up:
      switch (parsed->up) {
        case topics::UpKind::fetch:
          return TrafficKind::up_fetch;
        case topics::UpKind::report:
          return TrafficKind::up_report;
        case topics::UpKind::event:
          return TrafficKind::up_event;
        case topics::UpKind::hello:
        case topics::UpKind::status:
          return TrafficKind::up_other;
      }
      return TrafficKind::up_other;
    case K::live:
      return TrafficKind::other;
  }
  return TrafficKind::other;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TrafficCounters::add(std::string_view topic, std::size_t payload_bytes) {
  const auto k = static_cast<std::size_t>(classify_topic(topic));
  const std::int64_t now = steady_ns();
  messages[k].fetch_add(1, std::memory_order_relaxed);
  bytes[k].fetch_add(payload_bytes, std::memory_order_relaxed);
  std::int64_t expected = 0;
  first_ns[k].compare_exchange_strong(expected, now);
  std::int64_t last = last_ns[k].load();
  while (last < now && !last_ns[k].compare_exchange_weak(last, now)) {
  }
  if (timed_[k]) {
    std::lock_guard lock(mu_);
    times_[k].push_back(now);
  }
}

std::vector<std::int64_t> TrafficCounters::times(TrafficKind kind) const {
  std::lock_guard lock(mu_);
  return times_[static_cast<std::size_t>(kind)];
}

std::uint64_t TrafficCounters::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& b : bytes) n += b.load();
  return n;
}

std::uint64_t TrafficCounters::total_messages() const {
  std::uint64_t n = 0;
  for (const auto& m : messages) n += m.load();
  return n;
}

void CountingBus::on_message(MessageHandler handler) {
  inner_->on_message([this, h = std::move(handler)](const runtime::BusMessage& m) {
    delivered_.add(m.topic, m.payload.size());
    if (h) h(m);
  });
}

Status CountingBus::publish(const std::string& topic, runtime::ByteView payload, bool retain) {
  Status s = inner_->publish(topic, payload, retain);
  if (s) published_.add(topic, payload.size());
  return s;
}

}  // namespace loa::bench
