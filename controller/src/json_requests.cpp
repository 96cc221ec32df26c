// The request bodies of the scheduling, node and administration routes (docs/api.md), JSON to a
// domain value. Every field is checked for type and size here; its meaning (a time, a rule, a
// target, an area, a password) by the controller and the account store.
#include <set>

#include "json_fields.hpp"
#include "loa/controller/json_codec.hpp"
#include "loa/protocol/messages.hpp"

namespace loa::controller {
namespace {

using nlohmann::json;

// Targets a request may name: a national alert is one area, a list of communes a few hundred.
constexpr std::size_t kMaxTargets = 1000;

// "targets": strings, each at most a scope's length.
Reply<std::vector<std::string>> target_list(const json& targets) {
  if (targets.size() > kMaxTargets) {
    return field_error(
        "", "targets",
        std::to_string(targets.size()) + " targets; at most " + std::to_string(kMaxTargets));
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const json& t = targets[i];
    if (!t.is_string()) return field_error("", "targets", "every target must be a string");
    const auto& s = t.get_ref<const std::string&>();
    if (s.size() > protocol::kMaxScopeLength) {
      return field_error("", "targets[" + std::to_string(i) + "]",
                         std::to_string(s.size()) + " bytes; a target has at most " +
                             std::to_string(protocol::kMaxScopeLength));
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace

ApiError field_error(const std::string& where, const std::string& field, const std::string& why) {
  return api_error(ErrorCode::bad_request, where + field + ": " + why);
}

Reply<std::string> get_string(const json& j, const std::string& where, const std::string& field,
                              bool required, std::size_t max) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) return field_error(where, field, "is missing");
    return std::string();
  }
  if (!it->is_string()) return field_error(where, field, "must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) {
    return field_error(where, field,
                       std::to_string(s.size()) + " bytes; at most " + std::to_string(max));
  }
  return s;
}

Reply<std::optional<std::int64_t>> get_int(const json& j, const std::string& where,
                                           const std::string& field, bool required) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) return field_error(where, field, "is missing");
    return std::optional<std::int64_t>();
  }
  // Above the signed range an unsigned number would wrap to a negative one.
  if (it->is_number_unsigned() &&
      it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return field_error(where, field, "must be a whole number below 2^63");
  }
  if (it->is_number_integer()) return std::optional<std::int64_t>(it->get<std::int64_t>());
  if (it->is_string()) {
    // CSV imports and shell users send numbers as text; accept plain decimal digits only.
    const std::string s = it->get<std::string>();
    if (!s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos) {
      return std::optional<std::int64_t>(std::stoll(s));
    }
  }
  return field_error(where, field, "must be a whole number");
}

Reply<ScheduleRequest> schedule_request_from_json(const json& j) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, "expected a JSON object");
  ScheduleRequest r;
  auto bulletin = get_int(j, "", "bulletin", true);
  if (!bulletin) return bulletin.error();
  if (**bulletin <= 0) return field_error("", "bulletin", "must be a bulletin id");
  r.bulletin_id = static_cast<std::uint64_t>(**bulletin);
  auto at = get_string(j, "", "at", true);
  if (!at) return at.error();
  r.at = *at;
  auto tz = get_string(j, "", "tz", false);
  if (!tz) return tz.error();
  r.tz = *tz;
  auto priority = get_string(j, "", "priority", false);
  if (!priority) return priority.error();
  if (!priority->empty()) r.priority = *priority;
  auto volume = get_int(j, "", "volume", false);
  if (!volume) return volume.error();
  r.volume = *volume;
  auto expiry = get_string(j, "", "expiry", false);
  if (!expiry) return expiry.error();
  r.expiry = *expiry;
  auto rrule = get_string(j, "", "rrule", false);
  if (!rrule) return rrule.error();
  r.rrule = *rrule;
  auto every = get_int(j, "", "repeat_every_min", false);
  if (!every) return every.error();
  r.repeat_every_min = every->value_or(0);
  auto until = get_string(j, "", "until", false);
  if (!until) return until.error();
  r.until = *until;
  if (const auto dry = j.find("dry_run"); dry != j.end() && !dry->is_null()) {
    if (!dry->is_boolean()) return field_error("", "dry_run", "must be true or false");
    r.dry_run = dry->get<bool>();
  }
  auto days = get_int(j, "", "days", false);
  if (!days) return days.error();
  r.days = days->value_or(7);
  const auto targets = j.find("targets");
  if (targets == j.end() || !targets->is_array()) {
    return field_error("", "targets", "must be an array of \"area:PATH\" or \"node:ID\"");
  }
  auto list = target_list(*targets);
  if (!list) return list.error();
  r.targets = std::move(*list);
  return r;
}

