// OASIS CAP 1.2 (Common Alerting Protocol) messages: parsed with expat into a checked structure.
// What loa does with an alert (levels, areas, repeats) is in cap_ingest; see docs/cap.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::controller {

using protocol::Micros;

inline constexpr const char* kCapNamespace = "urn:oasis:names:tc:emergency:cap:1.2";
// Larger documents are refused before parsing (an audio resource in derefUri takes room).
inline constexpr std::size_t kMaxCapBytes = 16 * 1024 * 1024;

struct CapGeocode {
  std::string value_name;
  std::string value;
  std::string str() const { return value_name + "=" + value; }
};

struct CapArea {
  std::string desc;
  std::vector<CapGeocode> geocodes;
  bool geometric = false;  // has a polygon or circle (not mapped by loa)
};

struct CapResource {
  std::string desc;
  std::string mime_type;
  std::string uri;
  std::optional<protocol::Bytes> deref;  // derefUri, base64-decoded
};

struct CapInfo {
  std::string language = "en-US";  // the CAP default when absent
  std::vector<std::string> categories;
  std::string event;
  std::string urgency;    // Immediate, Expected, Future, Past, Unknown
  std::string severity;   // Extreme, Severe, Moderate, Minor, Unknown
  std::string certainty;  // Observed, Likely, Possible, Unlikely, Unknown
  std::optional<Micros> effective_us;
  std::optional<Micros> onset_us;
  std::optional<Micros> expires_us;
  std::string sender_name;
  std::string headline;
  std::string description;
  std::string instruction;
  std::vector<std::pair<std::string, std::string>> parameters;  // valueName, value
  std::vector<CapResource> resources;
  std::vector<CapArea> areas;
  std::string path;  // "alert/info[2]", for messages

  // The value of the first parameter named `name`, if any.
  std::optional<std::string> parameter(std::string_view name) const;
};

// An earlier message named in <references>: "sender,identifier,sent".
struct CapReference {
  std::string sender;
  std::string identifier;
  std::string sent;
  Micros sent_us = 0;
};

struct CapAlert {
  std::string identifier;
  std::string sender;
  std::string sent;  // as written
  Micros sent_us = 0;
  std::string status;    // Actual, Exercise, System, Test, Draft
  std::string msg_type;  // Alert, Update, Cancel, Ack, Error
  std::string scope;     // Public, Restricted, Private
  std::string note;
  std::string references_text;
  std::vector<CapReference> references;
  std::vector<CapInfo> infos;
};

// Parses and validates a CAP 1.2 document. Refuses malformed XML (with line and column), a DTD,
// a root that is not {urn:oasis:names:tc:emergency:cap:1.2}alert, and missing or invalid
// elements, with a message naming the element ("alert/info[1]/urgency: 'Soon' is not one
// of ..."). Elements of other namespaces (a signature) are ignored.
Result<CapAlert> parse_cap(std::string_view xml);

// The info block to act on: the first in Vietnamese (language vi or vi-*), else the first.
// nullptr when the alert has none.
const CapInfo* preferred_info(const CapAlert& alert);

// "2026-11-01T07:00:00+07:00" (CAP dateTime; 'Z' is accepted too) to an instant.
Result<Micros> parse_cap_time(std::string_view text);

}  // namespace loa::controller
