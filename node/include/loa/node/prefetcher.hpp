// Brings the bulletins a plan needs into the cache: manifest, chunks, repairs by Fetch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "loa/node/bus_actions.hpp"
#include "loa/node/cache.hpp"
#include "loa/protocol/bulletin.hpp"
#include "loa/protocol/envelope.hpp"

namespace loa::node {

// One state machine per missing bulletin: subscribe to its topics, take the retained manifest
// (verified with the controller key), collect chunks (each checked against the manifest's
// digest) in a spool file beside the cache, ask for what is missing when chunks stop arriving,
// write the Ogg Opus file from the spool and report. No bulletin's audio is held in memory. Every
// call returns the bus actions to apply. Not thread-safe (the node locks).
class Prefetcher {
 public:
  struct Config {
    std::string node_id;
    protocol::KeySet controller_keys;
    protocol::Micros fetch_timeout_us = 3'000'000;  // quiet time before a Fetch
    protocol::Micros max_backoff_us = 60'000'000;   // cap on the doubling retry interval
    std::size_t max_early_bytes = 256 << 10;        // chunks kept while the manifest is awaited
    // First wait before storing again a bulletin the cache refused (limit or full disk); it
    // doubles up to max_backoff_us. A changed plan (want()) retries at once.
    protocol::Micros store_retry_us = 10'000'000;
  };
  // The bulletins the plan union still needs (never evicted to make room); asked before each store.
  using KeepSet = std::function<std::set<std::uint64_t>()>;
  // Seals a node -> controller message body with the node's key.
  using Sealer = std::function<protocol::Bytes(protocol::MessageType, const protocol::Bytes&)>;

  struct Stats {
    std::uint64_t chunks_accepted = 0;
    std::uint64_t chunks_dropped = 0;  // digest mismatch, undecodable or wrongly signed
    std::uint64_t fetches_sent = 0;
    std::uint64_t manifests_rejected = 0;
    std::uint64_t bulletins_cached = 0;
    std::uint64_t store_failures = 0;  // cache limit reached, disk full or another write error
    std::uint64_t spool_failures = 0;  // a chunk that could not be written to its spool
  };

  Prefetcher(Config config, const Cache& cache, Sealer sealer);
  // Without it, only the bulletins of the last want() are kept when the cache makes room.
  void keep_with(KeepSet keep) { keep_ = std::move(keep); }

  // The bulletins that must be in the cache. Starts fetching the missing ones, stops fetching the
  // others, and reports `cached` once per bulletin for those already there.
  BusActions want(const std::set<std::uint64_t>& bulletins, protocol::Micros now);
  // A manifest envelope from loa/v1/bulletin/<id>/manifest.
  BusActions on_manifest(std::uint64_t bulletin_id, protocol::ByteView envelope,
                         protocol::Micros now);
  // An AudioChunk envelope from loa/v1/bulletin/<id>/chunk.
  BusActions on_chunk(std::uint64_t bulletin_id, protocol::ByteView envelope, protocol::Micros now);
  // Writes the bulletins completed since the last tick to the cache, retries the stores that are
  // due, and sends the Fetches that are due.
  BusActions tick(protocol::Micros now);

  bool fetching(std::uint64_t bulletin_id) const { return pending_.count(bulletin_id) != 0; }
  // Complete bulletins not in the cache yet: to be written by the next tick(), or refused by the
  // cache so far (their chunks kept in their spools, stored again later).
  std::size_t unstored() const { return unstored_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  struct Pending {
    std::optional<protocol::BulletinAssembler> assembler;
    std::optional<Spool> spool;          // the accepted chunks, once the first came
    std::vector<protocol::Bytes> early;  // verified chunk bodies that came before the manifest
    std::size_t early_bytes = 0;
    protocol::Micros last_progress_us = 0;
    protocol::Micros next_fetch_us = 0;
    int attempts = 0;
    std::set<std::string> reported;  // rejection details already reported
  };

  std::optional<protocol::Opened> open_envelope(protocol::ByteView envelope,
                                                protocol::MessageType want, std::string& why,
                                                bool check_signature = true) const;
  // Checks a chunk against the manifest and appends it to the spool.
  void add_chunk(std::uint64_t bulletin_id, Pending& p, protocol::ByteView body,
                 protocol::Micros now, BusActions& out);
  void finish(std::uint64_t bulletin_id, protocol::Micros now, BusActions& out);
  // A complete bulletin (its chunks in the spool) not stored yet: just completed, or refused by
  // the cache for lack of room and stored again later.
  struct Unstored {
    protocol::BulletinAssembler assembler;
    Spool spool;
    protocol::Micros next_try_us = 0;
    int attempts = 0;
    std::string last_detail;
  };
  // Stores a complete bulletin; on a limit or full disk keeps it in unstored_ for a retry.
  void store(Unstored u, protocol::Micros now, BusActions& out);
  // Publishes a Fetch for what is missing (the manifest, or the missing chunks) and sets the
  // next retry with backoff.
  // seen_manifest_sequence: the sequence of the manifest just received, for the first request of
  // chunks; 0 for a repeated one, which the controller always serves in full.
  void send_fetch(std::uint64_t bulletin_id, Pending& p, protocol::Micros now, BusActions& out,
                  std::uint64_t seen_manifest_sequence = 0);
  void report(std::uint64_t bulletin_id, protocol::CacheState state, const std::string& detail,
              BusActions& out);

  Config config_;
  const Cache& cache_;
  Sealer sealer_;
  std::map<std::uint64_t, Pending> pending_;
  std::set<std::uint64_t> reported_cached_;
  std::map<std::uint64_t, Unstored> unstored_;
  std::set<std::uint64_t> wanted_;  // the last want()
  KeepSet keep_;
  Stats stats_;
};

}  // namespace loa::node
