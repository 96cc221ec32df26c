// Ogg Opus muxing and demuxing (RFC 7845) with libogg, and Opus decoding with libopus.
#include "loa/protocol/ogg_opus.hpp"

#include <ogg/ogg.h>
#include <opus.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>

namespace loa::protocol {
namespace {

constexpr std::size_t kOpusHeadSize = 19;          // mapping family 0: no channel mapping table
constexpr std::uint32_t kMaxPacketSamples = 5760;  // 120 ms at 48 kHz (RFC 6716)
constexpr std::uint32_t kPlcGranule = 120;         // PLC works in multiples of 2.5 ms
constexpr std::size_t kMaxCommentCount = 4096;
constexpr std::array<std::uint8_t, 8> kHeadMagic = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd'};
constexpr std::array<std::uint8_t, 8> kTagsMagic = {'O', 'p', 'u', 's', 'T', 'a', 'g', 's'};
constexpr std::string_view kVendor = "loa";

void put_le16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void put_le32(Bytes& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::uint16_t get_le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint32_t get_le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

bool has_magic(const ogg_packet& p, const std::array<std::uint8_t, 8>& magic) {
  return p.bytes >= 8 && std::memcmp(p.packet, magic.data(), magic.size()) == 0;
}

Bytes make_opus_head(const OpusStreamInfo& s) {
  Bytes head(kHeadMagic.begin(), kHeadMagic.end());
  head.push_back(1);  // version
  head.push_back(s.channels);
  put_le16(head, s.pre_skip);
  put_le32(head, s.input_rate);
  put_le16(head, 0);  // output gain
  head.push_back(0);  // channel mapping family 0: mono or stereo, one Opus stream
  return head;
}

Bytes make_opus_tags() {
  Bytes tags(kTagsMagic.begin(), kTagsMagic.end());
  put_le32(tags, static_cast<std::uint32_t>(kVendor.size()));
  tags.insert(tags.end(), kVendor.begin(), kVendor.end());
  put_le32(tags, 0);  // user comment count
  return tags;
}

// Owns an ogg_stream_state for the duration of one call.
class OggStream {
 public:
  explicit OggStream(int serial) { ogg_stream_init(&state_, serial); }
  OggStream(const OggStream&) = delete;
  OggStream& operator=(const OggStream&) = delete;
  ~OggStream() { ogg_stream_clear(&state_); }
  ogg_stream_state* get() { return &state_; }

 private:
  ogg_stream_state state_{};
};

// Owns an ogg_sync_state for the duration of one call.
class OggSync {
 public:
  OggSync() { ogg_sync_init(&state_); }
  OggSync(const OggSync&) = delete;
  OggSync& operator=(const OggSync&) = delete;
  ~OggSync() { ogg_sync_clear(&state_); }
  ogg_sync_state* get() { return &state_; }

 private:
  ogg_sync_state state_{};
};

void append_page(Bytes& out, const ogg_page& page) {
  out.insert(out.end(), page.header, page.header + page.header_len);
  out.insert(out.end(), page.body, page.body + page.body_len);
}

ogg_packet make_packet(const Bytes& data, ogg_int64_t granule, ogg_int64_t packetno, bool bos,
                       bool eos) {
  ogg_packet p{};
  // libogg copies the data in ogg_stream_packetin; it never writes through this pointer.
  p.packet = const_cast<unsigned char*>(data.data());
  p.bytes = static_cast<long>(data.size());
  p.b_o_s = bos ? 1 : 0;
  p.e_o_s = eos ? 1 : 0;
  p.granulepos = granule;
  p.packetno = packetno;
  return p;
}

std::string opus_error(int code) {
  return opus_strerror(code);
}

// The parsed identification header.
struct OpusHead {
  std::uint8_t channels = 0;
  std::uint16_t pre_skip = 0;
  std::uint32_t input_rate = 0;
};

Result<OpusHead> parse_opus_head(const ogg_packet& p, std::size_t offset) {
  const std::string where = "OpusHead (page 0 at byte offset " + std::to_string(offset) + ")";
  if (!has_magic(p, kHeadMagic)) return make_error("ogg: " + where + ": missing 'OpusHead' magic");
  if (p.bytes < static_cast<long>(kOpusHeadSize)) {
    return make_error("ogg: " + where + ": " + std::to_string(p.bytes) + " bytes, need 19");
  }
  const std::uint8_t version = p.packet[8];
  if ((version & 0xF0) != 0) {
    return make_error("ogg: " + where + ": unsupported version " + std::to_string(version));
  }
  OpusHead head;
  head.channels = p.packet[9];
  head.pre_skip = get_le16(p.packet + 10);
  head.input_rate = get_le32(p.packet + 12);
  const std::uint8_t family = p.packet[18];
  if (family != 0) {
    return make_error("ogg: " + where + ": channel mapping family " + std::to_string(family) +
                      " not supported (only family 0, mono or stereo)");
  }
  if (head.channels < 1 || head.channels > 2) {
    return make_error("ogg: " + where + ": " + std::to_string(head.channels) +
                      " channels with mapping family 0 (need 1 or 2)");
  }
  return head;
}

loa::Status check_opus_tags(const ogg_packet& p, std::size_t offset) {
  const std::string where = "OpusTags (page ending at byte offset " + std::to_string(offset) + ")";
  if (!has_magic(p, kTagsMagic)) return make_error("ogg: " + where + ": missing 'OpusTags' magic");
  const auto size = static_cast<std::size_t>(p.bytes);
  std::size_t pos = 8;
  auto read_len = [&](const char* what) -> Result<std::uint32_t> {
    if (size - pos < 4) {
      return make_error("ogg: " + where + ": truncated at " + what + " (packet byte " +
                        std::to_string(pos) + ")");
    }
    const std::uint32_t v = get_le32(p.packet + pos);
    pos += 4;
    return v;
  };
  auto vendor_len = read_len("vendor length");
  if (!vendor_len) return vendor_len.error();
  if (*vendor_len > size - pos) {
    return make_error("ogg: " + where + ": vendor length " + std::to_string(*vendor_len) +
                      " beyond the packet");
  }
  pos += *vendor_len;
  auto count = read_len("comment count");
  if (!count) return count.error();
  if (*count > kMaxCommentCount) {
    return make_error("ogg: " + where + ": " + std::to_string(*count) + " comments (cap " +
                      std::to_string(kMaxCommentCount) + ")");
  }
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto len = read_len("comment length");
    if (!len) return len.error();
    if (*len > size - pos) {
      return make_error("ogg: " + where + ": comment " + std::to_string(i) + " length " +
                        std::to_string(*len) + " beyond the packet");
    }
    pos += *len;
  }
  // Bytes after the comments are allowed (RFC 7845 5.2: padding or binary data).
  return loa::Status::success();
}

// Whether the page's last segment leaves a packet unfinished (lacing value 255).
bool page_ends_mid_packet(const ogg_page& page) {
  const int segments = page.header[26];
  return segments > 0 && page.header[27 + segments - 1] == 255;
}

}  // namespace

Result<std::uint32_t> opus_packet_samples(ByteView packet) {
  if (packet.empty()) return make_error("opus: empty packet");
  if (packet.size() > kMaxOpusPacket * 48) {
    return make_error("opus: packet of " + std::to_string(packet.size()) + " bytes is too long");
  }
  const auto len = static_cast<opus_int32>(packet.size());
  const int samples =
      opus_packet_get_nb_samples(packet.data(), len, static_cast<opus_int32>(kOpusRate));
  if (samples <= 0) {
    return make_error("opus: malformed packet (" + std::to_string(packet.size()) +
                      " bytes): " + opus_error(samples < 0 ? samples : OPUS_INVALID_PACKET));
  }
  unsigned char toc = 0;
  std::array<const unsigned char*, 48> frames{};
  std::array<opus_int16, 48> sizes{};
  int payload_offset = 0;
  const int count =
      opus_packet_parse(packet.data(), len, &toc, frames.data(), sizes.data(), &payload_offset);
  if (count < 0) {
    return make_error("opus: malformed packet (" + std::to_string(packet.size()) +
                      " bytes): " + opus_error(count));
  }
  if (static_cast<std::uint32_t>(samples) > kMaxPacketSamples) {
    return make_error("opus: packet of " + std::to_string(samples) + " samples exceeds 120 ms");
  }
  return static_cast<std::uint32_t>(samples);
}

struct OggOpusWriter::Impl {
  explicit Impl(std::uint32_t serial) : os(static_cast<int>(serial)) {}

