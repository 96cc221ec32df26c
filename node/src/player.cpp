#include "loa/node/player.hpp"

#include <algorithm>
#include <chrono>

#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

using protocol::Micros;
using protocol::Outcome;
using runtime::Log;
using runtime::LogLevel;

namespace {

// Longest single sleep: bounds how late a schedule change is noticed if its wake-up raced with
// the start of the sleep (Clock has no condition to sleep on).
constexpr Micros kMaxSleepUs = 1'000'000;
constexpr std::uint64_t kSamplesPerFrame = protocol::kOpusRate / 50;  // 20 ms

bool before(const protocol::Occurrence& a, const protocol::Occurrence& b) {
  if (a.start_us != b.start_us) return a.start_us < b.start_us;
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.occurrence_id < b.occurrence_id;
}

}  // namespace

Player::Player(PlayerConfig config, runtime::Clock& clock, const Cache& cache, SinkFactory sinks,
               IsHandled is_handled, Record record)
    : config_(std::move(config)),
      clock_(clock),
      cache_(cache),
      sinks_(std::move(sinks)),
      is_handled_(std::move(is_handled)),
      record_(std::move(record)),
      volume_(std::min<std::uint8_t>(config_.volume, 100)) {}

Player::~Player() {
  stop();
}

void Player::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  exited_ = false;
  thread_ = std::thread([this] {
    run();
    exited_ = true;
  });
}

void Player::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  // A wake-up can race with the thread entering a sleep: repeat it until the thread is out.
  while (!exited_) {
    clock_.wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  thread_.join();
}

void Player::set_schedule(std::vector<protocol::Occurrence> occurrences) {
  std::vector<protocol::Occurrence> keep;
  keep.reserve(occurrences.size());
  for (auto& o : occurrences) {
    if (is_handled_ && is_handled_(o.occurrence_id)) continue;
    keep.push_back(o);
  }
  std::sort(keep.begin(), keep.end(), before);
  {
    std::lock_guard lock(mu_);
    std::erase_if(keep, [&](const auto& o) { return done_.count(o.occurrence_id) != 0; });
    schedule_ = std::move(keep);
    dirty_ = true;
  }
  clock_.wake();
}

bool Player::cancel(std::uint64_t occurrence_id) {
  protocol::Occurrence cancelled;
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    if (current_ == occurrence_id) {
      cancel_current_ = true;
    } else {
      const auto it = std::find_if(schedule_.begin(), schedule_.end(),
                                   [&](const auto& o) { return o.occurrence_id == occurrence_id; });
      if (it == schedule_.end() || done_.count(occurrence_id)) return false;
      cancelled = *it;
      queued = true;
      done_.insert(occurrence_id);
      schedule_.erase(it);
      dirty_ = true;
    }
  }
  clock_.wake();
  if (queued) {
    protocol::PlaybackEvent e;
    e.node_id = config_.node_id;
    e.occurrence_id = cancelled.occurrence_id;
    e.bulletin_id = cancelled.bulletin_id;
    e.outcome = Outcome::cancelled;
    e.detail = "cancelled before start";
    Log(LogLevel::info, "node").kv("occurrence", occurrence_id) << "queued occurrence cancelled";
    record_(std::move(e));
  }
  return true;
}

void Player::set_volume(std::uint8_t percent) {
  volume_ = std::min<std::uint8_t>(percent, 100);
}

void Player::set_muted(bool muted) {
  muted_ = muted;
}

std::optional<std::uint64_t> Player::playing() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::vector<protocol::Occurrence> Player::queued() const {
  std::lock_guard lock(mu_);
  std::vector<protocol::Occurrence> out;
  for (const auto& o : schedule_) {
    if (!done_.count(o.occurrence_id) && current_ != o.occurrence_id) out.push_back(o);
  }
  return out;
}

std::optional<protocol::Occurrence> Player::next_locked() const {
  for (const auto& o : schedule_) {
    if (!done_.count(o.occurrence_id)) return o;
  }
  return std::nullopt;
}

Micros Player::expiry_of(const protocol::Occurrence& o) const {
  return o.expiry_us > o.start_us ? o.expiry_us : o.start_us + config_.default_grace_us;
}

void Player::sleep_until(Micros t) {
  {
    std::lock_guard lock(mu_);
    if (dirty_ || stopping_) return;
  }
  clock_.sleep_until(std::min(t, clock_.now_us() + kMaxSleepUs));
}

void Player::run() {
  while (!stopping_) {
    std::optional<protocol::Occurrence> next;
    {
      std::lock_guard lock(mu_);
      dirty_ = false;
      next = next_locked();
    }
    const Micros now = clock_.now_us();
    if (!next) {
      sleep_until(now + kMaxSleepUs);
      continue;
    }
    if (now >= expiry_of(*next)) {
      finish(*next, Outcome::expired, 0, 0, 0, "not started before expiry");
      continue;
    }
    if (now < next->start_us - config_.open_ahead_us) {
      sleep_until(next->start_us - config_.open_ahead_us);
      continue;
    }
    if (!cache_.has(next->bulletin_id)) {
      if (now < next->start_us) {
        sleep_until(next->start_us);
        continue;
      }
      finish(*next, Outcome::failed, 0, 0, 0, "not cached");
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (done_.count(next->occurrence_id)) continue;  // cancelled meanwhile
      current_ = next->occurrence_id;
      cancel_current_ = false;
    }
    play(*next);
    std::lock_guard lock(mu_);
    current_.reset();
  }
}

