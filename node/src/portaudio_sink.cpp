// The PortAudio sink: blocking Pa_WriteStream, so the player runs at the device's pace.
#include "loa/node/portaudio_sink.hpp"

#include <portaudio.h>

#include <cmath>
#include <optional>

namespace loa::node {
namespace {

// Pa_Initialize / Pa_Terminate are reference counted by PortAudio; one pair per holder.
class PaSession {
 public:
  PaSession() : error_(Pa_Initialize()) {}
  ~PaSession() {
    if (error_ == paNoError) Pa_Terminate();
  }
  PaSession(const PaSession&) = delete;
  PaSession& operator=(const PaSession&) = delete;
  PaError error() const { return error_; }

 private:
  PaError error_;
};

// The device index for a name (exact, else first containing it; empty: default output).
Result<PaDeviceIndex> find_device(const std::string& name) {
  if (name.empty()) {
    const PaDeviceIndex d = Pa_GetDefaultOutputDevice();
    if (d == paNoDevice) return make_error("portaudio: no default output device");
    return d;
  }
  const PaDeviceIndex count = Pa_GetDeviceCount();
  std::optional<PaDeviceIndex> partial;
  for (PaDeviceIndex i = 0; i < count; ++i) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
    if (!info || info->maxOutputChannels < 1) continue;
    const std::string device_name = info->name ? info->name : "";
    if (device_name == name) return i;
    if (!partial && device_name.find(name) != std::string::npos) partial = i;
  }
  if (partial) return *partial;
  return make_error("portaudio: no output device named '" + name + "'");
}

class PortAudioSink final : public Sink {
 public:
  explicit PortAudioSink(std::string device) : device_(std::move(device)) {}
  ~PortAudioSink() override { close(); }

  loa::Status open(std::uint32_t rate, std::uint8_t channels) override {
    close();
    session_.emplace();
    if (session_->error() != paNoError) {
      std::string text = Pa_GetErrorText(session_->error());
      session_.reset();
      return make_error("portaudio: initialize: " + text);
    }
    auto device = find_device(device_);
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
  std::optional<PaSession> session_;
  PaStream* stream_ = nullptr;
  std::uint8_t channels_ = 1;
  protocol::Micros latency_us_ = 0;
};

}  // namespace

bool portaudio_available() {
  return true;
}

loa::Status check_portaudio_device(const std::string& device) {
  PaSession session;
  if (session.error() != paNoError) {
    return make_error(std::string("portaudio: initialize: ") + Pa_GetErrorText(session.error()));
  }
  auto found = find_device(device);
  if (!found) return found.error();
  return {};
}

std::unique_ptr<Sink> make_portaudio_sink(const std::string& device) {
  return std::make_unique<PortAudioSink>(device);
}

}  // namespace loa::node