  // Hands every complete page (flush: also the partial one) to `out`; counts them in `pages`.
  loa::Status drain(bool flush, int* pages = nullptr) {
    ogg_page page;
    while ((flush ? ogg_stream_flush(os.get(), &page) : ogg_stream_pageout(os.get(), &page)) != 0) {
      scratch.clear();
      append_page(scratch, page);
      written += scratch.size();
      if (written > kMaxOggFileSize) {
        return make_error("ogg write: file of more than " + std::to_string(written - 1) +
                          " bytes exceeds the cap of " + std::to_string(kMaxOggFileSize) +
                          " that readers enforce");
      }
      if (loa::Status s = out(scratch); !s) return s;
      if (pages) ++*pages;
    }
    return {};
  }

  // Puts the held packet into the stream; `last` marks the end of stream.
  loa::Status emit(bool last) {
    const std::size_t i = count - 1;  // index of the held packet
    if (!in_tail && held_end > final_granule) {
      // End trimming is only valid on the last page, so every packet that ends beyond the final
      // granule must share that page: flush before the first of them.
      if (loa::Status s = drain(true); !s) return s;
      in_tail = true;
      tail_start = i;
    }
    const auto granule = static_cast<ogg_int64_t>(last ? final_granule : held_end);
    ogg_packet p = make_packet(held, granule, static_cast<ogg_int64_t>(i + 2), false, last);
    ogg_stream_packetin(os.get(), &p);
    return in_tail ? loa::Status{} : drain(false);
  }

