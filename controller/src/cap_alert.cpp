#include "loa/controller/cap_alert.hpp"

#include <expat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

namespace loa::controller {
namespace {

constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kMaxElements = 20000;

// A minimal element tree built from expat's callbacks.
struct Element {
  std::string ns;
  std::string name;
  std::string text;
  int line = 0;
  std::vector<std::unique_ptr<Element>> children;
};

struct Builder {
  XML_Parser parser = nullptr;
  std::unique_ptr<Element> root;
  std::vector<Element*> stack;
  std::size_t count = 0;
  std::string failure;  // set when a callback stops the parser
};

void split_name(const XML_Char* full, Element& e) {
  const std::string s(full);
  const auto sep = s.rfind(' ');
  if (sep == std::string::npos) {
    e.name = s;
  } else {
    e.ns = s.substr(0, sep);
    e.name = s.substr(sep + 1);
  }
}

void stop(Builder& b, std::string why) {
  if (b.failure.empty()) b.failure = std::move(why);
  XML_StopParser(b.parser, XML_FALSE);
}

void XMLCALL on_start(void* data, const XML_Char* name, const XML_Char** /*attrs*/) {
  auto& b = *static_cast<Builder*>(data);
  if (++b.count > kMaxElements) return stop(b, "more than 20000 elements");
  if (b.stack.size() >= kMaxDepth) return stop(b, "elements nested deeper than 32");
  auto e = std::make_unique<Element>();
  split_name(name, *e);
  e->line = static_cast<int>(XML_GetCurrentLineNumber(b.parser));
  Element* raw = e.get();
  if (b.stack.empty()) {
    b.root = std::move(e);
  } else {
    b.stack.back()->children.push_back(std::move(e));
  }
  b.stack.push_back(raw);
}

void XMLCALL on_end(void* data, const XML_Char* /*name*/) {
  auto& b = *static_cast<Builder*>(data);
  if (!b.stack.empty()) b.stack.pop_back();
}

void XMLCALL on_text(void* data, const XML_Char* s, int len) {
  auto& b = *static_cast<Builder*>(data);
  if (!b.stack.empty()) b.stack.back()->text.append(s, static_cast<std::size_t>(len));
}

void XMLCALL on_doctype(void* data, const XML_Char* /*name*/, const XML_Char* /*sysid*/,
                        const XML_Char* /*pubid*/, int /*has_internal_subset*/) {
  stop(*static_cast<Builder*>(data), "a DOCTYPE is not allowed in a CAP message");
}

void XMLCALL on_entity(void* data, const XML_Char* /*name*/, int /*is_parameter*/,
                       const XML_Char* /*value*/, int /*len*/, const XML_Char* /*base*/,
                       const XML_Char* /*sysid*/, const XML_Char* /*pubid*/,
                       const XML_Char* /*notation*/) {
  stop(*static_cast<Builder*>(data), "entity declarations are not allowed in a CAP message");
}

Result<std::unique_ptr<Element>> parse_tree(std::string_view xml) {
  Builder b;
  b.parser = XML_ParserCreateNS("UTF-8", ' ');
  if (!b.parser) return make_error("XML: cannot create a parser");
  std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> guard(
      b.parser, &XML_ParserFree);
  XML_SetUserData(b.parser, &b);
  XML_SetElementHandler(b.parser, on_start, on_end);
  XML_SetCharacterDataHandler(b.parser, on_text);
  XML_SetStartDoctypeDeclHandler(b.parser, on_doctype);
  XML_SetEntityDeclHandler(b.parser, on_entity);
  const auto status = XML_Parse(b.parser, xml.data(), static_cast<int>(xml.size()), XML_TRUE);
  if (status != XML_STATUS_OK || !b.failure.empty()) {
    const std::string where = "line " + std::to_string(XML_GetCurrentLineNumber(b.parser)) +
                              ", column " +
                              std::to_string(XML_GetCurrentColumnNumber(b.parser) + 1);
    const std::string why =
        b.failure.empty() ? std::string(XML_ErrorString(XML_GetErrorCode(b.parser))) : b.failure;
    return make_error("malformed XML at " + where + ": " + why);
  }
  if (!b.root) return make_error("malformed XML: no root element");
  return std::move(b.root);
}

std::string trim(const std::string& s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// The CAP children of `parent` named `name`.
std::vector<const Element*> children(const Element& parent, std::string_view name) {
  std::vector<const Element*> out;
  for (const auto& c : parent.children) {
    if (c->ns == kCapNamespace && c->name == name) out.push_back(c.get());
  }
  return out;
}

// Reads the optional single element `name` of `parent` (trimmed text); refuses repeats.
Result<std::optional<std::string>> optional_text(const Element& parent, const std::string& path,
                                                 std::string_view name) {
  auto list = children(parent, name);
  if (list.empty()) return std::optional<std::string>();
  if (list.size() > 1) {
    return make_error(path + "/" + std::string(name) + ": given " + std::to_string(list.size()) +
                      " times (at most once; line " + std::to_string(list[1]->line) + ")");
  }
  return std::optional<std::string>(trim(list[0]->text));
}

Result<std::string> required_text(const Element& parent, const std::string& path,
                                  std::string_view name) {
  auto t = optional_text(parent, path, name);
  if (!t) return t.error();
  if (!*t) return make_error(path + "/" + std::string(name) + ": missing (required by CAP 1.2)");
  if ((*t)->empty()) return make_error(path + "/" + std::string(name) + ": is empty");
  return std::move(**t);
}

template <std::size_t N>
loa::Status one_of(const std::string& value, const std::array<const char*, N>& allowed,
                   const std::string& where) {
  for (const char* a : allowed) {
    if (value == a) return {};
  }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  return make_error(where + ": '" + value + "' is not one of " + list);
}

// CAP identifiers and senders: no spaces, commas or XML-restricted characters.
loa::Status check_token(const std::string& value, const std::string& where) {
  for (char c : value) {
    if (c == ' ' || c == ',' || c == '<' || c == '&' || c == '\t' || c == '\n') {
      return make_error(where + ": '" + value + "' contains a space, comma, '<' or '&'");
    }
  }
  if (value.size() > 256) return make_error(where + ": longer than 256 characters");
  return {};
}

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

int number(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const auto doy = static_cast<unsigned>((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

Result<std::optional<Micros>> optional_time(const Element& parent, const std::string& path,
                                            std::string_view name) {
  auto t = optional_text(parent, path, name);
  if (!t) return t.error();
  if (!*t) return std::optional<Micros>();
  auto v = parse_cap_time(**t);
  if (!v) return make_error(path + "/" + std::string(name) + ": " + v.error().message);
  return std::optional<Micros>(*v);
}

Result<protocol::Bytes> base64_decode(const std::string& text, const std::string& where) {
  static const auto table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < chars.size(); ++i) t[static_cast<unsigned char>(chars[i])] = int(i);
    return t;
  }();
  protocol::Bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0 || table[c] < 0) {
      return make_error(where + ": not base64 (character " + std::to_string(i) + ")");
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(table[c]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  if (pad > 2) return make_error(where + ": not base64 (too much padding)");
  return out;
}

Result<CapResource> read_resource(const Element& e, const std::string& path) {
  CapResource r;
  auto desc = required_text(e, path, "resourceDesc");
  if (!desc) return desc.error();
  r.desc = std::move(*desc);
  auto mime = required_text(e, path, "mimeType");
  if (!mime) return mime.error();
  r.mime_type = std::move(*mime);
  auto uri = optional_text(e, path, "uri");
  if (!uri) return uri.error();
  r.uri = uri->value_or("");
  auto deref = optional_text(e, path, "derefUri");
  if (!deref) return deref.error();
  if (*deref) {
    auto bytes = base64_decode(**deref, path + "/derefUri");
    if (!bytes) return bytes.error();
    if (bytes->empty()) return make_error(path + "/derefUri: is empty");
    r.deref = std::move(*bytes);
  }
  return r;
}

Result<CapArea> read_area(const Element& e, const std::string& path) {
  CapArea a;
  auto desc = required_text(e, path, "areaDesc");
  if (!desc) return desc.error();
  a.desc = std::move(*desc);
  a.geometric = !children(e, "polygon").empty() || !children(e, "circle").empty();
  std::size_t i = 0;
  for (const Element* g : children(e, "geocode")) {
    const std::string gp = path + "/geocode[" + std::to_string(++i) + "]";
    auto name = required_text(*g, gp, "valueName");
    if (!name) return name.error();
    auto value = required_text(*g, gp, "value");
    if (!value) return value.error();
    a.geocodes.push_back(CapGeocode{std::move(*name), std::move(*value)});
  }
  return a;
}

Result<CapInfo> read_info(const Element& e, const std::string& path) {
  CapInfo info;
  info.path = path;
  auto lang = optional_text(e, path, "language");
  if (!lang) return lang.error();
  if (*lang && !(*lang)->empty()) info.language = **lang;
  static constexpr std::array<const char*, 12> kCategories = {
      "Geo",    "Met", "Safe",      "Security", "Rescue", "Fire",
      "Health", "Env", "Transport", "Infra",    "CBRNE",  "Other"};
  for (const Element* c : children(e, "category")) {
    const std::string v = trim(c->text);
    if (loa::Status s = one_of(v, kCategories, path + "/category"); !s)
      return make_error(s.message());
    info.categories.push_back(v);
  }
  if (info.categories.empty()) return make_error(path + "/category: missing (required by CAP 1.2)");
  auto event = required_text(e, path, "event");
  if (!event) return event.error();
  info.event = std::move(*event);
  auto urgency = required_text(e, path, "urgency");
  if (!urgency) return urgency.error();
  static constexpr std::array<const char*, 5> kUrgency = {"Immediate", "Expected", "Future", "Past",
                                                          "Unknown"};
  if (loa::Status s = one_of(*urgency, kUrgency, path + "/urgency"); !s) {
    return make_error(s.message());
  }
  info.urgency = std::move(*urgency);
  auto severity = required_text(e, path, "severity");
  if (!severity) return severity.error();
  static constexpr std::array<const char*, 5> kSeverity = {"Extreme", "Severe", "Moderate", "Minor",
                                                           "Unknown"};
  if (loa::Status s = one_of(*severity, kSeverity, path + "/severity"); !s) {
    return make_error(s.message());
  }
  info.severity = std::move(*severity);
  auto certainty = required_text(e, path, "certainty");
  if (!certainty) return certainty.error();
  // "Very Likely" is CAP 1.0's, kept for backward compatibility (CAP 1.2, 3.2.2).
  static constexpr std::array<const char*, 6> kCertainty = {"Observed", "Likely",  "Possible",
                                                            "Unlikely", "Unknown", "Very Likely"};
  if (loa::Status s = one_of(*certainty, kCertainty, path + "/certainty"); !s) {
    return make_error(s.message());
  }
  info.certainty = std::move(*certainty);
  for (auto [name, field] :
       {std::pair{"effective", &info.effective_us}, std::pair{"onset", &info.onset_us},
        std::pair{"expires", &info.expires_us}}) {
    auto t = optional_time(e, path, name);
    if (!t) return t.error();
    *field = *t;
  }
  for (auto [name, field] :
       {std::pair{"senderName", &info.sender_name}, std::pair{"headline", &info.headline},
        std::pair{"description", &info.description}, std::pair{"instruction", &info.instruction}}) {
    auto t = optional_text(e, path, name);
    if (!t) return t.error();
    *field = t->value_or("");
  }
  std::size_t i = 0;
  for (const Element* p : children(e, "parameter")) {
    const std::string pp = path + "/parameter[" + std::to_string(++i) + "]";
    auto name = required_text(*p, pp, "valueName");
    if (!name) return name.error();
    auto value = optional_text(*p, pp, "value");
    if (!value) return value.error();
    info.parameters.emplace_back(std::move(*name), value->value_or(""));
  }
  i = 0;
  for (const Element* r : children(e, "resource")) {
    auto res = read_resource(*r, path + "/resource[" + std::to_string(++i) + "]");
    if (!res) return res.error();
    info.resources.push_back(std::move(*res));
  }
  i = 0;
  for (const Element* a : children(e, "area")) {
    auto area = read_area(*a, path + "/area[" + std::to_string(++i) + "]");
    if (!area) return area.error();
    info.areas.push_back(std::move(*area));
  }
  return info;
}

Result<std::vector<CapReference>> read_references(const std::string& text) {
  std::vector<CapReference> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos >= text.size()) break;
    std::size_t end = pos;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    const std::string item = text.substr(pos, end - pos);
    pos = end;
    const auto c1 = item.find(',');
    const auto c2 = c1 == std::string::npos ? c1 : item.find(',', c1 + 1);
    if (c2 == std::string::npos || item.find(',', c2 + 1) != std::string::npos || c1 == 0 ||
        c2 == c1 + 1) {
      return make_error("alert/references: '" + item + "' is not sender,identifier,sent");
    }
    CapReference r{item.substr(0, c1), item.substr(c1 + 1, c2 - c1 - 1), item.substr(c2 + 1), 0};
    auto t = parse_cap_time(r.sent);
    if (!t) return make_error("alert/references: '" + item + "': " + t.error().message);
    r.sent_us = *t;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::optional<std::string> CapInfo::parameter(std::string_view name) const {
  for (const auto& [n, v] : parameters) {
    if (n == name) return v;
  }
  return std::nullopt;
}

Result<Micros> parse_cap_time(std::string_view s) {
  const std::string shown = "'" + std::string(s.substr(0, 40)) + "'";
  const bool shape = digits(s, 0, 4) && s.size() >= 20 && s[4] == '-' && digits(s, 5, 2) &&
                     s[7] == '-' && digits(s, 8, 2) && s[10] == 'T' && digits(s, 11, 2) &&
                     s[13] == ':' && digits(s, 14, 2) && s[16] == ':' && digits(s, 17, 2);
  if (!shape) return make_error(shown + " is not a CAP time (2026-11-01T07:00:00+07:00)");
  const int y = number(s, 0, 4);
  const int mo = number(s, 5, 2);
  const int d = number(s, 8, 2);
  const int h = number(s, 11, 2);
  const int mi = number(s, 14, 2);
  const int se = number(s, 17, 2);
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || se > 60) {
    return make_error(shown + " is not a valid date and time");
  }
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {  // fractions of a second: accepted, dropped
    ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && s[pos] == 'Z' && pos + 1 == s.size()) {
    offset_s = 0;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && digits(s, pos + 1, 2) &&
             s[pos + 3] == ':' && digits(s, pos + 4, 2)) {
    const int oh = number(s, pos + 1, 2);
    const int om = number(s, pos + 4, 2);
    if (oh > 14 || om > 59) return make_error(shown + ": time zone offset out of range");
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
  } else {
    return make_error(shown + " lacks a time zone offset (e.g. +07:00)");
  }
  const std::int64_t secs =
      days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + std::min(se, 59) - offset_s;
  return secs * 1'000'000;
}

const CapInfo* preferred_info(const CapAlert& alert) {
  for (const auto& info : alert.infos) {
    std::string lang = info.language;
    std::transform(lang.begin(), lang.end(), lang.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lang == "vi" || lang.rfind("vi-", 0) == 0) return &info;
  }
  return alert.infos.empty() ? nullptr : &alert.infos.front();
}

Result<CapAlert> parse_cap(std::string_view xml) {
  if (xml.empty()) return make_error("malformed XML: the message is empty");
  if (xml.size() > kMaxCapBytes) {
    return make_error("message: " + std::to_string(xml.size()) + " bytes, more than the " +
                      std::to_string(kMaxCapBytes) + " accepted");
  }
  auto tree = parse_tree(xml);
  if (!tree) return tree.error();
  const Element& root = **tree;
  if (root.name != "alert") {
    return make_error("root element: <" + root.name + "> is not a CAP <alert>");
  }
  if (root.ns != kCapNamespace) {
    return make_error("alert: namespace '" + root.ns + "' is not CAP 1.2 (" + kCapNamespace + ")");
  }
  const std::string path = "alert";
  CapAlert a;
  auto identifier = required_text(root, path, "identifier");
  if (!identifier) return identifier.error();
  if (loa::Status s = check_token(*identifier, "alert/identifier"); !s) {
    return make_error(s.message());
  }
  a.identifier = std::move(*identifier);
  auto sender = required_text(root, path, "sender");
  if (!sender) return sender.error();
  if (loa::Status s = check_token(*sender, "alert/sender"); !s) return make_error(s.message());
  a.sender = std::move(*sender);
  auto sent = required_text(root, path, "sent");
  if (!sent) return sent.error();
  auto sent_us = parse_cap_time(*sent);
  if (!sent_us) return make_error("alert/sent: " + sent_us.error().message);
  a.sent = std::move(*sent);
  a.sent_us = *sent_us;
  auto status = required_text(root, path, "status");
  if (!status) return status.error();
  static constexpr std::array<const char*, 5> kStatus = {"Actual", "Exercise", "System", "Test",
                                                         "Draft"};
  if (loa::Status s = one_of(*status, kStatus, "alert/status"); !s) return make_error(s.message());
  a.status = std::move(*status);
  auto type = required_text(root, path, "msgType");
  if (!type) return type.error();
  static constexpr std::array<const char*, 5> kTypes = {"Alert", "Update", "Cancel", "Ack",
                                                        "Error"};
  if (loa::Status s = one_of(*type, kTypes, "alert/msgType"); !s) return make_error(s.message());
  a.msg_type = std::move(*type);
  auto scope = required_text(root, path, "scope");
  if (!scope) return scope.error();
  static constexpr std::array<const char*, 3> kScopes = {"Public", "Restricted", "Private"};
  if (loa::Status s = one_of(*scope, kScopes, "alert/scope"); !s) return make_error(s.message());
  a.scope = std::move(*scope);
  auto note = optional_text(root, path, "note");
  if (!note) return note.error();
  a.note = note->value_or("");
  auto refs = optional_text(root, path, "references");
  if (!refs) return refs.error();
  a.references_text = refs->value_or("");
  auto parsed = read_references(a.references_text);
  if (!parsed) return parsed.error();
  a.references = std::move(*parsed);
  if ((a.msg_type == "Update" || a.msg_type == "Cancel") && a.references.empty()) {
    return make_error("alert/references: missing; an " + a.msg_type +
                      " names the message it replaces (sender,identifier,sent)");
  }
  std::size_t i = 0;
  for (const Element* e : children(root, "info")) {
    auto info = read_info(*e, "alert/info[" + std::to_string(++i) + "]");
    if (!info) return info.error();
    a.infos.push_back(std::move(*info));
  }
  return a;
}

}  // namespace loa::controller
