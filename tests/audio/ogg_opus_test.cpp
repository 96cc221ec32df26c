// Ogg Opus writer, reader, decoder: round trips, malformed input, and interop with opus-tools.
#include "loa/protocol/ogg_opus.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opus.h>
#include <sndfile.h>

#include <algorithm>

#include "audio_test_util.hpp"

namespace loa::protocol {
namespace {

using test_audio::fix_page_crc;
using test_audio::page_offsets;
using test_audio::page_size;
using ::testing::HasSubstr;

// 1.2 s of a 440 Hz sine plus a 3 kHz tone: not a whole number of 20 ms frames, so the last
// page trims samples.
OpusStream test_stream(int channels = 1) {
  auto pcm = test_audio::sine(48000, channels, 1.2 + 123.0 / 48000, 440, 0.3);
  auto high = test_audio::sine(48000, channels, 1.2 + 123.0 / 48000, 3000, 0.1);
  for (std::size_t i = 0; i < pcm.size(); ++i) pcm[i] += high[i];
  return test_audio::encode_with_libopus(pcm, channels);
}

Bytes test_file(const OpusStream& s) {
  auto file = write_ogg_opus(s);
  EXPECT_TRUE(file.ok()) << file.error().message;
  return file.ok() ? *file : Bytes{};
}

TEST(OggOpus, RoundTripMono) {
  const OpusStream s = test_stream();
  const Bytes file = test_file(s);
  auto back = read_ogg_opus(file);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->total_samples, 57723u);
}

TEST(OggOpus, RoundTripStereo) {
  const OpusStream s = test_stream(2);
  auto back = read_ogg_opus(test_file(s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
}

TEST(OggOpus, EndTrimmingAcrossSeveralPackets) {
  // Trimming more than one packet: the trimmed packets all go on the last page.
  OpusStream s = test_stream();
  s.total_samples -= 2500;
  const Bytes file = test_file(s);
  auto back = read_ogg_opus(file);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  auto pcm = decode_stream(*back);
  ASSERT_TRUE(pcm.ok());
  EXPECT_EQ(pcm->size(), s.total_samples);
  // Trimming more than fits one page is refused rather than written as an invalid file.
  OpusStream too_much = s;
  too_much.total_samples = 10;
  auto refused = write_ogg_opus(too_much);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("more than one page"));
}

TEST(OggOpus, LayoutFollowsRfc7845) {
  const OpusStream s = test_stream();
  const Bytes file = test_file(s);
  const auto pages = page_offsets(file);
  ASSERT_GE(pages.size(), 3u);
  // Page 0: BOS, exactly the 19-byte OpusHead, granule 0.
  EXPECT_EQ(file[pages[0] + 5], 0x02);
  EXPECT_EQ(file[pages[0] + 26], 1);
  EXPECT_EQ(file[pages[0] + 27], 19);
  EXPECT_EQ(std::string(file.begin() + 28, file.begin() + 36), "OpusHead");
  EXPECT_EQ(file[pages[0] + 36], 1);  // version
  EXPECT_EQ(file[pages[0] + 46], 0);  // mapping family
  // Page 1: OpusTags alone, vendor "loa".
  EXPECT_EQ(file[pages[1] + 26], 1);
  const std::size_t tags = pages[1] + 28;
  EXPECT_EQ(std::string(file.begin() + static_cast<long>(tags),
                        file.begin() + static_cast<long>(tags) + 8),
            "OpusTags");
  EXPECT_EQ(std::string(file.begin() + static_cast<long>(tags) + 12,
                        file.begin() + static_cast<long>(tags) + 15),
            "loa");
  // Last page: EOS with granule = pre_skip + total_samples.
  const std::size_t last = pages.back();
  EXPECT_EQ(file[last + 5] & 0x04, 0x04);
  std::uint64_t granule = 0;
  for (int i = 7; i >= 0; --i)
    granule = (granule << 8) | file[last + 6 + static_cast<std::size_t>(i)];
  EXPECT_EQ(granule, s.pre_skip + s.total_samples);
  EXPECT_EQ(pages.back() + page_size(file, pages.back()), file.size());
}

TEST(OggOpus, DecodeStreamHasTotalSamplesAndDropsPreSkip) {
  const OpusStream s = test_stream();
  auto pcm = decode_stream(s);
  ASSERT_TRUE(pcm.ok()) << pcm.error().message;
  EXPECT_EQ(pcm->size(), s.total_samples);
  // The same as decoding packet by packet and cutting by hand.
  auto decoder = OpusPcmDecoder::create(1);
  ASSERT_TRUE(decoder.ok());
  std::vector<std::int16_t> all;
  for (const auto& p : s.packets) ASSERT_TRUE(decoder->decode(p, all).ok());
  ASSERT_GE(all.size(), s.pre_skip + s.total_samples);
  EXPECT_TRUE(std::equal(pcm->begin(), pcm->end(), all.begin() + s.pre_skip));
  // A 440 Hz tone at -10 dBFS peak is audible, not silence.
  EXPECT_GT(test_audio::rms_dbfs(*pcm), -20.0);
  auto stereo = decode_stream(test_stream(2));
  ASSERT_TRUE(stereo.ok());
  EXPECT_EQ(stereo->size(), 2 * test_stream(2).total_samples);
}

TEST(OggOpus, PacketSamplesAndConcealment) {
  const OpusStream s = test_stream();
  auto n = opus_packet_samples(s.packets[0]);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 960u);
  EXPECT_FALSE(opus_packet_samples(Bytes{}).ok());
  // Code 3 packet (TOC low bits 11) without its frame count byte is malformed.
  auto bad = opus_packet_samples(Bytes{0x03});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("malformed packet"));

