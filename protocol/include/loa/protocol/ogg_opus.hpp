// Ogg Opus files (RFC 7845), written and read a page at a time, and decoding Opus packets to PCM.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "loa/protocol/messages.hpp"

namespace loa::protocol {

inline constexpr std::uint32_t kOpusRate = 48000;
inline constexpr std::size_t kMaxOggFileSize = 64 * 1024 * 1024;
inline constexpr std::size_t kMaxOggPackets = 1 << 20;

// What a stream's OpusHead says, and its length (from the last page's granule position).
struct OpusStreamInfo {
  std::uint8_t channels = 1;
  std::uint16_t pre_skip = 0;
  std::uint32_t input_rate = 48000;  // informational (OpusHead)
  std::uint64_t total_samples = 0;   // 48 kHz samples after pre-skip, i.e. after end trimming
  friend bool operator==(const OpusStreamInfo&, const OpusStreamInfo&) = default;
};

// A mono or stereo Opus stream in memory: its packets and what RFC 7845 says about them.
struct OpusStream : OpusStreamInfo {
  std::vector<Bytes> packets;
  friend bool operator==(const OpusStream&, const OpusStream&) = default;
};

// Writes a standard Ogg Opus file a packet at a time, handing each finished page to `out`, so a
// bulletin of any length is written while holding about one page: OpusHead, OpusTags (vendor
// "loa"), then audio pages with granule positions; the last page's granule = pre_skip +
// total_samples (end trimming). Fails on a malformed packet, total_samples beyond the packets'
// length, end trimming that would span more than the last page, a file beyond kMaxOggFileSize,
// or an error from `out` (returned as is). After a failure the pages written so far are garbage.
class OggOpusWriter {
 public:
  using Out = std::function<loa::Status(ByteView page)>;
  // Checks `info` (1 or 2 channels, total_samples > 0) and writes the two header pages.
  static Result<OggOpusWriter> create(const OpusStreamInfo& info, Out out,
                                      std::uint32_t serial = 0x6c6f6121);
  OggOpusWriter(OggOpusWriter&&) noexcept;
  OggOpusWriter& operator=(OggOpusWriter&&) noexcept;
  ~OggOpusWriter();

  loa::Status add(ByteView packet);
  // Writes the last page (the packet given last carries the end of stream).
  loa::Status finish();

 private:
  struct Impl;
  explicit OggOpusWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A whole stream through OggOpusWriter. Also fails on an empty stream.
Result<Bytes> write_ogg_opus(const OpusStream& stream, std::uint32_t serial = 0x6c6f6121);

// Reads an Ogg Opus file written by any conforming muxer (single logical stream) packet by
// packet from `source`, holding about one page, and checks what read_ogg_opus checks: a page's
// packets are handed out once the whole page passed. Errors name the page or packet and the
// byte offset that failed.
class OggOpusReader {
 public:
  // Fills up to `size` bytes of `buffer`; returns how many, 0 at the end of the file.
  using Source = std::function<Result<std::size_t>(std::uint8_t* buffer, std::size_t size)>;
  // Reads the header pages and the first audio page: info() then has everything but
  // total_samples (or everything, for a stream of one audio page), and the first next() reads
  // nothing.
  static Result<OggOpusReader> open(Source source);
  OggOpusReader(OggOpusReader&&) noexcept;
  OggOpusReader& operator=(OggOpusReader&&) noexcept;
  ~OggOpusReader();

  // The next audio packet (valid until the next call), or nullopt once the whole stream has
  // been read and checked; info().total_samples is then known.
  Result<std::optional<ByteView>> next();
  const OpusStreamInfo& info() const;
  // Audio packets handed out so far.
  std::uint64_t packets() const;

 private:
  struct Impl;
  explicit OggOpusReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A source over bytes in memory (which must outlive the reader).
OggOpusReader::Source memory_source(ByteView bytes);

// Reads a whole source through OggOpusReader and keeps only its info (total_samples included):
// the check before playing a file packet by packet.
Result<OpusStreamInfo> check_ogg_opus(OggOpusReader::Source source);

// Reads a whole Ogg Opus file in memory through OggOpusReader.
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
