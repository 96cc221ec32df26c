// libFuzzer target: decode_hello.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_hello)
