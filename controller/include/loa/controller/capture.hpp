// Audio capture for `loactl live --device`: 16-bit mono PCM from a PortAudio input device.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "loa/protocol/result.hpp"

namespace loa::controller {

class Capture {
 public:
  virtual ~Capture() = default;
  // Blocks until `frames` samples are captured and appends them to `pcm` as s16le bytes.
  virtual loa::Status read(std::size_t frames, std::string& pcm) = 0;
  // How many times the device had more than was read in time (those samples are lost).
  virtual std::uint64_t overflows() const = 0;
};

// Opens the input device named `device` (the device so named, else the first whose name contains
// it; "default": the default input) at `rate` Hz, mono, 16-bit, and starts it. The error names
// the device and lists the inputs there are; a build without PortAudio says so.
Result<std::unique_ptr<Capture>> open_capture(const std::string& device, std::uint32_t rate);

}  // namespace loa::controller
