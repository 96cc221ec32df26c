// A sink that writes one WAV file per playback: for tests, demos and checking what a node played.
#pragma once

#include <cstdio>
#include <string>

#include "loa/node/pacer.hpp"
#include "loa/node/sink.hpp"

namespace loa::node {

// Writes 16-bit PCM WAV to `path`, paced in real time by `clock` (so a playback takes as long as
// its audio). The RIFF header's sizes are finalized by close(). Output latency 0.
class WavSink final : public Sink {
 public:
  WavSink(runtime::Clock& clock, std::string path);
  ~WavSink() override;
  WavSink(const WavSink&) = delete;
  WavSink& operator=(const WavSink&) = delete;

  loa::Status open(std::uint32_t rate, std::uint8_t channels) override;
  protocol::Micros output_latency_us() const override { return 0; }
  loa::Status write(std::span<const std::int16_t> samples) override;
  void close() override;

 private:
  runtime::Clock& clock_;
  std::string path_;
  std::FILE* file_ = nullptr;
  Pacer pacer_;
  std::uint32_t rate_ = 48000;
  std::uint8_t channels_ = 1;
  std::uint64_t data_bytes_ = 0;
};

}  // namespace loa::node
