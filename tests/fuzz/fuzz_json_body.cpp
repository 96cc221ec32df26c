// libFuzzer target: the JSON request body reader (controller/src/json_body.cpp). Whatever it
// accepts is nested no deeper than the limit (measured here without recursion), and dumping it
// (recursive) is then safe.
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"
#include "loa/controller/json_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using loa::protocol::fuzz::fail;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kLimit = 16;
  auto parsed = loa::controller::parse_json_body(body, kLimit);
  if (!parsed) {
    if (parsed.error().message.empty()) fail("an error without a message");
    return 0;
  }
  std::vector<std::pair<const nlohmann::json*, std::size_t>> stack{{&*parsed, 0}};
  while (!stack.empty()) {
    const auto [v, depth] = stack.back();
    stack.pop_back();
    if (!v->is_structured()) continue;
    if (depth + 1 > kLimit) fail("a value nested deeper than the limit");
    for (const auto& child : *v) stack.emplace_back(&child, depth + 1);
  }
  (void)parsed->dump();
  return 0;
}
