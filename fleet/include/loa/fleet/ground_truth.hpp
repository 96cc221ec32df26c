// What one simulated node did, as the fleet simulator saw it: samples written to its sink per
// occurrence, and the playback events it published. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "loa/node/sink.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/messages.hpp"
#include "loa/runtime/bus.hpp"

namespace loa::fleet {

class GroundTruth {
 public:
  struct Published {
    protocol::PlaybackEvent event;  // the first one published for the occurrence
    std::uint64_t times = 0;        // publications (the node re-sends until a receipt)
    bool conflicting = false;       // a later publication differed from the first
  };

  void add_samples(std::uint64_t occurrence_id, std::uint64_t samples);
  // Payload bytes received on bulletin topics (manifests and chunks): the fan-out's output.
  void add_bulletin_bytes(std::uint64_t bytes) { bulletin_bytes_ += bytes; }
  std::uint64_t bulletin_bytes() const { return bulletin_bytes_; }
  void add_event(const protocol::PlaybackEvent& e);
  // {"played": {occ: {"samples", "frames"}}, "events": {occ: {...}}}
  nlohmann::json to_json() const;
  std::map<std::uint64_t, Published> events() const;

 private:
  std::atomic<std::uint64_t> bulletin_bytes_{0};
  mutable std::mutex mu_;
  std::map<std::uint64_t, std::uint64_t> samples_;  // by occurrence
  std::map<std::uint64_t, Published> events_;       // by occurrence
};

// A null sink (real-time pace) that counts what it is given into `truth`.
node::SinkFactory counting_sinks(runtime::Clock& clock, GroundTruth& truth);

// Wraps a node's bus: every playback event the node publishes (verified with its key) is noted
// in `truth`; everything else passes through unchanged.
std::unique_ptr<runtime::Bus> tap_events(std::unique_ptr<runtime::Bus> bus,
                                         protocol::PublicKey node_key, GroundTruth& truth);

}  // namespace loa::fleet
