// The parsers of the credentials a request carries: the Cookie header and the Authorization
// header. Pure functions over header text (bounded by the HTTP server's header limit), each
// with a fuzz target (tests/fuzz/fuzz_cookie.cpp, fuzz_authorization.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace loa::controller {

// The value of the first cookie called `name` in a Cookie header ("a=1; b=2"), or "" when there
// is none. The value is a part of `header`: no ';', no leading spaces or tabs.
std::string cookie_value(std::string_view header, std::string_view name);

// The token of an "Authorization: Bearer TOKEN" header (the scheme's case does not matter; spaces
// around the token are dropped), or nullopt when the header is not a bearer one.
std::optional<std::string> bearer_token(std::string_view header);

}  // namespace loa::controller
