#include "loa/controller/json_body.hpp"

#include <string>

namespace loa::controller {

std::size_t json_depth(std::string_view text, std::size_t stop_at) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest >= stop_at) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Reply<nlohmann::json> parse_json_body(std::string_view body, std::size_t max_depth) {
  if (json_depth(body, max_depth + 1) > max_depth) {
    return api_error(ErrorCode::bad_request,
                     "body: JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return api_error(ErrorCode::bad_request, "body: not valid JSON");
  return j;
}

}  // namespace loa::controller