void Player::play(const protocol::Occurrence& o) {
  auto stream = cache_.load(o.bulletin_id);
  if (!stream) {
    finish(o, Outcome::failed, 0, 0, 0, stream.error().message);
    return;
  }
  auto decoder = protocol::OpusPcmDecoder::create(stream->channels);
  if (!decoder) {
    finish(o, Outcome::failed, 0, 0, 0, decoder.error().message);
    return;
  }
  std::unique_ptr<Sink> sink = sinks_ ? sinks_(o.occurrence_id) : nullptr;
  if (!sink) {
    finish(o, Outcome::failed, 0, 0, 0, "no sink");
    return;
  }
  if (loa::Status s = sink->open(protocol::kOpusRate, stream->channels); !s) {
    output_ok_ = false;
    Log(LogLevel::error, "node").kv("occurrence", o.occurrence_id)
        << "sink open failed: " << s.message();
    finish(o, Outcome::failed, 0, 0, 0, s.message());
    return;
  }
  output_ok_ = true;
  const Micros latency = sink->output_latency_us() + config_.extra_latency_us;
  // Writing starts one output latency early, so the first sample leaves at the instant.
  const Micros write_at = o.start_us - latency;
  while (true) {
    if (stopping_) {
      // Not started: no event, so a restart before expiry still plays it.
      sink->close();
      return;
    }
    bool cancelled = false;
    {
      std::lock_guard lock(mu_);
      cancelled = cancel_current_;
    }
    if (cancelled) {
      sink->close();
      finish(o, Outcome::cancelled, 0, 0, 0, "cancelled before start");
      return;
    }
    if (clock_.now_us() >= write_at) break;
    clock_.sleep_until(write_at);
  }
  const Micros start_us = clock_.now_us() + latency;
  if (start_us >= expiry_of(o)) {
    sink->close();
    finish(o, Outcome::expired, 0, 0, 0, "not started before expiry");
    return;
  }
  Log(LogLevel::info, "node")
          .kv("occurrence", o.occurrence_id)
          .kv("bulletin", o.bulletin_id)
          .kv("late_us", start_us - o.start_us)
      << "playback started";

  // Exactly protocol::decode_stream's samples: pre-skip dropped, trimmed to total_samples.
  const std::size_t channels = stream->channels;
  std::uint64_t skip = std::uint64_t{stream->pre_skip} * channels;
  std::uint64_t remaining = stream->total_samples * channels;
  std::uint64_t written = 0;
  Outcome outcome = Outcome::completed;
  std::string detail;
  std::vector<std::int16_t> pcm;
  for (std::size_t i = 0; i < stream->packets.size() && remaining > 0; ++i) {
    if (stopping_) {
      outcome = Outcome::partial;
      detail = "node stopping";
      break;
    }
    {
      std::lock_guard lock(mu_);
      if (cancel_current_) {
        outcome = Outcome::cancelled;
        detail = "cancelled while playing";
        break;
      }
    }
    pcm.clear();
    auto got = decoder->decode(stream->packets[i], pcm);
    if (!got) {
      outcome = Outcome::partial;
      detail = "packet " + std::to_string(i) + ": " + got.error().message;
      break;
    }
    const std::uint64_t from = std::min<std::uint64_t>(skip, pcm.size());
    skip -= from;
    const std::uint64_t take = std::min<std::uint64_t>(remaining, pcm.size() - from);
    remaining -= take;
    if (take == 0) continue;
    std::span<std::int16_t> out(pcm.data() + from, take);
    const std::int32_t factor = muted_ ? 0 : std::int32_t{volume_.load()} * o.volume;
    if (factor != 100 * 100) {
      for (auto& s : out) s = static_cast<std::int16_t>(std::int32_t{s} * factor / (100 * 100));
    }
    if (loa::Status s = sink->write(out); !s) {
      output_ok_ = false;
      outcome = Outcome::partial;
      detail = s.message();
      break;
    }
    written += take;
  }
  if (outcome == Outcome::completed && remaining > 0) {
    outcome = Outcome::partial;
    detail = "stream ended " + std::to_string(remaining / channels) + " samples short";
  }
  const Micros end_us = clock_.now_us() + latency;
  sink->close();
  if (written == 0 && outcome == Outcome::partial) outcome = Outcome::failed;
  finish(o, outcome, start_us, end_us, written / channels, detail);
}

void Player::finish(const protocol::Occurrence& o, Outcome outcome, Micros start_us, Micros end_us,
                    std::uint64_t samples, std::string detail) {
  {
    std::lock_guard lock(mu_);
    done_.insert(o.occurrence_id);
    std::erase_if(schedule_, [&](const auto& s) { return s.occurrence_id == o.occurrence_id; });
  }
  protocol::PlaybackEvent e;
  e.node_id = config_.node_id;
  e.occurrence_id = o.occurrence_id;
  e.bulletin_id = o.bulletin_id;
  e.outcome = outcome;
  e.start_us = start_us;
  e.end_us = end_us;
  e.frames_played = static_cast<std::uint32_t>((samples + kSamplesPerFrame - 1) / kSamplesPerFrame);
  e.detail = std::move(detail);
  Log(outcome == Outcome::completed ? LogLevel::info : LogLevel::warn, "node")
          .kv("occurrence", o.occurrence_id)
          .kv("bulletin", o.bulletin_id)
          .kv("outcome", protocol::to_string(outcome))
          .kv("frames", e.frames_played)
          .kv("detail", e.detail.empty() ? "-" : e.detail)
      << "playback ended";
  record_(std::move(e));
}

}  // namespace loa::node
