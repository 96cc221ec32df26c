// The plans a node holds, one per scope, verified, replay-checked and persisted.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loa/protocol/area_path.hpp"
#include "loa/protocol/envelope.hpp"

namespace loa::node {

enum class PlanVerdict {
  accepted,   // verified, newer than what was held: now held (and persisted)
  unchanged,  // the version already held, resent: ignored quietly
  rejected,   // refused; `detail` says why
};

struct PlanOffer {
  PlanVerdict verdict = PlanVerdict::rejected;
  std::string scope;  // when the body decoded
  std::uint64_t version = 0;
  std::string detail;
};

// Holds the newest verified plan of each of the node's scopes: "area:<ancestor or own area>" and
// "node:<id>". Not thread-safe (the node locks around it).
class PlanBook {
 public:
  // `dir`: where accepted plan envelopes are kept ("" keeps nothing on disk).
  PlanBook(std::string node_id, const protocol::AreaPath& area, protocol::KeySet controller_keys,
           std::string dir);

  // Loads the persisted envelopes, verifying each again; returns how many were loaded. Files that
  // fail are logged and skipped.
  std::size_t load();

  // Verifies a plan envelope (one of the controller keys, scope, version) and holds it if newer.
  PlanOffer offer(protocol::ByteView envelope);

  // True if `scope` is one of this node's.
  bool in_scope(std::string_view scope) const;
  // Union of every held plan's occurrences, one per occurrence id (the copy in the plan with the
  // highest version), sorted by start.
  std::vector<protocol::Occurrence> effective() const;
  std::vector<protocol::HeldPlan> held() const;
  std::uint64_t highest_version() const;

 private:
  PlanOffer accept(protocol::ByteView envelope, bool persist);
  std::string file_for(const std::string& scope) const;

  std::string node_id_;
  std::vector<std::string> scopes_;
  protocol::KeySet controller_keys_;
  std::string dir_;
  struct Held {
    protocol::Plan plan;
    protocol::Bytes envelope;
  };
  std::map<std::string, Held> plans_;
};

}  // namespace loa::node
