// Stand-in for portaudio_sink.cpp in a build without PortAudio.
#include "loa/node/portaudio_sink.hpp"

namespace loa::node {

bool portaudio_available() {
  return false;
}

loa::Status check_portaudio_device(const std::string&) {
  return make_error(
      "portaudio: this build has no PortAudio sink (configure with LOA_WITH_PORTAUDIO)");
}

std::unique_ptr<Sink> make_portaudio_sink(const std::string&) {
  return nullptr;
}

}  // namespace loa::node
