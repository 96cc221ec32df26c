// libFuzzer target: AreaPath::parse, and the ancestor chain of what parses.
#include <string>

#include "fuzz_common.hpp"
#include "loa/protocol/area_path.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::protocol;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto path = AreaPath::parse(text);
  if (!path.ok()) {
    if (path.error().message.empty()) fuzz::fail("an error without a message");
    return 0;
  }
  if (path->str() != text) fuzz::fail("str() differs from the input");
  if (path->depth() < 1 || path->depth() > kMaxAreaDepth) fuzz::fail("depth out of range");
  const auto chain = path->self_and_ancestors();
  if (chain.size() != path->depth() || !(chain.back() == *path)) fuzz::fail("bad ancestor chain");
  for (const auto& ancestor : chain) {
    if (!ancestor.contains(*path)) fuzz::fail("an ancestor does not contain the path");
    auto again = AreaPath::parse(ancestor.str());
    if (!again.ok() || !(again.value() == ancestor)) fuzz::fail("an ancestor does not re-parse");
  }
  return 0;
}
