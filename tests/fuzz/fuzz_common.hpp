// Shared pieces of the libFuzzer targets. Each target feeds the fuzzer's bytes to one decoder and
// checks the one property every decoder must have: whatever it accepts, encode() writes back to
// exactly the same bytes (the wire format has one encoding per value). Crashes, leaks and
// undefined behaviour are caught by the sanitizers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "loa/protocol/messages.hpp"

namespace loa::protocol::fuzz {

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

template <typename Decode>
void round_trip(ByteView data, Decode decode) {
  auto decoded = decode(data);
  if (!decoded.ok()) {
    if (decoded.error().message.empty()) fail("an error without a message");
    return;
  }
  const Bytes again = encode(decoded.value());
  if (again.size() != data.size() || !std::equal(again.begin(), again.end(), data.begin())) {
    fail("encode(decode(x)) != x");
  }
}

}  // namespace loa::protocol::fuzz

// Defines the libFuzzer entry point for a decode_* function.
#define LOA_FUZZ_DECODER(decoder)                                                                 \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {             \
    loa::protocol::fuzz::round_trip(loa::protocol::ByteView(data, size), loa::protocol::decoder); \
    return 0;                                                                                     \
  }
