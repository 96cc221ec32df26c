// Capture through PortAudio's blocking read API.
#include <portaudio.h>

#include "loa/controller/capture.hpp"
#include "loa/runtime/portaudio_device.hpp"

namespace loa::controller {
namespace {

class PortAudioCapture final : public Capture {
 public:
  ~PortAudioCapture() override {
    if (stream_) {
      Pa_StopStream(stream_);
      Pa_CloseStream(stream_);
    }
  }

  loa::Status open(const std::string& device, std::uint32_t rate) {
    if (!session_.status().ok()) return session_.status();
    auto index = runtime::find_portaudio_device(device == "default" ? "" : device,
                                                runtime::AudioDirection::input);
    if (!index) return index.error();
    PaStreamParameters in{};
    in.device = *index;
    in.channelCount = 1;
    in.sampleFormat = paInt16;
    in.suggestedLatency = Pa_GetDeviceInfo(*index)->defaultHighInputLatency;
    PaError e = Pa_OpenStream(&stream_, &in, nullptr, rate, paFramesPerBufferUnspecified, paNoFlag,
                              nullptr, nullptr);
    if (e == paNoError) e = Pa_StartStream(stream_);
    if (e != paNoError) {
      return make_error("portaudio: open input device '" + device + "' at " + std::to_string(rate) +
                        " Hz mono: " + Pa_GetErrorText(e));
    }
    return {};
  }

  loa::Status read(std::size_t frames, std::string& pcm) override {
    const std::size_t at = pcm.size();
    pcm.resize(at + 2 * frames);
    const PaError e = Pa_ReadStream(stream_, pcm.data() + at, static_cast<unsigned long>(frames));
    // An overflow lost samples before these; the ones read are good.
    if (e == paInputOverflowed) {
      ++overflows_;
    } else if (e != paNoError) {
      pcm.resize(at);
      return make_error(std::string("portaudio: read: ") + Pa_GetErrorText(e));
    }
    return {};
  }

  std::uint64_t overflows() const override { return overflows_; }

 private:
  runtime::PortAudioSession session_;
  PaStream* stream_ = nullptr;
  std::uint64_t overflows_ = 0;
};

}  // namespace

Result<std::unique_ptr<Capture>> open_capture(const std::string& device, std::uint32_t rate) {
  auto capture = std::make_unique<PortAudioCapture>();
  if (auto s = capture->open(device, rate); !s.ok()) return make_error(s.message());
  return std::unique_ptr<Capture>(std::move(capture));
}

}  // namespace loa::controller
