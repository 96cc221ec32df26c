// Vietnamese text to speech through espeak-ng.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "audio_test_util.hpp"
#include "loa/controller/audio.hpp"

namespace loa::controller {
namespace {

using ::testing::HasSubstr;

std::string sample_text() {
  std::ifstream in(std::string(LOA_SOURCE_DIR) + "/samples/ban-tin-ngan.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Speech, VietnameseBulletinIsSpoken) {
  const std::string text = sample_text();
  ASSERT_FALSE(text.empty()) << "samples/ban-tin-ngan.txt missing";
  auto r = synthesize_speech(text, "vi", EncodeOptions{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->duration_s, 5.0);
  EXPECT_LT(r->duration_s, 40.0);
  auto pcm = protocol::decode_stream(r->stream);
  ASSERT_TRUE(pcm.ok()) << pcm.error().message;
  EXPECT_EQ(pcm->size(), r->stream.total_samples);
  EXPECT_GT(test_audio::rms_dbfs(*pcm), -30.0);
  EXPECT_LT(test_audio::peak_dbfs(*pcm), -0.5);
  auto back = protocol::read_ogg_opus(r->ogg);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, r->stream);
}

TEST(Speech, LongerTextTakesLonger) {
  auto shorter = synthesize_speech("Xin chào.", "vi", EncodeOptions{});
  auto longer = synthesize_speech("Xin chào. Hôm nay trời nắng đẹp, bà con ra đồng sớm.", "vi",
                                  EncodeOptions{});
  ASSERT_TRUE(shorter.ok()) << shorter.error().message;
  ASSERT_TRUE(longer.ok()) << longer.error().message;
  EXPECT_GT(longer->duration_s, shorter->duration_s + 1.0);
}

TEST(Speech, RefusesBadInput) {
  const EncodeOptions o;
  EXPECT_EQ(synthesize_speech("", "vi", o).error().message, "tts: text is empty");
  EXPECT_EQ(synthesize_speech(" \n\t", "vi", o).error().message, "tts: text is empty");
  EXPECT_EQ(synthesize_speech("Xin chào", "xx-nonexistent", o).error().message,
            "tts: unknown voice 'xx-nonexistent'");
  EXPECT_EQ(synthesize_speech("Xin chào", "../../etc", o).error().message,
            "tts: unknown voice '../../etc'");
  EXPECT_EQ(synthesize_speech("Xin ch\xC3\x28o", "vi", o).error().message,
            "tts: text is not valid UTF-8 (byte offset 6)");
  EXPECT_THAT(synthesize_speech("ab\xED\xA0\x80", "vi", o).error().message,  // surrogate
              HasSubstr("byte offset 2"));
  EXPECT_THAT(synthesize_speech(std::string(20001, 'a'), "vi", o).error().message,
              HasSubstr("20001 bytes is longer than the 20000 bytes allowed"));
}

// espeak-ng carries synthesis state (waveform phase, noise generator) from one call to the next,
// so repeated calls differ by a few samples; the lengths must still agree closely.
TEST(Speech, ConcurrentCallsAreSerialized) {
  const std::string text = "Thông báo lịch tiêm chủng.";
  auto reference = synthesize_speech(text, "vi", EncodeOptions{});
  ASSERT_TRUE(reference.ok()) << reference.error().message;
  std::vector<Result<EncodedAudio>> results(4, Error{"not run"});
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = synthesize_speech(text, "vi", EncodeOptions{}); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_NEAR(r->duration_s, reference->duration_s, 0.01 * reference->duration_s);
    auto pcm = protocol::decode_stream(r->stream);
    ASSERT_TRUE(pcm.ok()) << pcm.error().message;
    EXPECT_GT(test_audio::rms_dbfs(*pcm), -30.0);
  }
}

}  // namespace
}  // namespace loa::controller
