// libFuzzer target: the Cookie header parser (controller/src/auth_header.cpp). Whatever it finds
// is a part of the header, holds no ';' and starts with no space or tab.
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/auth_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using loa::protocol::fuzz::fail;
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  for (const std::string_view name : {"loa_session", "a", ""}) {
    const std::string value = loa::controller::cookie_value(header, name);
    if (value.empty()) continue;
    if (header.find(value) == std::string_view::npos) fail("a value that is not in the header");
    if (value.find(';') != std::string::npos) fail("a value holding ';'");
    if (header.find(std::string(name) + "=" + value) == std::string_view::npos) {
      fail("a value not after its name");
    }
  }
  return 0;
}
