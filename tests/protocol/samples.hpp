// Fixed sample messages shared by the fixture tests, the round-trip tests and the fuzz corpus.
// Changing any value here changes the golden files in tests/fixtures and the hex in PROTOCOL.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loa/protocol/envelope.hpp"
#include "loa/protocol/messages.hpp"

namespace loa::protocol::samples {

// 2024-06-01 07:00:00 in Asia/Ho_Chi_Minh, in microseconds since the epoch.
inline constexpr Micros kMorning = 1717200000LL * 1000000;
inline constexpr std::uint64_t kBulletin = 4242;

inline Plan plan() {
  Plan m;
  m.scope = "area:79/26734";
  m.version = 17;
  m.occurrences.push_back(
      {9001, kBulletin, kMorning, kMorning + 600LL * 1000000, Priority::normal, 80});
  m.occurrences.push_back({9002, 4243, kMorning + 3600LL * 1000000, kMorning + 3900LL * 1000000,
                           Priority::emergency, 100, true});
  return m;
}

inline Manifest manifest() {
  Manifest m;
  m.bulletin_id = kBulletin;
  m.sample_rate = 48000;
  m.channels = 1;
  m.frame_ms = 20;
  m.bitrate = 24000;
  m.pre_skip = 312;
  m.total_samples = 96000;
  Digest a{};
  Digest b{};
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<std::uint8_t>(i);
    b[i] = static_cast<std::uint8_t>(0xff - i);
  }
  m.chunk_digests = {a, b};
  return m;
}

inline AudioChunk audio_chunk() {
  AudioChunk m;
  m.stream_id = 77;
  m.index = 3;
  m.sender_us = kMorning + 1500;
  m.packets = {Bytes{0x48, 0x01, 0x02}, Bytes{0x48, 0xfe}};
  return m;
}

inline Control control() {
  return Control{ControlCommand::volume, 60, "node:hcm-q1-007"};
}

inline PlaybackEvent playback_event() {
  PlaybackEvent m;
  m.node_id = "hcm-q1-007";
  m.occurrence_id = 9001;
  m.bulletin_id = kBulletin;
  m.outcome = Outcome::partial;
  m.start_us = kMorning + 1200;
  m.end_us = kMorning + 45LL * 1000000;
  m.frames_played = 2200;
  m.frames_concealed = 3;
  m.frames_dropped = 1;
  m.event_seq = 12;
  m.detail = "preempted by emergency";
  return m;
}

inline Receipt receipt() {
  return Receipt{"hcm-q1-007", 12};
}

inline Status status() {
  Status m;
  m.node_id = "hcm-q1-007";
  m.version = "0.1.0";
  m.uptime_s = 86400;
  m.plan_version = 17;
  m.cache_bytes = 1048576;
  m.cache_limit_bytes = 536870912;
  m.clock_offset_us = -2500;
  m.output_ok = true;
  m.volume = 90;
  m.online = true;
  m.session = 1717199000000000;
  m.clock_corrected = false;
  m.muted = false;
  m.last_occurrence_id = 9001;
  m.last_end_us = 1717200045000000;
  m.last_outcome = Outcome::completed;
  m.output_device = "portaudio:USB";
  m.output_error = "";
  m.cpu_temp_mc = 48500;
  m.site_output = "rssi -71";
  return m;
}

inline Hello hello() {
  Hello m;
  m.node_id = "hcm-q1-007";
  m.version = "0.1.0";
  for (std::size_t i = 0; i < m.public_key.size(); ++i) {
    m.public_key[i] = static_cast<std::uint8_t>(0xa0 + i);
  }
  m.plans = {HeldPlan{"area:79", 5}, HeldPlan{"node:hcm-q1-007", 2}};
  return m;
}

inline Fetch fetch() {
  return Fetch{"hcm-q1-007", kBulletin, false, {0, 2, 5}, kMorning + 3};
}

inline CacheReport cache_report() {
  return CacheReport{"hcm-q1-007", kBulletin, CacheState::cached, ""};
}

// The controller key of the fixtures: the seed 0x01 0x02 ... 0x20.
inline KeyPair controller_key() {
  SecretKey secret{};
  for (std::size_t i = 0; i < 32; ++i) secret[i] = static_cast<std::uint8_t>(i + 1);
  return KeyPair::from_secret(secret);
}

// A node key of the fixtures: the seed 0x21 0x22 ... 0x40.
inline KeyPair node_key() {
  SecretKey secret{};
  for (std::size_t i = 0; i < 32; ++i) secret[i] = static_cast<std::uint8_t>(i + 0x21);
  return KeyPair::from_secret(secret);
}

}  // namespace loa::protocol::samples
