#include "pcm_encoder.hpp"

#include <opus.h>
#include <soxr.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>

#include "level.hpp"
#include "loa/protocol/messages.hpp"

namespace loa::controller {
namespace audio_detail {
namespace {

constexpr double kSilenceDbfs = -60.0;
constexpr double kPeakCeilingDbfs = -1.0;
constexpr std::uint32_t kMinRate = 1000;
constexpr std::uint32_t kMaxRate = 768000;
constexpr std::size_t kBlock = 8192;  // samples read at a time

std::string format_number(double v, int decimals) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.*f", decimals, v);
  return buf.data();
}

struct EncoderDeleter {
  void operator()(OpusEncoder* e) const { opus_encoder_destroy(e); }
};
struct SoxrDeleter {
  void operator()(soxr* s) const { soxr_delete(s); }
};

// Resamples a stream to 48 kHz with libsoxr at high quality, a block at a time. In total exactly
// round(n · 48000 / rate) samples come out for n in (the last few cut or padded with silence),
// as a one-shot resampling of the whole input would give.
class Resampler {
 public:
  static Result<Resampler> create(std::uint32_t rate) {
    Resampler r;
    r.rate_ = rate;
    if (rate == protocol::kOpusRate) return r;
    soxr_error_t err = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    r.soxr_.reset(soxr_create(rate, protocol::kOpusRate, 1, &err, &io, &quality, nullptr));
    if (err != nullptr || !r.soxr_) return make_error(std::string("resampling failed: ") + err);
    r.buffer_.resize(kBlock * 2);
    return r;
  }

  // Appends to `out` the 48 kHz samples now ready.
  Status add(std::span<const float> in, std::vector<float>& out) {
    if (in.empty()) return Status::success();  // soxr_process(NULL, 0) would mean the end
    in_ += in.size();
    if (!soxr_) {
      emit(in, out);
      return Status::success();
    }
    for (;;) {
      std::size_t done_in = 0;
      std::size_t done_out = 0;
      if (const soxr_error_t err = soxr_process(soxr_.get(), in.data(), in.size(), &done_in,
                                                buffer_.data(), buffer_.size(), &done_out);
          err != nullptr) {
        return make_error(std::string("resampling failed: ") + err);
      }
      emit(std::span<const float>(buffer_.data(), done_out), out);
      in = in.subspan(done_in);
      if (in.empty() && done_out < buffer_.size()) return Status::success();
    }
  }

  // Flushes the resampler's delay; appends the rest to `out`.
  Status finish(std::vector<float>& out) {
    const auto target = static_cast<std::uint64_t>(
        std::llround(static_cast<double>(in_) * protocol::kOpusRate / rate_));
    while (soxr_) {
      std::size_t done_out = 0;
      if (const soxr_error_t err = soxr_process(soxr_.get(), nullptr, 0, nullptr, buffer_.data(),
                                                buffer_.size(), &done_out);
          err != nullptr) {
        return make_error(std::string("resampling failed: ") + err);
      }
      if (done_out == 0 || out_ >= target) break;
      emit(std::span<const float>(buffer_.data(), static_cast<std::size_t>(std::min<std::uint64_t>(
                                                      done_out, target - out_))),
           out);
    }
    if (out_ < target) {
      out.insert(out.end(), static_cast<std::size_t>(target - out_), 0.0f);
      out_ = target;
    }
    return Status::success();
  }

 private:
  void emit(std::span<const float> samples, std::vector<float>& out) {
    out.insert(out.end(), samples.begin(), samples.end());
    out_ += samples.size();
  }

