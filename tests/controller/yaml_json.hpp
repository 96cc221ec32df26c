// A YAML document as nlohmann::json (libyaml's parser), for tests that read docs/openapi.yaml.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "loa/protocol/result.hpp"

namespace loa::test {

// The document's single value. Plain scalars resolve as YAML's core schema does (null, ~,
// true/false, integers, floats); quoted ones stay strings; mapping keys are strings. Refused,
// naming the line: a syntax error, a duplicate key in one mapping, an alias, several documents.
Result<nlohmann::json> yaml_to_json(std::string_view text);

}  // namespace loa::test
