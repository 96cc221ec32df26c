// libFuzzer target: topics::parse. What parses must rebuild to the same topic string.
#include <string>

#include "fuzz_common.hpp"
#include "loa/protocol/topics.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::protocol;
  const std::string_view topic(reinterpret_cast<const char*>(data), size);
  auto parsed = topics::parse(topic);
  if (!parsed.ok()) {
    if (parsed.error().message.empty()) fuzz::fail("an error without a message");
    return 0;
  }
  const topics::Parsed& p = parsed.value();
  std::string rebuilt;
  switch (p.kind) {
    case topics::Parsed::Kind::area_plan:
      rebuilt = topics::area_plan(*p.area);
      break;
    case topics::Parsed::Kind::area_control:
      rebuilt = topics::area_control(*p.area);
      break;
    case topics::Parsed::Kind::node_plan:
      rebuilt = topics::node_plan(p.node);
      break;
    case topics::Parsed::Kind::node_control:
      rebuilt = topics::node_control(p.node);
      break;
    case topics::Parsed::Kind::node_receipt:
      rebuilt = topics::node_receipt(p.node);
      break;
    case topics::Parsed::Kind::bulletin_manifest:
      rebuilt = topics::bulletin_manifest(p.id);
      break;
    case topics::Parsed::Kind::bulletin_chunk:
      rebuilt = topics::bulletin_chunks(p.id);
      break;
    case topics::Parsed::Kind::live:
      rebuilt = topics::live_stream(p.id);
      break;
    case topics::Parsed::Kind::node_up:
      rebuilt = topics::node_up(p.node, p.up);
      break;
  }
  if (rebuilt != topic) fuzz::fail("topic does not rebuild to itself");
  return 0;
}
