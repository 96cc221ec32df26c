// libFuzzer target: decode_plan.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_plan)
