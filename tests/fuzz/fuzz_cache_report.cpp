// libFuzzer target: decode_cache_report.
#include "fuzz_common.hpp"

LOA_FUZZ_DECODER(decode_cache_report)
