// The fleet simulator (issue 8): N real nodes (loa::node::Node) in one process, each with its own
// key pair, MQTT connection, cache directory, outbox and counting null sink, all served by one
// MQTT network thread (MosquittoHub) and one thread for every node's housekeeping and player
// (the caller of run(): Node::poll, Node::step_player). It records its own ground truth
// (GroundTruth).
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <vector>

#include "loa/fleet/ground_truth.hpp"
#include "loa/node/node.hpp"
#include "loa/runtime/clock.hpp"
#include "loa/runtime/mosquitto_hub.hpp"

namespace loa::fleet {

struct FleetOptions {
  int nodes = 200;
  // Where the nodes live: PROVINCE/COMMUNESxVILLAGES, e.g. "79/10x4": 10 communes
  // (79/10001 ..) of 4 villages (79/10001/01 ..); node i is in commune i mod C, village
  // (i / C) mod V.
  std::string areas = "79/10x4";
  std::string broker = "mqtt://127.0.0.1:1883";
  // The controller's API (http://HOST:PORT): the nodes are registered there with their public
  // keys, and its public key is read there unless controller_key names a file.
  std::string controller;
  std::string controller_key;
  // Bearer token for the API (a controller with accounts): the first line of this file.
  std::string token_file;
  std::string dir;           // node directories: <dir>/<id> (cache, outbox, key)
  std::string prefix = "f";  // node ids: prefix + 5 digits
  // Index of this process's first node in a fleet split over several processes (each process
  // holds ~6 descriptors per node, and `ulimit -n` bounds a process): node i of this process is
  // node first + i of the fleet, with id prefix + (first + i + 1) and that index's area.
  int first = 0;
  int residents = 1000;  // per node
  // False (the default): the nodes' players count each Opus packet's samples instead of decoding
  // them (NodeConfig::decode_audio); true decodes as a real node does (CPU-bound at scale).
  bool decode = false;
  // NodeConfig::open_ahead_us. A real node has a CPU of its own; here the nodes due at one
  // instant load their bulletins one after the other (~0.5-1 ms each on this 2-core machine), so
  // 2,500 per process need seconds, not the 500 ms a device needs.
  int open_ahead_ms = 500;
};

// Parses an --areas value into the areas of nodes [first, first + nodes); the error quotes it.
Result<std::vector<std::string>> area_paths(const std::string& spec, int nodes, int first = 0);

// Not thread-safe: call start(), kill(), cut() and summary() from run()'s `each_second` or while
// run() is not running.
class Fleet {
 public:
  // Makes (or loads) the key pairs and registers the nodes with the controller. Throws on error.
  explicit Fleet(FleetOptions options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Indices below are this process's (0 .. size() - 1), not the fleet's (see FleetOptions::first).
  // Starts nodes [from, from + count) (again, after kill()).
  void start(int from, int count);
  // Drops nodes' connections without a word, stops them (a playback ends partial) and destroys
  // them; their directories stay, so start() brings them back with their outboxes.
  void kill(int from, int count);
  // Cuts nodes' connections (the broker sends their last will) until restore().
  void cut(int from, int count, bool cut);
  // Housekeeping and players (Node::poll, Node::step_player) of every running node, all on the
  // calling thread, until `stop` is set; calls `each_second` about every second.
  void run(const std::atomic<bool>& stop, const std::function<void()>& each_second);
  // Stops every node.
  void stop_all();

  // Per node: id, area, running, cut, cached bulletins, played and published (GroundTruth);
  // plus totals.
  nlohmann::json summary() const;
  int size() const { return static_cast<int>(nodes_.size()); }

 private:
  struct Member {
    std::string id;
    std::string area;
    protocol::KeyPair key;
    runtime::SystemClock clock;
    node::FiberClock pace{clock};  // the sinks' pacing: a sleep hands control back to run()
    GroundTruth truth;
    bool cut = false;
    protocol::Micros next_poll_us = 0;
    protocol::Micros next_step_us = 0;
    std::unique_ptr<runtime::Bus> bus;
    std::unique_ptr<node::Node> node;  // last: destroyed first
  };

  // Steps node i's player / runs its housekeeping pass, and queues its next one.
  void step(std::size_t i);
  void poll(std::size_t i);
  // A player woken by a schedule change (any thread): stepped at once by run().
  void woken(std::size_t i);

  FleetOptions options_;
  protocol::PublicKey controller_key_{};
  // What is due when, earliest first: (instant by the SystemClock, node index). Entries whose
  // instant is no longer the member's (stepped earlier, killed) are skipped when they come up,
  // so a pass touches only the nodes that are due, never all of them.
  using Due = std::pair<protocol::Micros, std::size_t>;
  using DueQueue = std::priority_queue<Due, std::vector<Due>, std::greater<>>;
  DueQueue step_due_;
  DueQueue poll_due_;
  std::mutex woken_mu_;
  std::condition_variable woken_cv_;
  std::vector<std::size_t> woken_;  // guarded by woken_mu_
  runtime::MosquittoHub hub_;
  std::vector<std::unique_ptr<Member>> nodes_;
};

}  // namespace loa::fleet
