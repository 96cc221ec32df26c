#include "loa/protocol/area_path.hpp"

#include <string>

#include "loa/protocol/messages.hpp"

namespace loa::protocol {
namespace {

bool is_id_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         c == '-';
}

// Shows a byte of user text readably in an error message.
std::string show_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char* hex = "0123456789abcdef";
  return std::string("0x") + hex[u >> 4] + hex[u & 0xf];
}

// Cuts long user text so an error message stays short.
std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 80;
  std::string out = "'";
  for (const char c : text.substr(0, kShown)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (text.size() > kShown) out += "...";
  out += "'";
  return out;
}

}  // namespace

Result<AreaPath> AreaPath::parse(std::string_view text) {
  const auto fail = [&](const std::string& rule) {
    return make_error("area path " + quoted(text) + ": " + rule);
  };
  if (text.empty()) return fail("is empty");
  if (text.size() > kMaxAreaPathLength) {
    return fail("is " + std::to_string(text.size()) + " characters long (at most " +
                std::to_string(kMaxAreaPathLength) + ")");
  }
  AreaPath path;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    const std::string_view segment = text.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const std::size_t number = path.segments_.size() + 1;
    const std::string where = "segment " + std::to_string(number);
    if (number > kMaxAreaDepth) {
      return fail("has more than " + std::to_string(kMaxAreaDepth) + " segments");
    }
    if (segment.empty()) return fail(where + " is empty");
    if (segment.size() > kMaxAreaSegment) {
      return fail(where + " is " + std::to_string(segment.size()) + " characters long (at most " +
                  std::to_string(kMaxAreaSegment) + ")");
    }
    for (std::size_t i = 0; i < segment.size(); ++i) {
      if (!is_id_char(segment[i])) {
        return fail(where + " has invalid character " + show_char(segment[i]) +
                    " (allowed: " + "0-9 A-Z a-z _ -)");
      }
    }
    path.segments_.emplace_back(segment);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  path.text_ = std::string(text);
  return path;
}

std::vector<AreaPath> AreaPath::self_and_ancestors() const {
  std::vector<AreaPath> out;
  out.reserve(segments_.size());
  AreaPath current;
  for (const auto& segment : segments_) {
    if (!current.text_.empty()) current.text_ += '/';
    current.text_ += segment;
    current.segments_.push_back(segment);
    out.push_back(current);
  }
  return out;
}

bool AreaPath::contains(const AreaPath& other) const {
  if (other.text_.size() < text_.size()) return false;
  if (other.text_.compare(0, text_.size(), text_) != 0) return false;
  return other.text_.size() == text_.size() || other.text_[text_.size()] == '/';
}

loa::Status validate_node_id(std::string_view id) {
  if (id.empty()) return make_error("node id is empty");
  if (id.size() > kMaxIdLength) {
    return make_error("node id " + quoted(id) + " is " + std::to_string(id.size()) +
                      " characters long (at most " + std::to_string(kMaxIdLength) + ")");
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!is_id_char(id[i])) {
      return make_error("node id " + quoted(id) + " has invalid character " + show_char(id[i]) +
                        " at position " + std::to_string(i) + " (allowed: 0-9 A-Z a-z _ -)");
    }
  }
  return loa::Status::success();
}

}  // namespace loa::protocol
