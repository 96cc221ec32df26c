// The controller's MQTT side: builds sealed plans, manifests, chunks and receipts, and handles
// what nodes send up (hello, event, fetch, report, status). It does not publish itself: it
// appends to an Outbox that the Controller publishes in order, outside its lock.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "loa/controller/catalog.hpp"
#include "loa/controller/ledger.hpp"
#include "loa/controller/pacer.hpp"
#include "loa/controller/signer.hpp"
#include "loa/controller/store.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/clock.hpp"

namespace loa::controller {

using Outbox = std::vector<runtime::BusMessage>;

// Not thread-safe: the Controller calls it under its lock.
class Dispatcher {
 public:
  Dispatcher(Store& store, Catalog& catalog, Signer& signer, runtime::Clock& clock)
      : store_(store), catalog_(catalog), signer_(signer), clock_(clock), ledger_(store, clock) {}

  // Whether a node registered without a public key is trusted with the key of its first hello
  // (development only; default false: keys come from registration), the ledger's checks, and
  // the prefetch budget: bytes per second delivered to nodes, all together (0: no limit).
  void configure(bool trust_first_key, const LedgerSettings& ledger,
                 double prefetch_bytes_per_s = 0) {
    trust_first_key_ = trust_first_key;
    ledger_.set_settings(ledger);
    pacer_ = Pacer(prefetch_bytes_per_s);
  }

  // Recomputes the plan of `scope` ("area:PATH" or "node:ID": every occurrence of that scope not
  // yet expired), gives it a new version, stores it and queues it sealed and retained on the
  // scope's plan topic.
  loa::Status publish_plan(const std::string& scope, Outbox& out);
  // Queues the bulletin's manifest (retained). Chunks go out on demand: a node that accepts the
  // manifest fetches what it misses (see flush_fetches).
  loa::Status publish_manifest(const BulletinRecord& bulletin, Outbox& out);
  // Serves the fetches collected since the last call: per bulletin, the manifest (retained, a
  // new envelope) when asked for or when a new round of chunks starts, and each requested chunk
  // once, however many nodes asked. A node subscribes to the bulletin's topics before it
  // fetches, so whatever is published after its request reaches it; a chunk already published
  // after the manifest a node says it has seen is on its way to that node and is not asked for
  // again (PROTOCOL.md, Prefetch). Chunks go out as fast as the prefetch budget allows, each
  // costing its size times the receivers of its bulletin; the rest wait for the next call.
  // Waiting chunks are served one node after the other, each node's in the order it asked (a
  // chunk counts as asked by the first node that asked for it): a node that asks again and
  // again, for an old bulletin say, gets its turn and no more, and every other node's chunks
  // keep going out.
  void flush_fetches(Outbox& out);
  // Whether flush_fetches has something to do: fetches collected, or chunks waiting for budget.
  bool fetches_pending() const;
  // Handles a message on loa/v1/node/+/up/#. Malformed, forged or unexpected messages are
  // logged with the reason and dropped; never throws.
  void handle(const runtime::BusMessage& message, Outbox& out);

  // The plan topic of a scope, or an error naming the scope.
  static Result<std::string> plan_topic(const std::string& scope);

 private:
  void on_hello(const std::string& node, const std::string& topic, protocol::ByteView payload,
                Outbox& out);
  void on_event(const std::string& node, protocol::ByteView payload, Outbox& out);
  void on_fetch(const std::string& node, const std::string& topic, protocol::ByteView payload);
  void on_report(const std::string& node, const std::string& topic, protocol::ByteView payload);
  // Stores the status in the node's health history, answers a fresh online one with a `time`
  // Control (the node's clock sample) and takes a last will (online = 0) as offline unless it
  // is of an earlier run than the newest online status (PROTOCOL.md, "Status and last will").
  void on_status(const std::string& node, const std::string& topic, protocol::ByteView payload,
                 bool retained, Outbox& out);
  // Looks the node up and verifies the envelope with its registered key and, unless `topic` is
  // empty, that its sequence is above the last one accepted on that topic. Logs and returns
  // nullopt when refused.
  std::optional<protocol::Opened> open_from(const std::string& node, const std::string& topic,
                                            protocol::ByteView payload,
                                            protocol::MessageType expected);
  // The replay check of PROTOCOL.md: per (key, topic), the highest sequence accepted, kept in
  // the store (and cached here) so that it survives a restart.
  Result<std::optional<std::uint64_t>> last_sequence(const protocol::PublicKey& key,
                                                     const std::string& topic);
  void accept_sequence(const protocol::PublicKey& key, const std::string& topic,
                       std::uint64_t sequence);
  void queue_receipt(const std::string& node, std::uint64_t through, Outbox& out);
  // Publishes queued chunks while the budget allows, one chunk per node with chunks waiting
  // in turn (asks_).
  void publish_paced(Outbox& out);
  // The receivers of a bulletin when its publication starts (Publication::receivers).
  std::set<std::string> expected_receivers(std::uint64_t bulletin_id);

  Store& store_;
  Catalog& catalog_;
  Signer& signer_;
  runtime::Clock& clock_;
  Ledger ledger_;
  bool trust_first_key_ = false;
  std::map<std::pair<protocol::KeyId, std::string>, std::uint64_t> last_sequence_;  // cache
  struct PendingFetch {
    bool manifest = false;
    std::map<std::uint32_t, std::string> indices;  // chunk index -> the first node that asked
    std::size_t requests = 0;
    // Chunks asked for that were published after the asker's manifest, or are queued.
    std::size_t on_their_way = 0;
  };
  std::map<std::uint64_t, PendingFetch> pending_fetches_;  // by bulletin id
  struct Publication {
    std::set<std::uint32_t> queued;  // asked for, waiting for budget
    // Nodes subscribed to its topics as far as the controller knows: targeted by an occurrence
    // still in the plans or asked for it, and not reported it cached. A chunk costs its size
    // times their number against the prefetch budget.
    std::set<std::string> receivers;
    std::uint64_t manifest_sequence = 0;  // of the last manifest published
    // Per chunk index: the sequence of the manifest published last before the chunk's last
    // publication (0: not published since this controller started).
    std::vector<std::uint64_t> published_after;
  };
  std::map<std::uint64_t, Publication> publications_;  // by bulletin id
  // The queued chunks (bulletin, index) per node that asked for them first, oldest first. An
  // entry whose chunk is no longer queued (published meanwhile, or its bulletin dropped) is
  // skipped when its turn comes. Each queued chunk has exactly one entry.
  std::map<std::string, std::deque<std::pair<std::uint64_t, std::uint32_t>>> asks_;
  std::string last_served_;  // the node whose chunk went out last (the round robin's place)
  Pacer pacer_;
  std::map<std::string, std::uint64_t> status_session_;  // newest online session per node
};

}  // namespace loa::controller
