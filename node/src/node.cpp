#include "loa/node/node.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>

#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

using protocol::Micros;
using runtime::Log;
using runtime::LogLevel;
namespace topics = protocol::topics;

namespace {

constexpr Micros kTickUs = 200'000;
// After a start, items already late wait this long at most for the plans retained on the broker
// (which may cancel them), and this long once connected.
constexpr Micros kPlanSyncGraceUs = 3'000'000;
constexpr Micros kPlanSyncUs = 1'000'000;
// Control messages older than this are refused (PROTOCOL.md suggests 60 s; a little more
// tolerates devices whose clock is not yet disciplined).
constexpr Micros kControlMaxAgeUs = 120LL * 1'000'000;

// A live chunk older than the live latency plus this is refused (PROTOCOL.md, live stream).
constexpr Micros kLiveMaxAgeBeyondLatencyUs = 10'000'000;

PlayerConfig player_config(const NodeConfig& c) {
  PlayerConfig p{c.id, c.extra_output_latency_us, c.volume};
  p.live_latency_us = c.live_latency_us;
  p.emergency_volume = c.emergency_volume;
  p.decode = c.decode_audio;
  p.open_ahead_us = c.open_ahead_us;
  return p;
}

std::uint32_t drop_live_percent() {
  const char* v = std::getenv("LOA_TEST_DROP_LIVE_PERCENT");
  if (v == nullptr) return 0;
  return static_cast<std::uint32_t>(std::clamp(std::atoi(v), 0, 100));
}

}  // namespace

std::string outbox_path(const std::string& cache_dir) {
  return (std::filesystem::path(cache_dir) / "outbox.db").string();
}

Result<std::unique_ptr<Node>> Node::create(NodeConfig config, runtime::Bus& bus,
                                           runtime::Clock& clock, SinkFactory sinks) {
  if (loa::Status s = protocol::validate_node_id(config.id); !s) {
    return make_error("node id: " + s.message());
  }
  auto cache = Cache::open(config.cache_dir, config.cache_limit_bytes);
  if (!cache) return cache.error();
  auto outbox = Outbox::open(outbox_path(config.cache_dir));
  if (!outbox) return outbox.error();
  auto reserved = (*outbox)->sequence_reservation();
  if (!reserved) return reserved.error();
  return std::unique_ptr<Node>(new Node(std::move(config), bus, clock, std::move(cache).value(),
                                        std::move(outbox).value(), *reserved, std::move(sinks)));
}

Node::Node(NodeConfig config, runtime::Bus& bus, runtime::Clock& clock, Cache cache,
           std::unique_ptr<Outbox> outbox, std::uint64_t reserved, SinkFactory sinks)
    : config_(std::move(config)),
      bus_(bus),
      clock_(clock),
      cache_(std::move(cache)),
      outbox_(std::move(outbox)),
      book_(config_.id, config_.area, config_.controller_keys, config_.cache_dir),
      prefetcher_(Prefetcher::Config{config_.id, config_.controller_keys, config_.fetch_timeout_us},
                  cache_,
                  [this](protocol::MessageType type, const protocol::Bytes& body) {
                    return seal(type, body);
                  }),
      player_(
          player_config(config_), clock_, cache_, std::move(sinks),
          [this](std::uint64_t occurrence) { return outbox_->handled(occurrence); },
          [this](protocol::PlaybackEvent e) { record_event(std::move(e)); }) {
  sequence_ = std::make_unique<runtime::SequenceCounter>(
      reserved, [this](std::uint64_t through) { return outbox_->reserve_sequences(through); });
  player_.set_live_streams(&live_);
  drop_live_percent_ = drop_live_percent();
  drop_rng_.seed(static_cast<std::uint32_t>(std::hash<std::string>{}(config_.id)));
  if (drop_live_percent_ > 0) {
    Log(LogLevel::warn, "node").kv("percent", drop_live_percent_)
        << "test hook: dropping live chunks (LOA_TEST_DROP_LIVE_PERCENT)";
  }
  player_.on_progress([this](const protocol::PlaybackEvent& e) {
    std::lock_guard lock(progress_mu_);
    progress_ = e;
  });
  // Called with mu_ held (every prefetcher call is): the bulletins of the plan union's
  // occurrences that have not ended (waiting or playing) are never evicted.
  prefetcher_.keep_with([this] {
    std::set<std::uint64_t> keep;
    for (const auto& o : book_.effective()) {
      if (!outbox_->handled(o.occurrence_id)) keep.insert(o.bulletin_id);
    }
    return keep;
  });
}

