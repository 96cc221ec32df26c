#include "loa/protocol/messages.hpp"

#include <sodium.h>

#include <string>

#include "wire.hpp"

namespace loa::protocol {
namespace {

using wire::Reader;
using wire::Writer;

constexpr std::string_view kAreaPrefix = "area:";
constexpr std::string_view kNodePrefix = "node:";

// Fixed sizes, used to refuse counts that cannot fit before allocating for them.
constexpr std::size_t kOccurrenceSize = 8 + 8 + 8 + 8 + 1 + 1 + 1;
constexpr std::size_t kMinPacketSize = 2 + 1;
constexpr std::size_t kMinHeldPlanSize = 2 + 8;
constexpr std::uint8_t kMaxVolume = 100;

// Free text is cut at a character boundary and made valid UTF-8 so it always decodes.
std::string clip_text(std::string_view text) {
  std::string out(text);
  if (!wire::is_utf8(out)) {
    for (char& c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  if (out.size() > kMaxTextLength) {
    std::size_t end = kMaxTextLength;
    while (end > 0 && (static_cast<unsigned char>(out[end]) & 0xc0) == 0x80) --end;
    out.resize(end);
  }
  return out;
}

bool is_opus_rate(std::uint32_t rate) {
  return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

}  // namespace

std::string area_scope(const AreaPath& area) {
  return std::string(kAreaPrefix) + area.str();
}

std::string node_scope(std::string_view node_id) {
  return std::string(kNodePrefix) + std::string(node_id);
}

loa::Status validate_scope(std::string_view scope) {
  std::string shown = "scope '";
  for (const char c : scope.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    shown += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  shown += scope.size() > 40 ? "...': " : "': ";
  if (scope.size() > kMaxScopeLength) {
    return make_error(shown + "is " + std::to_string(scope.size()) + " characters long (at most " +
                      std::to_string(kMaxScopeLength) + ")");
  }
  if (scope.substr(0, kAreaPrefix.size()) == kAreaPrefix) {
    auto area = AreaPath::parse(scope.substr(kAreaPrefix.size()));
    if (!area) return make_error(shown + area.error().message);
    return loa::Status::success();
  }
  if (scope.substr(0, kNodePrefix.size()) == kNodePrefix) {
    auto valid = validate_node_id(scope.substr(kNodePrefix.size()));
    if (!valid) return make_error(shown + valid.message());
    return loa::Status::success();
  }
  return make_error(shown + "must start with 'area:' or 'node:'");
}

Digest sha256(ByteView data) {
  wire::ensure_sodium();
  Digest out{};
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

// ---- Plan

Bytes encode(const Plan& m) {
  Writer w(2 + m.scope.size() + 8 + 2 + m.occurrences.size() * kOccurrenceSize);
  w.str16(m.scope, kMaxScopeLength);
  w.u64(m.version);
  w.count16(m.occurrences.size(), kMaxOccurrencesPerPlan);
  for (const auto& o : m.occurrences) {
    w.u64(o.occurrence_id);
    w.u64(o.bulletin_id);
    w.i64(o.start_us);
    w.i64(o.expiry_us);
    w.u8(static_cast<std::uint8_t>(o.priority));
    w.u8(o.volume);
    w.boolean(o.live);
  }
  return w.take();
}

Result<Plan> decode_plan(ByteView body) {
  Reader r(body, "plan");
  Plan m;
  m.scope = r.scope("scope");
  m.version = r.u64("version");
  const std::size_t n = r.count16("occurrences", 0, kMaxOccurrencesPerPlan, kOccurrenceSize);
  m.occurrences.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    r.item("occurrences", i);
    Occurrence o;
    o.occurrence_id = r.u64("occurrence_id");
    o.bulletin_id = r.u64("bulletin_id");
    o.start_us = r.i64("start_us");
    o.expiry_us = r.i64("expiry_us");
    o.priority = static_cast<Priority>(r.enum8("priority", 2));
    o.volume = r.bounded8("volume", kMaxVolume);
    o.live = r.boolean("live");
    m.occurrences.push_back(o);
  }
  r.end_items();
  return r.finish(std::move(m));
}

// ---- Manifest

Bytes encode(const Manifest& m) {
  Writer w(8 + 4 + 1 + 2 + 4 + 2 + 8 + 4 + m.chunk_digests.size() * 32);
  w.u64(m.bulletin_id);
  w.u32(m.sample_rate);
  w.u8(m.channels);
  w.u16(m.frame_ms);
  w.u32(m.bitrate);
  w.u16(m.pre_skip);
  w.u64(m.total_samples);
  w.count32(m.chunk_digests.size(), kMaxChunksPerBulletin);
  for (const auto& d : m.chunk_digests) w.raw(d);
  return w.take();
}

Result<Manifest> decode_manifest(ByteView body) {
  Reader r(body, "manifest");
  Manifest m;
  m.bulletin_id = r.u64("bulletin_id");
  const std::size_t rate_at = r.offset();
  m.sample_rate = r.u32("sample_rate");
  if (!r.failed() && !is_opus_rate(m.sample_rate)) {
    r.fail("sample_rate",
           "unsupported rate " + std::to_string(m.sample_rate) +
               " (8000, 12000, 16000, 24000 or 48000)",
           rate_at);
  }
  const std::size_t channels_at = r.offset();
  m.channels = r.u8("channels");
  if (!r.failed() && (m.channels < 1 || m.channels > 2)) {
    r.fail("channels", "unsupported channel count " + std::to_string(m.channels) + " (1 or 2)",
           channels_at);
  }
  m.frame_ms = r.u16("frame_ms");
  m.bitrate = r.u32("bitrate");
  m.pre_skip = r.u16("pre_skip");
  m.total_samples = r.u64("total_samples");
  const std::size_t n = r.count32("chunk_digests", 1, kMaxChunksPerBulletin, 32);
  m.chunk_digests.resize(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    r.item("chunk_digests", i);
    r.raw(m.chunk_digests[i], "");
  }
  r.end_items();
  return r.finish(std::move(m));
}

// ---- AudioChunk

Bytes encode(const AudioChunk& m) {
  std::size_t size = 8 + 4 + 8 + 2;
  for (const auto& p : m.packets) size += 2 + p.size();
  Writer w(size);
  w.u64(m.stream_id);
  w.u32(m.index);
  w.i64(m.sender_us);
  w.count16(m.packets.size(), kMaxPacketsPerChunk);
  for (const auto& p : m.packets) w.blob16(p, kMaxOpusPacket);
  return w.take();
}

Result<AudioChunk> decode_audio_chunk(ByteView body) {
  Reader r(body, "audio_chunk");
  AudioChunk m;
  m.stream_id = r.u64("stream_id");
  m.index = r.u32("index");
  m.sender_us = r.i64("sender_us");
  // No packets: the end of a live stream (a bulletin chunk never matches its digest empty).
  const std::size_t n = r.count16("packets", 0, kMaxPacketsPerChunk, kMinPacketSize);
  m.packets.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    r.item("packets", i);
    m.packets.push_back(r.blob16("", 1, kMaxOpusPacket));
  }
  r.end_items();
  return r.finish(std::move(m));
}

// ---- Control

Bytes encode(const Control& m) {
  if (!validate_scope(m.target)) wire::contract_violation("encode(Control): invalid target");
  Writer w(9 + 2 + m.target.size());
  w.u8(static_cast<std::uint8_t>(m.command));
  w.u64(m.value);
  w.str16(m.target, kMaxScopeLength);
  return w.take();
}

Result<Control> decode_control(ByteView body) {
  Reader r(body, "control");
  Control m;
  m.command = static_cast<ControlCommand>(r.enum8("command", 7));
  m.value = r.u64("value");
  if (!r.failed() && r.remaining() == 0) {
    return make_error("control: target: truncated at offset " + std::to_string(r.offset()) +
                      " (no target: a control of protocol revision 1, which did not sign it)");
  }
  m.target = r.scope("target");
  return r.finish(std::move(m));
}

// ---- PlaybackEvent

Bytes encode(const PlaybackEvent& m) {
  const std::string detail = clip_text(m.detail);
  Writer w(2 + m.node_id.size() + 8 + 8 + 1 + 8 + 8 + 4 + 4 + 4 + 8 + 2 + detail.size());
  w.str16(m.node_id, kMaxIdLength);
  w.u64(m.occurrence_id);
  w.u64(m.bulletin_id);
  w.u8(static_cast<std::uint8_t>(m.outcome));
  w.i64(m.start_us);
  w.i64(m.end_us);
  w.u32(m.frames_played);
  w.u32(m.frames_concealed);
  w.u32(m.frames_dropped);
  w.u64(m.event_seq);
  w.str16(detail, kMaxTextLength);
  return w.take();
}

Result<PlaybackEvent> decode_playback_event(ByteView body) {
  Reader r(body, "playback_event");
  PlaybackEvent m;
  m.node_id = r.node_id("node_id");
  m.occurrence_id = r.u64("occurrence_id");
  m.bulletin_id = r.u64("bulletin_id");
  m.outcome = static_cast<Outcome>(r.enum8("outcome", 6));
  m.start_us = r.i64("start_us");
  m.end_us = r.i64("end_us");
  m.frames_played = r.u32("frames_played");
  m.frames_concealed = r.u32("frames_concealed");
  m.frames_dropped = r.u32("frames_dropped");
  m.event_seq = r.u64("event_seq");
  m.detail = r.str16("detail", kMaxTextLength);
  return r.finish(std::move(m));
}

// ---- Receipt

Bytes encode(const Receipt& m) {
  Writer w(2 + m.node_id.size() + 8);
  w.str16(m.node_id, kMaxIdLength);
  w.u64(m.recorded_through);
  return w.take();
}

Result<Receipt> decode_receipt(ByteView body) {
  Reader r(body, "receipt");
  Receipt m;
  m.node_id = r.node_id("node_id");
  m.recorded_through = r.u64("recorded_through");
  return r.finish(std::move(m));
}

// ---- Status

Bytes encode(const Status& m) {
  const std::string version = clip_text(m.version);
  const std::string device = clip_text(m.output_device);
  const std::string error = clip_text(m.output_error);
  const std::string site = clip_text(m.site_output);
  Writer w(2 + m.node_id.size() + 2 + version.size() + 6 * 8 + 2 + 1 + 8 + 2 + 8 + 8 + 1 + 2 +
           device.size() + 2 + error.size() + 1 + 4 + 2 + site.size());
  w.str16(m.node_id, kMaxIdLength);
  w.str16(version, kMaxTextLength);
  w.u64(m.uptime_s);
  w.u64(m.plan_version);
  w.u64(m.cache_bytes);
  w.u64(m.cache_limit_bytes);
  w.i64(m.clock_offset_us);
  w.boolean(m.output_ok);
  w.u8(m.volume);
  w.boolean(m.online);
  w.u64(m.session);
  w.boolean(m.clock_corrected);
  w.boolean(m.muted);
  w.u64(m.last_occurrence_id);
  w.i64(m.last_end_us);
  w.u8(static_cast<std::uint8_t>(m.last_outcome));
  w.str16(device, kMaxTextLength);
  w.str16(error, kMaxTextLength);
  w.boolean(m.cpu_temp_mc.has_value());
  w.u32(static_cast<std::uint32_t>(m.cpu_temp_mc.value_or(0)));
  w.str16(site, kMaxTextLength);
  return w.take();
}

Result<Status> decode_status(ByteView body) {
  Reader r(body, "status");
  Status m;
  m.node_id = r.node_id("node_id");
  m.version = r.str16("version", kMaxTextLength);
  m.uptime_s = r.u64("uptime_s");
  m.plan_version = r.u64("plan_version");
  m.cache_bytes = r.u64("cache_bytes");
  m.cache_limit_bytes = r.u64("cache_limit_bytes");
  m.clock_offset_us = r.i64("clock_offset_us");
  m.output_ok = r.boolean("output_ok");
  m.volume = r.bounded8("volume", kMaxVolume);
  m.online = r.boolean("online");
  m.session = r.u64("session");
  m.clock_corrected = r.boolean("clock_corrected");
  m.muted = r.boolean("muted");
  m.last_occurrence_id = r.u64("last_occurrence_id");
  m.last_end_us = r.i64("last_end_us");
  m.last_outcome = static_cast<Outcome>(r.enum8("last_outcome", 6));
  m.output_device = r.str16("output_device", kMaxTextLength);
  m.output_error = r.str16("output_error", kMaxTextLength);
  const bool has_temp = r.boolean("has_cpu_temp");
  const std::size_t temp_at = r.offset();
  const auto temp = static_cast<std::int32_t>(r.u32("cpu_temp_mc"));
  if (has_temp) {
    m.cpu_temp_mc = temp;
  } else if (temp != 0) {
    // One encoding per value: an absent temperature is written as 0.
    r.fail("cpu_temp_mc", "must be 0 when has_cpu_temp is 0", temp_at);
  }
  m.site_output = r.str16("site_output", kMaxTextLength);
  return r.finish(std::move(m));
}

// ---- Hello

Bytes encode(const Hello& m) {
  const std::string version = clip_text(m.version);
  Writer w(2 + m.node_id.size() + 2 + version.size() + 32 + 2 + m.plans.size() * 40);
  w.str16(m.node_id, kMaxIdLength);
  w.str16(version, kMaxTextLength);
  w.raw(m.public_key);
  w.count16(m.plans.size(), kMaxHeldPlans);
  for (const auto& p : m.plans) {
    w.str16(p.scope, kMaxScopeLength);
    w.u64(p.version);
  }
  return w.take();
}

Result<Hello> decode_hello(ByteView body) {
  Reader r(body, "hello");
  Hello m;
  m.node_id = r.node_id("node_id");
  m.version = r.str16("version", kMaxTextLength);
  r.raw(m.public_key, "public_key");
  const std::size_t n = r.count16("plans", 0, kMaxHeldPlans, kMinHeldPlanSize);
  m.plans.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    r.item("plans", i);
    HeldPlan p;
    p.scope = r.scope("scope");
    p.version = r.u64("version");
    m.plans.push_back(std::move(p));
  }
  r.end_items();
  return r.finish(std::move(m));
}

// ---- Fetch

Bytes encode(const Fetch& m) {
  Writer w(2 + m.node_id.size() + 8 + 1 + 4 + 4 * m.indices.size() + 8);
  w.str16(m.node_id, kMaxIdLength);
  w.u64(m.bulletin_id);
  w.boolean(m.want_manifest);
  w.count32(m.indices.size(), kMaxFetchIndices);
  for (const auto i : m.indices) w.u32(i);
  w.u64(m.seen_manifest_sequence);
  return w.take();
}

Result<Fetch> decode_fetch(ByteView body) {
  Reader r(body, "fetch");
  Fetch m;
  m.node_id = r.node_id("node_id");
  m.bulletin_id = r.u64("bulletin_id");
  m.want_manifest = r.boolean("want_manifest");
  const std::size_t n = r.count32("indices", 0, kMaxFetchIndices, 4);
  m.indices.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    r.item("indices", i);
    const std::size_t at = r.offset();
    const std::uint32_t index = r.u32("");
    if (!r.failed() && index >= kMaxChunksPerBulletin) {
      r.fail("",
             "chunk index " + std::to_string(index) + " beyond limit " +
                 std::to_string(kMaxChunksPerBulletin - 1),
             at);
    }
    m.indices.push_back(index);
  }
  r.end_items();
  m.seen_manifest_sequence = r.u64("seen_manifest_sequence");
  return r.finish(std::move(m));
}

// ---- CacheReport

Bytes encode(const CacheReport& m) {
  const std::string detail = clip_text(m.detail);
  Writer w(2 + m.node_id.size() + 8 + 1 + 2 + detail.size());
  w.str16(m.node_id, kMaxIdLength);
  w.u64(m.bulletin_id);
  w.u8(static_cast<std::uint8_t>(m.state));
  w.str16(detail, kMaxTextLength);
  return w.take();
}

Result<CacheReport> decode_cache_report(ByteView body) {
  Reader r(body, "cache_report");
  CacheReport m;
  m.node_id = r.node_id("node_id");
  m.bulletin_id = r.u64("bulletin_id");
  m.state = static_cast<CacheState>(r.enum8("state", 2));
  m.detail = r.str16("detail", kMaxTextLength);
  return r.finish(std::move(m));
}

// ---- Names

const char* to_string(Priority p) {
  switch (p) {
    case Priority::normal:
      return "normal";
    case Priority::priority:
      return "priority";
    case Priority::emergency:
      return "emergency";
  }
  return "unknown";
}

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::completed:
      return "completed";
    case Outcome::partial:
      return "partial";
    case Outcome::preempted:
      return "preempted";
    case Outcome::expired:
      return "expired";
    case Outcome::failed:
      return "failed";
    case Outcome::rejected:
      return "rejected";
    case Outcome::cancelled:
      return "cancelled";
  }
  return "unknown";
}

