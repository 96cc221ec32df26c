// libFuzzer target: decode_fetch.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_fetch)