Node::~Node() {
  stop();
}

loa::Status Node::start() {
  return start_with(true);
}

loa::Status Node::start_driven() {
  return start_with(false);
}

loa::Status Node::start_with(bool housekeeping_thread) {
  if (running_) return {};
  started_us_ = clock_.now_us();
  start_health();
  next_status_us_ = started_us_ + status_interval_us_.load();
  next_resend_us_ = started_us_ + config_.event_resend_us;
  // A playback cut short by a crash or power loss ends now, once (docs/architecture.md).
  if (auto recovered = outbox_->recover_interrupted()) {
    for (const auto& e : *recovered) {
      Log(LogLevel::warn, "node")
              .kv("occurrence", e.occurrence_id)
              .kv("outcome", protocol::to_string(e.outcome))
              .kv("frames", e.frames_played)
              .kv("event_seq", e.event_seq)
          << "playback interrupted by the last stop; recorded";
    }
  } else {
    Log(LogLevel::error, "node") << recovered.error().message;
  }
  std::vector<protocol::Occurrence> effective;
  {
    std::lock_guard lock(mu_);
    book_.load();
    effective = book_.effective();
  }
  player_.set_schedule(std::move(effective));
  player_.hold_late_starts_until(started_us_ + kPlanSyncGraceUs);

  bus_.on_message([this](const runtime::BusMessage& m) { on_message(m); });
  bus_.on_connection([this](bool connected) { on_connection(connected); });
  BusActions actions;
  for (const auto& a : config_.area.self_and_ancestors()) {
    actions.subscribe.push_back(topics::area_plan(a));
    actions.subscribe.push_back(topics::area_control(a));
  }
  actions.subscribe.push_back(topics::node_down_filter(config_.id));
  {
    std::lock_guard lock(mu_);
    actions.append(refresh_locked(clock_.now_us()));
  }
  apply(std::move(actions));

  stopping_ = false;
  housekeeping_exited_ = false;
  if (housekeeping_thread) {
    player_.start();
  } else {
    player_.start_driven();
  }
  driven_ = !housekeeping_thread;
  if (housekeeping_thread) {
    housekeeping_ = std::thread([this] {
      housekeeping();
      housekeeping_exited_ = true;
    });
  }
  if (loa::Status s = bus_.start(); !s) {
    stop();
    return make_error("node " + config_.id + ": bus: " + s.message());
  }
  running_ = true;
  Log(LogLevel::info, "node")
          .kv("id", config_.id)
          .kv("area", config_.area.str())
          .kv("cache", config_.cache_dir)
          .kv("public_key", runtime::to_hex(config_.key.public_key))
      << "node started";
  return {};
}

