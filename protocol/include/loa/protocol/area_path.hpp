// Area paths: administrative codes from the province down, e.g. "79/26734/03".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "loa/protocol/result.hpp"

namespace loa::protocol {

// Limits on an area path; a violation names the rule it broke.
inline constexpr std::size_t kMaxAreaDepth = 8;
inline constexpr std::size_t kMaxAreaSegment = 32;
inline constexpr std::size_t kMaxAreaPathLength = 128;

// A validated area path: 1..kMaxAreaDepth segments of [0-9A-Za-z_-], each 1..kMaxAreaSegment
// characters, joined by '/', total at most kMaxAreaPathLength.
class AreaPath {
 public:
  static Result<AreaPath> parse(std::string_view text);

  const std::string& str() const { return text_; }
  const std::vector<std::string>& segments() const { return segments_; }
  std::size_t depth() const { return segments_.size(); }

  // This path and each of its ancestors, shortest first: "79", "79/26734", "79/26734/03".
  std::vector<AreaPath> self_and_ancestors() const;
  // True if `other` equals this path or lies below it.
  bool contains(const AreaPath& other) const;

  friend bool operator==(const AreaPath& a, const AreaPath& b) { return a.text_ == b.text_; }
  friend bool operator<(const AreaPath& a, const AreaPath& b) { return a.text_ < b.text_; }

 private:
  std::string text_;
  std::vector<std::string> segments_;
};

// Node ids: 1..64 characters of [0-9A-Za-z_-].
loa::Status validate_node_id(std::string_view id);

}  // namespace loa::protocol
