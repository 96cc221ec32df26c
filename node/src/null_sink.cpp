#include "loa/node/null_sink.hpp"

namespace loa::node {

loa::Status NullSink::open(std::uint32_t rate, std::uint8_t channels) {
  if (rate == 0 || channels == 0) return make_error("null sink: rate and channels must be > 0");
  pacer_.restart(rate);
  channels_ = channels;
  return {};
}

loa::Status NullSink::write(std::span<const std::int16_t> samples) {
  pacer_.advance(samples.size() / channels_);
  return {};
}

}  // namespace loa::node
