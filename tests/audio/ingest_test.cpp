// Audio ingest: files of several formats become normalized Opus speech; bad input is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sndfile.h>

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "audio_test_util.hpp"
#include "level.hpp"
#include "loa/controller/audio.hpp"

namespace loa::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Counts rising zero crossings per second of 16-bit mono PCM.
double frequency(const std::vector<std::int16_t>& pcm) {
  std::size_t crossings = 0;
  for (std::size_t i = 1; i < pcm.size(); ++i) crossings += (pcm[i - 1] < 0 && pcm[i] >= 0) ? 1 : 0;
  return static_cast<double>(crossings) * 48000.0 / static_cast<double>(pcm.size());
}

std::vector<std::int16_t> decoded(const EncodedAudio& audio) {
  auto pcm = protocol::decode_stream(audio.stream);
  EXPECT_TRUE(pcm.ok()) << pcm.error().message;
  return pcm.ok() ? *pcm : std::vector<std::int16_t>{};
}

class Ingest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, int format, std::uint32_t rate, int channels,
                    const std::vector<float>& pcm) {
    const std::string path = dir_ / name;
    const std::string err = test_audio::write_sound_file(path, format, rate, channels, pcm);
    EXPECT_EQ(err, "") << name;
    return path;
  }
  test_audio::TempDir dir_;
  EncodeOptions options_;
};

// A 440 Hz sine at 44.1 kHz stereo comes out as 48 kHz mono, at the target level, same pitch.
void expect_sine_440(const Result<EncodedAudio>& r, double seconds, const EncodeOptions& options) {
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->stream.channels, 1);
  EXPECT_EQ(r->stream.total_samples, static_cast<std::uint64_t>(std::llround(seconds * 48000)));
  EXPECT_NEAR(r->duration_s, seconds, 1e-3);
  const auto pcm = decoded(*r);
  ASSERT_EQ(pcm.size(), r->stream.total_samples);
  EXPECT_NEAR(test_audio::rms_dbfs(pcm), options.target_rms_dbfs, 1.0);
  EXPECT_NEAR(frequency(pcm), 440.0, 3.0);
  // The Ogg bytes are the same stream.
  auto back = protocol::read_ogg_opus(r->ogg);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, r->stream);
}

TEST_F(Ingest, WavStereo44k) {
  const auto pcm = test_audio::sine(44100, 2, 3.0, 440, 0.05);
  const auto path = write("sine.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, pcm);
  auto r = encode_audio_file(path, options_);
  expect_sine_440(r, 3.0, options_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stream.input_rate, 44100u);
  // The Opus bitrate is what was asked for (within VBR slack): 24 kbit/s for 3 s ≈ 9 kB.
  std::size_t bytes = 0;
  for (const auto& p : r->stream.packets) bytes += p.size();
  EXPECT_LT(static_cast<double>(bytes) * 8 / 3.0, 24000 * 1.3);
  EXPECT_EQ(r->stream.packets.size(), (3 * 48000 + r->stream.pre_skip + 959) / 960);

  // The same bytes through libsndfile's virtual I/O give the same stream.
  auto from_bytes = encode_audio_bytes(test_audio::read_bytes(path), options_);
  ASSERT_TRUE(from_bytes.ok()) << from_bytes.error().message;
  EXPECT_EQ(from_bytes->ogg, r->ogg);
}

// Bytes the process has allocated now (glibc: heap in use plus mmapped blocks).
std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// The most heap_in_use() rose above its level before `f` while `f` ran (sampled every ms).
template <typename F>
std::size_t heap_growth_during(F&& f) {
  const std::size_t base = heap_in_use();
  std::atomic<bool> done{false};
  std::atomic<std::size_t> peak{base};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak.load(), heap_in_use());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  f();
  done = true;
  sampler.join();
  return peak.load() - base;
}

