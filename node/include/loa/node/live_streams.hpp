// The jitter buffers of the live streams a node receives, by stream id: filled by the bus thread,
// read by the player.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "loa/node/jitter_buffer.hpp"

namespace loa::node {

// Thread-safe.
class LiveStreams {
 public:
  // The buffer of `stream_id`, created empty on first use.
  std::shared_ptr<JitterBuffer> buffer(std::uint64_t stream_id);
  // The buffer if it exists (chunks are only kept for streams the node is subscribed to).
  std::shared_ptr<JitterBuffer> find(std::uint64_t stream_id) const;
  // Forgets every stream not in `keep`.
  void retain(const std::set<std::uint64_t>& keep);

 private:
  mutable std::mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<JitterBuffer>> streams_;
};

}  // namespace loa::node
