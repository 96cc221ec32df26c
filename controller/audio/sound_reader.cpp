#include <sndfile.h>

#include "loa/controller/audio.hpp"

namespace loa::controller {

Result<std::vector<float>> read_sound_file_mono(const std::string& path, std::uint32_t& rate) {
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (file == nullptr) {
    return make_error("audio: cannot read '" + path + "': " + sf_strerror(nullptr));
  }
  if (info.channels < 1 || info.samplerate < 1) {
    sf_close(file);
    return make_error("audio: '" + path + "' has no channels or no rate");
  }
  std::vector<float> frame(static_cast<std::size_t>(info.channels) * 4096);
  std::vector<float> mono;
  while (true) {
    const sf_count_t got = sf_readf_float(file, frame.data(), 4096);
    if (got <= 0) break;
    for (sf_count_t f = 0; f < got; ++f) {
      float sum = 0;
      for (int c = 0; c < info.channels; ++c) {
        sum += frame[static_cast<std::size_t>(f * info.channels + c)];
      }
      mono.push_back(sum / static_cast<float>(info.channels));
    }
  }
  sf_close(file);
  rate = static_cast<std::uint32_t>(info.samplerate);
  return mono;
}

}  // namespace loa::controller
