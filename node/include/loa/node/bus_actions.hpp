// What a node component wants done on the bus. Components return these instead of touching the
// bus themselves, so the node can apply them after releasing its lock.
#pragma once

#include <string>
#include <vector>

#include "loa/protocol/messages.hpp"

namespace loa::node {

struct Outgoing {
  std::string topic;
  protocol::Bytes payload;
  bool retain = false;
};

struct BusActions {
  std::vector<std::string> subscribe;              // QoS 1
  std::vector<std::string> subscribe_best_effort;  // QoS 0 (Bus::subscribe_best_effort)
  std::vector<std::string> unsubscribe;
  std::vector<Outgoing> publish;

  void append(BusActions&& other) {
    for (auto& s : other.subscribe) subscribe.push_back(std::move(s));
    for (auto& s : other.subscribe_best_effort) subscribe_best_effort.push_back(std::move(s));
    for (auto& s : other.unsubscribe) unsubscribe.push_back(std::move(s));
    for (auto& p : other.publish) publish.push_back(std::move(p));
  }
  bool empty() const {
    return subscribe.empty() && subscribe_best_effort.empty() && unsubscribe.empty() &&
           publish.empty();
  }
};

}  // namespace loa::node
