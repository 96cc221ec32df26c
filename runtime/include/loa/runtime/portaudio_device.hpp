// PortAudio's library session and device lookup, shared by the node's sink (output) and loactl's
// capture (input). Built only with PortAudio (LOA_HAVE_PORTAUDIO).
#pragma once
#include <string>
#include <vector>

#include "loa/protocol/result.hpp"

namespace loa::runtime {

// Pa_Initialize / Pa_Terminate are reference counted by PortAudio; one session per holder.
class PortAudioSession {
 public:
  PortAudioSession();
  ~PortAudioSession();
  PortAudioSession(const PortAudioSession&) = delete;
  PortAudioSession& operator=(const PortAudioSession&) = delete;
  // Empty when PortAudio initialized, else the error ("portaudio: initialize: ...").
  const loa::Status& status() const { return status_; }

 private:
  loa::Status status_;
};

enum class AudioDirection { input, output };

// The device index (a PaDeviceIndex) for a name: the device so named, else the first whose name
// contains it; empty: the default device. Only devices with channels in `direction` count. The
// error names the device and lists the ones there are. Needs a live PortAudioSession.
Result<int> find_portaudio_device(const std::string& name, AudioDirection direction);

// The names of the devices with channels in `direction`.
std::vector<std::string> portaudio_device_names(AudioDirection direction);

}  // namespace loa::runtime
