// Message bodies of the wire protocol, with their size caps. Byte layouts: PROTOCOL.md.
// Each body has encode() (always succeeds for values within the caps; free text beyond
// kMaxTextLength is cut at a UTF-8 character boundary; any other length or count beyond its cap is
// a programming error and aborts; contents such as id characters are not checked) and decode()
// (checks every length, rejects trailing bytes, unknown enum values and invalid ids or scopes,
// names the field and byte offset).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loa/protocol/area_path.hpp"
#include "loa/protocol/result.hpp"

namespace loa::protocol {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using Digest = std::array<std::uint8_t, 32>;  // SHA-256

// Instants are microseconds since the Unix epoch, UTC.
using Micros = std::int64_t;

// Caps. A decoder refuses anything beyond them.
inline constexpr std::size_t kMaxOccurrencesPerPlan = 1024;
inline constexpr std::size_t kMaxChunksPerBulletin = 16384;  // 4.5 h of 1 s chunks
inline constexpr std::size_t kMaxPacketsPerChunk = 250;      // 5 s of 20 ms packets
inline constexpr std::size_t kMaxOpusPacket = 1275;          // RFC 6716
inline constexpr std::size_t kMaxIdLength = 64;              // node ids, scopes' node part
inline constexpr std::size_t kMaxScopeLength = 140;          // "area:" + area path or "node:" + id
inline constexpr std::size_t kMaxTextLength = 256;           // free text (versions, reasons)
inline constexpr std::size_t kMaxFetchIndices = 4096;
inline constexpr std::size_t kMaxHeldPlans = 16;

enum class Priority : std::uint8_t { normal = 0, priority = 1, emergency = 2 };

// One scheduled playback in a plan.
struct Occurrence {
  std::uint64_t occurrence_id = 0;
  std::uint64_t bulletin_id = 0;
  Micros start_us = 0;   // the instant the first sample must leave the loudspeaker
  Micros expiry_us = 0;  // not started by then: reported expired, never played late
  Priority priority = Priority::normal;
  std::uint8_t volume = 100;  // percent of the node's configured level, 0..100
  // A live broadcast: the audio is streamed on loa/v1/live/<bulletin_id> (bulletin_id = the live
  // stream id = the bulletin it is archived as), start_us is the capture instant of its first
  // sample; nodes play it at sender time + their live latency and never fetch it.
  bool live = false;
  friend bool operator==(const Occurrence&, const Occurrence&) = default;
};

// Desired state for one scope: everything a node of that scope must hold and play.
// A newer version replaces the older one for the same scope entirely.
struct Plan {
  std::string scope;  // "area:<path>" or "node:<id>"
  std::uint64_t version = 0;
  std::vector<Occurrence> occurrences;
  friend bool operator==(const Plan&, const Plan&) = default;
};

// What a bulletin's audio is and how to check it: one digest per chunk.
struct Manifest {
  std::uint64_t bulletin_id = 0;
  std::uint32_t sample_rate = 48000;  // Opus decode rate
  std::uint8_t channels = 1;
  std::uint16_t frame_ms = 20;
  std::uint32_t bitrate = 24000;
  std::uint16_t pre_skip = 0;         // samples at 48 kHz to drop at the start (RFC 7845)
  std::uint64_t total_samples = 0;    // samples at 48 kHz after pre-skip and end trimming
  std::vector<Digest> chunk_digests;  // SHA-256 of each chunk's encoded AudioChunk body
  friend bool operator==(const Manifest&, const Manifest&) = default;
};

// A batch of consecutive Opus packets of a bulletin or a live stream. A live stream ends with a
// chunk without packets (index = last index + 1, sender_us = the instant after its last sample).
struct AudioChunk {
  std::uint64_t stream_id = 0;  // bulletin id, or live stream id
  std::uint32_t index = 0;
  Micros sender_us = 0;  // for live: the instant the first packet's first sample was captured
  std::vector<Bytes> packets;
  friend bool operator==(const AudioChunk&, const AudioChunk&) = default;
};

enum class ControlCommand : std::uint8_t {
  volume = 0,
  mute = 1,
  cancel = 2,
  ping = 3,
  test_tone = 4,
  restart = 5,  // the node exits so that systemd restarts it; value unused
  reload = 6,   // the node re-reads its config file; value unused
  time = 7      // answer to a Status: value = that Status's envelope sequence (clock offset)
};

// A direct order to a node or an area. `value` is the volume percent, mute 0/1, the
// occurrence id to cancel, the ping nonce, the test tone's length in milliseconds, or (time)
// the sequence of the Status answered; the envelope's sender time is the controller's clock.
// `target` is the scope it was sent to, "area:<path>" or "node:<id>": a node obeys only a
// control whose target is one of its scopes and that arrived on that target's control topic, so
// a copy re-published elsewhere is refused. A body without a target (protocol revision 1) does
// not decode.
struct Control {
  ControlCommand command = ControlCommand::ping;
  std::uint64_t value = 0;
  std::string target;
  friend bool operator==(const Control&, const Control&) = default;
};

enum class Outcome : std::uint8_t {
  completed = 0,
  partial = 1,
  preempted = 2,
  expired = 3,
  failed = 4,
  rejected = 5,
  cancelled = 6
};

// How one playback ended. Idempotent per (node, occurrence).
struct PlaybackEvent {
  std::string node_id;
  std::uint64_t occurrence_id = 0;
  std::uint64_t bulletin_id = 0;
  Outcome outcome = Outcome::completed;
  Micros start_us = 0;  // 0 when it never started
  Micros end_us = 0;
  std::uint32_t frames_played = 0;  // 20 ms Opus frames
  std::uint32_t frames_concealed = 0;
  std::uint32_t frames_dropped = 0;
  std::uint64_t event_seq = 0;  // per node, from 1, no gaps
  std::string detail;           // why, for failed/rejected/partial; may be empty
  friend bool operator==(const PlaybackEvent&, const PlaybackEvent&) = default;
};

// Controller -> node: every event with sequence <= `recorded_through` is recorded.
struct Receipt {
  std::string node_id;
  std::uint64_t recorded_through = 0;
  friend bool operator==(const Receipt&, const Receipt&) = default;
};

// A node's periodic health report. Inside loa::protocol this name hides loa::Status (the
// result type): write loa::Status there for the latter.
struct Status {
  std::string node_id;
  std::string version;
  std::uint64_t uptime_s = 0;
  std::uint64_t plan_version = 0;  // highest plan version held, any scope
  std::uint64_t cache_bytes = 0;
  std::uint64_t cache_limit_bytes = 0;
  std::int64_t clock_offset_us = 0;
  bool output_ok = true;
  std::uint8_t volume = 100;
  // Appended in session 3 (issue 6); see PROTOCOL.md.
  // False only in the node's last will: the broker publishes it when the connection is lost.
  bool online = true;
  // The envelope sequence of this run's will (sealed at start); a will whose session is older
  // than the newest online status's is stale. 0: no will.
  std::uint64_t session = 0;
  bool clock_corrected = false;  // the node plays by its clock plus clock_offset_us
  bool muted = false;
  std::uint64_t last_occurrence_id = 0;  // the last playback that ended; 0: none yet
  Micros last_end_us = 0;
  Outcome last_outcome = Outcome::completed;
  std::string output_device;  // the audio output as configured ("portaudio:USB", "wav:/x")
  std::string output_error;   // why the output failed last; empty when it works
  std::optional<std::int32_t> cpu_temp_mc;  // milli-degrees Celsius, where the board has one
  std::string site_output;                  // first line(s) of the site script's output
  friend bool operator==(const Status&, const Status&) = default;
};

struct HeldPlan {
  std::string scope;
  std::uint64_t version = 0;
  friend bool operator==(const HeldPlan&, const HeldPlan&) = default;
};

// A (re)connecting node says who it is and what it holds, so the controller can send what is newer.
struct Hello {
  std::string node_id;
  std::string version;
  std::array<std::uint8_t, 32> public_key{};  // the node's Ed25519 public key
  std::vector<HeldPlan> plans;
  friend bool operator==(const Hello&, const Hello&) = default;
};

// Node -> controller: send the manifest (when `indices` is empty and `want_manifest`) and these
// chunks.
struct Fetch {
  std::string node_id;
  std::uint64_t bulletin_id = 0;
  bool want_manifest = false;
  std::vector<std::uint32_t> indices;
  // Envelope sequence of the manifest of this bulletin the node just received while subscribed,
  // on its first request for chunks; 0 on every repeated request. Chunks the controller
  // published after a newer manifest are already on their way to the node, so the controller
  // may leave them out.
  std::uint64_t seen_manifest_sequence = 0;
  friend bool operator==(const Fetch&, const Fetch&) = default;
};

enum class CacheState : std::uint8_t { cached = 0, rejected = 1, failed = 2 };

// Node -> controller: a bulletin is cached (verified, on disk), or was refused and why.
struct CacheReport {
  std::string node_id;
  std::uint64_t bulletin_id = 0;
  CacheState state = CacheState::cached;
  std::string detail;
  friend bool operator==(const CacheReport&, const CacheReport&) = default;
};

Bytes encode(const Plan& m);
Bytes encode(const Manifest& m);
Bytes encode(const AudioChunk& m);
Bytes encode(const Control& m);
Bytes encode(const PlaybackEvent& m);
Bytes encode(const Receipt& m);
Bytes encode(const Status& m);
Bytes encode(const Hello& m);
Bytes encode(const Fetch& m);
Bytes encode(const CacheReport& m);

Result<Plan> decode_plan(ByteView body);
Result<Manifest> decode_manifest(ByteView body);
Result<AudioChunk> decode_audio_chunk(ByteView body);
Result<Control> decode_control(ByteView body);
Result<PlaybackEvent> decode_playback_event(ByteView body);
Result<Receipt> decode_receipt(ByteView body);
Result<Status> decode_status(ByteView body);
Result<Hello> decode_hello(ByteView body);
Result<Fetch> decode_fetch(ByteView body);
Result<CacheReport> decode_cache_report(ByteView body);

// Names for logs, the CLI and the API ("normal", "emergency", "completed", ...).
const char* to_string(Priority p);
const char* to_string(Outcome o);
const char* to_string(CacheState s);
const char* to_string(ControlCommand c);
Result<Priority> parse_priority(std::string_view text);
Result<Outcome> parse_outcome(std::string_view text);

Digest sha256(ByteView data);

// Plan scopes: "area:<area path>" or "node:<node id>".
std::string area_scope(const AreaPath& area);
std::string node_scope(std::string_view node_id);
// Checks a scope string against the two forms above; the error names the scope and the rule.
loa::Status validate_scope(std::string_view scope);

}  // namespace loa::protocol
