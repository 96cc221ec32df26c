// Cutting a bulletin's Opus stream into signed-manifest chunks, and putting it back together.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/ogg_opus.hpp"

namespace loa::protocol {

inline constexpr std::size_t kPacketsPerChunk = 50;  // 1 s of 20 ms packets

// The manifest and the encoded AudioChunk bodies of one bulletin, ready to seal and publish.
struct PackagedBulletin {
  Manifest manifest;
  std::vector<Bytes> chunk_bodies;  // encode(AudioChunk) for index 0..n-1
};

// Fails if the stream is empty, has a packet of 0 or more than kMaxOpusPacket bytes, needs more
// than kMaxChunksPerBulletin chunks, or would make a chunk body larger than kMaxBodySize.
Result<PackagedBulletin> package_bulletin(std::uint64_t bulletin_id, const OpusStream& stream,
                                          std::uint32_t bitrate, std::uint16_t frame_ms = 20,
                                          std::size_t packets_per_chunk = kPacketsPerChunk);

// Collects the chunks of one bulletin against its (already verified) manifest.
class BulletinAssembler {
 public:
  explicit BulletinAssembler(Manifest manifest);

  // Accepts a chunk body if its digest matches the manifest's entry for its index.
  // A duplicate of an accepted chunk is ignored (ok). The error says what did not match.
  loa::Status add(ByteView chunk_body);
  bool complete() const;
  std::vector<std::uint32_t> missing() const;
  const Manifest& manifest() const { return manifest_; }
  // The whole stream, once complete.
  Result<OpusStream> stream() const;

 private:
  Manifest manifest_;
  std::vector<std::optional<AudioChunk>> chunks_;
  std::size_t have_ = 0;
};

}  // namespace loa::protocol