  std::uint32_t rate_ = protocol::kOpusRate;
  std::unique_ptr<soxr, SoxrDeleter> soxr_;
  std::vector<float> buffer_;
  std::uint64_t in_ = 0;
  std::uint64_t out_ = 0;
};

// What the measuring pass learns.
struct Measure {
  std::uint64_t input_samples = 0;
  std::uint64_t output_samples = 0;  // at 48 kHz
  double gated_rms = 0;              // at 48 kHz
};

Result<Measure> measure(MonoSource& source, const EncodeOptions& options,
                        const std::string& subject) {
  const std::uint32_t rate = source.rate();
  const auto max_samples = static_cast<std::uint64_t>(options.max_seconds * rate) + 1;
  if (Status s = source.rewind(); !s) return make_error(s.message());
  auto resampler = Resampler::create(rate);
  if (!resampler) return make_error("audio: " + subject + ": " + resampler.error().message);
  GatedMeter meter(protocol::kOpusRate);
  Measure m;
  double sum_squares = 0;
  std::vector<float> block(kBlock);
  std::vector<float> resampled;
  for (;;) {
    auto got = source.read(block);
    if (!got) return got.error();
    if (*got == 0) break;
    const std::span<const float> in(block.data(), *got);
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (!std::isfinite(in[i])) {
        return make_error("audio: " + subject + ": sample " + std::to_string(m.input_samples + i) +
                          " is not a finite number");
      }
      sum_squares += static_cast<double>(in[i]) * in[i];
    }
    m.input_samples += in.size();
    if (m.input_samples > max_samples) {
      return too_long_error(subject + " (at least)", static_cast<double>(m.input_samples) / rate,
                            options.max_seconds);
    }
    resampled.clear();
    if (Status s = resampler->add(in, resampled); !s) {
      return make_error("audio: " + subject + ": " + s.message());
    }
    meter.add(resampled);
    m.output_samples += resampled.size();
  }
  if (m.input_samples == 0) return make_error("audio: " + subject + " has no audio (0 frames)");
  const double seconds = static_cast<double>(m.input_samples) / rate;
  if (seconds > options.max_seconds) return too_long_error(subject, seconds, options.max_seconds);
  const double level = to_dbfs(std::sqrt(sum_squares / static_cast<double>(m.input_samples)));
  if (!(level >= kSilenceDbfs)) {
    return make_error("audio: " + subject + " is silent (RMS " +
                      (std::isinf(level) ? std::string("-inf") : format_number(level, 1)) +
                      " dBFS, below " + format_number(kSilenceDbfs, 0) + " dBFS)");
  }
  resampled.clear();
  if (Status s = resampler->finish(resampled); !s) {
    return make_error("audio: " + subject + ": " + s.message());
  }
  meter.add(resampled);
  m.output_samples += resampled.size();
  m.gated_rms = meter.value();
  return m;
}

// Cuts 48 kHz PCM into Opus frames and the packets into Ogg pages.
class FrameEncoder {
 public:
  FrameEncoder(OpusEncoder* encoder, std::size_t frame, protocol::OggOpusWriter writer,
               const std::string& subject)
      : encoder_(encoder), frame_(frame), writer_(std::move(writer)), subject_(subject) {}

  Status add(std::span<const float> pcm) {
    pending_.insert(pending_.end(), pcm.begin(), pcm.end());
    std::size_t at = 0;
    for (; pending_.size() - at >= frame_; at += frame_) {
      if (Status s = encode(pending_.data() + at); !s) return s;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(at));
    return Status::success();
  }

  // Pads with `tail` samples of silence (the decoder's lag), then up to a whole frame.
  Status finish(std::size_t tail) {
    pending_.insert(pending_.end(), tail, 0.0f);
    if (pending_.size() % frame_ != 0) pending_.resize((pending_.size() / frame_ + 1) * frame_);
    if (Status s = add({}); !s) return s;
    return writer_.finish();
  }

  std::uint64_t packets() const { return packets_; }

 private:
  Status encode(const float* input) {
    // The wire carries packets of at most kMaxOpusPacket bytes; the encoder never exceeds it.
    std::array<unsigned char, protocol::kMaxOpusPacket> packet{};
    const opus_int32 bytes =
        opus_encode_float(encoder_, input, static_cast<int>(frame_), packet.data(),
                          static_cast<opus_int32>(packet.size()));
    if (bytes < 0) {
      return make_error("audio: " + subject_ + ": Opus encoding failed at frame " +
                        std::to_string(packets_) + ": " + opus_strerror(bytes));
    }
    ++packets_;
    return writer_.add(protocol::ByteView(packet.data(), static_cast<std::size_t>(bytes)));
  }

  OpusEncoder* encoder_;
  std::size_t frame_;
  protocol::OggOpusWriter writer_;
  const std::string& subject_;
  std::vector<float> pending_;
  std::uint64_t packets_ = 0;
};

// A whole vector of samples.
class VectorSource final : public MonoSource {
 public:
  VectorSource(const std::vector<float>& pcm, std::uint32_t rate) : pcm_(pcm), rate_(rate) {}
  Status rewind() override {
    at_ = 0;
    return Status::success();
  }
  Result<std::size_t> read(std::span<float> out) override {
    const std::size_t n = std::min(out.size(), pcm_.size() - at_);
    std::copy_n(pcm_.begin() + static_cast<std::ptrdiff_t>(at_), n, out.begin());
    at_ += n;
    return n;
  }
  std::uint32_t rate() const override { return rate_; }

 private:
  const std::vector<float>& pcm_;
  std::uint32_t rate_;
  std::size_t at_ = 0;
};

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
  // A packet carries bitrate · frame length of audio, and the wire takes packets of at most
  // kMaxOpusPacket bytes: a longer frame allows a lower bitrate.
  const std::uint64_t packet_bytes = std::uint64_t{o.bitrate} * o.frame_ms / 8000;
  if (packet_bytes > protocol::kMaxOpusPacket) {
    const std::uint64_t most = protocol::kMaxOpusPacket * 8000 / o.frame_ms;
    return make_error(
        "audio: bitrate " + std::to_string(o.bitrate) + " bit/s with frame_ms " +
        std::to_string(o.frame_ms) + " makes packets of " + std::to_string(packet_bytes) +
        " bytes, above the wire's " + std::to_string(protocol::kMaxOpusPacket) + " (at most " +
        std::to_string(most) + " bit/s with frames of " + std::to_string(o.frame_ms) + " ms)");
  }
  if (!(o.max_seconds > 0)) return make_error("audio: max_seconds must be positive");
  if (!(o.target_rms_dbfs >= -50.0 && o.target_rms_dbfs <= -3.0)) {
    return make_error("audio: target_rms_dbfs " + format_number(o.target_rms_dbfs, 1) +
                      " out of range (-50..-3)");
  }
  return Status::success();
}

