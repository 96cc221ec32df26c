#include "loa/node/live_playout.hpp"

#include <algorithm>
#include <vector>

#include "loa/protocol/ogg_opus.hpp"

namespace loa::node {

using protocol::Micros;
using protocol::Outcome;

namespace {

constexpr std::uint32_t kFrameSamples = protocol::kOpusRate / 50;  // 20 ms at 48 kHz
// Longest single sleep, so that an interruption is noticed soon.
constexpr Micros kMaxSleepUs = 50'000;
// Behind by more than this (a stalled output), playout skips ahead to the next frame to come.
constexpr Micros kMaxBehindUs = 3 * JitterBuffer::kFrameUs;
constexpr Micros kJoinToleranceUs = 2'000;

std::int64_t ceil_div(Micros a, Micros b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a > 0) == (b > 0)) ? q + 1 : q;
}

}  // namespace

LivePlayoutResult play_live(const LivePlayoutConfig& config, runtime::Clock& clock,
                            JitterBuffer& buffer, Sink& sink, const LiveInterrupt& interrupt,
                            const LiveGain& gain, const std::function<void()>& on_first_write) {
  LivePlayoutResult r;
  auto decoder = protocol::OpusPcmDecoder::create(1);
  if (!decoder) {
    r.outcome = Outcome::failed;
    r.detail = decoder.error().message;
    r.end_us = clock.now_us();
    return r;
  }
  const Micros out_latency = sink.output_latency_us() + config.extra_output_latency_us;
  const Micros origin = buffer.origin_us();
  // When slot s must be written so that its first sample leaves at origin + s * 20 ms + L.
  const auto write_at = [&](std::int64_t s) {
    return origin + s * JitterBuffer::kFrameUs + config.latency_us - out_latency;
  };
  // The first slot whose write instant is still to come at `t`.
  const auto next_slot_at = [&](Micros t) {
    return ceil_div(t - origin - config.latency_us + out_latency, JitterBuffer::kFrameUs);
  };
  // A frame due up to 2 ms ago still plays (a takeover hands over right at its instant).
  std::int64_t slot = next_slot_at(clock.now_us() - kJoinToleranceUs);
  if (const auto first = buffer.first_slot()) slot = std::max(slot, *first);

  std::vector<std::int16_t> pcm;
  pcm.reserve(kFrameSamples);
  std::uint32_t trailing_concealed = 0;  // concealed since the last packet
  bool started = false;
  while (true) {
    if (interrupt) {
      if (auto stop = interrupt()) {
        r.outcome = stop->first;
        r.detail = std::move(stop->second);
        break;
      }
    }
    const auto end = buffer.end_slot();
    if (end && slot >= *end) {
      r.outcome = Outcome::completed;
      break;
    }
    Micros now = clock.now_us();
    const Micros due = write_at(slot);
    if (now < due) {
      clock.sleep_until(std::min(due, now + kMaxSleepUs));
      continue;
    }
    if (now > due + kMaxBehindUs) {
      // Frames skipped here are counted dropped by the buffer when they are held.
      slot = next_slot_at(now);
      continue;
    }
    pcm.clear();
    auto packet = buffer.take(slot);
    bool decoded = false;
    if (packet) {
      decoded = decoder->decode(*packet, pcm).ok() && pcm.size() == kFrameSamples;
      if (!decoded) pcm.clear();
    }
    if (decoded) {
      ++r.frames_played;
      trailing_concealed = 0;
    } else {
      if (!packet && !end && now - buffer.last_arrival_us() >= config.dry_us &&
          !buffer.has_from(slot)) {
        r.outcome = Outcome::partial;
        r.detail = "stream ran dry: no chunk for " + std::to_string(config.dry_us / 1000) +
                   " ms and no end chunk";
        r.frames_concealed -= std::min(r.frames_concealed, trailing_concealed);
        break;
      }
      if (!decoder->conceal(kFrameSamples, pcm).ok()) pcm.assign(kFrameSamples, 0);
      ++r.frames_concealed;
      ++trailing_concealed;
    }
    const std::int32_t g = gain ? gain() : 10000;
    if (g != 10000) {
      for (auto& s : pcm) s = static_cast<std::int16_t>(std::int32_t{s} * g / 10000);
    }
    now = clock.now_us();
    if (loa::Status s = sink.write(pcm); !s) {
      r.outcome = started ? Outcome::partial : Outcome::failed;
      r.detail = s.message();
      break;
    }
    if (!started) {
      started = true;
      r.start_us = now + out_latency;
      if (on_first_write) on_first_write();
    }
    ++slot;
  }
  r.end_us = clock.now_us() + out_latency;
  r.frames_dropped = buffer.dropped();
  return r;
}

}  // namespace loa::node
