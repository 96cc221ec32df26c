#include "pcm_encoder.hpp"

#include <opus.h>
#include <soxr.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <memory>

#include "level.hpp"

namespace loa::controller {
namespace audio_detail {
namespace {

constexpr double kSilenceDbfs = -60.0;
constexpr double kPeakCeilingDbfs = -1.0;
constexpr std::uint32_t kMinRate = 1000;
constexpr std::uint32_t kMaxRate = 768000;

std::string format_number(double v, int decimals) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f", decimals, v);
  return buf.data();
}

struct EncoderDeleter {
  void operator()(OpusEncoder* e) const { opus_encoder_destroy(e); }
};

// Resamples to 48 kHz with libsoxr at high quality; the result has exactly
// round(n · 48000 / rate) samples (the resampler's delay is compensated by soxr_oneshot).
Result<std::vector<float>> resample_to_48k(const std::vector<float>& mono, std::uint32_t rate) {
  const auto out_len = static_cast<std::size_t>(
      std::llround(static_cast<double>(mono.size()) * protocol::kOpusRate / rate));
  if (rate == protocol::kOpusRate) return mono;
  std::vector<float> out(out_len + 16, 0.0f);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  std::size_t done = 0;
  const soxr_error_t err =
      soxr_oneshot(rate, protocol::kOpusRate, 1, mono.data(), mono.size(), nullptr, out.data(),
                   out.size(), &done, &io, &quality, nullptr);
  if (err != nullptr) return make_error(std::string("resampling failed: ") + err);
  out.resize(out_len, 0.0f);  // pads with silence if soxr produced a sample fewer
  return out;
}

}  // namespace

Error too_long_error(const std::string& subject, double seconds, double max_seconds) {
  return make_error("audio: " + subject + " is too long: " + format_number(seconds, 1) +
                    " s, the limit is " + format_number(max_seconds, 1) + " s");
}

Status check_options(const EncodeOptions& o) {
  if (o.bitrate < 6000 || o.bitrate > 510000) {
    return make_error("audio: bitrate " + std::to_string(o.bitrate) +
                      " bit/s out of range (6000..510000)");
  }
  if (o.frame_ms != 10 && o.frame_ms != 20 && o.frame_ms != 40 && o.frame_ms != 60) {
    return make_error("audio: frame_ms " + std::to_string(o.frame_ms) + " (need 10, 20, 40 or 60)");
  }
  if (!(o.max_seconds > 0)) return make_error("audio: max_seconds must be positive");
  if (!(o.target_rms_dbfs >= -50.0 && o.target_rms_dbfs <= -3.0)) {
    return make_error("audio: target_rms_dbfs " + format_number(o.target_rms_dbfs, 1) +
                      " out of range (-50..-3)");
  }
  return Status::success();
}

Result<EncodedAudio> encode_pcm_named(const std::vector<float>& mono, std::uint32_t rate,
                                      const EncodeOptions& options, const std::string& subject) {
  if (auto ok = check_options(options); !ok) return make_error(ok.message());
  if (rate < kMinRate || rate > kMaxRate) {
    return make_error("audio: " + subject + " has an unsupported sample rate of " +
                      std::to_string(rate) + " Hz");
  }
  if (mono.empty()) return make_error("audio: " + subject + " has no audio (0 frames)");
  const double seconds = static_cast<double>(mono.size()) / rate;
  if (seconds > options.max_seconds) return too_long_error(subject, seconds, options.max_seconds);
  for (std::size_t i = 0; i < mono.size(); ++i) {
    if (!std::isfinite(mono[i])) {
      return make_error("audio: " + subject + ": sample " + std::to_string(i) +
                        " is not a finite number");
    }
  }
  const double level = to_dbfs(rms(mono));
  if (!(level >= kSilenceDbfs)) {
    return make_error("audio: " + subject + " is silent (RMS " +
                      (std::isinf(level) ? std::string("-inf") : format_number(level, 1)) +
                      " dBFS, below " + format_number(kSilenceDbfs, 0) + " dBFS)");
  }

  auto resampled = resample_to_48k(mono, rate);
  if (!resampled) return make_error("audio: " + subject + ": " + resampled.error().message);
  std::vector<float>& pcm = *resampled;
  const double gain =
      std::pow(10.0, options.target_rms_dbfs / 20.0) / gated_rms(pcm, protocol::kOpusRate);
  apply_gain_and_limit(pcm, gain, static_cast<float>(std::pow(10.0, kPeakCeilingDbfs / 20.0)),
                       protocol::kOpusRate);

  int err = OPUS_OK;
  std::unique_ptr<OpusEncoder, EncoderDeleter> encoder(opus_encoder_create(
      static_cast<opus_int32>(protocol::kOpusRate), 1, OPUS_APPLICATION_VOIP, &err));
  if (err != OPUS_OK || !encoder) {
    return make_error(std::string("audio: cannot create the Opus encoder: ") + opus_strerror(err));
  }
  opus_encoder_ctl(encoder.get(), OPUS_SET_BITRATE(static_cast<opus_int32>(options.bitrate)));
  opus_encoder_ctl(encoder.get(), OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  opus_int32 lookahead = 0;
  opus_encoder_ctl(encoder.get(), OPUS_GET_LOOKAHEAD(&lookahead));

  EncodedAudio result;
  result.stream.channels = 1;
  result.stream.pre_skip = static_cast<std::uint16_t>(lookahead);
  result.stream.input_rate = rate;
  result.stream.total_samples = pcm.size();
  const std::size_t frame = protocol::kOpusRate / 1000 * options.frame_ms;
  // The decoder's output lags by the lookahead, so encode enough frames to cover it too.
  const std::size_t needed = pcm.size() + static_cast<std::size_t>(lookahead);
  const std::size_t frames = (needed + frame - 1) / frame;
  result.stream.packets.reserve(frames);
  std::vector<float> last(frame, 0.0f);
  std::array<unsigned char, 1500> packet{};
  for (std::size_t f = 0; f < frames; ++f) {
    const std::size_t start = f * frame;
    const float* input = pcm.data() + start;
    if (start + frame > pcm.size()) {
      std::fill(last.begin(), last.end(), 0.0f);
      if (start < pcm.size())
        std::copy(pcm.begin() + static_cast<std::ptrdiff_t>(start), pcm.end(), last.begin());
      input = last.data();
    }
    const opus_int32 bytes =
        opus_encode_float(encoder.get(), input, static_cast<int>(frame), packet.data(),
                          static_cast<opus_int32>(packet.size()));
    if (bytes < 0) {
      return make_error("audio: " + subject + ": Opus encoding failed at frame " +
                        std::to_string(f) + ": " + opus_strerror(bytes));
    }
    result.stream.packets.emplace_back(packet.begin(), packet.begin() + bytes);
  }
  auto ogg = protocol::write_ogg_opus(result.stream);
  if (!ogg) return make_error("audio: " + subject + ": " + ogg.error().message);
  result.ogg = std::move(*ogg);
  result.duration_s = static_cast<double>(result.stream.total_samples) / protocol::kOpusRate;
  return result;
}

}  // namespace audio_detail

Result<EncodedAudio> encode_pcm(const std::vector<float>& mono, std::uint32_t rate,
                                const EncodeOptions& options) {
  return audio_detail::encode_pcm_named(mono, rate, options, "PCM input");
}

}  // namespace loa::controller