  auto decoder = OpusPcmDecoder::create(1);
  ASSERT_TRUE(decoder.ok());
  std::vector<std::int16_t> out;
  ASSERT_TRUE(decoder->decode(s.packets[0], out).ok());
  auto concealed = decoder->conceal(960, out);
  ASSERT_TRUE(concealed.ok()) << concealed.error().message;
  EXPECT_EQ(out.size(), 1920u);
  ASSERT_TRUE(decoder->conceal(12000, out).ok());  // more than 120 ms at once
  EXPECT_EQ(out.size(), 13920u);
  EXPECT_FALSE(decoder->conceal(100, out).ok());  // not a multiple of 2.5 ms
  EXPECT_FALSE(decoder->decode(Bytes{}, out).ok());
  EXPECT_FALSE(OpusPcmDecoder::create(3).ok());
}

TEST(OggOpus, WriterRefusesBadStreams) {
  OpusStream s = test_stream();
  OpusStream empty = s;
  empty.packets.clear();
  EXPECT_THAT(write_ogg_opus(empty).error().message, HasSubstr("no packets"));
  OpusStream too_long = s;
  too_long.total_samples = s.packets.size() * 960;
  EXPECT_THAT(write_ogg_opus(too_long).error().message, HasSubstr("exceeds the packets"));
  OpusStream malformed = s;
  malformed.packets[5] = Bytes{0x03};
  EXPECT_THAT(write_ogg_opus(malformed).error().message, HasSubstr("packet 5"));
  OpusStream channels = s;
  channels.channels = 3;
  EXPECT_THAT(write_ogg_opus(channels).error().message, HasSubstr("3 channels"));
  // A file the reader would refuse is not written: 1275-byte packets (padded) beyond 64 MiB.
  Bytes big = s.packets[0];
  const auto len = static_cast<opus_int32>(big.size());
  big.resize(kMaxOpusPacket);
  ASSERT_EQ(opus_packet_pad(big.data(), len, static_cast<opus_int32>(big.size())), OPUS_OK);
  OpusStream huge = s;
  huge.packets.assign(kMaxOggFileSize / kMaxOpusPacket + 100, big);
  huge.total_samples = huge.packets.size() * 960 - huge.pre_skip;
  EXPECT_THAT(write_ogg_opus(huge).error().message, HasSubstr("exceeds the cap"));
}

