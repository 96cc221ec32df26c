#include "loa/controller/dispatcher.hpp"

#include <algorithm>

#include "loa/protocol/area_path.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"

namespace loa::controller {
namespace {

using protocol::ByteView;
using protocol::MessageType;
using runtime::Log;
using runtime::LogLevel;

constexpr const char* kComponent = "controller";
// Health history kept per node: a week, at most this many statuses (a week at 5 min).
constexpr Micros kStatusHistoryUs = 7LL * 24 * 3600 * 1'000'000;
constexpr std::size_t kStatusHistoryRows = 2016;

// The body of an envelope without verifying it: only to read the key a hello carries, which is
// then verified by opening the envelope with that key. Layout: envelope.hpp.
std::optional<ByteView> peek_body(ByteView envelope) {
  constexpr std::size_t kLengthOffset = protocol::kEnvelopeHeaderSize - 4;
  if (envelope.size() < protocol::kEnvelopeHeaderSize + protocol::kSignatureSize) {
    return std::nullopt;
  }
  std::size_t length = 0;
  for (std::size_t i = 0; i < 4; ++i) length = (length << 8) | envelope[kLengthOffset + i];
  if (length > protocol::kMaxBodySize ||
      envelope.size() != protocol::kEnvelopeHeaderSize + length + protocol::kSignatureSize) {
    return std::nullopt;
  }
  return envelope.subspan(protocol::kEnvelopeHeaderSize, length);
}

void drop(const std::string& node, std::string_view kind, std::string_view reason) {
  Log(LogLevel::warn, kComponent).kv("node", node).kv("kind", kind).kv("reason", reason)
      << "dropped message from node";
}

// The plan scopes a node belongs to: area:<each ancestor of its area>, node:<id>.
std::vector<std::string> scopes_of(const NodeRecord& node) {
  std::vector<std::string> scopes;
  if (auto area = protocol::AreaPath::parse(node.area)) {
    for (const auto& a : area->self_and_ancestors()) scopes.push_back(protocol::area_scope(a));
  }
  scopes.push_back(protocol::node_scope(node.id));
  return scopes;
}

}  // namespace

Result<std::string> Dispatcher::plan_topic(const std::string& scope) {
  constexpr std::string_view kArea = "area:";
  constexpr std::string_view kNode = "node:";
  if (scope.starts_with(kArea)) {
    auto area = protocol::AreaPath::parse(std::string_view(scope).substr(kArea.size()));
    if (!area) return make_error("scope '" + scope + "': " + area.error().message);
    return protocol::topics::area_plan(*area);
  }
  if (scope.starts_with(kNode)) {
    const std::string_view id = std::string_view(scope).substr(kNode.size());
    if (loa::Status s = protocol::validate_node_id(id); !s) {
      return make_error("scope '" + scope + "': " + s.message());
    }
    return protocol::topics::node_plan(id);
  }
  return make_error("scope '" + scope + "': expected area:PATH or node:ID");
}

loa::Status Dispatcher::publish_plan(const std::string& scope, Outbox& out) {
  auto topic = plan_topic(scope);
  if (!topic) return topic.error();
  const protocol::Micros now = clock_.now_us();
  auto occurrences = store_.active_occurrences_in_scope(scope, now);
  if (!occurrences) return occurrences.error();
  auto version = store_.next_plan_version();
  if (!version) return version.error();
  protocol::Plan plan;
  plan.scope = scope;
  plan.version = *version;
  std::map<std::uint64_t, bool> live;  // by bulletin: a live broadcast's (source "live")
  for (const auto& o : *occurrences) {
    if (plan.occurrences.size() == protocol::kMaxOccurrencesPerPlan) {
      Log(LogLevel::warn, kComponent)
              .kv("scope", scope)
              .kv("dropped", occurrences->size() - plan.occurrences.size())
          << "plan is full; the latest occurrences are left out";
      break;
    }
    auto is_live = live.find(o.bulletin_id);
    if (is_live == live.end()) {
      auto b = store_.find_bulletin(o.bulletin_id);
      is_live = live.emplace(o.bulletin_id, b && *b && (*b)->source == "live").first;
    }
    plan.occurrences.push_back(protocol::Occurrence{o.id, o.bulletin_id, o.start_us, o.expiry_us,
                                                    o.priority, o.volume, is_live->second});
  }
  PlanRecord record{scope, plan.version, protocol::encode(plan), now};
  if (loa::Status s = store_.save_plan(record); !s) return s;
  out.push_back(runtime::BusMessage{*topic, signer_.seal(MessageType::plan, record.body), true});
  Log(LogLevel::info, kComponent)
          .kv("scope", scope)
          .kv("version", plan.version)
          .kv("occurrences", plan.occurrences.size())
      << "plan published";
  return {};
}

loa::Status Dispatcher::publish_manifest(const BulletinRecord& bulletin, Outbox& out) {
  auto pkg = catalog_.packaged(bulletin);
  if (!pkg) return pkg.error();
  out.push_back(runtime::BusMessage{
      protocol::topics::bulletin_manifest(bulletin.id),
      signer_.seal(MessageType::manifest, protocol::encode((*pkg)->manifest)), true});
  Log(LogLevel::info, kComponent)
          .kv("bulletin", bulletin.id)
          .kv("chunks", (*pkg)->chunk_bodies.size())
      << "manifest published";
  return {};
}

void Dispatcher::flush_fetches(Outbox& out) {
  for (const auto& [bulletin_id, pending] : pending_fetches_) {
    auto bulletin = store_.find_bulletin(bulletin_id);
    if (!bulletin || !*bulletin) continue;
    auto pkg = catalog_.packaged(**bulletin);
    if (!pkg) {
      Log(LogLevel::error, kComponent).kv("bulletin", bulletin_id).kv("reason", pkg.error().message)
          << "cannot serve fetch";
      continue;
    }
    Publication& pub = publications_[bulletin_id];
    pub.published_after.resize((*pkg)->chunk_bodies.size(), 0);
    // A new round of chunks starts with the manifest, so a node that sees it knows the chunks
    // after it will reach it; chunks added to a round under way follow its manifest.
    if (pending.manifest || (pub.queued.empty() && !pending.indices.empty())) {
      out.push_back(runtime::BusMessage{
          protocol::topics::bulletin_manifest(bulletin_id),
          signer_.seal(MessageType::manifest, protocol::encode((*pkg)->manifest),
                       &pub.manifest_sequence),
          true});
    }
    for (const auto& [index, asker] : pending.indices) {
      if (pub.queued.insert(index).second) asks_[asker].emplace_back(bulletin_id, index);
    }
    Log(LogLevel::info, kComponent)
            .kv("bulletin", bulletin_id)
            .kv("requests", pending.requests)
            .kv("manifest", pending.manifest)
            .kv("chunks", pending.indices.size())
            .kv("on_their_way", pending.on_their_way)
            .kv("queued", pub.queued.size())
        << "fetches served";
  }
  pending_fetches_.clear();
  publish_paced(out);
}

void Dispatcher::publish_paced(Outbox& out) {
  const protocol::Micros now = clock_.now_us();
  // Packages looked up in this call (null: its bulletin cannot be served).
  std::map<std::uint64_t, std::shared_ptr<const protocol::PackagedBulletin>> packages;
  const auto package = [&](std::uint64_t bulletin_id) {
    auto [it, added] = packages.try_emplace(bulletin_id);
    if (!added) return it->second;
    auto bulletin = store_.find_bulletin(bulletin_id);
    Result<std::shared_ptr<const protocol::PackagedBulletin>> pkg =
        make_error("bulletin " + std::to_string(bulletin_id) + " is no longer in the store");
    if (bulletin && *bulletin) pkg = catalog_.packaged(**bulletin);
    if (pkg) {
      it->second = *pkg;
    } else {
      Log(LogLevel::error, kComponent).kv("bulletin", bulletin_id).kv("reason", pkg.error().message)
          << "cannot serve fetch";
      publications_[bulletin_id].queued.clear();
    }
    return it->second;
  };
  while (!asks_.empty() && pacer_.ready(now)) {
    // The next node with chunks waiting after the one served last.
    auto turn = asks_.upper_bound(last_served_);
    if (turn == asks_.end()) turn = asks_.begin();
    last_served_ = turn->first;
    auto& waiting = turn->second;
    while (!waiting.empty()) {
      const auto [bulletin_id, index] = waiting.front();
      waiting.pop_front();
      auto pub = publications_.find(bulletin_id);
      if (pub == publications_.end() || pub->second.queued.count(index) == 0) continue;
      const auto pkg = package(bulletin_id);
      if (!pkg) continue;
      pub->second.queued.erase(index);
      // Each chunk reaches every node subscribed (at least the one that asked).
      const auto fan_out =
          static_cast<double>(std::max<std::size_t>(1, pub->second.receivers.size()));
      const protocol::Bytes& body = pkg->chunk_bodies[index];
      out.push_back(runtime::BusMessage{protocol::topics::bulletin_chunks(bulletin_id),
                                        signer_.seal(MessageType::audio_chunk, body), false});
      pub->second.published_after[index] = pub->second.manifest_sequence;
      pacer_.take(static_cast<double>(body.size()) * fan_out);
      break;
    }
    if (waiting.empty()) asks_.erase(turn);
  }
  // Forget bulletins that every asker has cached (a later fetch is simply served in full).
  std::erase_if(publications_, [](const auto& p) {
    return p.second.queued.empty() && p.second.receivers.empty();
  });
}

std::set<std::string> Dispatcher::expected_receivers(std::uint64_t bulletin_id) {
  std::set<std::string> out;
  const protocol::Micros now = clock_.now_us();
  if (auto occurrences = store_.occurrences_of_bulletin(bulletin_id)) {
    for (const auto& o : *occurrences) {
      if (o.cancelled() || o.keep_until_us < now) continue;
      for (const auto& n : o.nodes) out.insert(n.node_id);
    }
  }
  if (auto reports = store_.cache_reports(bulletin_id)) {
    for (const auto& r : *reports) {
      if (r.state == protocol::CacheState::cached) out.erase(r.node_id);
    }
  }
  return out;
}

bool Dispatcher::fetches_pending() const {
  if (!pending_fetches_.empty()) return true;
  return std::any_of(publications_.begin(), publications_.end(),
                     [](const auto& p) { return !p.second.queued.empty(); });
}

void Dispatcher::handle(const runtime::BusMessage& message, Outbox& out) {
  auto parsed = protocol::topics::parse(message.topic);
  if (!parsed) {
    Log(LogLevel::warn, kComponent).kv("topic", message.topic).kv("reason", parsed.error().message)
        << "dropped message on an unknown topic";
    return;
  }
  if (parsed->kind != protocol::topics::Parsed::Kind::node_up) {
    Log(LogLevel::debug, kComponent).kv("topic", message.topic) << "ignored message";
    return;
  }
  // A retained message left on an up topic (e.g. a node's last will) is not news.
  if (message.payload.empty()) {
    if (parsed->up == protocol::topics::UpKind::status) {
      (void)store_.set_node_seen(parsed->node, 0, false);
      Log(LogLevel::info, kComponent).kv("node", parsed->node) << "node went offline";
    }
    return;
  }
  const ByteView payload(message.payload);
  switch (parsed->up) {
    case protocol::topics::UpKind::hello:
      on_hello(parsed->node, message.topic, payload, out);
      break;
    case protocol::topics::UpKind::event:
      on_event(parsed->node, payload, out);
      break;
    case protocol::topics::UpKind::fetch:
      on_fetch(parsed->node, message.topic, payload);
      break;
    case protocol::topics::UpKind::report:
      on_report(parsed->node, message.topic, payload);
      break;
    case protocol::topics::UpKind::status:
      on_status(parsed->node, message.topic, payload, message.retained, out);
      break;
  }
}

Result<std::optional<std::uint64_t>> Dispatcher::last_sequence(const protocol::PublicKey& key,
                                                               const std::string& topic) {
  const std::pair<protocol::KeyId, std::string> at{protocol::key_id(key), topic};
  if (const auto it = last_sequence_.find(at); it != last_sequence_.end()) {
    return std::optional<std::uint64_t>(it->second);
  }
  auto stored = store_.replay_mark(at.first, topic);
  if (!stored) return stored.error();
  if (*stored) last_sequence_[at] = **stored;
  return *stored;
}

void Dispatcher::accept_sequence(const protocol::PublicKey& key, const std::string& topic,
                                 std::uint64_t sequence) {
  const protocol::KeyId id = protocol::key_id(key);
  last_sequence_[{id, topic}] = sequence;
  // Inside the ingest batch: durable with the message's other effects. If the write fails the
  // mark still holds in memory until a restart.
  if (loa::Status s = store_.set_replay_mark(id, topic, sequence); !s) {
    Log(LogLevel::warn, kComponent).kv("topic", topic).kv("reason", s.message())
        << "replay mark kept in memory only";
  }
}

std::optional<protocol::Opened> Dispatcher::open_from(const std::string& node,
                                                      const std::string& topic, ByteView payload,
                                                      MessageType expected) {
  const char* kind = protocol::to_string(expected);
  auto found = store_.find_node(node);
  if (!found) {
    drop(node, kind, found.error().message);
    return std::nullopt;
  }
  if (!*found) {
    drop(node, kind, "unknown node (register it with loactl node add)");
    return std::nullopt;
  }
  if (!(*found)->public_key) {
    drop(node, kind, "no public key registered yet (the node sends it in its hello)");
    return std::nullopt;
  }
  const protocol::PublicKey& key = *(*found)->public_key;
  protocol::VerifyPolicy policy;
  policy.now_us = clock_.now_us();
  if (!topic.empty()) {
    auto last = last_sequence(key, topic);
    if (!last) {
      drop(node, kind, last.error().message);
      return std::nullopt;
    }
    policy.last_sequence = *last;
  }
  const protocol::OpenResult opened = protocol::open(payload, protocol::KeySet(key), policy);
  if (!opened.ok()) {
    drop(node, kind, std::string("envelope refused: ") + protocol::to_string(opened.rejection));
    return std::nullopt;
  }
  if (opened.opened->header.type != expected) {
    drop(node, kind,
         std::string("unexpected message type ") + protocol::to_string(opened.opened->header.type));
    return std::nullopt;
  }
  if (!topic.empty()) accept_sequence(key, topic, opened.opened->header.sequence);
  return opened.opened;
}

void Dispatcher::on_hello(const std::string& node, const std::string& topic, ByteView payload,
                          Outbox& out) {
  const auto body = peek_body(payload);
  if (!body) return drop(node, "hello", "malformed envelope");
  auto hello = protocol::decode_hello(*body);
  if (!hello) return drop(node, "hello", hello.error().message);
  if (hello->node_id != node) {
    return drop(node, "hello", "node id '" + hello->node_id + "' does not match the topic");
  }
  auto found = store_.find_node(node);
  if (!found) return drop(node, "hello", found.error().message);
  if (!*found) return drop(node, "hello", "unknown node (register it with loactl node add)");
  NodeRecord& record = **found;
  const bool first_key = !record.public_key.has_value();
  if (first_key && !trust_first_key_) {
    Log(LogLevel::warn, kComponent)
            .kv("node", node)
            .kv("offered_key", runtime::to_hex(ByteView(hello->public_key)))
        << "node has no registered public key; register it (loactl node add --public-key) or "
           "enable trust-first-key";
    return drop(node, "hello", "no registered public key");
  }
  const protocol::PublicKey key = first_key ? hello->public_key : *record.public_key;
  if (!first_key && key != hello->public_key) {
    return drop(node, "hello", "public key differs from the registered one");
  }
  protocol::VerifyPolicy policy;
  policy.now_us = clock_.now_us();
  auto last = last_sequence(key, topic);
  if (!last) return drop(node, "hello", last.error().message);
  policy.last_sequence = *last;
  const protocol::OpenResult opened = protocol::open(payload, protocol::KeySet(key), policy);
  if (!opened.ok()) {
    return drop(node, "hello",
                std::string("envelope refused: ") + protocol::to_string(opened.rejection));
  }
  if (opened.opened->header.type != MessageType::hello) {
    return drop(node, "hello", "unexpected message type");
  }
  accept_sequence(key, topic, opened.opened->header.sequence);
  if (first_key) {
    if (loa::Status s = store_.set_node_public_key(node, key); !s) {
      return drop(node, "hello", s.message());
    }
    Log(LogLevel::warn, kComponent)
            .kv("node", node)
            .kv("public_key", runtime::to_hex(ByteView(key)))
        << "trusting the node's public key on first use";
  }
  (void)store_.set_node_seen(node, clock_.now_us(), true);

  std::size_t resent = 0;
  for (const auto& scope : scopes_of(record)) {
    auto plan = store_.find_plan(scope);
    if (!plan || !*plan) continue;
    std::uint64_t held = 0;
    for (const auto& h : hello->plans) {
      if (h.scope == scope) held = std::max(held, h.version);
    }
    if ((*plan)->version > held) {
      out.push_back(runtime::BusMessage{protocol::topics::node_plan(node),
                                        signer_.seal(MessageType::plan, (*plan)->body), false});
      ++resent;
    }
  }
  if (auto through = store_.recorded_through(node); through && *through > 0) {
    queue_receipt(node, *through, out);
  }
  Log(LogLevel::info, kComponent)
          .kv("node", node)
          .kv("version", hello->version)
          .kv("plans_resent", resent)
      << "node hello";
}

void Dispatcher::on_event(const std::string& node, ByteView payload, Outbox& out) {
  // The ledger checks, records or refuses (ledger.hpp); events need no envelope replay check:
  // they are idempotent by (node, occurrence).
  const LedgerVerdict verdict = ledger_.accept(node, payload);
  if (verdict.receipt_through) queue_receipt(node, *verdict.receipt_through, out);
}

void Dispatcher::on_fetch(const std::string& node, const std::string& topic, ByteView payload) {
  auto opened = open_from(node, topic, payload, MessageType::fetch);
  if (!opened) return;
  auto fetch = protocol::decode_fetch(opened->body);
  if (!fetch) return drop(node, "fetch", fetch.error().message);
  if (fetch->node_id != node) {
    return drop(node, "fetch", "node id '" + fetch->node_id + "' does not match the topic");
  }
  (void)store_.set_node_seen(node, clock_.now_us(), true);
  auto bulletin = store_.find_bulletin(fetch->bulletin_id);
  if (!bulletin) return drop(node, "fetch", bulletin.error().message);
  if (!*bulletin) {
    return drop(node, "fetch", "unknown bulletin " + std::to_string(fetch->bulletin_id));
  }
  auto pkg = catalog_.packaged(**bulletin);
  if (!pkg) return drop(node, "fetch", pkg.error().message);
  const std::size_t chunks = (*pkg)->chunk_bodies.size();
  PendingFetch& pending = pending_fetches_[fetch->bulletin_id];
  pending.manifest = pending.manifest || fetch->want_manifest || fetch->indices.empty();
  ++pending.requests;
  auto [it, started] = publications_.try_emplace(fetch->bulletin_id);
  Publication& pub = it->second;
  // The first fetch of a bulletin since its last round ended: its other nodes are about to ask.
  if (started) pub.receivers = expected_receivers(fetch->bulletin_id);
  pub.receivers.insert(node);
  const auto on_its_way = [&](std::uint32_t index) {
    if (pub.queued.count(index)) return true;
    return fetch->seen_manifest_sequence != 0 && index < pub.published_after.size() &&
           pub.published_after[index] > fetch->seen_manifest_sequence;
  };
  std::size_t out_of_range = 0;
  for (const std::uint32_t index : fetch->indices) {
    if (index >= chunks) {
      ++out_of_range;
    } else if (on_its_way(index)) {
      ++pending.on_their_way;
    } else {
      pending.indices.try_emplace(index, node);
    }
  }
  Log(out_of_range ? LogLevel::warn : LogLevel::debug, kComponent)
          .kv("node", node)
          .kv("bulletin", fetch->bulletin_id)
          .kv("manifest", fetch->want_manifest || fetch->indices.empty())
          .kv("chunks", fetch->indices.size() - out_of_range)
          .kv("out_of_range", out_of_range)
      << "fetch queued";
}

void Dispatcher::on_report(const std::string& node, const std::string& topic, ByteView payload) {
  auto opened = open_from(node, topic, payload, MessageType::cache_report);
  if (!opened) return;
  auto report = protocol::decode_cache_report(opened->body);
  if (!report) return drop(node, "cache_report", report.error().message);
  if (report->node_id != node) {
    return drop(node, "cache_report", "node id '" + report->node_id + "' does not match the topic");
  }
  const protocol::Micros now = clock_.now_us();
  (void)store_.set_node_seen(node, now, true);
  if (report->state == protocol::CacheState::cached) {
    if (auto pub = publications_.find(report->bulletin_id); pub != publications_.end()) {
      pub->second.receivers.erase(node);
    }
  }
  CacheReportRecord record{node, report->bulletin_id, report->state, report->detail, now};
  if (loa::Status s = store_.save_cache_report(record); !s) {
    return drop(node, "cache_report", s.message());
  }
  Log(report->state == protocol::CacheState::cached ? LogLevel::info : LogLevel::warn, kComponent)
          .kv("node", node)
          .kv("bulletin", report->bulletin_id)
          .kv("state", protocol::to_string(report->state))
          .kv("detail", report->detail)
      << "cache report";
}

void Dispatcher::on_status(const std::string& node, const std::string& topic, ByteView payload,
                           bool retained, Outbox& out) {
  // No per-topic sequence check yet: a last will is older than the statuses it follows
  // (PROTOCOL.md, "Status and last will"); online statuses get the check below.
  auto opened = open_from(node, "", payload, MessageType::status);
  if (!opened) return;
  auto status = protocol::decode_status(opened->body);
  if (!status) return drop(node, "status", status.error().message);
  if (status->node_id != node) {
    return drop(node, "status", "node id '" + status->node_id + "' does not match the topic");
  }
  auto found = store_.find_node(node);
  if (!found || !*found || !(*found)->public_key) return;  // open_from checked; a race at most
  const protocol::PublicKey key = *(*found)->public_key;
  const Micros now = clock_.now_us();
  auto& session = status_session_[node];
  if (session == 0) {
    // After a restart of the controller: the session of the newest status stored.
    if (auto stored = store_.node_statuses(node, 1); stored && !stored->empty()) {
      session = stored->front().status.session;
    }
  }
  if (status->online) {
    const auto last = last_sequence(key, topic);
    if (!last) return drop(node, "status", last.error().message);
    if (*last && opened->header.sequence <= **last) {
      return drop(node, "status", "envelope refused: replayed");
    }
    accept_sequence(key, topic, opened->header.sequence);
    session = std::max(session, status->session);
  } else if (status->session < session) {
    return drop(node, "status",
                "last will of an earlier run (session " + std::to_string(status->session) + " < " +
                    std::to_string(session) + ")");
  }
  // A retained status is as old as its sealing (the node's clock), not news.
  const Micros received = retained ? std::min(now, opened->header.sender_us) : now;
  if (loa::Status s = store_.add_node_status(NodeStatusRecord{received, *status},
                                             kStatusHistoryRows, now - kStatusHistoryUs);
      !s) {
    return drop(node, "status", s.message());
  }
  if (status->online) {
    (void)store_.set_node_seen(node, received, true);
  } else {
    (void)store_.set_node_seen(node, (*found)->last_seen_us, false);
    Log(LogLevel::warn, kComponent).kv("node", node).kv("session", status->session)
        << "node offline (its last will: the broker lost the connection)";
    return;
  }
  Log(LogLevel::debug, kComponent)
          .kv("node", node)
          .kv("plan_version", status->plan_version)
          .kv("output_ok", status->output_ok)
          .kv("clock_offset_us", status->clock_offset_us)
      << "node status";
  if (!retained) {
    // One clock sample for the node: the controller's sealing instant, naming this status.
    const protocol::Control answer{protocol::ControlCommand::time, opened->header.sequence,
                                   protocol::node_scope(node)};
    out.push_back(runtime::BusMessage{protocol::topics::node_control(node),
                                      signer_.seal(MessageType::control, protocol::encode(answer)),
                                      false});
  }
}

void Dispatcher::queue_receipt(const std::string& node, std::uint64_t through, Outbox& out) {
  const protocol::Receipt receipt{node, through};
  out.push_back(runtime::BusMessage{protocol::topics::node_receipt(node),
                                    signer_.seal(MessageType::receipt, protocol::encode(receipt)),
                                    false});
}

}  // namespace loa::controller
