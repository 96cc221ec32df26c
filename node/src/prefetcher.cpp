#include "loa/node/prefetcher.hpp"

#include <algorithm>
#include <cerrno>

#include "loa/protocol/topics.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

using runtime::Log;
using runtime::LogLevel;
namespace topics = protocol::topics;

Prefetcher::Prefetcher(Config config, const Cache& cache, Sealer sealer)
    : config_(std::move(config)), cache_(cache), sealer_(std::move(sealer)) {}

BusActions Prefetcher::want(const std::set<std::uint64_t>& bulletins, protocol::Micros now) {
  BusActions out;
  wanted_ = bulletins;
  // A changed plan may have freed room: try the refused stores again now.
  for (auto it = unstored_.begin(); it != unstored_.end();) {
    if (!bulletins.count(it->first)) {
      it = unstored_.erase(it);
      continue;
    }
    Unstored u = std::move(it->second);
    it = unstored_.erase(it);
    store(std::move(u), now, out);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (bulletins.count(it->first)) {
      ++it;
      continue;
    }
    Log(LogLevel::info, "node").kv("bulletin", it->first) << "prefetch no longer needed";
    out.unsubscribe.push_back(topics::bulletin_filter(it->first));
    it = pending_.erase(it);
  }
  for (std::uint64_t id : bulletins) {
    if (pending_.count(id) || unstored_.count(id)) continue;
    if (cache_.has(id)) {
      // Once per run, so a controller that lost track (or a restarted node) learns it again.
      if (reported_cached_.insert(id).second) report(id, protocol::CacheState::cached, "", out);
      continue;
    }
    Pending p;
    p.last_progress_us = now;
    pending_.emplace(id, std::move(p));
    // At QoS 0: a chunk lost on the way is fetched again, and the broker keeps no state per
    // delivery for what it sends to thousands of nodes at once.
    out.subscribe_best_effort.push_back(topics::bulletin_filter(id));
    Log(LogLevel::info, "node").kv("bulletin", id) << "prefetch started";
  }
  return out;
}

std::optional<protocol::Opened> Prefetcher::open_envelope(protocol::ByteView envelope,
                                                          protocol::MessageType want,
                                                          std::string& why,
                                                          bool check_signature) const {
  protocol::VerifyPolicy policy;
  policy.check_signature = check_signature;
  protocol::OpenResult r = protocol::open(envelope, config_.controller_keys, policy);
  if (!r.ok()) {
    why = std::string(protocol::to_string(want)) +
          " envelope refused: " + protocol::to_string(r.rejection);
    return std::nullopt;
  }
  if (r.opened->header.type != want) {
    why = std::string("envelope type ") + protocol::to_string(r.opened->header.type) +
          ", expected " + protocol::to_string(want);
    return std::nullopt;
  }
  return r.opened;
}

BusActions Prefetcher::on_manifest(std::uint64_t bulletin_id, protocol::ByteView envelope,
                                   protocol::Micros now) {
  BusActions out;
  const auto it = pending_.find(bulletin_id);
  if (it == pending_.end()) return out;
  Pending& p = it->second;
  std::string why;
  const auto opened = open_envelope(envelope, protocol::MessageType::manifest, why);
  std::optional<protocol::Manifest> manifest;
  if (opened) {
    auto decoded = protocol::decode_manifest(opened->body);
    if (!decoded) {
      why = "manifest: " + decoded.error().message;
    } else if (decoded->bulletin_id != bulletin_id) {
      why = "manifest is for bulletin " + std::to_string(decoded->bulletin_id) +
            ", arrived on bulletin " + std::to_string(bulletin_id) + "'s topic";
    } else if (decoded->chunk_digests.empty()) {
      why = "manifest lists no chunks";
    } else {
      manifest = std::move(decoded).value();
    }
  }
  if (!manifest) {
    ++stats_.manifests_rejected;
    Log(LogLevel::warn, "node").kv("bulletin", bulletin_id) << "manifest rejected: " << why;
    // Report each distinct reason once; a valid manifest may still come (from a Fetch).
    if (p.reported.insert(why).second)
      report(bulletin_id, protocol::CacheState::rejected, why, out);
    return out;
  }
  if (p.assembler) {
    if (!(p.assembler->manifest() == *manifest)) {
      Log(LogLevel::warn, "node").kv("bulletin", bulletin_id)
          << "a different manifest for a bulletin being fetched; keeping the first";
    }
    return out;
  }
  Log(LogLevel::info, "node")
          .kv("bulletin", bulletin_id)
          .kv("chunks", manifest->chunk_digests.size())
      << "manifest accepted";
  p.assembler.emplace(std::move(*manifest));
  p.last_progress_us = now;
  p.attempts = 0;
  p.next_fetch_us = 0;
  std::vector<protocol::Bytes> early = std::move(p.early);
  p.early.clear();
  p.early_bytes = 0;
  for (const auto& body : early) add_chunk(bulletin_id, p, body, now, out);
  if (p.assembler->complete()) {
    finish(bulletin_id, now, out);
  } else {
    // The controller publishes chunks when asked (coalescing all nodes' requests), and this
    // node is already subscribed to the bulletin's topics: ask now rather than wait, naming
    // the manifest this node received (chunks published after a newer one are on their way).
    send_fetch(bulletin_id, p, now, out, opened->header.sequence);
  }
  return out;
}