// A source that hands out one byte per call: the most a reader can be made to wait for.
OggOpusReader::Source trickle(ByteView bytes) {
  return [bytes, at = std::size_t{0}](std::uint8_t* buffer,
                                      std::size_t) mutable -> Result<std::size_t> {
    if (at == bytes.size()) return std::size_t{0};
    buffer[0] = bytes[at++];
    return std::size_t{1};
  };
}

TEST(OggOpus, PageAtATimeWriterAndReaderMatchTheWholeFile) {
  const OpusStream s = test_stream();
  const Bytes file = test_file(s);
  Bytes pages;
  int count = 0;
  auto writer = OggOpusWriter::create(s, [&](ByteView page) {
    pages.insert(pages.end(), page.begin(), page.end());
    ++count;
    return loa::Status{};
  });
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  for (const Bytes& p : s.packets) ASSERT_TRUE(writer->add(p).ok());
  ASSERT_TRUE(writer->finish().ok());
  EXPECT_EQ(pages, file);
  EXPECT_EQ(static_cast<std::size_t>(count), page_offsets(file).size());

  auto reader = OggOpusReader::open(trickle(file));
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  EXPECT_EQ(reader->info().channels, 1);
  EXPECT_EQ(reader->info().pre_skip, s.pre_skip);
  std::vector<Bytes> packets;
  for (;;) {
    auto p = reader->next();
    ASSERT_TRUE(p.ok()) << p.error().message;
    if (!*p) break;
    packets.emplace_back((*p)->begin(), (*p)->end());
  }
  EXPECT_EQ(packets, s.packets);
  EXPECT_EQ(reader->packets(), s.packets.size());
  EXPECT_EQ(reader->info(), static_cast<const OpusStreamInfo&>(s));
  auto info = check_ogg_opus(memory_source(file));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(*info, static_cast<const OpusStreamInfo&>(s));

  // An error from the page sink stops the writer and comes back as is.
  auto refusing =
      OggOpusWriter::create(s, [](ByteView) { return loa::Status(make_error("no room")); });
  ASSERT_FALSE(refusing.ok());
  EXPECT_EQ(refusing.error().message, "no room");
}

TEST(OggOpus, PageAtATimeReaderHandsOutAPageOnlyOnceItPassedItsChecks) {
  auto pcm = test_audio::sine(48000, 1, 8.0, 440, 0.3);
  const OpusStream s = test_audio::encode_with_libopus(pcm, 1);
  Bytes file = test_file(s);
  const auto pages = page_offsets(file);
  ASSERT_GE(pages.size(), 5u);  // head, tags, at least three audio pages
  file[pages[3] + 6] ^= 0x01;   // the second audio page's granule position
  fix_page_crc(file, pages[3]);
  auto reader = OggOpusReader::open(memory_source(file));
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  std::size_t good = 0;
  std::string error;
  for (;;) {
    auto p = reader->next();
    if (!p) {
      error = p.error().message;
      break;
    }
    ASSERT_TRUE(p->has_value()) << "the damaged file read to its end";
    ASSERT_LT(good, s.packets.size());
    EXPECT_TRUE(
        std::equal((*p)->begin(), (*p)->end(), s.packets[good].begin(), s.packets[good].end()));
    ++good;
  }
  EXPECT_THAT(error, HasSubstr("page 3 at byte offset " + std::to_string(pages[3])));
  EXPECT_THAT(error, HasSubstr("does not match"));
  // Exactly the first audio page's packets went out (lacing values below 255 end a packet);
  // none of the damaged page's.
  const std::size_t segments = file[pages[2] + 26];
  std::size_t on_first_page = 0;
  for (std::size_t i = 0; i < segments; ++i) on_first_page += file[pages[2] + 27 + i] < 255 ? 1 : 0;
  EXPECT_EQ(good, on_first_page);
  EXPECT_EQ(check_ogg_opus(memory_source(file)).error().message, error);
}

