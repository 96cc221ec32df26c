// Test helpers: a scripted node on a MemoryHub (its own key, seals what it sends, records what
// it receives), a probe that records every message, and a WAV file made in memory.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "loa/protocol/envelope.hpp"
#include "loa/protocol/messages.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"
#include "tone_wav.hpp"

namespace loa::test {

// Records every message a bus receives.
class Recorder {
 public:
  void attach(runtime::Bus& bus);
  std::vector<runtime::BusMessage> messages() const;
  // Messages whose topic matches the MQTT filter.
  std::vector<runtime::BusMessage> on(const std::string& filter) const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<runtime::BusMessage> messages_;
};

// A node as the controller sees it over the bus, driven step by step by a test.
class TestNode {
 public:
  TestNode(runtime::MemoryHub& hub, runtime::Clock& clock, std::string id);

  const std::string& id() const { return id_; }
  const protocol::KeyPair& keys() const { return keys_; }
  Recorder& received() { return received_; }

  void hello(const std::vector<protocol::HeldPlan>& held);
  // Sends an event signed with `signer` (default: the node's own key).
  void event(const protocol::PlaybackEvent& e, const protocol::KeyPair* signer = nullptr);
  void fetch(std::uint64_t bulletin, bool want_manifest, std::vector<std::uint32_t> indices,
             std::uint64_t seen_manifest_sequence = 0);
  void report(std::uint64_t bulletin, protocol::CacheState state);
  void status();
  // Publishes raw bytes on one of the node's up topics.
  void raw(const std::string& kind, const protocol::Bytes& payload);
  // A completed event of this node for an occurrence.
  protocol::PlaybackEvent completed(std::uint64_t occurrence, std::uint64_t bulletin,
                                    std::uint64_t seq) const;

 private:
  void send(protocol::MessageType type, const std::string& kind, const protocol::Bytes& body,
            const protocol::KeyPair& signer);

  runtime::Clock& clock_;
  std::string id_;
  protocol::KeyPair keys_;
  std::unique_ptr<runtime::Bus> bus_;
  Recorder received_;
  std::uint64_t sequence_ = 0;
};

// Opens an envelope signed by `key`; fails the test's expectations by returning nullopt.
std::optional<protocol::Bytes> open_body(const protocol::Bytes& envelope,
                                         const protocol::PublicKey& key,
                                         protocol::MessageType expected);

}  // namespace loa::test
