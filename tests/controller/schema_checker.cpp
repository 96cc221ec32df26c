#include "schema_checker.hpp"

#include <algorithm>
#include <set>

namespace loa::test {
namespace {

using nlohmann::json;

bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  return false;
}

std::string kind(const json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  return value.type_name();
}

std::string shown(const json& value) {
  std::string s = value.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

const std::set<std::string>& known_keywords() {
  static const std::set<std::string> keys = {
      "$ref",        "type",      "nullable", "enum",    "properties",
      "required",    "items",     "allOf",    "oneOf",   "additionalProperties",
      "description", "format",    "default",  "minimum", "maximum",
      "minLength",   "maxLength", "pattern",  "example"};
  return keys;
}

}  // namespace

SchemaChecker::SchemaChecker(json document) : document_(std::move(document)) {}

const json* SchemaChecker::resolve(const std::string& ref) const {
  if (ref.rfind("#/", 0) != 0) return nullptr;
  try {
    const json::json_pointer pointer(ref.substr(1));
    return document_.contains(pointer) ? &document_.at(pointer) : nullptr;
  } catch (const json::exception&) {
    return nullptr;
  }
}

std::vector<std::string> SchemaChecker::check(const json& schema, const json& value,
                                              const std::string& at) const {
  std::vector<std::string> out;
  check_into(schema, value, at, out);
  return out;
}

void SchemaChecker::check_into(const json& schema, const json& value, const std::string& at,
                               std::vector<std::string>& out) const {
  if (!schema.is_object()) {
    out.push_back(at + ": the schema is not an object");
    return;
  }
  for (const auto& [key, unused] : schema.items()) {
    if (!known_keywords().count(key)) out.push_back(at + ": schema keyword '" + key + "' unknown");
  }
  if (const auto ref = schema.find("$ref"); ref != schema.end()) {
    const json* target = ref->is_string() ? resolve(ref->get<std::string>()) : nullptr;
    if (!target) {
      out.push_back(at + ": $ref " + ref->dump() + " names nothing");
      return;
    }
    check_into(*target, value, at, out);
    return;
  }
  if (value.is_null()) {
    if (!schema.value("nullable", false)) out.push_back(at + ": null where the schema allows none");
    return;
  }
  if (const auto all = schema.find("allOf"); all != schema.end()) {
    for (const auto& sub : *all) check_into(sub, value, at, out);
  }
  if (const auto one = schema.find("oneOf"); one != schema.end()) {
    std::vector<std::string> why;
    int matches = 0;
    for (std::size_t i = 0; i < one->size(); ++i) {
      const auto problems = check((*one)[i], value, at);
      if (problems.empty()) {
        ++matches;
      } else {
        why.push_back("[" + std::to_string(i) + "] " + problems.front());
      }
    }
    if (matches != 1) {
      std::string line = at + ": matches " + std::to_string(matches) + " of the oneOf schemas";
      for (const auto& w : why) line += "; " + w;
      out.push_back(line);
    }
  }
  if (const auto type = schema.find("type"); type != schema.end()) {
    if (!has_type(value, type->get<std::string>())) {
      out.push_back(at + ": " + kind(value) + " " + shown(value) + " where the schema has " +
                    type->get<std::string>());
      return;
    }
  }
  if (const auto list = schema.find("enum"); list != schema.end()) {
    if (std::find(list->begin(), list->end(), value) == list->end()) {
      out.push_back(at + ": " + shown(value) + " is not one of " + list->dump());
    }
  }
  if (value.is_object()) {
    const json properties = schema.value("properties", json::object());
    for (const auto& name : schema.value("required", json::array())) {
      if (!value.contains(name.get<std::string>())) {
        out.push_back(at + ": required property '" + name.get<std::string>() + "' is missing");
      }
    }
    const auto extra = schema.find("additionalProperties");
    for (const auto& [name, v] : value.items()) {
      const std::string path = at + "." + name;
      if (properties.contains(name)) {
        check_into(properties[name], v, path, out);
      } else if (extra != schema.end() && extra->is_boolean() && !extra->get<bool>()) {
        out.push_back(path + ": property not in the schema");
      } else if (extra != schema.end() && extra->is_object()) {
        check_into(*extra, v, path, out);
      }
    }
  }
  if (value.is_array()) {
    if (const auto items = schema.find("items"); items != schema.end()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check_into(*items, value[i], at + "[" + std::to_string(i) + "]", out);
      }
    }
  }
}

std::vector<std::string> SchemaChecker::open_objects(const json& schema,
                                                     const std::string& at) const {
  std::vector<std::string> seen;
  std::vector<std::string> out;
  open_into(schema, at, seen, out);
  return out;
}

void SchemaChecker::open_into(const json& schema, const std::string& at,
                              std::vector<std::string>& seen, std::vector<std::string>& out) const {
  if (!schema.is_object()) return;
  if (const auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string()) {
    const std::string r = ref->get<std::string>();
    if (std::find(seen.begin(), seen.end(), r) != seen.end()) return;
    seen.push_back(r);
    if (const json* target = resolve(r)) open_into(*target, r, seen, out);
    return;
  }
  if (schema.contains("properties") && !schema.contains("additionalProperties")) {
    out.push_back(at);
  }
  for (const char* key : {"properties"}) {
    if (!schema.contains(key)) continue;
    for (const auto& [name, sub] : schema[key].items()) open_into(sub, at + "." + name, seen, out);
  }
  if (schema.contains("items")) open_into(schema["items"], at + "[]", seen, out);
  if (const auto extra = schema.find("additionalProperties"); extra != schema.end()) {
    open_into(*extra, at + ".*", seen, out);
  }
  for (const char* key : {"allOf", "oneOf"}) {
    if (!schema.contains(key)) continue;
    for (const auto& sub : schema[key]) open_into(sub, at, seen, out);
  }
}

}  // namespace loa::test
