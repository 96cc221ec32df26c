#include "loa/protocol/bulletin.hpp"

#include <algorithm>
#include <string>

#include "loa/protocol/envelope.hpp"

namespace loa::protocol {
namespace {

std::string hex_prefix(const Digest& d) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    out += hex[d[i] >> 4];
    out += hex[d[i] & 0xf];
  }
  return out;
}

}  // namespace

Result<PackagedBulletin> package_bulletin(std::uint64_t bulletin_id, const OpusStream& stream,
                                          std::uint32_t bitrate, std::uint16_t frame_ms,
                                          std::size_t packets_per_chunk) {
  const std::string what = "bulletin " + std::to_string(bulletin_id) + ": ";
  if (stream.packets.empty()) return make_error(what + "stream has no packets");
  if (stream.channels < 1 || stream.channels > 2) {
    return make_error(what + "unsupported channel count " + std::to_string(stream.channels));
  }
  if (packets_per_chunk < 1 || packets_per_chunk > kMaxPacketsPerChunk) {
    return make_error(what + "packets per chunk " + std::to_string(packets_per_chunk) +
                      " outside 1.." + std::to_string(kMaxPacketsPerChunk));
  }
  const std::size_t chunks = (stream.packets.size() + packets_per_chunk - 1) / packets_per_chunk;
  if (chunks > kMaxChunksPerBulletin) {
    return make_error(what + std::to_string(chunks) + " chunks exceed the limit of " +
                      std::to_string(kMaxChunksPerBulletin));
  }
  for (std::size_t i = 0; i < stream.packets.size(); ++i) {
    const std::size_t size = stream.packets[i].size();
    if (size < 1 || size > kMaxOpusPacket) {
      return make_error(what + "packet " + std::to_string(i) + " has " + std::to_string(size) +
                        " bytes (1.." + std::to_string(kMaxOpusPacket) + ")");
    }
  }

  PackagedBulletin out;
  out.manifest.bulletin_id = bulletin_id;
  out.manifest.sample_rate = kOpusRate;
  out.manifest.channels = stream.channels;
  out.manifest.frame_ms = frame_ms;
  out.manifest.bitrate = bitrate;
  out.manifest.pre_skip = stream.pre_skip;
  out.manifest.total_samples = stream.total_samples;
  out.manifest.chunk_digests.reserve(chunks);
  out.chunk_bodies.reserve(chunks);
  for (std::size_t c = 0; c < chunks; ++c) {
    AudioChunk chunk;
    chunk.stream_id = bulletin_id;
    chunk.index = static_cast<std::uint32_t>(c);
    const std::size_t first = c * packets_per_chunk;
    const std::size_t last = std::min(first + packets_per_chunk, stream.packets.size());
    chunk.packets.assign(stream.packets.begin() + static_cast<std::ptrdiff_t>(first),
                         stream.packets.begin() + static_cast<std::ptrdiff_t>(last));
    Bytes body = encode(chunk);
    if (body.size() > kMaxBodySize) {
      return make_error(what + "chunk " + std::to_string(c) + " would be " +
                        std::to_string(body.size()) + " bytes, above the body limit of " +
                        std::to_string(kMaxBodySize) + "; use fewer packets per chunk");
    }
    out.manifest.chunk_digests.push_back(sha256(body));
    out.chunk_bodies.push_back(std::move(body));
  }
  return out;
}

BulletinAssembler::BulletinAssembler(Manifest manifest)
    : manifest_(std::move(manifest)), have_(manifest_.chunk_digests.size(), false) {}

Result<std::optional<std::uint32_t>> BulletinAssembler::add(ByteView chunk_body) {
  const std::string what = "bulletin " + std::to_string(manifest_.bulletin_id) + ": ";
  auto chunk = decode_audio_chunk(chunk_body);
  if (!chunk) return make_error(what + chunk.error().message);
  if (chunk->stream_id != manifest_.bulletin_id) {
    return make_error(what + "chunk belongs to stream " + std::to_string(chunk->stream_id));
  }
  const std::uint32_t index = chunk->index;
  if (index >= have_.size()) {
    return make_error(what + "chunk index " + std::to_string(index) + " beyond the manifest's " +
                      std::to_string(have_.size()) + " chunks");
  }
  const Digest digest = sha256(chunk_body);
  if (digest != manifest_.chunk_digests[index]) {
    return make_error(what + "chunk " + std::to_string(index) + " digest " + hex_prefix(digest) +
                      "... does not match the manifest's " +
                      hex_prefix(manifest_.chunk_digests[index]) + "...");
  }
  if (have_[index]) return std::optional<std::uint32_t>{};
  have_[index] = true;
  ++count_;
  return std::optional<std::uint32_t>{index};
}

void BulletinAssembler::forget(std::uint32_t index) {
  if (index < have_.size() && have_[index]) {
    have_[index] = false;
    --count_;
  }
}

bool BulletinAssembler::complete() const {
  return count_ == have_.size();
}

std::vector<std::uint32_t> BulletinAssembler::missing() const {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < have_.size(); ++i) {
    if (!have_[i]) out.push_back(static_cast<std::uint32_t>(i));
  }
  return out;
}

loa::Status BulletinAssembler::write_ogg(const BodyOf& body_of, OggOpusWriter::Out out) const {
  const std::string what = "bulletin " + std::to_string(manifest_.bulletin_id) + ": ";
  if (!complete()) {
    return make_error(what + std::to_string(have_.size() - count_) + " of " +
                      std::to_string(have_.size()) + " chunks missing");
  }
  OpusStreamInfo info;
  info.channels = manifest_.channels;
  info.pre_skip = manifest_.pre_skip;
  info.input_rate = manifest_.sample_rate;
  info.total_samples = manifest_.total_samples;
  auto writer = OggOpusWriter::create(info, std::move(out));
  if (!writer) return make_error(what + writer.error().message);
  for (std::uint32_t i = 0; i < have_.size(); ++i) {
    auto body = body_of(i);
    if (!body) return make_error(what + "chunk " + std::to_string(i) + ": " + body.error().message);
    // Read back from storage: checked again, so a file damaged meanwhile is not cached.
    if (sha256(*body) != manifest_.chunk_digests[i]) {
      return make_error(what + "chunk " + std::to_string(i) +
                        " read back does not match the manifest's digest");
    }
    auto chunk = decode_audio_chunk(*body);
    if (!chunk) return make_error(what + chunk.error().message);
    for (const Bytes& packet : chunk->packets) {
      if (loa::Status s = writer->add(packet); !s) return make_error(what + s.message());
    }
  }
  if (loa::Status s = writer->finish(); !s) return make_error(what + s.message());
  return {};
}

}  // namespace loa::protocol
