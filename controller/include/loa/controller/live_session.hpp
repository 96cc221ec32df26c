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

// A live stream's packets kept on disk until the stream is archived: an unnamed file (gone once
// closed), appended as packets are encoded and read back once at the end, so a stream of any
// length costs no memory. Not thread-safe.
class PacketSpool {
 public:
  // An unnamed file in `dir` (created if needed). The error names the directory.
  static Result<std::unique_ptr<PacketSpool>> create(const std::string& dir);
  ~PacketSpool();
  PacketSpool(const PacketSpool&) = delete;
  PacketSpool& operator=(const PacketSpool&) = delete;

  // A packet of 1..65535 bytes. The error says why it was not kept.
  loa::Status append(protocol::ByteView packet);
  // Hands every packet back in order; stops at the first error (returned as is).
  loa::Status for_each(const std::function<loa::Status(protocol::ByteView)>& f) const;
  std::uint64_t count() const { return count_; }

 private:
  explicit PacketSpool(int fd) : fd_(fd) {}
  int fd_;
  std::uint64_t count_ = 0;
  std::uint64_t size_ = 0;
};

// Used by one thread (the HTTP request's). Not copyable.
class LiveSession {
 public:
  struct Hooks {
    // Seals an AudioChunk body; publishes one sealed chunk on the stream's topic (QoS 0).
    std::function<protocol::Bytes(const protocol::Bytes& body)> seal;
    std::function<loa::Status(const protocol::Bytes& envelope)> publish;
    // Stores the archive (the stream `info`, its packets in `packets`) and updates the occurrence
    // once the stream ended.
    std::function<loa::Status(const LiveSummary& summary, const protocol::OpusStreamInfo& info,
                              const PacketSpool& packets)>
        archive;
  };
  // `t0`: the capture instant of the first input sample; chunks go out paced by `clock` (a chunk
  // is published once the instant after its last sample has come). `prefix`: mono PCM at the
  // input rate, played first (the chime). `spool`: where the packets are kept for the archive
  // (none: the stream is not archived). A failure to keep them ends the archive, not the stream.
  LiveSession(std::uint64_t bulletin_id, std::uint64_t occurrence_id, Micros t0,
              std::unique_ptr<StreamEncoder> encoder, std::uint8_t channels,
              std::size_t packets_per_chunk, runtime::Clock& clock, Hooks hooks,
              const std::vector<float>& prefix, std::unique_ptr<PacketSpool> spool);

  // Interleaved signed 16-bit little-endian PCM at the input rate and channel count (mixed down
  // to mono); any byte count (a split sample is kept for the next call).
  loa::Status push_s16le(protocol::ByteView bytes);
  // Flushes the encoder, publishes the rest and the end chunk, archives. `why`: what ended it.
  LiveSummary finish(const std::string& why);

  Micros start_us() const { return start_us_; }

 private:
  void encode(std::span<const float> mono);
  // Appends packets to the spool while it takes them.
  void keep(const std::vector<protocol::Bytes>& packets);
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
  std::unique_ptr<PacketSpool> spool_;
  std::string archive_error_;  // why the packets are not all kept
  std::uint32_t next_index_ = 0;
  std::uint64_t packets_sent_ = 0;
  double cpu_s_ = 0;
  loa::Status error_;
};

}  // namespace loa::controller
