// Cutting a bulletin's Opus stream into signed-manifest chunks, and putting it back together.
#pragma once

#include <cstdint>
#include <functional>
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

// Checks the chunks of one bulletin against its (already verified) manifest and tracks which
// have come. It keeps none: the caller stores the bodies (a node on disk, node::Spool) and hands
// them back in order to write the Ogg Opus file, so no whole bulletin is ever held in memory.
class BulletinAssembler {
 public:
  explicit BulletinAssembler(Manifest manifest);

  // Accepts a chunk body if its digest matches the manifest's entry for its index: returns that
  // index the first time, nullopt for a duplicate of an accepted chunk. The error says what did
  // not match.
  Result<std::optional<std::uint32_t>> add(ByteView chunk_body);
  // A chunk accepted before that the caller could not keep (its disk was full): missing again.
  void forget(std::uint32_t index);
  bool complete() const;
  std::vector<std::uint32_t> missing() const;
  const Manifest& manifest() const { return manifest_; }

  // The body of an accepted chunk, by index.
  using BodyOf = std::function<Result<Bytes>(std::uint32_t index)>;
  // Once complete: writes the bulletin as an Ogg Opus file (OggOpusWriter), taking the bodies in
  // index order from `body_of`; each is checked against its digest again.
  loa::Status write_ogg(const BodyOf& body_of, OggOpusWriter::Out out) const;

 private:
  Manifest manifest_;
  std::vector<bool> have_;
  std::size_t count_ = 0;
};

}  // namespace loa::protocol
