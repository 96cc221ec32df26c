// Timed playout of one live stream (PROTOCOL.md, "Live stream"): every frame leaves the
// loudspeaker at its sender instant plus the live latency; what has not arrived by then is
// concealed, what arrives later is dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "loa/node/jitter_buffer.hpp"
#include "loa/node/sink.hpp"
#include "loa/protocol/messages.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::node {

struct LivePlayoutConfig {
  protocol::Micros latency_us = 300'000;  // sender instant to loudspeaker
  protocol::Micros dry_us = 5'000'000;    // no chunk for this long and nothing buffered: partial
  protocol::Micros extra_output_latency_us = 0;  // added to the sink's own
};

// How a live playback ended. frames_concealed excludes the concealment while the stream ran dry
// before a `partial` end (that silence is not part of the stream).
struct LivePlayoutResult {
  protocol::Outcome outcome = protocol::Outcome::completed;
  protocol::Micros start_us = 0;  // first sample out (0: never started)
  protocol::Micros end_us = 0;
  std::uint32_t frames_played = 0;     // decoded from received packets
  std::uint32_t frames_concealed = 0;  // Opus packet-loss concealment
  std::uint32_t frames_dropped = 0;    // arrived after their play instant
  std::string detail;
};

// Asked before each frame: a reason to stop now (outcome and detail), or nothing.
using LiveInterrupt = std::function<std::optional<std::pair<protocol::Outcome, std::string>>()>;
// Multiplies each sample by gain / 10000 (volume, mute), asked before each frame.
using LiveGain = std::function<std::int32_t()>;

// Plays the stream of `buffer` (which must have started()) on `sink`, opened at 48 kHz mono,
// from the first frame whose play instant is still to come. Blocks until the end chunk's slot is
// reached (completed), the stream runs dry (partial), the sink fails (partial) or `interrupt`
// says so. Reads time only through `clock`. `on_first_write`, if set, is called once after the
// first frame was written.
LivePlayoutResult play_live(const LivePlayoutConfig& config, runtime::Clock& clock,
                            JitterBuffer& buffer, Sink& sink, const LiveInterrupt& interrupt,
                            const LiveGain& gain, const std::function<void()>& on_first_write = {});

}  // namespace loa::node
