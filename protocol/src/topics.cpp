#include "loa/protocol/topics.hpp"

#include <array>
#include <charconv>
#include <string>
#include <vector>

namespace loa::protocol::topics {
namespace {

constexpr std::array<UpKind, 5> kUpKinds = {UpKind::hello, UpKind::event, UpKind::status,
                                            UpKind::fetch, UpKind::report};

std::string join(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(kRoot.size() + 1 + a.size() + 1 + b.size());
  out.append(kRoot).append("/").append(a);
  if (!b.empty()) out.append("/").append(b);
  return out;
}

std::string node_topic(std::string_view node, std::string_view tail) {
  std::string out = join("node", node);
  out.append("/").append(tail);
  return out;
}

std::string id_topic(std::string_view kind, std::uint64_t id, std::string_view tail) {
  std::string out = join(kind, std::to_string(id));
  if (!tail.empty()) out.append("/").append(tail);
  return out;
}

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
}

// Canonical decimal only: no sign, no leading zeros, fits in 64 bits.
bool parse_id(std::string_view text, std::uint64_t& out) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

const char* to_string(UpKind kind) {
  switch (kind) {
    case UpKind::hello:
      return "hello";
    case UpKind::event:
      return "event";
    case UpKind::status:
      return "status";
    case UpKind::fetch:
      return "fetch";
    case UpKind::report:
      return "report";
  }
  return "unknown";
}

std::string area_plan(const AreaPath& area) {
  return join("plan", area.str());
}
std::string area_control(const AreaPath& area) {
  return join("control", area.str());
}
std::string node_plan(std::string_view node) {
  return node_topic(node, "down/plan");
}
std::string node_control(std::string_view node) {
  return node_topic(node, "down/control");
}
std::string node_receipt(std::string_view node) {
  return node_topic(node, "down/receipt");
}
std::string node_down_filter(std::string_view node) {
  return node_topic(node, "down/#");
}
std::string bulletin_manifest(std::uint64_t bulletin) {
  return id_topic("bulletin", bulletin, "manifest");
}
std::string bulletin_chunks(std::uint64_t bulletin) {
  return id_topic("bulletin", bulletin, "chunk");
}
std::string bulletin_filter(std::uint64_t bulletin) {
  return id_topic("bulletin", bulletin, "#");
}
std::string live_stream(std::uint64_t stream) {
  return id_topic("live", stream, "");
}
std::string node_up(std::string_view node, UpKind kind) {
  return node_topic(node, std::string("up/") + to_string(kind));
}
std::string all_up_filter() {
  return join("node", "+/up/#");
}

Result<Parsed> parse(std::string_view topic) {
  const auto fail = [&](const std::string& why) {
    std::string message = "topic '" + std::string(topic.substr(0, 200)) +
                          (topic.size() > 200 ? "...': " : "': ") + why;
    for (char& c : message) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) c = '?';
    }
    return make_error(std::move(message));
  };
  const std::string prefix = std::string(kRoot) + "/";
  if (topic.substr(0, prefix.size()) != prefix) return fail("not under " + prefix);
  const std::string_view rest = topic.substr(prefix.size());
  const std::size_t slash = rest.find('/');
  const std::string_view head = rest.substr(0, slash);
  const std::string_view tail =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  const bool has_tail = slash != std::string_view::npos;

  Parsed parsed;
  if (head == "plan" || head == "control") {
    if (!has_tail) return fail("missing area path after '" + std::string(head) + "/'");
    auto area = AreaPath::parse(tail);
    if (!area) return fail(area.error().message);
    parsed.kind = head == "plan" ? Parsed::Kind::area_plan : Parsed::Kind::area_control;
    parsed.area = std::move(area.value());
    return parsed;
  }
  if (head == "node") {
    const auto parts = split(tail);
    if (!has_tail || parts.size() != 3) {
      return fail("expected node/<id>/down/<plan|control|receipt> or node/<id>/up/<kind>");
    }
    const auto valid = validate_node_id(parts[0]);
    if (!valid) return fail(valid.message());
    parsed.node = std::string(parts[0]);
    if (parts[1] == "down") {
      if (parts[2] == "plan") {
        parsed.kind = Parsed::Kind::node_plan;
      } else if (parts[2] == "control") {
        parsed.kind = Parsed::Kind::node_control;
      } else if (parts[2] == "receipt") {
        parsed.kind = Parsed::Kind::node_receipt;
      } else {
        return fail("unknown down topic '" + std::string(parts[2]) +
                    "' (expected plan, control or receipt)");
      }
      return parsed;
    }
    if (parts[1] == "up") {
      for (const UpKind kind : kUpKinds) {
        if (parts[2] == to_string(kind)) {
          parsed.kind = Parsed::Kind::node_up;
          parsed.up = kind;
          return parsed;
        }
      }
      return fail("unknown up topic '" + std::string(parts[2]) +
                  "' (expected hello, event, status, fetch or report)");
    }
    return fail("expected 'down' or 'up' after the node id, got '" + std::string(parts[1]) + "'");
  }
  if (head == "bulletin") {
    const auto parts = split(tail);
    if (!has_tail || parts.size() != 2) {
      return fail("expected bulletin/<id>/manifest or bulletin/<id>/chunk");
    }
    if (!parse_id(parts[0], parsed.id)) {
      return fail("bulletin id '" + std::string(parts[0]) + "' is not a decimal 64-bit number");
    }
    if (parts[1] == "manifest") {
      parsed.kind = Parsed::Kind::bulletin_manifest;
    } else if (parts[1] == "chunk") {
      parsed.kind = Parsed::Kind::bulletin_chunk;
    } else {
      return fail("unknown bulletin topic '" + std::string(parts[1]) +
                  "' (expected manifest or chunk)");
    }
    return parsed;
  }
  if (head == "live") {
    if (!has_tail || tail.find('/') != std::string_view::npos) {
      return fail("expected live/<stream id>");
    }
    if (!parse_id(tail, parsed.id)) {
      return fail("stream id '" + std::string(tail) + "' is not a decimal 64-bit number");
    }
    parsed.kind = Parsed::Kind::live;
    return parsed;
  }
  return fail("unknown topic kind '" + std::string(head) +
              "' (expected plan, control, node, bulletin or live)");
}

}  // namespace loa::protocol::topics
