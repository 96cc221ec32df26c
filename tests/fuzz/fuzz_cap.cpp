// libFuzzer target: the CAP 1.2 parser (controller/src/cap_alert.cpp, expat underneath). Whatever
// it refuses has a message; whatever it accepts has the required fields and a preferred info.
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/cap_alert.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace loa::controller;
  using loa::protocol::fuzz::fail;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  auto alert = parse_cap(xml);
  if (!alert.ok()) {
    if (alert.error().message.empty()) fail("an error without a message");
    return 0;
  }
  if (alert->identifier.empty() || alert->sender.empty() || alert->status.empty() ||
      alert->msg_type.empty() || alert->scope.empty()) {
    fail("accepted without a required field");
  }
  if (alert->infos.empty() != (preferred_info(*alert) == nullptr)) fail("preferred info");
  return 0;
}
