// Roles and area scopes of accounts.hpp, apart from the account store so that the request
// decoders (json_requests.cpp) and their fuzz target read roles without SQLite or libsodium.
#include "loa/controller/accounts.hpp"

namespace loa::controller {
namespace {

const char* const kRoles[] = {"administrator", "province_operator", "commune_operator", "viewer"};

}  // namespace

const char* to_string(Role role) {
  return kRoles[static_cast<int>(role)];
}

std::optional<Role> parse_role(std::string_view text) {
  for (int i = 0; i < 4; ++i) {
    if (text == kRoles[i]) return static_cast<Role>(i);
  }
  return std::nullopt;
}

bool area_in_scope(std::string_view scope, std::string_view area) {
  if (scope.empty()) return true;
  return area == scope || (area.size() > scope.size() && area.substr(0, scope.size()) == scope &&
                           area[scope.size()] == '/');
}

}  // namespace loa::controller