TEST(OggOpus, ReaderRejectsTruncatedFiles) {
  const Bytes file = test_file(test_stream());
  const auto pages = page_offsets(file);
  // Cut in the middle of the third page.
  const std::size_t cut = pages[2] + 40;
  auto r = read_ogg_opus(ByteView(file).first(cut));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message,
              HasSubstr("truncated page at byte offset " + std::to_string(pages[2])));
  // Cut exactly at a page boundary: no end-of-stream page.
  r = read_ogg_opus(ByteView(file).first(pages.back()));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("no end-of-stream page"));
  // Only the headers.
  r = read_ogg_opus(ByteView(file).first(pages[2]));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("no audio packets"));
  EXPECT_THAT(read_ogg_opus(ByteView{}).error().message, HasSubstr("empty"));
}

TEST(OggOpus, ReaderRejectsGarbageWithOffsets) {
  const Bytes file = test_file(test_stream());
  const auto pages = page_offsets(file);
  Bytes garbage(200, 0x5a);
  auto r = read_ogg_opus(garbage);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("no valid page at byte offset 0"));
  // Garbage between the tags page and the first audio page.
  Bytes spliced(file.begin(), file.begin() + static_cast<long>(pages[2]));
  spliced.insert(spliced.end(), {'j', 'u', 'n', 'k'});
  spliced.insert(spliced.end(), file.begin() + static_cast<long>(pages[2]), file.end());
  r = read_ogg_opus(spliced);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("byte offset " + std::to_string(pages[2])));
  // One flipped byte in an audio page: its checksum fails.
  Bytes flipped = file;
  flipped[pages[3] + 40] ^= 0x01;
  r = read_ogg_opus(flipped);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message,
              HasSubstr("no valid page at byte offset " + std::to_string(pages[3])));
  // Oversized input is refused before parsing.
  std::vector<std::uint8_t> huge(kMaxOggFileSize + 1);
  EXPECT_THAT(read_ogg_opus(huge).error().message, HasSubstr("exceeds the cap"));
}

TEST(OggOpus, ReaderChecksHeaders) {
  const Bytes file = test_file(test_stream());
  const auto pages = page_offsets(file);
  Bytes head = file;
  head[28 + 4] = 'h';  // "OpushEad"
  fix_page_crc(head, 0);
  auto r = read_ogg_opus(head);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("missing 'OpusHead' magic"));
  EXPECT_THAT(r.error().message, HasSubstr("byte offset 0"));

  Bytes family = file;
  family[28 + 18] = 1;
  fix_page_crc(family, 0);
  EXPECT_THAT(read_ogg_opus(family).error().message, HasSubstr("channel mapping family 1"));

  Bytes version = file;
  version[28 + 8] = 0x10;
  fix_page_crc(version, 0);
  EXPECT_THAT(read_ogg_opus(version).error().message, HasSubstr("unsupported version 16"));

  Bytes tags = file;
  tags[pages[1] + 28] = 'X';
  fix_page_crc(tags, pages[1]);
  EXPECT_THAT(read_ogg_opus(tags).error().message, HasSubstr("missing 'OpusTags' magic"));

  Bytes vendor = file;
  vendor[pages[1] + 28 + 8] = 200;  // vendor length beyond the packet
  fix_page_crc(vendor, pages[1]);
  EXPECT_THAT(read_ogg_opus(vendor).error().message, HasSubstr("vendor length 200"));
}

TEST(OggOpus, ReaderRejectsLostPagesAndSecondStreams) {
  const Bytes file = test_file(test_stream());
  const auto pages = page_offsets(file);
  ASSERT_GE(pages.size(), 5u);
  Bytes lost(file.begin(), file.begin() + static_cast<long>(pages[3]));
  lost.insert(lost.end(), file.begin() + static_cast<long>(pages[4]), file.end());
  auto r = read_ogg_opus(lost);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("expected page 3"));
  EXPECT_THAT(r.error().message, HasSubstr("byte offset " + std::to_string(pages[3])));

  // Chained: a second file after the end-of-stream page.
  Bytes chained = file;
  const Bytes other = *write_ogg_opus(test_stream(), 77);
  chained.insert(chained.end(), other.begin(), other.end());
  EXPECT_THAT(read_ogg_opus(chained).error().message, HasSubstr("data after the end-of-stream"));

  // Multiplexed: another stream's first page among ours.
  Bytes muxed(file.begin(), file.begin() + static_cast<long>(pages[1]));
  muxed.insert(muxed.end(), other.begin(), other.begin() + static_cast<long>(page_size(other, 0)));
  muxed.insert(muxed.end(), file.begin() + static_cast<long>(pages[1]), file.end());
  EXPECT_THAT(read_ogg_opus(muxed).error().message, HasSubstr("second logical stream (serial 77)"));
}