Result<EncodedStream> encode_source(MonoSource& source, const EncodeOptions& options,
                                    const std::string& subject,
                                    const protocol::OggOpusWriter::Out& out) {
  if (auto ok = check_options(options); !ok) return make_error(ok.message());
  const std::uint32_t rate = source.rate();
  if (rate < kMinRate || rate > kMaxRate) {
    return make_error("audio: " + subject + " has an unsupported sample rate of " +
                      std::to_string(rate) + " Hz");
  }
  auto measured = measure(source, options, subject);
  if (!measured) return measured.error();
  const double gain = std::pow(10.0, options.target_rms_dbfs / 20.0) / measured->gated_rms;

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

  EncodedStream result;
  result.info.channels = 1;
  result.info.pre_skip = static_cast<std::uint16_t>(lookahead);
  result.info.input_rate = rate;
  result.info.total_samples = measured->output_samples;
  auto writer = protocol::OggOpusWriter::create(result.info, out);
  if (!writer) return make_error("audio: " + subject + ": " + writer.error().message);
  FrameEncoder frames(encoder.get(), protocol::kOpusRate / 1000 * options.frame_ms,
                      std::move(*writer), subject);

  // The second pass: the same samples, resampled, normalized, limited and encoded.
  if (Status s = source.rewind(); !s) return make_error(s.message());
  auto resampler = Resampler::create(rate);
  if (!resampler) return make_error("audio: " + subject + ": " + resampler.error().message);
  Limiter limiter(gain, static_cast<float>(std::pow(10.0, kPeakCeilingDbfs / 20.0)),
                  protocol::kOpusRate);
  std::vector<float> block(kBlock);
  std::vector<float> resampled;
  std::vector<float> limited;
  std::uint64_t input_samples = 0;
  std::uint64_t output_samples = 0;
  auto forward = [&]() -> Status {
    limited.clear();
    limiter.add(resampled, limited);
    resampled.clear();
    output_samples += limited.size();
    return frames.add(limited);
  };
  for (;;) {
    auto got = source.read(block);
    if (!got) return got.error();
    if (*got == 0) break;
    input_samples += *got;
    // A source that changed between the passes must not make a stream longer than its header.
    if (input_samples > measured->input_samples) break;
    if (Status s = resampler->add(std::span<const float>(block.data(), *got), resampled); !s) {
      return make_error("audio: " + subject + ": " + s.message());
    }
    if (Status s = forward(); !s) return make_error(s.message());
  }
  if (input_samples != measured->input_samples) {
    return make_error("audio: " + subject + " read differently the second time (" +
                      std::to_string(measured->input_samples) + " samples, then " +
                      std::to_string(input_samples) + ")");
  }
  if (Status s = resampler->finish(resampled); !s) {
    return make_error("audio: " + subject + ": " + s.message());
  }
  if (Status s = forward(); !s) return make_error(s.message());
  limited.clear();
  limiter.finish(limited);
  output_samples += limited.size();
  if (Status s = frames.add(limited); !s) return make_error(s.message());
  if (output_samples != measured->output_samples) {
    return make_error("audio: " + subject + ": resampling gave " +
                      std::to_string(measured->output_samples) + " samples, then " +
                      std::to_string(output_samples));
  }
  if (Status s = frames.finish(static_cast<std::size_t>(lookahead)); !s) {
    return make_error(s.message());
  }
  result.packets = frames.packets();
  result.duration_s = static_cast<double>(result.info.total_samples) / protocol::kOpusRate;
  return result;
}

Result<EncodedAudio> encode_in_memory(MonoSource& source, const EncodeOptions& options,
                                      const std::string& subject) {
  EncodedAudio result;
  auto encoded = encode_source(source, options, subject, [&](protocol::ByteView page) {
    result.ogg.insert(result.ogg.end(), page.begin(), page.end());
    return Status::success();
  });
  if (!encoded) return encoded.error();
  auto stream = protocol::read_ogg_opus(result.ogg);
  if (!stream) return make_error("audio: " + subject + ": " + stream.error().message);
  result.stream = std::move(*stream);
  result.duration_s = encoded->duration_s;
  return result;
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
  VectorSource source(mono, rate);
  return encode_in_memory(source, options, subject);
}

}  // namespace audio_detail

Status check_encode_options(const EncodeOptions& options) {
  return audio_detail::check_options(options);
}

Result<EncodedAudio> encode_pcm(const std::vector<float>& mono, std::uint32_t rate,
                                const EncodeOptions& options) {
  return audio_detail::encode_pcm_named(mono, rate, options, "PCM input");
}

}  // namespace loa::controller
