#include "loa/runtime/portaudio_device.hpp"

#include <portaudio.h>

#include <optional>

namespace loa::runtime {
namespace {

int channels(const PaDeviceInfo& info, AudioDirection direction) {
  return direction == AudioDirection::input ? info.maxInputChannels : info.maxOutputChannels;
}

const char* word(AudioDirection direction) {
  return direction == AudioDirection::input ? "input" : "output";
}

}  // namespace

PortAudioSession::PortAudioSession() {
  const PaError e = Pa_Initialize();
  if (e != paNoError)
    status_ = make_error(std::string("portaudio: initialize: ") + Pa_GetErrorText(e));
}

PortAudioSession::~PortAudioSession() {
  if (status_.ok()) Pa_Terminate();
}

std::vector<std::string> portaudio_device_names(AudioDirection direction) {
  std::vector<std::string> names;
  const PaDeviceIndex count = Pa_GetDeviceCount();
  for (PaDeviceIndex i = 0; i < count; ++i) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
    if (info && channels(*info, direction) > 0) names.emplace_back(info->name ? info->name : "");
  }
  return names;
}

Result<int> find_portaudio_device(const std::string& name, AudioDirection direction) {
  if (name.empty()) {
    const PaDeviceIndex d = direction == AudioDirection::input ? Pa_GetDefaultInputDevice()
                                                               : Pa_GetDefaultOutputDevice();
    if (d == paNoDevice)
      return make_error(std::string("portaudio: no default ") + word(direction) + " device");
    return static_cast<int>(d);
  }
  const PaDeviceIndex count = Pa_GetDeviceCount();
  std::optional<PaDeviceIndex> partial;
  for (PaDeviceIndex i = 0; i < count; ++i) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
    if (!info || channels(*info, direction) < 1) continue;
    const std::string device_name = info->name ? info->name : "";
    if (device_name == name) return static_cast<int>(i);
    if (!partial && device_name.find(name) != std::string::npos) partial = i;
  }
  if (partial) return static_cast<int>(*partial);
  std::string known;
  for (const auto& n : portaudio_device_names(direction))
    known += (known.empty() ? "" : ", ") + ("'" + n + "'");
  return make_error(std::string("portaudio: no ") + word(direction) + " device named '" + name +
                    "' (" + (known.empty() ? std::string("there are none") : "there are " + known) +
                    ")");
}

}  // namespace loa::runtime
