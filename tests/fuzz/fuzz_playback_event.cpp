// libFuzzer target: decode_playback_event.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_playback_event)
