#include "counting_bus.hpp"

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
    case TrafficKind::up_other:
      return "hello/event/status/report (up)";
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
      return parsed->up == topics::UpKind::fetch ? TrafficKind::up_fetch : TrafficKind::up_other;
    case K::live:
      return TrafficKind::other;
  }
  return TrafficKind::other;
}

void TrafficCounters::add(std::string_view topic, std::size_t payload_bytes) {
  const auto k = static_cast<std::size_t>(classify_topic(topic));
  messages[k].fetch_add(1, std::memory_order_relaxed);
  bytes[k].fetch_add(payload_bytes, std::memory_order_relaxed);
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
