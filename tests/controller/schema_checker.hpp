// Checks JSON values against the schemas of an OpenAPI 3.0 document (the subset docs/openapi.yaml
// uses), for tests that hold the controller's answers to what the document says.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace loa::test {

class SchemaChecker {
 public:
  // `document`: the whole OpenAPI document, against which "#/..." references resolve.
  explicit SchemaChecker(nlohmann::json document);

  // What is wrong with `value` against `schema`, one line per problem naming its JSON path (`at`
  // and below); empty when it conforms. Keywords: $ref, type, nullable, enum, properties,
  // required, additionalProperties (false or a schema), items, allOf, oneOf. A keyword outside
  // this set and the annotations (description, format, default, minimum...) is a problem of the
  // schema, reported as such.
  std::vector<std::string> check(const nlohmann::json& schema, const nlohmann::json& value,
                                 const std::string& at = "$") const;

  // The schema `ref` ("#/components/schemas/X") names; null when it names nothing.
  const nlohmann::json* resolve(const std::string& ref) const;

  // Object schemas reachable from `schema` that list properties without saying whether others
  // may appear (additionalProperties), each named by where it was reached.
  std::vector<std::string> open_objects(const nlohmann::json& schema, const std::string& at) const;

  const nlohmann::json& document() const { return document_; }

 private:
  void check_into(const nlohmann::json& schema, const nlohmann::json& value, const std::string& at,
                  std::vector<std::string>& out) const;
  void open_into(const nlohmann::json& schema, const std::string& at,
                 std::vector<std::string>& seen, std::vector<std::string>& out) const;

  nlohmann::json document_;
};

}  // namespace loa::test
