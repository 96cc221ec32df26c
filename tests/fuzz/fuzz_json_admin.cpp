// libFuzzer target: the node and administration request bodies (controller/src/json_requests.cpp:
// nodes, users, CAP geocodes), read from the bytes as the routes do, through parse_json_body.
// Whatever is refused has a message; whatever is accepted keeps every text field within the
// decoders' bound.
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/json_body.hpp"
#include "loa/controller/json_codec.hpp"

namespace {

using namespace loa::controller;
using loa::protocol::fuzz::fail;

template <typename T>
bool checked(const Reply<T>& r) {
  if (!r.ok() && r.error().message.empty()) fail("an error without a message");
  return r.ok();
}

// kMaxJsonString of controller/src/json_fields.hpp.
void bounded(const std::string& s) {
  if (s.size() > 8192) fail("a string field longer than the bound");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = parse_json_body(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!checked(parsed)) return 0;
  const nlohmann::json& j = *parsed;

  if (auto node = node_input_from_json(j); checked(node)) {
    for (const auto* s : {&node->id, &node->area, &node->name, &node->public_key_hex}) bounded(*s);
  }
  // The node import reads each element of "nodes" with its index as the prefix.
  if (j.is_object() && j.contains("nodes") && j["nodes"].is_array()) {
    for (std::size_t i = 0; i < j["nodes"].size(); ++i) {
      (void)checked(node_input_from_json(j["nodes"][i], "nodes[" + std::to_string(i) + "]: "));
    }
  }
  if (auto user = user_input_from_json(j); checked(user)) {
    for (const auto* s : {&user->name, &user->area, &user->password}) bounded(*s);
    if (to_string(user->role) == nullptr) fail("a role out of range");
  }
  if (auto change = user_change_from_json(j); checked(change)) {
    if (change->area) bounded(*change->area);
    if (change->password) bounded(*change->password);
  }
  if (auto geocode = geocode_input_from_json(j); checked(geocode)) {
    for (const auto* s : {&geocode->value_name, &geocode->value, &geocode->area}) bounded(*s);
  }
  return 0;
}
