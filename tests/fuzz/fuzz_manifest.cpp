// libFuzzer target: decode_manifest.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_manifest)