BusActions Prefetcher::on_chunk(std::uint64_t bulletin_id, protocol::ByteView envelope,
                                protocol::Micros now) {
  BusActions out;
  const auto it = pending_.find(bulletin_id);
  if (it == pending_.end()) return out;
  Pending& p = it->second;
  std::string why;
  // Once the verified manifest is here, a chunk is authenticated by its digest (add_chunk), so
  // its signature is not checked: ~300 fewer Ed25519 verifications per 5-minute bulletin and
  // node. A chunk that comes before the manifest is kept only if its signature verifies.
  const bool check_signature = !p.assembler;
  const auto opened =
      open_envelope(envelope, protocol::MessageType::audio_chunk, why, check_signature);
  if (!opened) {
    ++stats_.chunks_dropped;
    Log(LogLevel::warn, "node").kv("bulletin", bulletin_id) << "chunk dropped: " << why;
    return out;
  }
  if (!p.assembler) {
    if (p.early_bytes + opened->body.size() <= config_.max_early_bytes) {
      p.early.emplace_back(opened->body.begin(), opened->body.end());
      p.early_bytes += opened->body.size();
    }
    return out;
  }
  add_chunk(bulletin_id, p, opened->body, now, out);
  if (p.assembler->complete()) finish(bulletin_id, now, out);
  return out;
}

void Prefetcher::add_chunk(std::uint64_t bulletin_id, Pending& p, protocol::ByteView body,
                           protocol::Micros now, BusActions& out) {
  auto added = p.assembler->add(body);
  if (!added) {
    ++stats_.chunks_dropped;
    Log(LogLevel::warn, "node").kv("bulletin", bulletin_id)
        << "chunk dropped: " << added.error().message;
    return;
  }
  if (!*added) return;  // a duplicate: no progress
  const std::uint32_t index = **added;
  // Into the spool; on a full disk, bulletins no plan needs make room, else the chunk is
  // forgotten and fetched again later.
  std::string failed;
  if (!p.spool) {
    auto spool = cache_.spool(bulletin_id);
    if (spool) {
      p.spool.emplace(std::move(spool).value());
    } else {
      failed = spool.error().message;
    }
  }
  if (p.spool) {
    int err = 0;
    loa::Status s = p.spool->add(index, body, &err);
    while (!s && (err == ENOSPC || err == EDQUOT) &&
           cache_.evict_one(keep_ ? keep_() : wanted_, bulletin_id)) {
      s = p.spool->add(index, body, &err);
    }
    if (!s) failed = (err == ENOSPC || err == EDQUOT ? "disk full: " : "") + s.message();
  }
  if (!failed.empty()) {
    p.assembler->forget(index);
    ++stats_.spool_failures;
    Log(LogLevel::warn, "node").kv("bulletin", bulletin_id).kv("chunk", index)
        << "chunk not kept: " << failed;
    if (p.reported.insert(failed).second)
      report(bulletin_id, protocol::CacheState::failed, failed, out);
    return;
  }
  ++stats_.chunks_accepted;
  p.last_progress_us = now;
  p.attempts = 0;
  p.next_fetch_us = 0;
}

void Prefetcher::finish(std::uint64_t bulletin_id, protocol::Micros now, BusActions& out) {
  const auto it = pending_.find(bulletin_id);
  protocol::BulletinAssembler assembler = std::move(*it->second.assembler);
  Spool spool = std::move(*it->second.spool);
  out.unsubscribe.push_back(topics::bulletin_filter(bulletin_id));
  pending_.erase(it);
  // Written by the next tick(), not here: on_chunk() runs on the MQTT thread, which should not
  // spend a whole file's write (a 5-minute bulletin: ~8 ms here, more on a device's flash)
  // between two messages. The fleet simulator's one MQTT thread serves 2,500 nodes that complete
  // in the same seconds: stored here, their files kept it from the sockets for tens of seconds
  // and the broker dropped thousands of connections.
  unstored_.emplace(bulletin_id, Unstored{std::move(assembler), std::move(spool), now, 0, ""});
}

