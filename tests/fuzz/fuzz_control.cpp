// libFuzzer target: decode_control.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_control)