void Node::stop() {
  if (!housekeeping_.joinable() && !driven_) return;
  stopping_ = true;
  player_.stop();
  while (housekeeping_.joinable() && !housekeeping_exited_) {
    clock_.wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (housekeeping_.joinable()) housekeeping_.join();
  driven_ = false;
  bus_.stop(1000);
  running_ = false;
  Log(LogLevel::info, "node").kv("id", config_.id) << "node stopped";
}

Node::Snapshot Node::snapshot() const {
  Snapshot s;
  {
    std::lock_guard lock(mu_);
    s.plans = book_.held();
    s.plans_rejected = plans_rejected_;
    s.controls_rejected = controls_rejected_;
    s.prefetch = prefetcher_.stats();
  }
  s.queued = player_.queued();
  if (auto pending = outbox_->pending()) s.unreceipted_events = pending->size();
  return s;
}

void Node::on_message(const runtime::BusMessage& message) {
  if (message.payload.empty()) return;  // a cleared retained message
  auto parsed = topics::parse(message.topic);
  if (!parsed) {
    Log(LogLevel::debug, "node") << "ignored: " << parsed.error().message;
    return;
  }
  const Micros now = clock_.now_us();
  BusActions actions;
  switch (parsed->kind) {
    case topics::Parsed::Kind::area_plan:
      handle_plan(message.payload);
      return;
    case topics::Parsed::Kind::node_plan:
      if (parsed->node == config_.id) handle_plan(message.payload);
      return;
    case topics::Parsed::Kind::area_control:
      handle_control(message.topic, protocol::area_scope(*parsed->area), message.payload);
      return;
    case topics::Parsed::Kind::node_control:
      if (parsed->node == config_.id) {
        handle_control(message.topic, protocol::node_scope(parsed->node), message.payload);
      }
      return;
    case topics::Parsed::Kind::node_receipt:
      if (parsed->node == config_.id) handle_receipt(message.topic, message.payload);
      return;
    case topics::Parsed::Kind::live:
      handle_live(message.topic, parsed->id, message.payload);
      return;
    case topics::Parsed::Kind::bulletin_manifest: {
      std::lock_guard lock(mu_);
      actions = prefetcher_.on_manifest(parsed->id, message.payload, now);
      break;
    }
    case topics::Parsed::Kind::bulletin_chunk: {
      std::lock_guard lock(mu_);
      actions = prefetcher_.on_chunk(parsed->id, message.payload, now);
      break;
    }
    default:
      return;
  }
  apply(std::move(actions));
}

void Node::on_connection(bool connected) {
  if (!connected) {
    Log(stopping_ ? LogLevel::info : LogLevel::warn, "node").kv("id", config_.id)
        << (stopping_ ? "disconnected" : "broker connection lost");
    return;
  }
  Log(LogLevel::info, "node").kv("id", config_.id) << "connected";
  // Retained plans arrive right after the subscriptions: a short wait is enough once connected.
  const Micros now = clock_.now_us();
  if (now < started_us_ + kPlanSyncGraceUs) {
    player_.hold_late_starts_until(std::min(started_us_ + kPlanSyncGraceUs, now + kPlanSyncUs));
  }
  publish_hello();
  publish_pending_events();
  publish_status();
}

void Node::handle_plan(protocol::ByteView envelope) {
  PlanOffer offer;
  std::vector<protocol::Occurrence> effective;
  {
    std::lock_guard lock(mu_);
    offer = book_.offer(envelope);
    if (offer.verdict == PlanVerdict::accepted) effective = book_.effective();
    if (offer.verdict == PlanVerdict::rejected) ++plans_rejected_;
  }
  switch (offer.verdict) {
    case PlanVerdict::unchanged:
      Log(LogLevel::debug, "node").kv("scope", offer.scope).kv("version", offer.version)
          << "plan already held";
      return;
    case PlanVerdict::rejected:
      Log(LogLevel::warn, "node").kv("scope", offer.scope.empty() ? "-" : offer.scope)
          << "plan rejected: " << offer.detail;
      return;
    case PlanVerdict::accepted:
      break;
  }
  Log(LogLevel::info, "node")
          .kv("scope", offer.scope)
          .kv("version", offer.version)
          .kv("occurrences", effective.size())
      << "plan accepted" << (offer.detail.empty() ? "" : " (" + offer.detail + ")");
  // What the union no longer holds is cancelled by the player, naming the plan that dropped it.
  player_.set_schedule(std::move(effective),
                       "plan v" + std::to_string(offer.version) + " of " + offer.scope);
  BusActions actions;
  {
    std::lock_guard lock(mu_);
    actions = refresh_locked(clock_.now_us());
  }
  apply(std::move(actions));
}

BusActions Node::refresh_locked(Micros now) {
  std::set<std::uint64_t> wanted;
  for (const auto& o : player_.queued()) {
    if (o.live) continue;  // streamed, never fetched
    if (o.start_us > now || o.expiry_us > now) wanted.insert(o.bulletin_id);
  }
  BusActions actions = prefetcher_.want(wanted, now);
  actions.append(live_actions_locked());
  return actions;
}

BusActions Node::live_actions_locked() {
  std::set<std::uint64_t> streams;
  for (const auto& o : book_.effective()) {
    if (o.live && !outbox_->handled(o.occurrence_id)) streams.insert(o.bulletin_id);
  }
  BusActions actions;
  for (const auto id : live_subscribed_) {
    if (!streams.count(id)) actions.unsubscribe.push_back(topics::live_stream(id));
  }
  for (const auto id : streams) {
    if (!live_subscribed_.count(id)) {
      live_.buffer(id);  // chunks are kept from now on
      actions.subscribe.push_back(topics::live_stream(id));
    }
  }
  live_.retain(streams);
  live_subscribed_ = std::move(streams);
  return actions;
}

void Node::handle_live(const std::string& topic, std::uint64_t stream_id,
                       protocol::ByteView envelope) {
  if (drop_live_percent_ > 0) {
    std::lock_guard lock(mu_);
    if (drop_rng_() % 100 < drop_live_percent_) return;
  }
  const auto buffer = live_.find(stream_id);
  if (!buffer) return;  // not (or no longer) subscribed
  std::string why;
  const auto opened =
      open_from_controller(topic, envelope, protocol::MessageType::audio_chunk,
                           config_.live_latency_us + kLiveMaxAgeBeyondLatencyUs, why);
  if (!opened) {
    Log(LogLevel::debug, "node").kv("stream", stream_id) << "live chunk refused: " << why;
    return;
  }
  auto chunk = protocol::decode_audio_chunk(opened->body);
  if (!chunk || chunk->stream_id != stream_id) {
    Log(LogLevel::warn, "node").kv("stream", stream_id)
        << "live chunk refused: "
        << (chunk ? "stream id " + std::to_string(chunk->stream_id) + " on " + topic
                  : chunk.error().message);
    return;
  }
  accept_sequence(topic, opened->header, false);
  buffer->push(*chunk, clock_.now_us());
}

std::optional<protocol::Opened> Node::open_from_controller(const std::string& topic,
                                                           protocol::ByteView envelope,
                                                           protocol::MessageType type,
                                                           Micros max_age_us, std::string& why) {
  protocol::VerifyPolicy policy;
  policy.now_us = clock_.now_us();
  policy.max_age_us = max_age_us;
  // Per (key, topic): MQTT keeps one publisher's order on one topic, so an older copy is a replay.
  // The key id is read before verifying only to find its mark; open() checks it is trusted.
  if (const auto claimed = protocol::claimed_key_id(envelope)) {
    const protocol::KeyId key = *claimed;
    std::lock_guard lock(mu_);
    const auto mark = marks_.find({key, topic});
    if (mark != marks_.end()) {
      policy.last_sequence = mark->second;
    } else if (config_.controller_keys.find(key) != nullptr) {
      auto stored = outbox_->replay_mark(key, topic);
      if (!stored) {
        why = "replay mark unreadable: " + stored.error().message;
        return std::nullopt;
      }
      if (*stored) marks_[{key, topic}] = **stored;
      policy.last_sequence = *stored;
    }
  }
  const auto opened = protocol::open(envelope, config_.controller_keys, policy);
  if (!opened.ok()) {
    why = std::string("envelope refused: ") + protocol::to_string(opened.rejection);
    return std::nullopt;
  }
  if (opened.opened->header.type != type) {
    why = std::string("envelope type ") + protocol::to_string(opened.opened->header.type) + " on " +
          topic;
    return std::nullopt;
  }
  return opened.opened;
}

void Node::accept_sequence(const std::string& topic, const protocol::EnvelopeHeader& header,
                           bool durable) {
  {
    std::lock_guard lock(mu_);
    auto& mark = marks_[{header.key_id, topic}];
    // Two callbacks for one topic may race (the bus has one thread per connection, but a test
    // bus need not): the mark only ever rises.
    if (header.sequence <= mark) return;
    mark = header.sequence;
  }
  if (!durable) return;
  if (loa::Status s = outbox_->set_replay_mark(header.key_id, topic, header.sequence); !s) {
    Log(LogLevel::warn, "node").kv("topic", topic)
        << "replay mark kept in memory only: " << s.message();
  }
}

void Node::handle_control(const std::string& topic, const std::string& target,
                          protocol::ByteView envelope) {
  std::string why;
  std::optional<protocol::Control> control;
  std::optional<protocol::EnvelopeHeader> header;
  // No age check here: a `time` answer must get through however far off this clock is;
  // apply_control checks the age of every other command.
  if (const auto opened =
          open_from_controller(topic, envelope, protocol::MessageType::control, 0, why)) {
    if (auto c = protocol::decode_control(opened->body); !c) {
      why = c.error().message;
    } else if (c->target != target || !book_.in_scope(c->target)) {
      // Signed for another node or area and re-published here (the broker, or whoever holds
      // its credentials): not an order to this node.
      why = "control for '" + c->target + "' arrived on " + topic;
    } else {
      control = *c;
      header = opened->header;
    }
  }
  if (control && control->command != protocol::ControlCommand::time &&
      header->sender_us < clock_.now_us() - kControlMaxAgeUs) {
    control.reset();
    why = "envelope refused: expired";
  }
  if (!control) {
    {
      std::lock_guard lock(mu_);
      ++controls_rejected_;
    }
    Log(LogLevel::warn, "node") << "control rejected: " << why;
    return;
  }
  accept_sequence(topic, *header, true);
  apply_control(*header, *control);
}

void Node::handle_receipt(const std::string& topic, protocol::ByteView envelope) {
  std::string why;
  const auto opened = open_from_controller(topic, envelope, protocol::MessageType::receipt, 0, why);
  if (!opened) {
    Log(LogLevel::warn, "node") << "receipt rejected: " << why;
    return;
  }
  auto receipt = protocol::decode_receipt(opened->body);
  if (!receipt || receipt->node_id != config_.id) {
    Log(LogLevel::warn, "node") << "receipt rejected: "
                                << (receipt ? "for node " + receipt->node_id
                                            : receipt.error().message);
    return;
  }
  accept_sequence(topic, opened->header, true);
  auto deleted = outbox_->acknowledge(receipt->recorded_through);
  if (!deleted) {
    Log(LogLevel::error, "node") << deleted.error().message;
    return;
  }
  Log(LogLevel::debug, "node").kv("through", receipt->recorded_through).kv("deleted", *deleted)
      << "receipt";
}

void Node::record_event(protocol::PlaybackEvent event) {
  event.node_id = config_.id;
  note_playback(event);
  auto stored = outbox_->add(event);
  if (!stored) {
    // A full disk, most likely: keep it and store it again later (persist_progress), so the
    // acknowledgement is not lost while the node runs.
    Log(LogLevel::error, "node").kv("occurrence", event.occurrence_id)
        << "event not stored, kept in memory and retried: " << stored.error().message;
    std::lock_guard lock(progress_mu_);
    unstored_events_.push_back(std::move(event));
    return;
  }
  const protocol::Bytes envelope =
      seal(protocol::MessageType::playback_event, protocol::encode(*stored), stored->event_seq);
  (void)bus_.publish(topics::node_up(config_.id, topics::UpKind::event), envelope);
  if (live_.find(stored->bulletin_id)) {
    // A live playback ended here: leave its stream.
    BusActions actions;
    {
      std::lock_guard lock(mu_);
      actions = live_actions_locked();
    }
    apply(std::move(actions));
  }
  Outbox::crash_point("event-after-publish");
}

void Node::persist_progress() {
  std::optional<protocol::PlaybackEvent> note;
  {
    std::lock_guard lock(progress_mu_);
    note.swap(progress_);
  }
  if (!note) return;
  note->node_id = config_.id;
  if (loa::Status s = outbox_->note_playing(*note); !s) {
    Log(LogLevel::warn, "node").kv("occurrence", note->occurrence_id)
        << "playback progress not noted: " << s.message();
  }
}

void Node::store_unstored_events(Micros now) {
  std::vector<protocol::PlaybackEvent> retry;
  {
    std::lock_guard lock(progress_mu_);
    if (unstored_events_.empty() || now < next_event_retry_us_) return;
    next_event_retry_us_ = now + config_.event_resend_us;
    retry.swap(unstored_events_);
  }
  for (auto& e : retry) {
    if (outbox_->handled(e.occurrence_id)) continue;
    auto stored = outbox_->add(e);
    if (!stored) {
      std::lock_guard lock(progress_mu_);
      unstored_events_.push_back(std::move(e));
      continue;
    }
    Log(LogLevel::info, "node").kv("occurrence", e.occurrence_id).kv("event_seq", stored->event_seq)
        << "event stored after an earlier failure";
    (void)bus_.publish(
        topics::node_up(config_.id, topics::UpKind::event),
        seal(protocol::MessageType::playback_event, protocol::encode(*stored), stored->event_seq));
  }
}

void Node::publish_pending_events() {
  auto pending = outbox_->pending();
  if (!pending) {
    Log(LogLevel::error, "node") << pending.error().message;
    return;
  }
  for (const auto& e : *pending) {
    const protocol::Bytes envelope =
        seal(protocol::MessageType::playback_event, protocol::encode(e), e.event_seq);
    (void)bus_.publish(topics::node_up(config_.id, topics::UpKind::event), envelope);
  }
}

void Node::publish_hello() {
  protocol::Hello h;
  h.node_id = config_.id;
  h.version = LOA_VERSION;
  h.public_key = config_.key.public_key;
  {
    std::lock_guard lock(mu_);
    h.plans = book_.held();
  }
  if (h.plans.size() > protocol::kMaxHeldPlans) h.plans.resize(protocol::kMaxHeldPlans);
  (void)bus_.publish(topics::node_up(config_.id, topics::UpKind::hello),
                     seal(protocol::MessageType::hello, protocol::encode(h)));
}

void Node::publish_status() {
  protocol::Status s;
  s.node_id = config_.id;
  s.version = LOA_VERSION;
  const Micros now = clock_.now_us();
  s.uptime_s = static_cast<std::uint64_t>(std::max<Micros>(0, now - started_us_) / 1'000'000);
  {
    std::lock_guard lock(mu_);
    s.plan_version = book_.highest_version();
  }
  s.cache_bytes = cache_.bytes_used();
  s.cache_limit_bytes = cache_.limit_bytes();
  s.output_ok = player_.output_ok();
  s.volume = player_.volume();
  add_health(s);
  // The controller answers with a `time` Control naming this sequence: one clock sample.
  const std::uint64_t sequence = next_sequence(clock_.now_us());
  offset_.sent(sequence, clock_.base().now_us());
  (void)bus_.publish(topics::node_up(config_.id, topics::UpKind::status),
                     seal(protocol::MessageType::status, protocol::encode(s), sequence), true);
}

Micros Node::poll() {
  const Micros now = clock_.now_us();
  BusActions actions;
  {
    std::lock_guard lock(mu_);
    actions = prefetcher_.tick(now);
  }
  apply(std::move(actions));
  persist_progress();
  store_unstored_events(now);
  if (now >= next_resend_us_) {
    if (bus_.connected()) publish_pending_events();
    next_resend_us_ = now + config_.event_resend_us;
  }
  if (now >= next_status_us_) {
    if (bus_.connected()) publish_status();
    next_status_us_ = now + status_interval_us_.load();
  }
  return std::min({now + kTickUs, next_resend_us_, next_status_us_});
}

Micros Node::step_player() {
  const Micros due = player_.step();  // by the corrected clock
  if (due == std::numeric_limits<Micros>::max()) return due;
  return due - clock_.correction();
}

void Node::housekeeping() {
  while (!stopping_) {
    const Micros next = poll();
    if (stopping_) break;
    if (heartbeat_ && player_.alive()) heartbeat_();
    clock_.sleep_until(next);
  }
}

void Node::apply(BusActions actions) {
  for (const auto& f : actions.unsubscribe) {
    if (loa::Status s = bus_.unsubscribe(f); !s) Log(LogLevel::warn, "node") << s.message();
  }
  for (const auto& f : actions.subscribe) {
    if (loa::Status s = bus_.subscribe(f); !s) Log(LogLevel::warn, "node") << s.message();
  }
  for (const auto& f : actions.subscribe_best_effort) {
    if (loa::Status s = bus_.subscribe_best_effort(f); !s) {
      Log(LogLevel::warn, "node") << s.message();
    }
  }
  for (const auto& p : actions.publish) {
    if (loa::Status s = bus_.publish(p.topic, p.payload, p.retain); !s) {
      Log(LogLevel::warn, "node") << s.message();
    }
  }
}

protocol::Bytes Node::seal(protocol::MessageType type, const protocol::Bytes& body,
                           std::optional<std::uint64_t> sequence) {
  const Micros now = clock_.now_us();
  std::uint64_t seq = 0;
  if (sequence) {
    seq = *sequence;
  } else {
    seq = next_sequence(now);
  }
  return protocol::seal(type, config_.key, now, seq, body);
}

}  // namespace loa::node