void Prefetcher::store(Unstored u, protocol::Micros now, BusActions& out) {
  const std::uint64_t bulletin_id = u.assembler.manifest().bulletin_id;
  std::set<std::uint64_t> keep = keep_ ? keep_() : wanted_;
  keep.insert(bulletin_id);
  StoreFailure why = StoreFailure::none;
  const loa::Status stored = cache_.store(u.assembler, u.spool, keep, &why);
  if (!stored) {
    ++stats_.store_failures;
    if (why == StoreFailure::other) {
      Log(LogLevel::error, "node").kv("bulletin", bulletin_id)
          << "cache failed: " << stored.message();
      report(bulletin_id, protocol::CacheState::failed, stored.message(), out);
      return;
    }
    // No room: keep the verified chunks (in their spool) and store them later, when the plan
    // changes (bulletins it no longer needs become evictable) or after a back-off (the disk may
    // have been cleaned).
    const int shift = std::min(u.attempts, 16);
    u.next_try_us = now + std::min(config_.store_retry_us << shift, config_.max_backoff_us);
    ++u.attempts;
    Log(LogLevel::warn, "node")
            .kv("bulletin", bulletin_id)
            .kv("attempt", u.attempts)
            .kv("retry_in_ms", (u.next_try_us - now) / 1000)
        << "not cached: " << stored.message();
    if (u.last_detail != stored.message()) {
      u.last_detail = stored.message();
      report(bulletin_id, protocol::CacheState::failed, stored.message(), out);
    }
    unstored_.emplace(bulletin_id, std::move(u));
    return;
  }
  if (u.attempts > 0) {
    Log(LogLevel::info, "node").kv("bulletin", bulletin_id) << "stored after an earlier refusal";
  }
  ++stats_.bulletins_cached;
  reported_cached_.insert(bulletin_id);
  Log(LogLevel::info, "node").kv("bulletin", bulletin_id).kv("file", cache_.path(bulletin_id))
      << "bulletin cached";
  report(bulletin_id, protocol::CacheState::cached, "", out);
}

BusActions Prefetcher::tick(protocol::Micros now) {
  BusActions out;
  std::vector<std::uint64_t> due;
  for (const auto& [id, u] : unstored_) {
    if (now >= u.next_try_us) due.push_back(id);
  }
  for (std::uint64_t id : due) {
    const auto it = unstored_.find(id);
    Unstored u = std::move(it->second);
    unstored_.erase(it);
    store(std::move(u), now, out);
  }
  for (auto& [id, p] : pending_) {
    if (now - p.last_progress_us < config_.fetch_timeout_us || now < p.next_fetch_us) continue;
    send_fetch(id, p, now, out);
  }
  return out;
}

void Prefetcher::send_fetch(std::uint64_t bulletin_id, Pending& p, protocol::Micros now,
                            BusActions& out, std::uint64_t seen_manifest_sequence) {
  protocol::Fetch f;
  f.node_id = config_.node_id;
  f.bulletin_id = bulletin_id;
  if (p.assembler) {
    f.indices = p.assembler->missing();
    if (f.indices.size() > protocol::kMaxFetchIndices) f.indices.resize(protocol::kMaxFetchIndices);
    f.seen_manifest_sequence = seen_manifest_sequence;
  } else {
    f.want_manifest = true;
  }
  out.publish.push_back(Outgoing{topics::node_up(config_.node_id, topics::UpKind::fetch),
                                 sealer_(protocol::MessageType::fetch, protocol::encode(f))});
  ++stats_.fetches_sent;
  // Doubling interval while nothing arrives: a node that is cut off does not flood the link.
  const int shift = std::min(p.attempts, 16);
  p.next_fetch_us = now + std::min(config_.fetch_timeout_us << shift, config_.max_backoff_us);
  ++p.attempts;
  Log(LogLevel::info, "node")
          .kv("bulletin", bulletin_id)
          .kv("manifest", f.want_manifest)
          .kv("chunks", f.indices.size())
          .kv("attempt", p.attempts)
      << "fetch sent";
}

void Prefetcher::report(std::uint64_t bulletin_id, protocol::CacheState state,
                        const std::string& detail, BusActions& out) {
  protocol::CacheReport r;
  r.node_id = config_.node_id;
  r.bulletin_id = bulletin_id;
  r.state = state;
  r.detail = detail;
  out.publish.push_back(
      Outgoing{topics::node_up(config_.node_id, topics::UpKind::report),
               sealer_(protocol::MessageType::cache_report, protocol::encode(r))});
}

}  // namespace loa::node