  OggStream os;
  Out out;
  Bytes scratch;
  std::uint64_t written = 0;  // bytes handed to `out`
  std::uint64_t final_granule = 0;
  std::uint64_t cumulative = 0;  // samples of the packets added so far
  std::size_t count = 0;         // packets added so far
  Bytes held;                    // the last packet added, not yet in the stream
  std::uint64_t held_end = 0;    // its end, in samples
  bool in_tail = false;
  std::size_t tail_start = 0;
  bool finished = false;
};

OggOpusWriter::OggOpusWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OggOpusWriter::OggOpusWriter(OggOpusWriter&&) noexcept = default;
OggOpusWriter& OggOpusWriter::operator=(OggOpusWriter&&) noexcept = default;
OggOpusWriter::~OggOpusWriter() = default;

Result<OggOpusWriter> OggOpusWriter::create(const OpusStreamInfo& info, Out out,
                                            std::uint32_t serial) {
  if (info.total_samples == 0) return make_error("ogg write: stream has no samples");
  if (info.channels < 1 || info.channels > 2) {
    return make_error("ogg write: " + std::to_string(info.channels) +
                      " channels (mapping family 0 needs 1 or 2)");
  }
  auto impl = std::make_unique<Impl>(serial);
  impl->out = std::move(out);
  impl->final_granule = info.pre_skip + info.total_samples;
  const Bytes head = make_opus_head(info);
  const Bytes tags = make_opus_tags();
  ogg_packet p = make_packet(head, 0, 0, true, false);
  ogg_stream_packetin(impl->os.get(), &p);
  if (loa::Status s = impl->drain(true); !s) return Error{s.message()};
  p = make_packet(tags, 0, 1, false, false);
  ogg_stream_packetin(impl->os.get(), &p);
  if (loa::Status s = impl->drain(true); !s) return Error{s.message()};
  return OggOpusWriter(std::move(impl));
}

loa::Status OggOpusWriter::add(ByteView packet) {
  Impl& w = *impl_;
  if (w.finished) return make_error("ogg write: packet added after the end of stream");
  if (w.count >= kMaxOggPackets) {
    return make_error("ogg write: more than " + std::to_string(kMaxOggPackets) + " packets");
  }
  auto samples = opus_packet_samples(packet);
  if (!samples) {
    return make_error("ogg write: packet " + std::to_string(w.count) + ": " +
                      samples.error().message);
  }
  if (w.count > 0) {
    if (loa::Status s = w.emit(false); !s) return s;
  }
  w.held.assign(packet.begin(), packet.end());
  w.cumulative += *samples;
  w.held_end = w.cumulative;
  ++w.count;
  return {};
}

loa::Status OggOpusWriter::finish() {
  Impl& w = *impl_;
  if (w.finished) return make_error("ogg write: finished twice");
  w.finished = true;
  if (w.count == 0) return make_error("ogg write: stream has no packets");
  if (w.final_granule > w.cumulative) {
    return make_error("ogg write: pre_skip + total_samples = " + std::to_string(w.final_granule) +
                      " exceeds the packets' " + std::to_string(w.cumulative) + " samples");
  }
  if (loa::Status s = w.emit(true); !s) return s;
  int tail_pages = 0;
  if (loa::Status s = w.drain(true, &tail_pages); !s) return s;
  if (w.in_tail && tail_pages > 1) {
    return make_error("ogg write: end trimming of " +
                      std::to_string(w.cumulative - w.final_granule) + " samples spans packets " +
                      std::to_string(w.tail_start) + ".." + std::to_string(w.count - 1) +
                      ", more than one page");
  }
  return {};
}

Result<Bytes> write_ogg_opus(const OpusStream& stream, std::uint32_t serial) {
  if (stream.packets.empty()) return make_error("ogg write: stream has no packets");
  Bytes out;
  auto writer = OggOpusWriter::create(
      stream,
      [&](ByteView page) {
        out.insert(out.end(), page.begin(), page.end());
        return loa::Status{};
      },
      serial);
  if (!writer) return writer.error();
  for (const Bytes& packet : stream.packets) {
    if (loa::Status s = writer->add(packet); !s) return Error{s.message()};
  }
  if (loa::Status s = writer->finish(); !s) return Error{s.message()};
  return out;
}

struct OggOpusReader::Impl {
  // Reads and checks the next page into the packet queue; false once the source is exhausted
  // and the whole stream checked.
  Result<bool> read_page();
  // Feeds the sync layer; false at the end of the source.
  Result<bool> feed();
  loa::Status finish();

