// libFuzzer target: decode_audio_chunk.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_audio_chunk)
