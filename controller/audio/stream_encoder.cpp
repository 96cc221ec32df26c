#include <opus.h>
#include <soxr.h>

#include <algorithm>
#include <array>

#include "loa/controller/audio.hpp"
#include "pcm_encoder.hpp"

namespace loa::controller {
namespace {

class OpusStreamEncoder final : public StreamEncoder {
 public:
  OpusStreamEncoder(OpusEncoder* encoder, soxr_t resampler, std::size_t frame,
                    std::uint16_t pre_skip)
      : encoder_(encoder), resampler_(resampler), frame_(frame), pre_skip_(pre_skip) {}
  ~OpusStreamEncoder() override {
    opus_encoder_destroy(encoder_);
    if (resampler_ != nullptr) soxr_delete(resampler_);
  }
  OpusStreamEncoder(const OpusStreamEncoder&) = delete;
  OpusStreamEncoder& operator=(const OpusStreamEncoder&) = delete;

  Status push(std::span<const float> mono, std::vector<protocol::Bytes>& out) override {
    // No input at all would reach soxr_process as (NULL, 0), which means "flush" to it: the
    // resampler is then done, and the next input is written through a null pointer.
    if (mono.empty()) return Status::success();
    if (resampler_ == nullptr) {
      append(mono);
    } else {
      std::vector<float> resampled(mono.size() * 2 * protocol::kOpusRate / 8000 + 64);
      std::size_t done_in = 0;
      std::size_t done_out = 0;
      if (const soxr_error_t err = soxr_process(resampler_, mono.data(), mono.size(), &done_in,
                                                resampled.data(), resampled.size(), &done_out);
          err != nullptr) {
        return make_error(std::string("audio: resampling failed: ") + err);
      }
      append(std::span<const float>(resampled.data(), done_out));
    }
    return drain(out);
  }

  Status finish(std::vector<protocol::Bytes>& out) override {
    if (resampler_ != nullptr) {
      std::vector<float> tail(4096);
      std::size_t done_out = 0;
      soxr_process(resampler_, nullptr, 0, nullptr, tail.data(), tail.size(), &done_out);
      append(std::span<const float>(tail.data(), done_out));
    }
    // Silence for the encoder delay, then up to a whole frame.
    pending_.insert(pending_.end(), pre_skip_, 0.0f);
    if (pending_.size() % frame_ != 0) pending_.resize((pending_.size() / frame_ + 1) * frame_);
    return drain(out);
  }

  std::uint16_t pre_skip() const override { return pre_skip_; }
  std::uint64_t samples_in() const override { return samples_in_; }

 private:
  void append(std::span<const float> pcm) {
    samples_in_ += pcm.size();
    for (const float v : pcm) pending_.push_back(std::clamp(v, -1.0f, 1.0f));
  }

  Status drain(std::vector<protocol::Bytes>& out) {
    // The wire carries packets of at most kMaxOpusPacket bytes; the encoder never exceeds it.
    std::array<unsigned char, protocol::kMaxOpusPacket> packet{};
    std::size_t at = 0;
    while (pending_.size() - at >= frame_) {
      const opus_int32 bytes =
          opus_encode_float(encoder_, pending_.data() + at, static_cast<int>(frame_), packet.data(),
                            static_cast<opus_int32>(packet.size()));
      if (bytes < 0)
        return make_error(std::string("audio: Opus encoding failed: ") + opus_strerror(bytes));
      out.emplace_back(packet.begin(), packet.begin() + bytes);
      at += frame_;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(at));
    return Status::success();
  }

  OpusEncoder* encoder_;
  soxr_t resampler_;
  std::size_t frame_;
  std::uint16_t pre_skip_;
  std::vector<float> pending_;
  std::uint64_t samples_in_ = 0;
};

}  // namespace

Result<std::unique_ptr<StreamEncoder>> StreamEncoder::create(std::uint32_t input_rate,
                                                             const EncodeOptions& options) {
  if (Status ok = audio_detail::check_options(options); !ok) return make_error(ok.message());
  if (input_rate < 8000 || input_rate > 192000) {
    return make_error("audio: input rate " + std::to_string(input_rate) +
                      " Hz out of range (8000..192000)");
  }
  int err = OPUS_OK;
  OpusEncoder* encoder = opus_encoder_create(static_cast<opus_int32>(protocol::kOpusRate), 1,
                                             OPUS_APPLICATION_VOIP, &err);
  if (err != OPUS_OK || encoder == nullptr) {
    return make_error(std::string("audio: cannot create the Opus encoder: ") + opus_strerror(err));
  }
  opus_encoder_ctl(encoder, OPUS_SET_BITRATE(static_cast<opus_int32>(options.bitrate)));
  opus_encoder_ctl(encoder, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  opus_int32 lookahead = 0;
  opus_encoder_ctl(encoder, OPUS_GET_LOOKAHEAD(&lookahead));
  soxr_t resampler = nullptr;
  if (input_rate != protocol::kOpusRate) {
    soxr_error_t serr = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    resampler = soxr_create(input_rate, protocol::kOpusRate, 1, &serr, &io, &quality, nullptr);
    if (serr != nullptr) {
      opus_encoder_destroy(encoder);
      return make_error(std::string("audio: cannot create the resampler: ") + serr);
    }
  }
  const std::size_t frame = protocol::kOpusRate / 1000 * options.frame_ms;
  return std::unique_ptr<StreamEncoder>(std::make_unique<OpusStreamEncoder>(
      encoder, resampler, frame, static_cast<std::uint16_t>(lookahead)));
}

}  // namespace loa::controller
