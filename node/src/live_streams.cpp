#include "loa/node/live_streams.hpp"

namespace loa::node {

std::shared_ptr<JitterBuffer> LiveStreams::buffer(std::uint64_t stream_id) {
  std::lock_guard lock(mu_);
  auto& b = streams_[stream_id];
  if (!b) b = std::make_shared<JitterBuffer>();
  return b;
}

std::shared_ptr<JitterBuffer> LiveStreams::find(std::uint64_t stream_id) const {
  std::lock_guard lock(mu_);
  const auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second;
}

void LiveStreams::retain(const std::set<std::uint64_t>& keep) {
  std::lock_guard lock(mu_);
  std::erase_if(streams_, [&](const auto& s) { return keep.count(s.first) == 0; });
}

}  // namespace loa::node
