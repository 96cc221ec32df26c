// One live broadcast on the controller (PROTOCOL.md, "Live stream"): PCM in, Opus out in chunks
// of a few 20 ms packets, each sealed and published at once (QoS 0) when its audio has been
// captured, then the end chunk and the archive as an ordinary bulletin.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loa/controller/audio.hpp"
#include "loa/controller/store.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::controller {

// Every packet of a live stream is 20 ms (PROTOCOL.md "Live stream": nodes key frames by
// sender_us + 20 ms per packet), whatever the bulletins' frame length.
inline constexpr std::uint16_t kLiveFrameMs = 20;

// What a finished live broadcast was.
struct LiveSummary {
  std::uint64_t bulletin_id = 0;  // = the stream id
  std::uint64_t occurrence_id = 0;
  Micros start_us = 0;  // sender instant of the first decoded sample
  Micros end_us = 0;    // sender instant after the last sample
  std::uint32_t chunks = 0;
  std::uint32_t packets = 0;
  double duration_s = 0;
  double cpu_s = 0;           // thread CPU time spent encoding, sealing and publishing
  std::string ended_by;       // "end of source" or why it was cut
  std::string archive_error;  // empty: archived as bulletin `bulletin_id`
};

// Used by one thread (the HTTP request's). Not copyable.
class LiveSession {
 public:
  struct Hooks {
    // Seals an AudioChunk body; publishes one sealed chunk on the stream's topic (QoS 0).
    std::function<protocol::Bytes(const protocol::Bytes& body)> seal;
    std::function<loa::Status(const protocol::Bytes& envelope)> publish;
    // Stores the archive and updates the occurrence once the stream ended.
    std::function<loa::Status(const LiveSummary& summary, const protocol::OpusStream& stream)>
        archive;
  };
  // `t0`: the capture instant of the first input sample; chunks go out paced by `clock` (a chunk
  // is published once the instant after its last sample has come). `prefix`: mono PCM at the
  // input rate, played first (the chime).
  LiveSession(std::uint64_t bulletin_id, std::uint64_t occurrence_id, Micros t0,
              std::unique_ptr<StreamEncoder> encoder, std::uint8_t channels,
              std::size_t packets_per_chunk, runtime::Clock& clock, Hooks hooks,
              const std::vector<float>& prefix);

  // Interleaved signed 16-bit little-endian PCM at the input rate and channel count (mixed down
  // to mono); any byte count (a split sample is kept for the next call).
  loa::Status push_s16le(protocol::ByteView bytes);
  // Flushes the encoder, publishes the rest and the end chunk, archives. `why`: what ended it.
  LiveSummary finish(const std::string& why);

  Micros start_us() const { return start_us_; }

 private:
  void encode(std::span<const float> mono);
  // Publishes full chunks (all of them with `all`).
  void publish_ready(bool all);
  void publish_chunk(std::vector<protocol::Bytes> packets);
  double cpu_now() const;

  std::uint64_t bulletin_id_;
  std::uint64_t occurrence_id_;
  Micros t0_;
  Micros start_us_;
  std::unique_ptr<StreamEncoder> encoder_;
  std::uint8_t channels_;
  std::size_t packets_per_chunk_;
  runtime::Clock& clock_;
  Hooks hooks_;
  protocol::Bytes carry_;  // bytes of a split frame
  std::vector<protocol::Bytes> pending_;
  std::vector<protocol::Bytes> archive_;
  std::uint32_t next_index_ = 0;
  std::uint64_t packets_sent_ = 0;
  double cpu_s_ = 0;
  loa::Status error_;
};

}  // namespace loa::controller
