// Stand-in for portaudio_capture.cpp in a build without PortAudio.
#include "loa/controller/capture.hpp"

namespace loa::controller {

Result<std::unique_ptr<Capture>> open_capture(const std::string&, std::uint32_t) {
  return make_error(
      "this build has no PortAudio capture (configure with LOA_WITH_PORTAUDIO); pipe a capture "
      "in instead, e.g. arecord -f S16_LE -r 48000 -c 1 | loactl live --stdin "
      "--pcm-format s16le:48000:1 ...");
}

}  // namespace loa::controller
