#include "loa/controller/chime.hpp"

#include <cmath>
#include <numbers>

namespace loa::controller {

std::vector<float> make_chime(std::uint32_t rate) {
  struct Tone {
    double hz;
    double start_s;
  };
  constexpr Tone kTones[] = {{783.99, 0.0}, {659.25, 0.55}};  // G5, E5
  constexpr double kToneS = 0.75;
  constexpr double kTotalS = 1.5;
  constexpr double kFadeS = 0.01;
  constexpr double kPeak = 0.4;
  const auto n = static_cast<std::size_t>(kTotalS * rate);
  std::vector<float> out(n, 0.0f);
  for (const Tone& t : kTones) {
    const auto first = static_cast<std::size_t>(t.start_s * rate);
    const auto len = static_cast<std::size_t>(kToneS * rate);
    for (std::size_t i = 0; i < len && first + i < n; ++i) {
      const double s = static_cast<double>(i) / rate;
      // A struck bell: quick attack, exponential decay, a quiet octave partial.
      const double attack = std::min(1.0, s / kFadeS);
      const double release = std::min(1.0, (kToneS - s) / (4 * kFadeS));
      const double env = attack * release * std::exp(-3.5 * s);
      const double phase = 2 * std::numbers::pi * t.hz * s;
      out[first + i] +=
          static_cast<float>(kPeak * env * (std::sin(phase) + 0.25 * std::sin(2 * phase)) / 1.25);
    }
  }
  return out;
}

}  // namespace loa::controller
