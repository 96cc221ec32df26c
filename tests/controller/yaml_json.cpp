#include "yaml_json.hpp"

#include <yaml.h>

#include <optional>
#include <regex>
#include <vector>

namespace loa::test {
namespace {

using nlohmann::json;

// A plain scalar as the core schema reads it.
json plain_scalar(const std::string& s) {
  static const std::regex integer(R"([-+]?[0-9]+)");
  static const std::regex real(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, integer)) {
    try {
      return std::stoll(s);
    } catch (const std::out_of_range&) {
      return s;
    }
  }
  if (std::regex_match(s, real)) return std::stod(s);
  return s;
}

// A mapping or sequence being read, with the key whose value comes next.
struct Frame {
  json value;
  std::string key;
  bool have_key = false;
};

class Parser {
 public:
  explicit Parser(std::string_view text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~Parser() { yaml_parser_delete(&parser_); }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  Result<json> run() {
    int documents = 0;
    for (;;) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser_, &event)) {
        return make_error("yaml line " + std::to_string(parser_.problem_mark.line + 1) + ": " +
                          (parser_.problem ? parser_.problem : "syntax error"));
      }
      const std::string where = "yaml line " + std::to_string(event.start_mark.line + 1) + ": ";
      std::string error;
      bool done = false;
      switch (event.type) {
        case YAML_STREAM_END_EVENT:
          done = true;
          break;
        case YAML_DOCUMENT_START_EVENT:
          if (++documents > 1) error = "more than one document";
          break;
        case YAML_ALIAS_EVENT:
          error = "aliases are not supported";
          break;
        case YAML_SCALAR_EVENT: {
          const std::string text(reinterpret_cast<const char*>(event.data.scalar.value),
                                 event.data.scalar.length);
          error = add(event.data.scalar.plain_implicit ? plain_scalar(text) : json(text), text);
          break;
        }
        case YAML_MAPPING_START_EVENT:
          if (!key_pending()) error = "a mapping cannot be a key";
          stack_.push_back(Frame{json::object(), "", false});
          break;
        case YAML_SEQUENCE_START_EVENT:
          if (!key_pending()) error = "a sequence cannot be a key";
          stack_.push_back(Frame{json::array(), "", false});
          break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT: {
          json v = std::move(stack_.back().value);
          stack_.pop_back();
          error = add(std::move(v), "");
          break;
        }
        default:
          break;
      }
      yaml_event_delete(&event);
      if (!error.empty()) return make_error(where + error);
      if (done) break;
    }
    if (!root_) return make_error("yaml: empty document");
    return *root_;
  }

 private:
  // False when the next value would be a mapping's key.
  bool key_pending() const {
    return stack_.empty() || !stack_.back().value.is_object() || stack_.back().have_key;
  }

  std::string add(json v, const std::string& text) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return {};
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
      return {};
    }
    if (!top.have_key) {
      if (top.value.contains(text)) return "duplicate key '" + text + "'";
      top.key = text;
      top.have_key = true;
      return {};
    }
    top.value[top.key] = std::move(v);
    top.have_key = false;
    return {};
  }

  yaml_parser_t parser_{};
  std::vector<Frame> stack_;
  std::optional<json> root_;
};

}  // namespace

Result<nlohmann::json> yaml_to_json(std::string_view text) {
  Parser p(text);
  return p.run();
}

}  // namespace loa::test
