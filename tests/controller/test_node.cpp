#include "test_node.hpp"

#include "loa/protocol/topics.hpp"

namespace loa::test {

void Recorder::attach(runtime::Bus& bus) {
  bus.on_message([this](const runtime::BusMessage& m) {
    std::lock_guard lock(mu_);
    messages_.push_back(m);
  });
}

std::vector<runtime::BusMessage> Recorder::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

std::vector<runtime::BusMessage> Recorder::on(const std::string& filter) const {
  std::lock_guard lock(mu_);
  std::vector<runtime::BusMessage> out;
  for (const auto& m : messages_) {
    if (runtime::topic_matches(filter, m.topic)) out.push_back(m);
  }
  return out;
}

void Recorder::clear() {
  std::lock_guard lock(mu_);
  messages_.clear();
}

TestNode::TestNode(runtime::MemoryHub& hub, runtime::Clock& clock, std::string id)
    : clock_(clock),
      id_(std::move(id)),
      keys_(protocol::KeyPair::generate()),
      bus_(hub.connect("node-" + id_)) {
  received_.attach(*bus_);
  (void)bus_->start();
  (void)bus_->subscribe(protocol::topics::node_down_filter(id_));
}

void TestNode::send(protocol::MessageType type, const std::string& kind,
                    const protocol::Bytes& body, const protocol::KeyPair& signer) {
  const auto envelope = protocol::seal(type, signer, clock_.now_us(), ++sequence_, body);
  raw(kind, envelope);
}

void TestNode::raw(const std::string& kind, const protocol::Bytes& payload) {
  (void)bus_->publish("loa/v1/node/" + id_ + "/up/" + kind, payload, false);
}

void TestNode::hello(const std::vector<protocol::HeldPlan>& held) {
  protocol::Hello h;
  h.node_id = id_;
  h.version = "test";
  h.public_key = keys_.public_key;
  h.plans = held;
  send(protocol::MessageType::hello, "hello", protocol::encode(h), keys_);
}

void TestNode::event(const protocol::PlaybackEvent& e, const protocol::KeyPair* signer) {
  send(protocol::MessageType::playback_event, "event", protocol::encode(e),
       signer ? *signer : keys_);
}

void TestNode::fetch(std::uint64_t bulletin, bool want_manifest, std::vector<std::uint32_t> indices,
                     std::uint64_t seen_manifest_sequence) {
  protocol::Fetch f{id_, bulletin, want_manifest, std::move(indices), seen_manifest_sequence};
  send(protocol::MessageType::fetch, "fetch", protocol::encode(f), keys_);
}

void TestNode::report(std::uint64_t bulletin, protocol::CacheState state) {
  protocol::CacheReport r{id_, bulletin, state, ""};
  send(protocol::MessageType::cache_report, "report", protocol::encode(r), keys_);
}

void TestNode::status() {
  protocol::Status s;
  s.node_id = id_;
  s.version = "test";
  send(protocol::MessageType::status, "status", protocol::encode(s), keys_);
}

protocol::PlaybackEvent TestNode::completed(std::uint64_t occurrence, std::uint64_t bulletin,
                                            std::uint64_t seq) const {
  protocol::PlaybackEvent e;
  e.node_id = id_;
  e.occurrence_id = occurrence;
  e.bulletin_id = bulletin;
  e.outcome = protocol::Outcome::completed;
  e.start_us = clock_.now_us();
  e.end_us = e.start_us + 2'000'000;
  e.frames_played = 100;
  e.event_seq = seq;
  return e;
}

std::optional<protocol::Bytes> open_body(const protocol::Bytes& envelope,
                                         const protocol::PublicKey& key,
                                         protocol::MessageType expected) {
  const auto r = protocol::open(envelope, protocol::KeySet(key));
  if (!r.ok() || r.opened->header.type != expected) return std::nullopt;
  return protocol::Bytes(r.opened->body.begin(), r.opened->body.end());
}

}  // namespace loa::test
