// A live stream's packets are what the wire carries whatever the encoding settings: 20 ms each
// (the nodes' jitter buffer slots), at most kMaxOpusPacket bytes, even at the highest bit rate
// with the bulletins' frames set to 60 ms, and whatever the size of the pieces the PCM comes in;
// and settings no packet can carry are refused.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "controller_fixture.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/protocol/topics.hpp"

using namespace loa;
using namespace loa::controller;

namespace {

class LiveEncodingTest : public test::ControllerFixture {
 protected:
  controller::ControllerSettings settings() const override {
    auto s = ControllerFixture::settings();
    s.encode.bitrate = bitrate_;
    s.encode.frame_ms = frame_ms_;
    return s;
  }
  std::uint32_t bitrate_ = 510000;
  std::uint16_t frame_ms_ = 60;

  struct Streamed {
    Status pushed;
    LiveSummary summary;
    std::size_t packets = 0;  // in the chunks published, each checked to be 20 ms
    std::size_t largest = 0;  // bytes
  };
  // Streams 44.1 kHz stereo s16le `pcm` live to area 79/26734 in pieces of `piece` bytes.
  Streamed stream(const protocol::Bytes& pcm, std::size_t piece) {
    Streamed out;
    add_node("n1", "79/26734/01", 100);
    LiveRequest req;
    req.targets = {"area:79/26734"};
    req.rate = 44100;
    req.channels = 2;
    auto session = controller_->start_live(req);
    EXPECT_TRUE(session.ok()) << session.error().message;
    if (!session.ok()) return out;
    idle();
    probe_.clear();
    // The session paces chunks by the clock: a second thread moves it on.
    std::atomic<bool> done{false};
    std::thread ticker([&] {
      while (!done) {
        clock_.advance(20'000);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
    for (std::size_t at = 0; at < pcm.size() && out.pushed.ok(); at += piece) {
      out.pushed = (*session)->push_s16le(
          protocol::ByteView(pcm).subspan(at, std::min(piece, pcm.size() - at)));
    }
    out.summary = (*session)->finish("end of source");
    done = true;
    ticker.join();
    idle();
    for (const auto& m : probe_.on(protocol::topics::live_stream(out.summary.bulletin_id))) {
      auto body = test::open_body(m.payload, keys_.public_key, protocol::MessageType::audio_chunk);
      EXPECT_TRUE(body.has_value());
      if (!body) continue;
      auto chunk = protocol::decode_audio_chunk(*body);
      EXPECT_TRUE(chunk.ok()) << chunk.error().message;
      if (!chunk) continue;
      for (const auto& p : chunk->packets) {
        auto samples = protocol::opus_packet_samples(p);
        EXPECT_TRUE(samples.ok() && *samples == 960u);
        out.largest = std::max(out.largest, p.size());
        ++out.packets;
      }
    }
    return out;
  }
};

// Loud stereo white noise at 44.1 kHz: the most bits an Opus encoder can spend.
protocol::Bytes noise_s16le(double seconds) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> sample(-32768, 32767);
  protocol::Bytes out;
  const auto frames = static_cast<std::size_t>(seconds * 44100);
  for (std::size_t i = 0; i < frames * 2; ++i) {
    const auto v = static_cast<std::uint16_t>(sample(rng));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  return out;
}

TEST_F(LiveEncodingTest, PacketsAreTwentyMillisecondsAndFitTheWireAtTheHighestBitRate) {
  const Streamed s = stream(noise_s16le(1.0), 4410 * 4);
  ASSERT_TRUE(s.pushed.ok()) << s.pushed.message();
  EXPECT_EQ(s.summary.ended_by, "end of source");
  EXPECT_EQ(s.summary.archive_error, "");
  EXPECT_GE(s.packets, 50u);
  EXPECT_LE(s.largest, protocol::kMaxOpusPacket);
  EXPECT_GT(s.largest, 1000u);  // the bit rate asked for was used
}

// The PCM arrives in pieces of any size (HTTP chunks, the console's segments): a piece shorter
// than one frame of samples is kept for the next, and the stream goes on.
TEST_F(LiveEncodingTest, PiecesShorterThanAFrameOfSamplesAreKeptForTheNext) {
  const Streamed s = stream(noise_s16le(0.3), 3);
  ASSERT_TRUE(s.pushed.ok()) << s.pushed.message();
  EXPECT_EQ(s.summary.ended_by, "end of source");
  EXPECT_EQ(s.summary.archive_error, "");
  EXPECT_NEAR(s.summary.duration_s, 0.3, 0.01);
  EXPECT_GE(s.packets, 15u);
  // The archive (kept on disk while streaming) holds every packet sent.
  auto ogg = controller_->bulletin_audio(s.summary.bulletin_id);
  ASSERT_TRUE(ogg.ok()) << ogg.error().message;
  auto archived = protocol::read_ogg_opus(*ogg);
  ASSERT_TRUE(archived.ok()) << archived.error().message;
  EXPECT_EQ(archived->packets.size(), s.packets);
  EXPECT_EQ(archived->total_samples,
            static_cast<std::uint64_t>(std::llround(s.summary.duration_s * 48000)));
}

TEST_F(LiveEncodingTest, BulletinsRefuseFramesTooLongForTheirBitRate) {
  // 510 kbit/s in 60 ms frames would need packets of 3825 bytes.
  auto b = controller_->create_bulletin_from_audio("x", test::tone_wav(1.0));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::unprocessable);
  EXPECT_NE(b.error().message.find("bitrate 510000 bit/s with frame_ms 60"), std::string::npos)
      << b.error().message;
  EXPECT_NE(b.error().message.find("at most 170000 bit/s"), std::string::npos) << b.error().message;
  EXPECT_EQ(controller_->list_bulletins()->size(), 0u);
}

}  // namespace