// Writes `seconds` of a mono 16-bit FLAC at `rate` a block at a time (a 440 Hz tone, a pause
// each second), so the test itself never holds the whole signal.
void write_long_flac(const std::string& path, std::uint32_t rate, double seconds) {
  SF_INFO info{};
  info.samplerate = static_cast<int>(rate);
  info.channels = 1;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  const auto total = static_cast<std::uint64_t>(seconds * rate);
  std::vector<float> block(65536);
  for (std::uint64_t at = 0; at < total; at += block.size()) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), total - at));
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t k = at + i;
      const bool pause = k % rate > rate * 8 / 10;
      block[i] = pause ? 0.0f : static_cast<float>(0.3 * std::sin(2 * M_PI * 440.0 * k / rate));
    }
    ASSERT_EQ(sf_writef_float(f, block.data(), static_cast<sf_count_t>(n)),
              static_cast<sf_count_t>(n));
  }
  sf_close(f);
}

// Five minutes at 192 kHz (58 million samples, 230 MB as floats) are encoded in a few megabytes:
// the file is decoded, resampled and encoded a block at a time, in two passes (level, then
// encode). The bound does not depend on the input's length or rate; the Ogg output (0.9 MB at
// 24 kbit/s) is a large part of it here, since encode_audio_file returns it in memory. Decoding
// the whole file first took 550 MiB.
TEST_F(Ingest, AFiveMinuteFileAt192kHzIsEncodedInBoundedMemory) {
  if (heap_in_use() == 0) GTEST_SKIP() << "mallinfo2 reports nothing under this allocator";
  const std::string path = dir_ / "long.flac";
  write_long_flac(path, 192000, 300.0);
  Result<EncodedAudio> r = make_error("not run");
  const std::size_t growth = heap_growth_during([&] { r = encode_audio_file(path, options_); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NEAR(r->duration_s, 300.0, 1e-3);
  EXPECT_EQ(r->stream.total_samples, 300u * 48000u);
  EXPECT_LT(growth, 24u << 20) << "heap grew by " << (growth >> 20) << " MiB";
  std::printf("5 min at 192 kHz: heap grew by %.1f MiB\n", static_cast<double>(growth) / (1 << 20));
}

// The streaming form writes the same file, page by page, as the in-memory one.
TEST_F(Ingest, StreamingFormWritesTheSameFile) {
  const auto pcm = test_audio::sine(44100, 2, 3.0, 440, 0.05);
  const auto path = write("sine.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, pcm);
  auto whole = encode_audio_file(path, options_);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  protocol::Bytes pages;
  std::size_t calls = 0;
  auto streamed = encode_audio_bytes_to(test_audio::read_bytes(path), options_,
                                        [&](protocol::ByteView page) -> Status {
                                          pages.insert(pages.end(), page.begin(), page.end());
                                          ++calls;
                                          return Status::success();
                                        });
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(pages, whole->ogg);
  EXPECT_GT(calls, 3u);  // headers and several audio pages, not one blob
  EXPECT_EQ(streamed->info.total_samples, whole->stream.total_samples);
  EXPECT_EQ(streamed->packets, whole->stream.packets.size());
  // An error from the writer stops the encoding and comes back as is.
  auto refused =
      encode_audio_bytes_to(test_audio::read_bytes(path), options_,
                            [&](protocol::ByteView) -> Status { return make_error("disk full"); });
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("disk full"));
}

TEST_F(Ingest, Flac) {
  const auto pcm = test_audio::sine(32000, 1, 2.0, 440, 0.5);
  const auto path = write("sine.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 32000, 1, pcm);
  expect_sine_440(encode_audio_file(path, options_), 2.0, options_);
}

TEST_F(Ingest, OggVorbis) {
  const auto pcm = test_audio::sine(22050, 1, 2.0, 440, 0.3);
  const auto path = write("sine.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 1, pcm);
  expect_sine_440(encode_audio_file(path, options_), 2.0, options_);
}

TEST_F(Ingest, OggOpusIncludingOurOwnOutput) {
  const auto pcm = test_audio::sine(48000, 2, 2.0, 440, 0.3);
  const std::string path = dir_ / "sine.opus";
  const std::string err =
      test_audio::write_sound_file(path, SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2, pcm);
  if (!err.empty()) GTEST_SKIP() << "this libsndfile cannot write Ogg Opus: " << err;
  auto r = encode_audio_file(path, options_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NEAR(r->duration_s, 2.0, 0.05);
  EXPECT_NEAR(frequency(decoded(*r)), 440.0, 3.0);
  // libsndfile reads the Ogg Opus files we write: a second pass keeps length and pitch.
  auto again = encode_audio_bytes(r->ogg, options_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_NEAR(again->duration_s, r->duration_s, 0.02);
  const auto out = decoded(*again);
  EXPECT_NEAR(frequency(out), 440.0, 3.0);
  EXPECT_NEAR(test_audio::rms_dbfs(out), options_.target_rms_dbfs, 1.0);
}

TEST_F(Ingest, Mp3) {
  // libsndfile 1.1+ writes MP3 through LAME and reads it through mpg123.
  const auto pcm = test_audio::sine(44100, 2, 2.0, 440, 0.3);
  const std::string path = dir_ / "sine.mp3";
  const std::string err =
      test_audio::write_sound_file(path, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, pcm);
  if (!err.empty()) GTEST_SKIP() << "this libsndfile cannot write MP3: " << err;
  auto r = encode_audio_file(path, options_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  // MP3 adds encoder delay and padding: the length is approximate.
  EXPECT_NEAR(r->duration_s, 2.0, 0.1);
  const auto out = decoded(*r);
  EXPECT_NEAR(test_audio::rms_dbfs(out), options_.target_rms_dbfs, 1.0);
  EXPECT_NEAR(frequency(out), 440.0, 5.0);
}

TEST_F(Ingest, SpeechLikeSignalIsNormalizedAndPeakLimited) {
  // Loud input with pauses: gated RMS ends at the target, peaks stay under -1 dBFS (plus the
  // codec's small overshoot).
  auto pcm = test_audio::speech_like(16000, 6.0);
  for (auto& s : pcm) s *= 3.0f;
  auto r = encode_pcm(pcm, 16000, options_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto out = decoded(*r);
  std::vector<float> f(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) f[i] = static_cast<float>(out[i] / 32768.0);
  EXPECT_NEAR(audio_detail::to_dbfs(audio_detail::gated_rms(f, 48000)), -20.0, 1.5);
  EXPECT_LT(test_audio::peak_dbfs(out), -0.5);
}

TEST(Level, LimiterKeepsPeaksUnderTheCeilingAndLeavesQuietPartsAlone) {
  std::vector<float> pcm(48000);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (auto& s : pcm) s = noise(rng);
  for (std::size_t i = 10000; i < 10100; ++i) pcm[i] = (i % 2 != 0U) ? 1.5f : -1.5f;  // burst
  const std::vector<float> before = pcm;
  const float ceiling = static_cast<float>(std::pow(10.0, -1.0 / 20.0));
  audio_detail::apply_gain_and_limit(pcm, 2.0, ceiling, 48000);
  float peak = 0;
  for (float s : pcm) peak = std::max(peak, std::abs(s));
  EXPECT_LE(peak, ceiling * (1 + 1e-6f));
  // Far from the burst (before it, and 0.5 s after) the gain is exactly 2.
  EXPECT_FLOAT_EQ(pcm[1000], before[1000] * 2);
  EXPECT_NEAR(pcm[40000], before[40000] * 2, 1e-3);
  // Just after the burst the gain is still reduced (release), not back to 2 at once.
  EXPECT_LT(std::abs(pcm[10300]), std::abs(before[10300] * 2) * 0.9f + 1e-4f);
}

TEST_F(Ingest, CorruptFileIsRefused) {
  protocol::Bytes junk(5000);
  std::mt19937 rng(1);
  for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
  test_audio::write_bytes(dir_ / "x.wav", junk);
  auto r = encode_audio_file(dir_ / "x.wav", options_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, StartsWith("audio: cannot read '" + dir_ / "x.wav" + "': "));
  EXPECT_GT(r.error().message.size(), ("audio: cannot read '" + dir_ / "x.wav" + "': ").size());
  auto b = encode_audio_bytes(junk, options_);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.error().message, StartsWith("audio: cannot read uploaded audio (5000 bytes): "));
  auto missing = encode_audio_file(dir_ / "missing.wav", options_);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("cannot read '" + dir_ / "missing.wav" + "'"));
}

TEST_F(Ingest, EmptyInputIsRefused) {
  test_audio::write_bytes(dir_ / "empty.wav", {});
  EXPECT_EQ(encode_audio_file(dir_ / "empty.wav", options_).error().message,
            "audio: '" + dir_ / "empty.wav" + "' is empty (0 bytes)");
  const auto path = write("zero.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, {});
  EXPECT_EQ(encode_audio_file(path, options_).error().message,
            "audio: '" + path + "' has no audio (0 frames)");
  EXPECT_THAT(encode_audio_bytes(protocol::Bytes{}, options_).error().message,
              HasSubstr("is empty"));
  EXPECT_THAT(encode_pcm({}, 48000, options_).error().message,
              HasSubstr("has no audio (0 frames)"));
}

TEST_F(Ingest, SilentInputIsRefused) {
  const auto path = write("silent.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2,
                          std::vector<float>(44100 * 2 * 2, 0.0f));
  EXPECT_EQ(encode_audio_file(path, options_).error().message,
            "audio: '" + path + "' is silent (RMS -inf dBFS, below -60 dBFS)");
  // A faint hiss at about -70 dBFS is silence too; a -50 dBFS tone is not.
  std::vector<float> hiss(48000);
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.000316f);
  for (auto& s : hiss) s = noise(rng);
  auto r = encode_pcm(hiss, 48000, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("is silent (RMS -70."));
  EXPECT_TRUE(encode_pcm(test_audio::sine(48000, 1, 1.0, 300, 0.0045), 48000, options_).ok());
}

TEST_F(Ingest, OverLongInputIsRefused) {
  const auto path = write("long.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1,
                          test_audio::sine(8000, 1, 3.0, 440, 0.3));
  EncodeOptions small = options_;
  small.max_seconds = 1.5;
  EXPECT_EQ(encode_audio_file(path, small).error().message,
            "audio: '" + path + "' is too long: 3.0 s, the limit is 1.5 s");
  EXPECT_THAT(encode_pcm(test_audio::sine(8000, 1, 3.0, 440, 0.3), 8000, small).error().message,
              HasSubstr("is too long: 3.0 s, the limit is 1.5 s"));
}

TEST_F(Ingest, OptionsAreChecked) {
  const auto pcm = test_audio::sine(48000, 1, 1.0, 440, 0.3);
  EncodeOptions o = options_;
  o.frame_ms = 25;
  EXPECT_THAT(encode_pcm(pcm, 48000, o).error().message, HasSubstr("frame_ms 25"));
  o = options_;
  o.bitrate = 100;
  EXPECT_THAT(encode_pcm(pcm, 48000, o).error().message, HasSubstr("bitrate 100"));
  EXPECT_THAT(encode_pcm(pcm, 10, options_).error().message, HasSubstr("sample rate of 10 Hz"));
  std::vector<float> nan = pcm;
  nan[77] = std::nanf("");
  EXPECT_THAT(encode_pcm(nan, 48000, options_).error().message, HasSubstr("sample 77"));
}

TEST_F(Ingest, FrameSizes) {
  const auto pcm = test_audio::sine(48000, 1, 1.01, 440, 0.3);
  for (std::uint16_t ms : {10, 20, 40, 60}) {
    EncodeOptions o = options_;
    o.frame_ms = ms;
    auto r = encode_pcm(pcm, 48000, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->stream.total_samples, pcm.size());
    auto samples = protocol::opus_packet_samples(r->stream.packets[0]);
    ASSERT_TRUE(samples.ok());
    EXPECT_EQ(*samples, 48u * ms);
    EXPECT_EQ(decoded(*r).size(), pcm.size());
  }
}

}  // namespace
}  // namespace loa::controller
