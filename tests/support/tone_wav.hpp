// A WAV file made in memory, for tests and benchmarks that need a bulletin's audio.
#pragma once

#include <cstdint>

#include "loa/protocol/messages.hpp"

namespace loa::test {

// A mono 16-bit WAV file of a 440 Hz tone at 0.3 of full scale.
protocol::Bytes tone_wav(double seconds, std::uint32_t rate = 16000);

}  // namespace loa::test
