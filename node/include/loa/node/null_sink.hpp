// A sink that discards audio at real-time pace: for the fleet simulator and tests.
#pragma once

#include "loa/node/pacer.hpp"
#include "loa/node/sink.hpp"

namespace loa::node {

// Discards samples; write() blocks at real-time pace on `clock`. Output latency 0.
class NullSink final : public Sink {
 public:
  explicit NullSink(runtime::Clock& clock) : pacer_(clock, 48000) {}
  loa::Status open(std::uint32_t rate, std::uint8_t channels) override;
  protocol::Micros output_latency_us() const override { return 0; }
  loa::Status write(std::span<const std::int16_t> samples) override;
  void close() override {}

 private:
  Pacer pacer_;
  std::uint8_t channels_ = 1;
};

}  // namespace loa::node
