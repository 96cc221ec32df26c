#include "loa/controller/auth_header.hpp"

#include <cctype>

namespace loa::controller {

std::string cookie_value(std::string_view header, std::string_view name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(pos, end - pos);
    const auto first = part.find_first_not_of(" \t");
    part.remove_prefix(first == std::string_view::npos ? part.size() : first);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return {};
}

std::optional<std::string> bearer_token(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  const auto first = token.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::string();
  token.remove_prefix(first);
  token.remove_suffix(token.size() - 1 - token.find_last_not_of(" \t"));
  return std::string(token);
}

}  // namespace loa::controller
