// Node health as the controller sees it (issue 6): the latest status of each node, nodes offline
// too long, nodes silent when they should have played, and remote control requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loa/controller/store.hpp"

namespace loa::controller {

// One node in the health listing.
struct NodeHealth {
  NodeRecord record;
  bool online = false;                   // last status online and heard within the threshold
  Micros offline_for_us = 0;             // since last seen (0 when online)
  std::optional<NodeStatusRecord> last;  // newest status (or will) stored
};

// A node that should have played an occurrence and sent nothing about it.
struct SilentNode {
  std::string node_id;
  std::uint64_t occurrence_id = 0;
  std::uint64_t bulletin_id = 0;
  Micros start_us = 0;
  Micros due_by_us = 0;  // the playback's end plus the tolerance: by then an event was expected
};

struct HealthReport {
  Micros now_us = 0;
  Micros offline_after_us = 0;
  std::vector<NodeHealth> nodes;     // every node in service, by id
  std::vector<std::string> offline;  // in service, not heard for longer than the threshold
  std::vector<SilentNode> silent;    // by start, then node id
};

// A remote control for nodes: exactly one of node_ids / area.
struct NodeControlRequest {
  std::string command;     // volume, mute, unmute, test-tone, restart, reload, ping
  std::int64_t value = 0;  // volume: 0..100; test-tone: 100..30000 ms
  std::vector<std::string> node_ids;
  std::string area;
};

// What was published: one signed Control per topic.
struct NodeControlResult {
  std::string command;
  std::uint64_t value = 0;
  std::vector<std::string> topics;
};

// JSON shapes of the API (docs/api.md, "Node health"); instants as format_utc() text.
nlohmann::json to_json(const NodeStatusRecord& record);
nlohmann::json to_json(const HealthReport& report);
nlohmann::json to_json(const NodeControlResult& result);

}  // namespace loa::controller
