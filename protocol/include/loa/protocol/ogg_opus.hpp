// Ogg Opus files (RFC 7845) in memory, and decoding Opus packets to PCM.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loa/protocol/messages.hpp"

namespace loa::protocol {

inline constexpr std::uint32_t kOpusRate = 48000;
inline constexpr std::size_t kMaxOggFileSize = 64 * 1024 * 1024;
inline constexpr std::size_t kMaxOggPackets = 1 << 20;

// A mono or stereo Opus stream: its packets and what RFC 7845 says about them.
struct OpusStream {
  std::uint8_t channels = 1;
  std::uint16_t pre_skip = 0;
  std::uint32_t input_rate = 48000;  // informational (OpusHead)
  std::uint64_t total_samples = 0;   // 48 kHz samples after pre-skip, i.e. after end trimming
  std::vector<Bytes> packets;
  friend bool operator==(const OpusStream&, const OpusStream&) = default;
};

// Writes a standard Ogg Opus file: OpusHead, OpusTags (vendor "loa"), then audio pages with
// granule positions; the last page's granule = pre_skip + total_samples (end trimming).
// Fails on an empty stream, a malformed packet, total_samples beyond the packets' length, end
// trimming that would span more than the last page, or a file beyond kMaxOggFileSize.
Result<Bytes> write_ogg_opus(const OpusStream& stream, std::uint32_t serial = 0x6c6f6121);

// Reads an Ogg Opus file written by any conforming muxer (single logical stream). The error
// names the page or packet and byte offset that failed.
Result<OpusStream> read_ogg_opus(ByteView file);

// Samples (at 48 kHz, per channel) in one Opus packet, or an error for a malformed packet.
Result<std::uint32_t> opus_packet_samples(ByteView packet);

// Decodes Opus packets to 16-bit PCM at 48 kHz, one packet at a time, with packet-loss
// concealment. Not thread-safe; one per stream.
class OpusPcmDecoder {
 public:
  static Result<OpusPcmDecoder> create(std::uint8_t channels);
  OpusPcmDecoder(OpusPcmDecoder&&) noexcept;
  OpusPcmDecoder& operator=(OpusPcmDecoder&&) noexcept;
  ~OpusPcmDecoder();

  // Appends the packet's PCM (interleaved) to `out`; returns samples per channel appended.
  Result<std::uint32_t> decode(ByteView packet, std::vector<std::int16_t>& out);
  // Appends `samples` of concealment (a lost packet) to `out`.
  Result<std::uint32_t> conceal(std::uint32_t samples, std::vector<std::int16_t>& out);

 private:
  struct Impl;
  explicit OpusPcmDecoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Decodes a whole stream, dropping pre_skip and trimming to total_samples. This is "our decode":
// the node's player produces exactly these samples for a cached bulletin at unity volume.
Result<std::vector<std::int16_t>> decode_stream(const OpusStream& stream);

}  // namespace loa::protocol
