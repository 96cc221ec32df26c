#include "tone_wav.hpp"

#include <cmath>

namespace loa::test {

protocol::Bytes tone_wav(double seconds, std::uint32_t rate) {
  const auto n = static_cast<std::uint32_t>(seconds * rate);
  protocol::Bytes out;
  out.reserve(44 + std::size_t{n} * 2);
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  auto u16 = [&](std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  auto tag = [&](const char* t) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(t[i]));
  };
  tag("RIFF");
  u32(36 + n * 2);
  tag("WAVE");
  tag("fmt ");
  u32(16);
  u16(1);
  u16(1);
  u32(rate);
  u32(rate * 2);
  u16(2);
  u16(16);
  tag("data");
  u32(n * 2);
  for (std::uint32_t i = 0; i < n; ++i) {
    const double v = 0.3 * std::sin(2 * M_PI * 440.0 * i / rate);
    u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(v * 32767)));
  }
  return out;
}

}  // namespace loa::test