  Source source;
  OggSync sync;
  std::optional<OggStream> os;
  OpusStreamInfo info;
  long serial = 0;
  long expected_pageno = 0;
  std::uint64_t fed = 0;          // bytes taken from the source
  std::uint64_t offset = 0;       // byte offset of the page being read
  std::int64_t packet_index = 0;  // 0 = OpusHead, 1 = OpusTags, then audio
  bool saw_eos = false;
  bool tags_done = false;
  bool ended = false;                // the source is exhausted and the stream checked
  std::uint64_t cumulative = 0;      // samples in the audio packets so far
  std::int64_t last_granule = -1;    // granule of the last page that completed a packet
  std::optional<std::int64_t> base;  // granule at the start of the audio (normally 0)
  std::uint64_t audio_packets = 0;   // audio packets read from pages
  std::uint64_t handed_out = 0;
  // The audio packets of the last page read, handed out one by one.
  Bytes page_data;
  std::vector<std::size_t> page_ends;
  std::size_t page_next = 0;
};

Result<bool> OggOpusReader::Impl::feed() {
  constexpr std::size_t kRead = 16 * 1024;
  char* buffer = ogg_sync_buffer(sync.get(), static_cast<long>(kRead));
  if (buffer == nullptr) return make_error("ogg: cannot allocate the sync buffer");
  auto got = source(reinterpret_cast<std::uint8_t*>(buffer), kRead);
  if (!got) return got.error();
  if (*got == 0) return false;
  fed += *got;
  if (fed > kMaxOggFileSize) {
    return make_error("ogg: file of more than " + std::to_string(kMaxOggFileSize) +
                      " bytes exceeds the cap of " + std::to_string(kMaxOggFileSize));
  }
  ogg_sync_wrote(sync.get(), static_cast<long>(*got));
  return true;
}

Result<bool> OggOpusReader::Impl::read_page() {
  if (ended) return false;
  ogg_page page;
  long seek = 0;
  while ((seek = ogg_sync_pageseek(sync.get(), &page)) == 0) {
    auto more = feed();
    if (!more) return more.error();
    if (*more) continue;
    if (fed == 0) return make_error("ogg: empty file");
    if (fed > offset) {
      return make_error("ogg: truncated page at byte offset " + std::to_string(offset) + " (" +
                        std::to_string(fed - offset) + " bytes left)");
    }
    if (loa::Status s = finish(); !s) return Error{s.message()};
    ended = true;
    return false;
  }
  if (seek < 0) {
    return make_error("ogg: no valid page at byte offset " + std::to_string(offset) +
                      " (bad capture pattern, header or checksum)");
  }
  const std::uint64_t page_offset = offset;
  offset += static_cast<std::uint64_t>(seek);
  const long pageno = ogg_page_pageno(&page);
  const std::string where =
      "page " + std::to_string(pageno) + " at byte offset " + std::to_string(page_offset);
  if (saw_eos) return make_error("ogg: " + where + ": data after the end-of-stream page");
  if (!os) {
    if (ogg_page_bos(&page) == 0) {
      return make_error("ogg: " + where + ": first page is not a beginning-of-stream page");
    }
    serial = ogg_page_serialno(&page);
    os.emplace(static_cast<int>(serial));
  } else {
    if (ogg_page_serialno(&page) != serial) {
      return make_error("ogg: " + where + ": second logical stream (serial " +
                        std::to_string(ogg_page_serialno(&page)) +
                        "); only one stream is supported");
    }
    if (ogg_page_bos(&page) != 0) {
      return make_error("ogg: " + where + ": unexpected beginning-of-stream flag");
    }
  }
  if (pageno != expected_pageno) {
    return make_error("ogg: " + where + ": expected page " + std::to_string(expected_pageno) +
                      " (page lost or reordered)");
  }
  ++expected_pageno;
  if (ogg_stream_pagein(os->get(), &page) != 0) {
    return make_error("ogg: " + where + ": page rejected by the stream");
  }
  saw_eos = ogg_page_eos(&page) != 0;

  page_data.clear();
  page_ends.clear();
  page_next = 0;
  const std::int64_t first_on_page = packet_index;
  std::uint64_t page_samples = 0;
  int page_packets = 0;
  ogg_packet packet;
  for (;;) {
    const int got = ogg_stream_packetout(os->get(), &packet);
    if (got == 0) break;
    if (got < 0) {
      return make_error("ogg: " + where + ": gap in the data before packet " +
                        std::to_string(packet_index));
    }
    ++page_packets;
    if (packet_index == 0) {
      auto head = parse_opus_head(packet, page_offset);
      if (!head) return head.error();
      info.channels = head->channels;
      info.pre_skip = head->pre_skip;
      info.input_rate = head->input_rate;
    } else if (packet_index == 1) {
      auto tags = check_opus_tags(packet, offset);
      if (!tags) return make_error(tags.message());
      tags_done = true;
    } else {
      if (audio_packets >= kMaxOggPackets) {
        return make_error("ogg: " + where + ": more than " + std::to_string(kMaxOggPackets) +
                          " packets");
      }
      const ByteView data(packet.packet, static_cast<std::size_t>(packet.bytes));
      auto samples = opus_packet_samples(data);
      if (!samples) {
        return make_error("ogg: " + where + ": audio packet " + std::to_string(packet_index - 2) +
                          ": " + samples.error().message);
      }
      page_samples += *samples;
      page_data.insert(page_data.end(), data.begin(), data.end());
      page_ends.push_back(page_data.size());
      ++audio_packets;
    }
    ++packet_index;
  }

  if (pageno == 0) {
    if (page_packets != 1 || page_ends_mid_packet(page)) {
      return make_error("ogg: " + where + ": the first page must hold exactly the OpusHead packet");
    }
    if (ogg_page_granulepos(&page) != 0) {
      return make_error("ogg: " + where + ": OpusHead page granule position must be 0");
    }
    return true;
  }
  if (first_on_page < 2) {
    // Header pages: the OpusTags packet must end its page, audio starts on a fresh page.
    if (packet_index > 2 || (packet_index == 2 && page_ends_mid_packet(page))) {
      return make_error("ogg: " + where + ": audio data must start on a fresh page after OpusTags");
    }
    if (saw_eos) return make_error("ogg: " + where + ": stream ends before any audio packet");
    return true;
  }
  cumulative += page_samples;
  if (page_samples == 0) {
    if (saw_eos && page_ends_mid_packet(page)) {
      return make_error("ogg: " + where + ": last packet is incomplete");
    }
    return true;  // page completes no packet: granule position is -1
  }
  const std::int64_t granule = ogg_page_granulepos(&page);
  if (granule < 0) {
    return make_error("ogg: " + where + ": invalid granule position " + std::to_string(granule));
  }
  if (!base) {
    // A stream may start at a non-zero granule (RFC 7845 4.), but only the last page may trim
    // samples.
    if (static_cast<std::uint64_t>(granule) < page_samples && !saw_eos) {
      return make_error("ogg: " + where + ": granule position " + std::to_string(granule) +
                        " is less than the page's " + std::to_string(page_samples) + " samples");
    }
    base = saw_eos ? 0 : granule - static_cast<std::int64_t>(page_samples);
  }
  if (granule < last_granule) {
    return make_error("ogg: " + where + ": granule position " + std::to_string(granule) +
                      " goes back from " + std::to_string(last_granule));
  }
  const auto expected = static_cast<std::int64_t>(cumulative) + *base;
  if (granule > expected || (!saw_eos && granule != expected)) {
    return make_error("ogg: " + where + ": granule position " + std::to_string(granule) +
                      " does not match the " + std::to_string(cumulative) +
                      " samples of the packets so far");
  }
  last_granule = granule;
  if (saw_eos && page_ends_mid_packet(page)) {
    return make_error("ogg: " + where + ": last packet is incomplete");
  }
  if (saw_eos) {
    // The end of the stream is known: its length, before the last page's packets go out.
    const std::int64_t played = last_granule - *base;
    if (played <= static_cast<std::int64_t>(info.pre_skip)) {
      return make_error("ogg: final granule position " + std::to_string(last_granule) +
                        " leaves no samples after pre-skip " + std::to_string(info.pre_skip));
    }
    info.total_samples = static_cast<std::uint64_t>(played) - info.pre_skip;
  }
  return true;
}

loa::Status OggOpusReader::Impl::finish() {
  if (!os) return make_error("ogg: no page found");
  if (!tags_done) return make_error("ogg: stream ends before the OpusTags header");
  if (audio_packets == 0) return make_error("ogg: stream has no audio packets");
  if (!saw_eos) {
    return make_error("ogg: no end-of-stream page (file truncated after byte offset " +
                      std::to_string(offset) + "?)");
  }
  return {};
}

OggOpusReader::OggOpusReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OggOpusReader::OggOpusReader(OggOpusReader&&) noexcept = default;
OggOpusReader& OggOpusReader::operator=(OggOpusReader&&) noexcept = default;
OggOpusReader::~OggOpusReader() = default;

Result<OggOpusReader> OggOpusReader::open(Source source) {
  auto impl = std::make_unique<Impl>();
  impl->source = std::move(source);
  // The headers, then the first page with audio: a player opens its file ahead of the instant,
  // and its first packet then costs no read (100 players starting together on one thread under
  // qemu started up to 38 ms late when each first read a page at the instant).
  while (!impl->tags_done || impl->page_ends.empty()) {
    auto more = impl->read_page();
    if (!more) return more.error();
    if (!*more) break;  // the end: finish() passed, so there were audio packets
  }
  return OggOpusReader(std::move(impl));
}

Result<std::optional<ByteView>> OggOpusReader::next() {
  Impl& r = *impl_;
  while (r.page_next == r.page_ends.size()) {
    auto more = r.read_page();
    if (!more) return more.error();
    if (!*more) return std::optional<ByteView>{};
  }
  const std::size_t from = r.page_next == 0 ? 0 : r.page_ends[r.page_next - 1];
  const std::size_t to = r.page_ends[r.page_next++];
  ++r.handed_out;
  return std::optional<ByteView>{ByteView(r.page_data.data() + from, to - from)};
}

const OpusStreamInfo& OggOpusReader::info() const {
  return impl_->info;
}

std::uint64_t OggOpusReader::packets() const {
  return impl_->handed_out;
}

OggOpusReader::Source memory_source(ByteView bytes) {
  return [bytes, at = std::size_t{0}](std::uint8_t* buffer,
                                      std::size_t size) mutable -> Result<std::size_t> {
    const std::size_t n = std::min(size, bytes.size() - at);
    if (n > 0) std::memcpy(buffer, bytes.data() + at, n);  // data() may be null when empty
    at += n;
    return n;
  };
}

Result<OpusStreamInfo> check_ogg_opus(OggOpusReader::Source source) {
  auto reader = OggOpusReader::open(std::move(source));
  if (!reader) return reader.error();
  for (;;) {
    auto packet = reader->next();
    if (!packet) return packet.error();
    if (!*packet) return reader->info();
  }
}

Result<OpusStream> read_ogg_opus(ByteView file) {
  if (file.size() > kMaxOggFileSize) {
    return make_error("ogg: file of " + std::to_string(file.size()) + " bytes exceeds the cap of " +
                      std::to_string(kMaxOggFileSize));
  }
  auto reader = OggOpusReader::open(memory_source(file));
  if (!reader) return reader.error();
  OpusStream result;
  for (;;) {
    auto packet = reader->next();
    if (!packet) return packet.error();
    if (!*packet) break;
    result.packets.emplace_back((*packet)->begin(), (*packet)->end());
  }
  static_cast<OpusStreamInfo&>(result) = reader->info();
  return result;
}

struct OpusPcmDecoder::Impl {
  OpusDecoder* decoder = nullptr;
  int channels = 1;
  ~Impl() {
    if (decoder != nullptr) opus_decoder_destroy(decoder);
  }
};

OpusPcmDecoder::OpusPcmDecoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OpusPcmDecoder::OpusPcmDecoder(OpusPcmDecoder&&) noexcept = default;
OpusPcmDecoder& OpusPcmDecoder::operator=(OpusPcmDecoder&&) noexcept = default;
OpusPcmDecoder::~OpusPcmDecoder() = default;

Result<OpusPcmDecoder> OpusPcmDecoder::create(std::uint8_t channels) {
  if (channels < 1 || channels > 2) {
    return make_error("opus: cannot decode " + std::to_string(channels) + " channels (1 or 2)");
  }
  auto impl = std::make_unique<Impl>();
  int err = OPUS_OK;
  impl->decoder = opus_decoder_create(static_cast<opus_int32>(kOpusRate), channels, &err);
  if (err != OPUS_OK || impl->decoder == nullptr) {
    return make_error("opus: cannot create decoder: " + opus_error(err));
  }
  impl->channels = channels;
  return OpusPcmDecoder(std::move(impl));
}

Result<std::uint32_t> OpusPcmDecoder::decode(ByteView packet, std::vector<std::int16_t>& out) {
  auto samples = opus_packet_samples(packet);
  if (!samples) return samples.error();
  const std::size_t old = out.size();
  out.resize(old + static_cast<std::size_t>(*samples) * static_cast<std::size_t>(impl_->channels));
  const int got = opus_decode(impl_->decoder, packet.data(), static_cast<opus_int32>(packet.size()),
                              out.data() + old, static_cast<int>(*samples), 0);
  if (got < 0) {
    out.resize(old);
    return make_error("opus: decode failed: " + opus_error(got));
  }
  out.resize(old + static_cast<std::size_t>(got) * static_cast<std::size_t>(impl_->channels));
  return static_cast<std::uint32_t>(got);
}

Result<std::uint32_t> OpusPcmDecoder::conceal(std::uint32_t samples,
                                              std::vector<std::int16_t>& out) {
  if (samples == 0 || samples % kPlcGranule != 0) {
    return make_error("opus: concealment of " + std::to_string(samples) +
                      " samples (need a positive multiple of 120, 2.5 ms)");
  }
  const std::size_t old = out.size();
  const auto channels = static_cast<std::size_t>(impl_->channels);
  out.resize(old + static_cast<std::size_t>(samples) * channels);
  std::uint32_t done = 0;
  while (done < samples) {
    const std::uint32_t step = std::min(samples - done, kMaxPacketSamples);
    const int got = opus_decode(impl_->decoder, nullptr, 0, out.data() + old + done * channels,
                                static_cast<int>(step), 0);
    if (got <= 0) {
      out.resize(old);
      return make_error("opus: concealment failed: " +
                        opus_error(got < 0 ? got : OPUS_INTERNAL_ERROR));
    }
    done += static_cast<std::uint32_t>(got);
  }
  return samples;
}

Result<std::vector<std::int16_t>> decode_stream(const OpusStream& stream) {
  auto decoder = OpusPcmDecoder::create(stream.channels);
  if (!decoder) return decoder.error();
  std::vector<std::int16_t> pcm;
  for (std::size_t i = 0; i < stream.packets.size(); ++i) {
    auto got = decoder->decode(stream.packets[i], pcm);
    if (!got) return make_error("packet " + std::to_string(i) + ": " + got.error().message);
  }
  const std::size_t channels = stream.channels;
  const std::size_t decoded = pcm.size() / channels;
  if (decoded < stream.pre_skip + stream.total_samples) {
    return make_error("opus: stream decodes to " + std::to_string(decoded) +
                      " samples, fewer than pre_skip " + std::to_string(stream.pre_skip) +
                      " + total_samples " + std::to_string(stream.total_samples));
  }
  const auto skip = static_cast<std::ptrdiff_t>(stream.pre_skip * channels);
  pcm.erase(pcm.begin(), pcm.begin() + skip);
  pcm.resize(static_cast<std::size_t>(stream.total_samples) * channels);
  return pcm;
}

}  // namespace loa::protocol
