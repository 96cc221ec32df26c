// Where the player's PCM goes: a narrow interface with a real (PortAudio) and two test
// implementations (WAV file, null).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::node {

// One audio output for one playback: open, write..., close. Used by one thread at a time.
class Sink {
 public:
  virtual ~Sink() = default;
  // Prepares output of interleaved 16-bit PCM at `rate` Hz. The error names the device or file.
  virtual loa::Status open(std::uint32_t rate, std::uint8_t channels) = 0;
  // Once open: time from a sample being written to it leaving the loudspeaker.
  virtual protocol::Micros output_latency_us() const = 0;
  // Writes interleaved samples; blocks so that the caller runs at real-time pace.
  virtual loa::Status write(std::span<const std::int16_t> samples) = 0;
  // Plays out what was written and releases the output. Safe to call when not open.
  virtual void close() = 0;
  // Once open: hands the output to playback `occurrence_id`, whose samples follow those written
  // so far with no gap (an emergency taking over). False if this sink cannot; the player then
  // closes it and opens a fresh one. The default keeps going as it is.
  virtual bool continue_with(std::uint64_t occurrence_id) {
    (void)occurrence_id;
    return true;
  }
};

// Makes the sink for one playback (a WAV sink names its file after the occurrence id).
// Called from the player thread.
using SinkFactory = std::function<std::unique_ptr<Sink>(std::uint64_t occurrence_id)>;

// The --sink option: "null", "wav:DIR", "portaudio" or "portaudio:DEVICE NAME".
struct SinkSpec {
  enum class Kind { null, wav, portaudio };
  Kind kind = Kind::null;
  std::string argument;  // the directory (wav) or device name (portaudio; empty: default device)
};

// Parses a --sink value; the error quotes it and lists the accepted forms.
Result<SinkSpec> parse_sink_spec(std::string_view text);

// A factory for the spec. Checks what can be checked up front: the WAV directory is created,
// the PortAudio device exists (an error in a build without PortAudio). `clock` paces the null
// and WAV sinks and must outlive the factory.
Result<SinkFactory> make_sink_factory(const SinkSpec& spec, runtime::Clock& clock);

}  // namespace loa::node
