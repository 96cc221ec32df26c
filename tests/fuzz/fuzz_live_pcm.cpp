// libFuzzer target: a live stream's PCM as the controller takes it from an operator (POST
// /api/v1/live, or the console's segments): LiveSession::push_s16le over the real StreamEncoder.
// The input chooses the format (rate 8000..192000, 1..8 channels), the bit rate and the segment
// size, then is the PCM. Every chunk published must be one the nodes accept (20 ms packets of
// 1..kMaxOpusPacket bytes), the archive a valid Ogg Opus file; nothing may abort.
//   input: rate (3 bytes) | channels | bitrate (2 bytes) | segment | s16le PCM
#include <algorithm>
#include <filesystem>

#include "fuzz_common.hpp"
#include "loa/controller/live_session.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/log.hpp"

namespace {

using namespace loa;
using protocol::Micros;

// Time moves to wherever the session waits for it: pacing costs nothing.
class JumpingClock final : public runtime::Clock {
 public:
  Micros now_us() const override { return now_; }
  void sleep_until(Micros t) override { now_ = std::max(now_, t); }
  void wake() override {}

 private:
  Micros now_ = 1'800'000'000'000'000;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using protocol::fuzz::fail;
  static const bool quiet = [] {
    runtime::set_log_level(runtime::LogLevel::error);
    return true;
  }();
  (void)quiet;
  if (size < 7) return 0;
  const std::uint32_t rate =
      8000 + ((std::uint32_t{data[0]} << 16 | std::uint32_t{data[1]} << 8 | data[2]) % 184001);
  const std::uint8_t channels = static_cast<std::uint8_t>(1 + data[3] % 8);
  controller::EncodeOptions options;
  options.bitrate = 6000 + (std::uint32_t{data[4]} << 8 | data[5]) * 504000 / 65535;
  options.frame_ms = controller::kLiveFrameMs;
  const std::size_t segment = 1 + std::size_t{data[6]} * 7;
  const protocol::ByteView pcm(data + 7, size - 7);

  auto encoder = controller::StreamEncoder::create(rate, options);
  if (!encoder) {
    if (encoder.error().message.empty()) fail("an error without a message");
    return 0;
  }
  controller::LiveSession::Hooks hooks;
  hooks.seal = [](const protocol::Bytes& body) { return body; };
  hooks.publish = [](const protocol::Bytes& body) -> Status {
    auto chunk = protocol::decode_audio_chunk(body);
    if (!chunk) fail("a published chunk does not decode");
    for (const auto& packet : chunk->packets) {
      auto samples = protocol::opus_packet_samples(packet);
      if (!samples || *samples != 960) fail("a live packet that is not 20 ms");
    }
    return Status::success();
  };
  hooks.archive = [](const controller::LiveSummary&, const protocol::OpusStreamInfo& info,
                     const controller::PacketSpool& packets) -> Status {
    protocol::Bytes ogg;
    auto writer = protocol::OggOpusWriter::create(info, [&](protocol::ByteView page) {
      ogg.insert(ogg.end(), page.begin(), page.end());
      return Status::success();
    });
    if (!writer) return make_error(writer.error().message);
    if (Status s = packets.for_each([&](protocol::ByteView p) { return writer->add(p); }); !s) {
      return s;
    }
    if (Status s = writer->finish(); !s) return s;
    if (!protocol::read_ogg_opus(ogg)) fail("the archive does not read back");
    return Status::success();
  };
  JumpingClock clock;
  auto spool = controller::PacketSpool::create(std::filesystem::temp_directory_path().string());
  if (!spool) fail("no spool");
  controller::LiveSession session(1, 1, clock.now_us(), std::move(*encoder), channels, 4, clock,
                                  std::move(hooks), {}, std::move(*spool));
  for (std::size_t at = 0; at < pcm.size(); at += segment) {
    const Status s = session.push_s16le(pcm.subspan(at, std::min(segment, pcm.size() - at)));
    if (!s) {
      if (s.message().empty()) fail("an error without a message");
      break;
    }
  }
  const controller::LiveSummary summary = session.finish("end of source");
  const std::size_t frames = pcm.size() / (2u * channels);
  if (frames > 0 && summary.archive_error.find("no audio") != std::string::npos &&
      summary.duration_s > 0) {
    fail("audio came in but the archive says there was none");
  }
  return 0;
}