const char* to_string(CacheState s) {
  switch (s) {
    case CacheState::cached:
      return "cached";
    case CacheState::rejected:
      return "rejected";
    case CacheState::failed:
      return "failed";
  }
  return "unknown";
}

const char* to_string(ControlCommand c) {
  switch (c) {
    case ControlCommand::volume:
      return "volume";
    case ControlCommand::mute:
      return "mute";
    case ControlCommand::cancel:
      return "cancel";
    case ControlCommand::ping:
      return "ping";
    case ControlCommand::test_tone:
      return "test_tone";
    case ControlCommand::restart:
      return "restart";
    case ControlCommand::reload:
      return "reload";
    case ControlCommand::time:
      return "time";
  }
  return "unknown";
}

Result<Priority> parse_priority(std::string_view text) {
  for (const auto p : {Priority::normal, Priority::priority, Priority::emergency}) {
    if (text == to_string(p)) return p;
  }
  return make_error("unknown priority '" + std::string(text.substr(0, 40)) +
                    "' (normal, priority or emergency)");
}

Result<Outcome> parse_outcome(std::string_view text) {
  for (const auto o : {Outcome::completed, Outcome::partial, Outcome::preempted, Outcome::expired,
                       Outcome::failed, Outcome::rejected, Outcome::cancelled}) {
    if (text == to_string(o)) return o;
  }
  return make_error("unknown outcome '" + std::string(text.substr(0, 40)) +
                    "' (completed, partial, preempted, expired, failed, rejected or cancelled)");
}

}  // namespace loa::protocol
