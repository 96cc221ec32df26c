// The MQTT topic map under "loa/v1/". See PROTOCOL.md for the table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "loa/protocol/area_path.hpp"
#include "loa/protocol/result.hpp"

namespace loa::protocol::topics {

inline constexpr std::string_view kRoot = "loa/v1";

// Controller -> nodes.
std::string area_plan(const AreaPath& area);            // loa/v1/plan/<area path>      (retained)
std::string area_control(const AreaPath& area);         // loa/v1/control/<area path>
std::string node_plan(std::string_view node);           // loa/v1/node/<id>/down/plan   (retained)
std::string node_control(std::string_view node);        // loa/v1/node/<id>/down/control
std::string node_receipt(std::string_view node);        // loa/v1/node/<id>/down/receipt
std::string node_down_filter(std::string_view node);    // loa/v1/node/<id>/down/#
std::string bulletin_manifest(std::uint64_t bulletin);  // loa/v1/bulletin/<id>/manifest (retained)
std::string bulletin_chunks(std::uint64_t bulletin);    // loa/v1/bulletin/<id>/chunk
std::string bulletin_filter(std::uint64_t bulletin);    // loa/v1/bulletin/<id>/#
std::string live_stream(std::uint64_t stream);          // loa/v1/live/<id>

// Node -> controller.
enum class UpKind { hello, event, status, fetch, report };
// The topic segment of an up kind: "hello", "event", "status", "fetch", "report".
const char* to_string(UpKind kind);
std::string node_up(std::string_view node, UpKind kind);  // loa/v1/node/<id>/up/<kind>
std::string all_up_filter();                              // loa/v1/node/+/up/#

// A parsed topic. Exactly one kind per topic in the map.
struct Parsed {
  enum class Kind {
    area_plan,
    area_control,
    node_plan,
    node_control,
    node_receipt,
    bulletin_manifest,
    bulletin_chunk,
    live,
    node_up
  };
  Kind kind{};
  std::optional<AreaPath> area;  // area_plan, area_control
  std::string node;              // node_* kinds
  std::uint64_t id = 0;          // bulletin or stream id
  UpKind up{};                   // node_up
};

// Parses any topic of the map; the error names the topic and the part that did not fit.
Result<Parsed> parse(std::string_view topic);

}  // namespace loa::protocol::topics