Reply<ChangeRequest> change_request_from_json(const json& j) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, "expected a JSON object");
  ChangeRequest c;
  for (const char* field : {"at", "tz", "expiry", "priority"}) {
    if (!j.contains(field) || j[field].is_null()) continue;
    auto v = get_string(j, "", field, true);
    if (!v) return v.error();
    const std::string f = field;
    (f == "at" ? c.at : f == "tz" ? c.tz : f == "expiry" ? c.expiry : c.priority) = *v;
  }
  auto bulletin = get_int(j, "", "bulletin", false);
  if (!bulletin) return bulletin.error();
  if (*bulletin) {
    if (**bulletin <= 0) return field_error("", "bulletin", "must be a bulletin id");
    c.bulletin_id = static_cast<std::uint64_t>(**bulletin);
  }
  auto volume = get_int(j, "", "volume", false);
  if (!volume) return volume.error();
  c.volume = *volume;
  if (const auto targets = j.find("targets"); targets != j.end() && !targets->is_null()) {
    if (!targets->is_array()) return field_error("", "targets", "must be an array of targets");
    auto list = target_list(*targets);
    if (!list) return list.error();
    c.targets = std::move(*list);
  }
  for (const auto& [key, value] : j.items()) {
    static const std::set<std::string> known = {"at",       "tz",     "expiry", "priority",
                                                "bulletin", "volume", "targets"};
    if (!known.count(key)) return field_error("", key, "cannot be changed (unknown field)");
  }
  return c;
}

Reply<NodeInput> node_input_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, where + "expected a JSON object");
  NodeInput in;
  auto id = get_string(j, where, "id", true);
  if (!id) return id.error();
  in.id = *id;
  auto area = get_string(j, where, "area", true);
  if (!area) return area.error();
  in.area = *area;
  auto name = get_string(j, where, "name", false);
  if (!name) return name.error();
  in.name = *name;
  auto key = get_string(j, where, "public_key", false);
  if (!key) return key.error();
  in.public_key_hex = *key;
  auto speakers = get_int(j, where, "speakers", false);
  if (!speakers) return speakers.error();
  in.speakers = speakers->value_or(1);
  auto residents = get_int(j, where, "residents", false);
  if (!residents) return residents.error();
  in.residents = residents->value_or(0);
  return in;
}

namespace {

// A string longer than kMaxJsonString: refused naming the field and its size, never echoing it.
std::optional<ApiError> too_long(const std::string& field, const json& v) {
  if (!v.is_string() || v.get_ref<const std::string&>().size() <= kMaxJsonString) return {};
  return field_error("", field,
                     std::to_string(v.get_ref<const std::string&>().size()) + " bytes; at most " +
                         std::to_string(kMaxJsonString));
}

}  // namespace

Reply<UserInput> user_input_from_json(const json& j) {
  // One message for every shape error: it shows the whole body expected.
  const ApiError shape = api_error(ErrorCode::bad_request,
                                   "body: {\"name\", \"role\": administrator|province_operator|"
                                   "commune_operator|viewer, \"area\"?, \"password\"}");
  if (!j.is_object()) return shape;
  const auto string_at = [&j](const char* field) -> const json* {
    const auto it = j.find(field);
    return it != j.end() && it->is_string() ? &*it : nullptr;
  };
  const json* name = string_at("name");
  const json* role = string_at("role");
  const json* password = string_at("password");
  const json* area = string_at("area");
  // "area" may be absent, but not null or another type.
  if (!name || !role || !password || (!area && j.contains("area"))) return shape;
  UserInput in;
  const auto parsed = parse_role(role->get_ref<const std::string&>());
  if (!parsed) return shape;
  in.role = *parsed;
  for (const auto& [field, v] : {std::pair<const char*, const json*>{"name", name},
                                 {"area", area},
                                 {"password", password}}) {
    if (!v) continue;
    if (auto e = too_long(field, *v)) return *e;
  }
  in.name = name->get<std::string>();
  in.password = password->get<std::string>();
  if (area) in.area = area->get<std::string>();
  return in;
}

Reply<UserChange> user_change_from_json(const json& j) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, "body: not a JSON object");
  UserChange c;
  // Every field is read; the last one refused is named.
  std::optional<ApiError> bad;
  for (const auto& [k, v] : j.items()) {
    if (auto e = too_long(k, v); e && (k == "area" || k == "password")) {
      bad = *e;
    } else if (k == "role" && v.is_string() && parse_role(v.get_ref<const std::string&>())) {
      c.role = parse_role(v.get_ref<const std::string&>());
    } else if (k == "area" && v.is_string()) {
      c.area = v.get<std::string>();
    } else if (k == "password" && v.is_string()) {
      c.password = v.get<std::string>();
    } else if (k == "disabled" && v.is_boolean()) {
      c.disabled = v.get<bool>();
    } else {
      bad = api_error(ErrorCode::bad_request,
                      k + ": not a valid role, area, password or disabled (true/false)");
    }
  }
  if (bad) return *bad;
  return c;
}

Reply<CapGeocodeRecord> geocode_input_from_json(const json& j) {
  if (!j.is_object()) return api_error(ErrorCode::bad_request, "body: not a JSON object");
  CapGeocodeRecord g;
  for (const char* field : {"value_name", "value", "area"}) {
    const auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      return api_error(ErrorCode::bad_request, std::string(field) + ": must be a string");
    }
    if (auto e = too_long(field, *it)) return *e;
    const std::string f = field;
    (f == "value_name" ? g.value_name : f == "value" ? g.value : g.area) = it->get<std::string>();
  }
  return g;
}

}  // namespace loa::controller
