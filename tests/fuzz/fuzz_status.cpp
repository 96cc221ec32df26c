// libFuzzer target: decode_status.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_status)
