// libFuzzer target: the Authorization header parser (controller/src/auth_header.cpp). A token is
// found only after a "Bearer " scheme, is a part of the header, and has no spaces around it.
#include <cctype>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "loa/controller/auth_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using loa::protocol::fuzz::fail;
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const auto token = loa::controller::bearer_token(header);
  if (!token) return 0;
  if (header.size() < 7) fail("a token without a scheme");
  for (std::size_t i = 0; i < 7; ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != "bearer "[i]) fail("not bearer");
  }
  if (token->empty()) return 0;
  if (header.find(*token, 7) == std::string_view::npos) fail("a token that is not in the header");
  const auto edge = [](char c) { return c == ' ' || c == '\t'; };
  if (edge(token->front()) || edge(token->back())) fail("a token with spaces around it");
  return 0;
}
