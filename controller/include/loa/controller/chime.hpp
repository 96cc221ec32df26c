// The attention chime that may open a live broadcast: generated in code, no file to ship.
#pragma once

#include <cstdint>
#include <vector>

namespace loa::controller {

// A two-tone chime ("ding-dong", G5 then E5 with their octave partials), about 1.5 s long
// including a short silence after it, faded in and out, peak about -8 dBFS; mono float PCM at
// `rate` Hz.
std::vector<float> make_chime(std::uint32_t rate = 48000);

}  // namespace loa::controller