// ---- Interop with opus-tools (opusinfo, opusdec, opusenc) ----

class OpusTools : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"opusinfo", "opusdec", "opusenc"}) {
      if (!test_audio::have_program(tool)) GTEST_SKIP() << tool << " not installed (opus-tools)";
    }
  }
  test_audio::TempDir dir_;
};

TEST_F(OpusTools, OpusinfoAcceptsOurFile) {
  const OpusStream s = test_stream();
  test_audio::write_bytes(dir_ / "a.opus", test_file(s));
  auto info = test_audio::run_shell("opusinfo '" + dir_ / "a.opus" + "'");
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output, HasSubstr("Pre-skip: " + std::to_string(s.pre_skip)));
  EXPECT_THAT(info.output, HasSubstr("Encoded with loa"));
  EXPECT_THAT(info.output, HasSubstr("Playback length: 0m:01.202s"));
  EXPECT_THAT(info.output, ::testing::Not(HasSubstr("WARNING")));
  EXPECT_THAT(info.output, ::testing::Not(HasSubstr("ERROR")));
}

// opusdec dithers 16-bit output by default (noise-shaped dither from a fixed seed: the same on
// every run, but up to ±13 LSB away from a plain rounding decoder). With --no-dither it converts
// libopus's float output by scaling, clamping and rounding, which is exactly what opus_decode()
// does for 16-bit output, so the samples must be identical, including pre-skip removal and end
// trimming.
void expect_opusdec_matches(const test_audio::TempDir& dir, const OpusStream& s) {
  test_audio::write_bytes(dir / "b.opus", test_file(s));
  auto dec = test_audio::run_shell("opusdec --quiet --rate 48000 --no-dither '" + dir / "b.opus" +
                                   "' '" + dir / "b.wav" + "'");
  ASSERT_EQ(dec.exit_code, 0) << dec.output;
  int channels = 0;
  int rate = 0;
  const auto theirs = test_audio::read_sound_file_i16(dir / "b.wav", channels, rate);
  auto ours = decode_stream(s);
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  EXPECT_EQ(channels, s.channels);
  EXPECT_EQ(rate, 48000);
  ASSERT_EQ(theirs.size(), ours->size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < theirs.size(); ++i) differing += theirs[i] != (*ours)[i] ? 1 : 0;
  EXPECT_EQ(differing, 0u);
}

TEST_F(OpusTools, OpusdecDecodesToTheSamePcmMono) {
  expect_opusdec_matches(dir_, test_stream());
}

TEST_F(OpusTools, OpusdecDecodesToTheSamePcmWithLongEndTrim) {
  OpusStream s = test_stream();
  s.total_samples -= 2500;
  expect_opusdec_matches(dir_, s);
}

TEST_F(OpusTools, OpusdecDecodesToTheSamePcmStereo) {
  expect_opusdec_matches(dir_, test_stream(2));
}

TEST_F(OpusTools, ReadsOpusencOutput) {
  const auto pcm = test_audio::speech_like(44100, 2.5);
  ASSERT_EQ(test_audio::write_sound_file(dir_ / "in.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100,
                                         1, pcm),
            "");
  auto enc = test_audio::run_shell("opusenc --quiet --speech --bitrate 24 '" + dir_ / "in.wav" +
                                   "' '" + dir_ / "in.opus" + "'");
  ASSERT_EQ(enc.exit_code, 0) << enc.output;
  auto s = read_ogg_opus(test_audio::read_bytes(dir_ / "in.opus"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->channels, 1);
  EXPECT_EQ(s->input_rate, 44100u);
  // opusenc resamples 2.5 s to 48 kHz and trims the end: exactly 120000 samples.
  EXPECT_EQ(s->total_samples, 120000u);
  expect_opusdec_matches(dir_, *s);
}

}  // namespace
}  // namespace loa::protocol
