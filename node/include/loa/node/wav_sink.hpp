// A sink that writes one WAV file per playback: for tests, demos and checking what a node played.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "loa/node/pacer.hpp"
#include "loa/node/sink.hpp"

namespace loa::node {

// Writes 16-bit PCM WAV to `path`, paced in real time by `clock` (so a playback takes as long as
// its audio). The RIFF header's sizes are finalized by close(). Output latency 0.
class WavSink final : public Sink {
 public:
  // Names the file of each playback the sink is handed to by continue_with() (empty: it cannot
  // be handed over).
  using PathFor = std::function<std::string(std::uint64_t occurrence_id)>;

  WavSink(runtime::Clock& clock, std::string path, PathFor path_for = {});
  ~WavSink() override;
  WavSink(const WavSink&) = delete;
  WavSink& operator=(const WavSink&) = delete;

  loa::Status open(std::uint32_t rate, std::uint8_t channels) override;
  protocol::Micros output_latency_us() const override { return 0; }
  loa::Status write(std::span<const std::int16_t> samples) override;
  void close() override;
  // Finishes the current file and goes on in a new one (path_for), paced without a break.
  bool continue_with(std::uint64_t occurrence_id) override;

 private:
  // Writes the final header and closes the file; `sync`: fsync first.
  void finish_file(bool sync);

  runtime::Clock& clock_;
  std::string path_;
  PathFor path_for_;
  std::FILE* file_ = nullptr;
  Pacer pacer_;
  std::uint32_t rate_ = 48000;
  std::uint8_t channels_ = 1;
  std::uint64_t data_bytes_ = 0;
};

}  // namespace loa::node
