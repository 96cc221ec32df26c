// libFuzzer target: decode_receipt.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_receipt)
