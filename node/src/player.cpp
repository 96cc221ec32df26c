#include "loa/node/player.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "loa/node/live_playout.hpp"
#include "loa/protocol/ogg_opus.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

using protocol::Micros;
using protocol::Occurrence;
using protocol::Outcome;
using protocol::PlaybackEvent;
using protocol::Priority;
using runtime::Log;
using runtime::LogLevel;

namespace {

// Longest single sleep: bounds how late a schedule change is noticed if its wake-up raced with
// the start of the sleep (Clock has no condition to sleep on).
constexpr Micros kMaxSleepUs = 250'000;
// How often a bulletin still missing shortly before its instant is looked for in the cache.
constexpr Micros kCachePollUs = 50'000;
constexpr std::uint64_t kSamplesPerFrame = protocol::kOpusRate / 50;  // 20 ms

bool by_start(const Occurrence& a, const Occurrence& b) {
  if (a.start_us != b.start_us) return a.start_us < b.start_us;
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.occurrence_id < b.occurrence_id;
}

// Whether `a` goes before `b` when the output is free at `now`: one whose instant has come goes
// before one still to come; among those that wait, the higher level, then the earlier start;
// among those to come, the earlier start, then the higher level; then the lower id.
bool goes_before(const Occurrence& a, const Occurrence& b, Micros now) {
  const bool a_due = a.start_us <= now;
  const bool b_due = b.start_us <= now;
  if (a_due != b_due) return a_due;
  if (a_due && a.priority != b.priority) return a.priority > b.priority;
  return by_start(a, b);
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
  if (thread_.joinable() || fiber_) return;
  stopping_ = false;
  exited_ = false;
  thread_ = std::thread([this] {
    run();
    exited_ = true;
  });
  thread_started_ = true;
}

void Player::start_driven() {
  if (thread_.joinable() || fiber_) return;
  stopping_ = false;
  exited_ = false;
  fiber_ = std::make_unique<Fiber>([this] {
    run();
    exited_ = true;
  });
  thread_started_ = true;
}

Micros Player::step() {
  if (!fiber_ || fiber_->finished()) return std::numeric_limits<Micros>::max();
  const Micros now = clock_.now_us();
  if (fiber_->woken() || now >= fiber_->wake_at()) fiber_->resume();
  if (fiber_->finished()) return std::numeric_limits<Micros>::max();
  return fiber_->woken() ? now : fiber_->wake_at();
}

void Player::wake() {
  clock_.wake();
  if (fiber_) {
    fiber_->wake();
    if (waker_) waker_();
  }
}

void Player::stop() {
  if (fiber_) {
    stopping_ = true;
    // Its sleeps now return at once: one resume runs it to its end.
    fiber_->cancel();
    while (!fiber_->finished()) fiber_->resume();
    fiber_.reset();
    thread_started_ = false;
    return;
  }
  if (!thread_.joinable()) return;
  stopping_ = true;
  // A wake-up can race with the thread entering a sleep: repeat it until the thread is out.
  while (!exited_) {
    clock_.wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  thread_.join();
  thread_started_ = false;
}

void Player::set_schedule(std::vector<Occurrence> occurrences, const std::string& source) {
  // A live occurrence's instants are sender instants: here they become loudspeaker instants.
  for (auto& o : occurrences) {
    if (!o.live) continue;
    o.start_us += config_.live_latency_us;
    if (o.expiry_us != 0) o.expiry_us += config_.live_latency_us;
  }
  std::vector<Occurrence> keep;
  keep.reserve(occurrences.size());
  for (const auto& o : occurrences) {
    if (is_handled_ && is_handled_(o.occurrence_id)) continue;
    keep.push_back(o);
  }
  std::sort(keep.begin(), keep.end(), by_start);
  std::set<std::uint64_t> ids;
  for (const auto& o : occurrences) ids.insert(o.occurrence_id);
  const Micros now = clock_.now_us();
  std::vector<PlaybackEvent> ended;
  {
    std::lock_guard lock(mu_);
    std::erase_if(keep, [&](const auto& o) { return done_.count(o.occurrence_id) != 0; });
    for (const auto& w : schedule_) {
      if (is_test_tone(w.occurrence_id)) keep.push_back(w);  // no plan holds a test tone
      if (ids.count(w.occurrence_id) || is_test_tone(w.occurrence_id)) continue;
      done_.insert(w.occurrence_id);
      if (now >= expiry_of(w)) {
        ended.push_back(event(w, Outcome::expired, 0, 0, 0, "not started before expiry"));
      } else {
        ended.push_back(event(w, Outcome::cancelled, 0, 0, 0, "removed from " + source));
      }
    }
    std::sort(keep.begin(), keep.end(), by_start);
    if (current_ && !stop_current_ && !is_test_tone(current_->occurrence_id)) {
      const auto it = std::find_if(occurrences.begin(), occurrences.end(), [&](const auto& o) {
        return o.occurrence_id == current_->occurrence_id;
      });
      if (it == occurrences.end()) {
        stop_current_ = "removed from " + source;
      } else if (it->start_us != current_->start_us || it->bulletin_id != current_->bulletin_id) {
        stop_current_ = "start or bulletin changed in " + source + " while playing";
      }
    }
    schedule_ = std::move(keep);
    ++generation_;
  }
  wake();
  for (auto& e : ended) record(std::move(e));
}

bool Player::cancel(std::uint64_t occurrence_id) {
  PlaybackEvent e;
  {
    std::lock_guard lock(mu_);
    if (current_ && current_->occurrence_id == occurrence_id) {
      if (!stop_current_) stop_current_ = "cancelled while playing";
    } else {
      const auto it = std::find_if(schedule_.begin(), schedule_.end(),
                                   [&](const auto& o) { return o.occurrence_id == occurrence_id; });
      if (it == schedule_.end()) return false;
      e = event(*it, Outcome::cancelled, 0, 0, 0, "cancelled before start");
      done_.insert(occurrence_id);
      schedule_.erase(it);
      ++generation_;
    }
  }
  wake();
  if (e.occurrence_id != 0) record(std::move(e));
  return true;
}

void Player::hold_late_starts_until(Micros t) {
  {
    std::lock_guard lock(mu_);
    hold_late_until_ = t;
    ++generation_;
  }
  wake();
}

std::uint64_t Player::play_test_tone(protocol::OpusStream tone) {
  const Micros now = clock_.now_us();
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    id = (std::uint64_t{1} << 63) | ++tones_queued_;
    // Due at once (the sink opens now); waits for what plays, gives up after a minute.
    const Micros start = now + config_.open_ahead_us;
    Occurrence o{id, id, start, start + 60'000'000, Priority::priority, 100};
    tones_[id] = std::move(tone);
    schedule_.insert(std::upper_bound(schedule_.begin(), schedule_.end(), o, by_start), o);
    ++generation_;
  }
  wake();
  return id;
}

std::int32_t Player::gain_of(const protocol::Occurrence& o) const {
  if (o.priority == protocol::Priority::emergency) {
    return std::int32_t{config_.emergency_volume} * o.volume;
  }
  return muted_ ? 0 : std::int32_t{volume_.load()} * o.volume;
}

void Player::set_volume(std::uint8_t percent) {
  volume_ = std::min<std::uint8_t>(percent, 100);
}

void Player::set_muted(bool muted) {
  muted_ = muted;
}

std::optional<std::uint64_t> Player::playing() const {
  std::lock_guard lock(mu_);
  if (!current_) return std::nullopt;
  return current_->occurrence_id;
}

std::vector<Occurrence> Player::queued() const {
  std::lock_guard lock(mu_);
  return schedule_;
}

std::optional<Occurrence> Player::next_locked(Micros now) const {
  const Occurrence* best = nullptr;
  for (const auto& o : schedule_) {
    if (!best || goes_before(o, *best, now)) best = &o;
  }
  if (!best) return std::nullopt;
  return *best;
}

std::optional<Occurrence> Player::next_emergency_locked() const {
  // schedule_ is by start, so the first emergency is the earliest (then the lowest id).
  for (const auto& o : schedule_) {
    if (o.priority == Priority::emergency) return o;
  }
  return std::nullopt;
}

bool Player::take_waiting_locked(const Occurrence& o) {
  const auto it = std::find(schedule_.begin(), schedule_.end(), o);
  if (it == schedule_.end()) return false;
  schedule_.erase(it);
  done_.insert(o.occurrence_id);
  return true;
}

std::vector<PlaybackEvent> Player::take_expired_locked(Micros now) {
  std::vector<PlaybackEvent> out;
  std::erase_if(schedule_, [&](const Occurrence& o) {
    if (now < expiry_of(o)) return false;
    done_.insert(o.occurrence_id);
    out.push_back(event(o, Outcome::expired, 0, 0, 0, "not started before expiry"));
    return true;
  });
  return out;
}

Micros Player::expiry_of(const Occurrence& o) const {
  return o.expiry_us > o.start_us ? o.expiry_us : o.start_us + config_.default_grace_us;
}

void Player::sleep_until(Micros t, std::uint64_t generation) {
  {
    std::lock_guard lock(mu_);
    if (generation_ != generation || stopping_) return;
  }
  // A fiber misses no wake-up (Fiber::woken), so it sleeps until `t` itself.
  pace_.sleep_until(fiber_ ? t : std::min(t, clock_.now_us() + kMaxSleepUs));
}

void Player::fail_waiting(const Occurrence& o, const std::string& detail) {
  {
    std::lock_guard lock(mu_);
    if (!take_waiting_locked(o)) return;  // changed or cancelled meanwhile
  }
  record(event(o, Outcome::failed, 0, 0, 0, detail));
}

void Player::run() {
  std::optional<Playback> takeover;
  while (!stopping_) {
    if (takeover) {
      Playback p = std::move(*takeover);
      takeover.reset();
      takeover = play(std::move(p));
      continue;
    }
    record_deferred();
    const Micros now = clock_.now_us();
    std::vector<PlaybackEvent> ended;
    std::optional<Occurrence> next;
    std::uint64_t generation = 0;
    Micros hold_until = 0;
    {
      std::lock_guard lock(mu_);
      generation = generation_;
      ended = take_expired_locked(now);
      next = next_locked(now);
      hold_until = hold_late_until_;
    }
    if (!ended.empty()) {
      for (auto& e : ended) record(std::move(e));
      continue;
    }
    if (!next) {
      // Nothing waits: a thread looks again every kMaxSleepUs; a fiber until woken.
      sleep_until(fiber_ ? std::numeric_limits<Micros>::max() : now + kMaxSleepUs, generation);
      continue;
    }
    if (now < next->start_us - config_.open_ahead_us) {
      sleep_until(next->start_us - config_.open_ahead_us, generation);
      continue;
    }
    if (next->start_us < now && now < hold_until) {
      sleep_until(hold_until, generation);  // late already: first hear what the broker holds
      continue;
    }
    if (is_test_tone(next->occurrence_id)) {
      protocol::OpusStream tone;
      {
        std::lock_guard lock(mu_);
        if (const auto it = tones_.find(next->occurrence_id); it != tones_.end()) tone = it->second;
      }
      auto file = protocol::write_ogg_opus(tone);
      auto memory = std::make_shared<const protocol::Bytes>(file ? std::move(file).value()
                                                                 : protocol::Bytes{});
      auto reader = protocol::OggOpusReader::open(protocol::memory_source(*memory));
      if (!reader) {
        fail_waiting(*next, file ? reader.error().message : file.error().message);
        continue;
      }
      takeover =
          play(Playback{*next, tone, std::move(reader).value(), std::move(memory), nullptr, 0});
      continue;
    }
    if (next->live) {
      const auto buffer = live_ ? live_->find(next->bulletin_id) : nullptr;
      if (!buffer || !buffer->started()) {
        if (!live_) {
          fail_waiting(*next, "live streams not supported here");
        } else {
          // No chunk yet: it ends expired at its expiry if none comes.
          sleep_until(now + kCachePollUs, generation);
        }
        continue;
      }
      takeover =
          play(Playback{*next, protocol::OpusStreamInfo{}, std::nullopt, nullptr, nullptr, 0});
      continue;
    }
    if (!cache_.has(next->bulletin_id)) {
      if (now < next->start_us) {
        // The prefetcher may still bring it: look again shortly.
        sleep_until(std::min(next->start_us, now + kCachePollUs), generation);
        continue;
      }
      fail_waiting(*next, "not cached");
      continue;
    }
    auto audio = cache_.open_audio(next->bulletin_id);
    if (!audio) {
      fail_waiting(*next, audio.error().message);
      continue;
    }
    takeover = play(Playback{*next, audio->info, std::move(audio->packets), nullptr, nullptr, 0});
  }
  if (takeover && takeover->sink) takeover->sink->close();
  takeover.reset();
  record_deferred();
}

std::optional<Player::Playback> Player::play(Playback p) {
  if (p.occurrence.live) return play_live_item(std::move(p));
  const Occurrence& o = p.occurrence;
  const bool handed_over = p.sink != nullptr;
  std::unique_ptr<Sink> sink = std::move(p.sink);
  if (sink && (p.sink_channels != p.info.channels || !sink->continue_with(o.occurrence_id))) {
    sink->close();
    sink.reset();
  }
  auto decoder = protocol::OpusPcmDecoder::create(p.info.channels);
  if (!decoder) {
    if (sink) sink->close();
    fail_waiting(o, decoder.error().message);
    return std::nullopt;
  }
  if (!sink) {
    sink = sinks_ ? sinks_(o.occurrence_id) : nullptr;
    if (!sink) {
      fail_waiting(o, "no sink");
      return std::nullopt;
    }
    if (loa::Status s = sink->open(protocol::kOpusRate, p.info.channels); !s) {
      output_ok_ = false;
      Log(LogLevel::error, "node").kv("occurrence", o.occurrence_id)
          << "sink open failed: " << s.message();
      fail_waiting(o, s.message());
      return std::nullopt;
    }
    output_ok_ = true;
  }
  const Micros latency = sink->output_latency_us() + config_.extra_latency_us;
  // Writing starts one output latency early, so the first sample leaves at the instant.
  const Micros write_at = o.start_us - latency;
  while (true) {
    if (stopping_) {
      // Not started: no event, so a restart before expiry still plays it.
      sink->close();
      return std::nullopt;
    }
    const Micros now = clock_.now_us();
    std::uint64_t generation = 0;
    bool still_next = false;
    {
      std::lock_guard lock(mu_);
      generation = generation_;
      // Until it starts, a schedule change may cancel or change it, or put another first.
      still_next = handed_over ? std::find(schedule_.begin(), schedule_.end(), o) != schedule_.end()
                               : next_locked(now) == o;
    }
    if (!still_next) {
      sink->close();
      return std::nullopt;
    }
    if (now >= write_at) break;
    sleep_until(write_at, generation);
  }
  const Micros start_us = clock_.now_us() + latency;
  std::optional<PlaybackEvent> not_started;
  {
    std::lock_guard lock(mu_);
    if (!take_waiting_locked(o)) {
      not_started = PlaybackEvent{};  // cancelled or changed in the meantime: nothing to record
    } else if (start_us >= expiry_of(o)) {
      not_started = event(o, Outcome::expired, 0, 0, 0, "not started before expiry");
    } else {
      current_ = o;
      stop_current_.reset();
    }
  }
  if (not_started) {
    sink->close();
    if (not_started->occurrence_id != 0) record(std::move(*not_started));
    return std::nullopt;
  }
  Log(LogLevel::info, "node")
          .kv("occurrence", o.occurrence_id)
          .kv("bulletin", o.bulletin_id)
          .kv("late_us", start_us - o.start_us)
          .kv("took_over", handed_over)
      << "playback started";

  // Exactly protocol::decode_stream's samples: pre-skip dropped, trimmed to total_samples.
  const std::size_t channels = p.info.channels;
  std::uint64_t skip = std::uint64_t{p.info.pre_skip} * channels;
  std::uint64_t remaining = p.info.total_samples * channels;
  std::uint64_t written = 0;
  Outcome outcome = Outcome::completed;
  std::string detail;
  std::vector<std::int16_t> pcm;
  std::uint64_t noted = 0;  // `written` at the last progress note
  // The emergency that will take over, loaded ahead of its instant.
  std::optional<Playback> taker;
  bool took_over = false;
  for (std::uint64_t i = 0; remaining > 0; ++i) {
    if (stopping_) {
      outcome = Outcome::partial;
      detail = "node stopping";
      break;
    }
    const Micros now = clock_.now_us();
    std::vector<PlaybackEvent> ended;
    std::optional<Occurrence> emergency;
    {
      std::lock_guard lock(mu_);
      if (stop_current_) {
        outcome = Outcome::cancelled;
        detail = *stop_current_;
        break;
      }
      ended = take_expired_locked(now);
      if (o.priority < Priority::emergency) emergency = next_emergency_locked();
    }
    for (auto& e : ended) record(std::move(e));

    pcm.clear();
    auto packet = p.packets->next();
    if (!packet) {
      outcome = Outcome::partial;
      detail = "packet " + std::to_string(i) + ": " + packet.error().message;
      break;
    }
    if (!*packet) break;  // the end: `remaining` says whether it came short
    Result<std::uint32_t> got = std::uint32_t{0};
    if (config_.decode) {
      got = decoder->decode(**packet, pcm);
    } else {
      // Counted, not decoded: silence of the packet's length (PlayerConfig::decode).
      got = protocol::opus_packet_samples(**packet);
      if (got) pcm.resize(std::size_t{*got} * channels);
    }
    if (!got) {
      outcome = Outcome::partial;
      detail = "packet " + std::to_string(i) + ": " + got.error().message;
      break;
    }
    const std::uint64_t from = std::min<std::uint64_t>(skip, pcm.size());
    skip -= from;
    const std::uint64_t take = std::min<std::uint64_t>(remaining, pcm.size() - from);
    remaining -= take;
    std::span<std::int16_t> out(pcm.data() + from, take);

    if (emergency) {
      // Time left until the emergency's first sample must be written.
      const Micros until = emergency->start_us - latency - now;
      if (taker && taker->occurrence != *emergency) taker.reset();
      if (!taker && until <= config_.open_ahead_us) {
        if (emergency->live) {
          // A live emergency takes over once its first chunk is in.
          const auto buffer = live_ ? live_->find(emergency->bulletin_id) : nullptr;
          if (buffer && buffer->started()) {
            taker =
                Playback{*emergency, protocol::OpusStreamInfo{}, std::nullopt, nullptr, nullptr, 0};
          }
        } else if (cache_.has(emergency->bulletin_id)) {
          if (auto audio = cache_.open_audio(emergency->bulletin_id)) {
            taker =
                Playback{*emergency, audio->info, std::move(audio->packets), nullptr, nullptr, 0};
          } else {
            fail_waiting(*emergency, audio.error().message);
          }
        } else if (until <= 0) {
          fail_waiting(*emergency, "not cached");
        }
      }
      // Samples per channel of this packet that still fit before that instant.
      const auto room = [&]() -> std::uint64_t {
        if (until <= 0) return 0;
        if (until >= 1'000'000) return out.size();
        return static_cast<std::uint64_t>(until) * protocol::kOpusRate / 1'000'000;
      };
      if (taker && room() * channels < out.size()) {
        if (now + latency >= expiry_of(*emergency)) {
          std::optional<PlaybackEvent> late;
          {
            std::lock_guard lock(mu_);
            if (take_waiting_locked(*emergency)) {
              late = event(*emergency, Outcome::expired, 0, 0, 0, "not started before expiry");
            }
          }
          if (late) record(std::move(*late));
          taker.reset();
        } else {
          // Stop exactly where the emergency's first sample begins.
          out = out.first(room() * channels);
          took_over = true;
        }
      }
    }

    const std::int32_t factor = gain_of(o);
    if (factor != 100 * 100 && config_.decode) {
      for (auto& s : out) s = static_cast<std::int16_t>(std::int32_t{s} * factor / (100 * 100));
    }
    if (!out.empty()) {
      if (loa::Status s = sink->write(out); !s) {
        output_ok_ = false;
        outcome = Outcome::partial;
        detail = s.message();
        took_over = false;
        break;
      }
      written += out.size();
      if (written == out.size()) record_deferred();  // first write done: the switch is over
      if (progress_ && (noted == 0 || written - noted >= protocol::kOpusRate * channels)) {
        noted = written;
        progress_(event(o, Outcome::partial, start_us, clock_.now_us() + latency,
                        written / channels, ""));
      }
    }
    if (took_over) {
      outcome = Outcome::preempted;
      detail =
          "preempted by emergency occurrence " + std::to_string(taker->occurrence.occurrence_id);
      break;
    }
  }
  if (outcome == Outcome::completed && remaining > 0) {
    outcome = Outcome::partial;
    detail = "stream ended " + std::to_string(remaining / channels) + " samples short";
  }
  const Micros end_us = clock_.now_us() + latency;
  if (written == 0 && outcome == Outcome::partial) outcome = Outcome::failed;
  PlaybackEvent e = event(o, outcome, start_us, end_us, written / channels, std::move(detail));
  {
    std::lock_guard lock(mu_);
    current_.reset();
    stop_current_.reset();
  }
  if (took_over) {
    record_deferred();
    deferred_ = std::move(e);
    taker->sink = std::move(sink);
    taker->sink_channels = p.info.channels;
    return taker;
  }
  sink->close();
  record_deferred();
  record(std::move(e));
  return std::nullopt;
}

std::optional<Player::Playback> Player::play_live_item(Playback p) {
  const Occurrence& o = p.occurrence;
  const auto buffer = live_ ? live_->find(o.bulletin_id) : nullptr;
  std::unique_ptr<Sink> sink = std::move(p.sink);
  if (!buffer || !buffer->started()) {
    if (sink) sink->close();
    fail_waiting(o, "live stream has no chunk");
    return std::nullopt;
  }
  if (sink && (p.sink_channels != 1 || !sink->continue_with(o.occurrence_id))) {
    sink->close();
    sink.reset();
  }
  if (!sink) {
    sink = sinks_ ? sinks_(o.occurrence_id) : nullptr;
    if (!sink) {
      fail_waiting(o, "no sink");
      return std::nullopt;
    }
    if (loa::Status s = sink->open(protocol::kOpusRate, 1); !s) {
      output_ok_ = false;
      fail_waiting(o, s.message());
      return std::nullopt;
    }
    output_ok_ = true;
  }
  {
    std::lock_guard lock(mu_);
    if (!take_waiting_locked(o)) {
      sink->close();
      return std::nullopt;  // cancelled or changed meanwhile
    }
    current_ = o;
    stop_current_.reset();
  }
  Log(LogLevel::info, "node")
          .kv("occurrence", o.occurrence_id)
          .kv("stream", o.bulletin_id)
          .kv("latency_ms", config_.live_latency_us / 1000)
      << "live stream joined";
  const Micros out_latency = sink->output_latency_us() + config_.extra_latency_us;
  const LiveInterrupt interrupt = [&]() -> std::optional<std::pair<Outcome, std::string>> {
    if (stopping_) return std::make_pair(Outcome::partial, std::string("node stopping"));
    std::vector<PlaybackEvent> ended;
    std::optional<std::pair<Outcome, std::string>> stop;
    {
      std::lock_guard lock(mu_);
      if (stop_current_) {
        stop = std::make_pair(Outcome::cancelled, *stop_current_);
      } else if (o.priority < Priority::emergency) {
        const auto e = next_emergency_locked();
        if (e && e->start_us <= clock_.now_us() + out_latency) {
          stop = std::make_pair(Outcome::preempted, "preempted by emergency occurrence " +
                                                        std::to_string(e->occurrence_id));
        }
      }
      if (!stop) ended = take_expired_locked(clock_.now_us());
    }
    for (auto& e : ended) record(std::move(e));
    return stop;
  };
  const LiveGain gain = [&]() -> std::int32_t { return gain_of(o); };
  LivePlayoutConfig live_config;
  live_config.latency_us = config_.live_latency_us;
  live_config.dry_us = config_.live_dry_us;
  live_config.extra_output_latency_us = config_.extra_latency_us;
  const LivePlayoutResult r =
      play_live(live_config, pace_, *buffer, *sink, interrupt, gain, [this] { record_deferred(); });
  sink->close();
  {
    std::lock_guard lock(mu_);
    current_.reset();
    stop_current_.reset();
  }
  PlaybackEvent e = event(o, r.outcome, r.start_us, r.end_us, 0, r.detail);
  e.frames_played = r.frames_played;
  e.frames_concealed = r.frames_concealed;
  e.frames_dropped = r.frames_dropped;
  record_deferred();
  record(std::move(e));
  return std::nullopt;
}

PlaybackEvent Player::event(const Occurrence& o, Outcome outcome, Micros start_us, Micros end_us,
                            std::uint64_t samples, std::string detail) const {
  PlaybackEvent e;
  e.node_id = config_.node_id;
  e.occurrence_id = o.occurrence_id;
  e.bulletin_id = o.bulletin_id;
  e.outcome = outcome;
  e.start_us = start_us;
  e.end_us = end_us;
  e.frames_played = static_cast<std::uint32_t>((samples + kSamplesPerFrame - 1) / kSamplesPerFrame);
  e.detail = std::move(detail);
  return e;
}

void Player::record(PlaybackEvent e) {
  if (is_test_tone(e.occurrence_id)) {
    {
      std::lock_guard lock(mu_);
      tones_.erase(e.occurrence_id);
    }
    Log(LogLevel::info, "node")
            .kv("outcome", protocol::to_string(e.outcome))
            .kv("frames", e.frames_played)
            .kv("detail", e.detail.empty() ? "-" : e.detail)
        << "test tone ended";
    return;
  }
  const bool expected = e.outcome == Outcome::completed || e.outcome == Outcome::preempted ||
                        e.outcome == Outcome::cancelled;
  Log(expected ? LogLevel::info : LogLevel::warn, "node")
          .kv("occurrence", e.occurrence_id)
          .kv("bulletin", e.bulletin_id)
          .kv("outcome", protocol::to_string(e.outcome))
          .kv("frames", e.frames_played)
          .kv("concealed", e.frames_concealed)
          .kv("dropped", e.frames_dropped)
          .kv("detail", e.detail.empty() ? "-" : e.detail)
      << "playback ended";
  record_(std::move(e));
}

void Player::record_deferred() {
  if (!deferred_) return;
  PlaybackEvent e = std::move(*deferred_);
  deferred_.reset();
  record(std::move(e));
}

}  // namespace loa::node
