// The PortAudio sink: blocking Pa_WriteStream, so the player runs at the device's pace.
#include "loa/node/portaudio_sink.hpp"

#include <portaudio.h>

#include <cmath>
#include <optional>

#include "loa/runtime/portaudio_device.hpp"

namespace loa::node {
namespace {

using runtime::AudioDirection;
using runtime::PortAudioSession;

class PortAudioSink final : public Sink {
 public:
  explicit PortAudioSink(std::string device) : device_(std::move(device)) {}
  ~PortAudioSink() override { close(); }

  loa::Status open(std::uint32_t rate, std::uint8_t channels) override {
    close();
    session_.emplace();
    if (!session_->status().ok()) {
      loa::Status failed = session_->status();
      session_.reset();
      return failed;
    }
    auto device = runtime::find_portaudio_device(device_, AudioDirection::output);
    if (!device) {
      session_.reset();
      return device.error();
    }
    PaStreamParameters out{};
    out.device = *device;
    out.channelCount = channels;
    out.sampleFormat = paInt16;
    out.suggestedLatency = Pa_GetDeviceInfo(*device)->defaultHighOutputLatency;
    PaError e = Pa_OpenStream(&stream_, nullptr, &out, rate, paFramesPerBufferUnspecified, paNoFlag,
                              nullptr, nullptr);
    if (e == paNoError) e = Pa_StartStream(stream_);
    if (e != paNoError) {
      const std::string text = Pa_GetErrorText(e);
      close();
      return make_error("portaudio: open device '" + device_ + "': " + text);
    }
    channels_ = channels;
    const PaStreamInfo* info = Pa_GetStreamInfo(stream_);
    latency_us_ = info ? static_cast<protocol::Micros>(std::llround(info->outputLatency * 1e6)) : 0;
    return {};
  }

  protocol::Micros output_latency_us() const override { return latency_us_; }

  loa::Status write(std::span<const std::int16_t> samples) override {
    if (!stream_) return make_error("portaudio: write before open");
    const PaError e = Pa_WriteStream(stream_, samples.data(),
                                     static_cast<unsigned long>(samples.size() / channels_));
    // An underflow is a glitch already heard, not a reason to stop.
    if (e != paNoError && e != paOutputUnderflowed) {
      return make_error(std::string("portaudio: write: ") + Pa_GetErrorText(e));
    }
    return {};
  }

  void close() override {
    if (stream_) {
      Pa_StopStream(stream_);  // plays out what was written
      Pa_CloseStream(stream_);
      stream_ = nullptr;
    }
    session_.reset();
  }

 private:
  std::string device_;
  std::optional<PortAudioSession> session_;
  PaStream* stream_ = nullptr;
  std::uint8_t channels_ = 1;
  protocol::Micros latency_us_ = 0;
};

}  // namespace

bool portaudio_available() {
  return true;
}

loa::Status check_portaudio_device(const std::string& device) {
  PortAudioSession session;
  if (!session.status().ok()) return session.status();
  auto found = runtime::find_portaudio_device(device, AudioDirection::output);
  if (!found) return found.error();
  return {};
}

std::unique_ptr<Sink> make_portaudio_sink(const std::string& device) {
  return std::make_unique<PortAudioSink>(device);
}

}  // namespace loa::node
