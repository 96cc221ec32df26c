#include "loa/controller/cli.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <variant>

namespace loa::controller {
namespace {

using nlohmann::json;

enum class Format { table, api_json, csv };

// Exit codes.
constexpr int kRefused = 1;
constexpr int kUsage = 2;

// A command-line failure: the message and the exit code.
struct Failure {
  std::string message;
  int code = kRefused;
};

struct Args {
  std::vector<std::string> words;                           // command words and operands
  std::map<std::string, std::vector<std::string>> options;  // --name value (repeatable)
  bool help = false;

  bool has(const std::string& name) const { return options.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    const auto it = options.find(name);
    return it == options.end() ? fallback : it->second.back();
  }
};

std::optional<Failure> parse_args(const std::vector<std::string>& in, Args& args) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::string& a = in[i];
    if (a == "--help" || a == "-h") {
      args.help = true;
    } else if (a.rfind("--", 0) == 0 && a.size() > 2) {
      const auto eq = a.find('=');
      if (eq != std::string::npos) {
        args.options[a.substr(2, eq - 2)].push_back(a.substr(eq + 1));
      } else if (i + 1 < in.size()) {
        args.options[a.substr(2)].push_back(in[++i]);
      } else {
        return Failure{"option " + a + " needs a value", kUsage};
      }
    } else {
      args.words.push_back(a);
    }
  }
  return std::nullopt;
}

std::optional<Failure> allow_only(const Args& args, std::set<std::string> allowed,
                                  const std::string& command) {
  allowed.insert({"controller", "format"});
  for (const auto& [name, values] : args.options) {
    if (!allowed.count(name)) {
      return Failure{"'" + command + "' does not take --" + name + " (see loactl --help)", kUsage};
    }
    if (values.size() > 1 && name != "target") {
      return Failure{"--" + name + " given more than once", kUsage};
    }
  }
  return std::nullopt;
}

std::optional<Failure> require(const Args& args, std::initializer_list<const char*> names,
                               const std::string& command) {
  for (const char* n : names) {
    if (!args.has(n) || args.get(n).empty()) {
      return Failure{"'" + command + "' needs --" + std::string(n), kUsage};
    }
  }
  return std::nullopt;
}

// ---- output ----

std::string text_of(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    s << v.get<double>();
    return s.str();
  }
  return v.dump();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Display width of UTF-8 text (code points), for aligning Vietnamese names.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

struct Column {
  std::string header;
  std::string key;
};

void print_rows(std::ostream& out, Format format, const std::vector<Column>& columns,
                const std::vector<json>& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (const auto& c : columns) {
      const auto it = r.find(c.key);
      line.push_back(it == r.end() ? std::string("-") : text_of(*it));
    }
    cells.push_back(std::move(line));
  }
  if (format == Format::csv) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      out << (i ? "," : "") << csv_field(columns[i].key);
    }
    out << '\n';
    for (const auto& line : cells) {
      for (std::size_t i = 0; i < line.size(); ++i) {
        out << (i ? "," : "") << csv_field(line[i] == "-" ? "" : line[i]);
      }
      out << '\n';
    }
    return;
  }
  std::vector<std::size_t> widths;
  for (const auto& c : columns) widths.push_back(width(c.header));
  for (const auto& line : cells) {
    for (std::size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], width(line[i]));
  }
  auto emit = [&](const std::vector<std::string>& line) {
    std::string s;
    for (std::size_t i = 0; i < line.size(); ++i) {
      s += line[i];
      if (i + 1 < line.size()) s += std::string(widths[i] - width(line[i]) + 2, ' ');
    }
    out << s << '\n';
  };
  std::vector<std::string> headers;
  for (const auto& c : columns) headers.push_back(c.header);
  emit(headers);
  for (const auto& line : cells) emit(line);
}

// ---- HTTP ----

class Api {
 public:
  explicit Api(const std::string& url) : url_(url), client_(url) {
    client_.set_connection_timeout(5, 0);
    client_.set_read_timeout(600, 0);  // text-to-speech of a long text takes a while
    client_.set_write_timeout(600, 0);
  }

  // The JSON body of a 2xx response, or the failure to report.
  std::variant<json, Failure> get(const std::string& path) { return handle(client_.Get(path)); }
  std::variant<json, Failure> post_json(const std::string& path, const json& body) {
    return handle(client_.Post(path, body.dump(), "application/json"));
  }
  std::variant<json, Failure> post_bytes(const std::string& path, const std::string& body,
                                         const std::string& type) {
    return handle(client_.Post(path, body, type));
  }

 private:
  std::variant<json, Failure> handle(const httplib::Result& r) {
    if (!r) {
      return Failure{
          "cannot reach the controller at " + url_ + ": " + httplib::to_string(r.error()), kUsage};
    }
    json body = json::parse(r->body, nullptr, false);
    if (r->status >= 200 && r->status < 300) {
      if (body.is_discarded()) return Failure{"the controller sent a reply that is not JSON"};
      return body;
    }
    if (!body.is_discarded() && body.contains("error") && body["error"].is_object()) {
      return Failure{body["error"].value("message", "request refused") + " (" +
                     body["error"].value("code", "error") + ")"};
    }
    return Failure{"the controller answered HTTP " + std::to_string(r->status)};
  }

  std::string url_;
  httplib::Client client_;
};

std::string encode_query(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// ---- CSV import ----

// Splits one CSV record (RFC 4180 quoting) starting at `pos`; advances `pos` past its end.
std::vector<std::string> csv_record(const std::string& text, std::size_t& pos) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          fields.back() += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  for (auto& f : fields) {
    const auto b = f.find_first_not_of(" \t");
    const auto e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return fields;
}

// ---- commands ----

using Outcome = std::variant<json, Failure>;

class Cli {
 public:
  Cli(const Args& args, Format format, std::ostream& out)
      : args_(args),
        format_(format),
        out_(out),
        api_(args.get("controller", "http://127.0.0.1:8080")) {}

  std::optional<Failure> run() {
    const auto& w = args_.words;
    const std::string cmd = w.empty() ? "" : w[0];
    const std::string sub = w.size() > 1 ? w[1] : "";
    if (cmd == "node" && sub == "add") return node_add();
    if (cmd == "node" && sub == "import") return node_import();
    if (cmd == "node" && sub == "list") return node_list();
    if (cmd == "bulletin" && sub == "create") return bulletin_create();
    if (cmd == "bulletin" && sub == "list") return bulletin_list();
    if (cmd == "schedule") return schedule();
    if (cmd == "report" && sub == "coverage") return coverage();
    if (cmd == "log") return log();
    std::string what;
    for (const auto& x : w) what += (what.empty() ? "" : " ") + x;
    return Failure{"unknown command '" + what + "' (see loactl --help)", kUsage};
  }

 private:
  std::optional<Failure> operands(std::size_t n, const std::string& command) {
    if (args_.words.size() != n) {
      return Failure{
          "'" + command + "' takes " +
              (n == 2 ? std::string("no operands") : std::to_string(n - 2) + " operand") +
              " (see loactl --help)",
          kUsage};
    }
    return std::nullopt;
  }

  // Prints JSON as is, or runs `table` for table/csv.
  template <typename Fn>
  std::optional<Failure> show(Outcome r, Fn&& table) {
    if (auto* f = std::get_if<Failure>(&r)) return *f;
    const json& j = std::get<json>(r);
    if (format_ == Format::api_json) {
      out_ << j.dump(2) << '\n';
    } else {
      table(j);
    }
    return std::nullopt;
  }

  void print_id(const json& j) {
    if (format_ == Format::csv) out_ << "id\n";
    out_ << text_of(j.at("id")) << '\n';
  }

  static const std::vector<Column>& node_columns() {
    static const std::vector<Column> c = {{"ID", "id"},
                                          {"NAME", "name"},
                                          {"AREA", "area"},
                                          {"SPEAKERS", "speakers"},
                                          {"RESIDENTS", "residents"},
                                          {"ONLINE", "online"},
                                          {"LAST SEEN", "last_seen"}};
    return c;
  }

  std::optional<Failure> node_add() {
    const std::string c = "node add";
    if (auto f = operands(2, c)) return f;
    if (auto f =
            allow_only(args_, {"id", "area", "speakers", "residents", "name", "public-key"}, c)) {
      return f;
    }
    if (auto f = require(args_, {"id", "area"}, c)) return f;
    json body{{"id", args_.get("id")}, {"area", args_.get("area")}, {"name", args_.get("name")}};
    for (const char* k : {"speakers", "residents"}) {
      if (args_.has(k)) body[k] = args_.get(k);
    }
    if (args_.has("public-key")) body["public_key"] = args_.get("public-key");
    return show(api_.post_json("/api/v1/nodes", body),
                [&](const json& j) { print_rows(out_, format_, node_columns(), {j}); });
  }

  std::optional<Failure> node_import() {
    const std::string c = "node import";
    if (auto f = operands(3, c)) return f;
    if (auto f = allow_only(args_, {}, c)) return f;
    const std::string path = args_.words[2];
    const auto text = read_file(path);
    if (!text) return Failure{"cannot read " + path, kUsage};
    std::size_t pos = 0;
    if (text->rfind("\xEF\xBB\xBF", 0) == 0) pos = 3;  // a BOM from spreadsheet exports
    std::size_t line = 1;
    const auto header = csv_record(*text, pos);
    std::map<std::string, std::size_t> col;
    for (std::size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
    for (const char* need : {"id", "area"}) {
      if (!col.count(need)) {
        return Failure{path + " line 1: header lacks '" + need +
                           "' (expected id,area,speakers,residents,name)",
                       kUsage};
      }
    }
    json nodes = json::array();
    std::vector<std::size_t> lines;
    while (pos < text->size()) {
      ++line;
      const auto rec = csv_record(*text, pos);
      if (rec.size() == 1 && rec[0].empty()) continue;
      if (rec.size() != header.size()) {
        return Failure{path + " line " + std::to_string(line) + ": " + std::to_string(rec.size()) +
                           " fields, the header has " + std::to_string(header.size()),
                       kUsage};
      }
      json n;
      for (const auto& [name, i] : col) {
        if (name == "id" || name == "area" || name == "name" || name == "public_key") {
          n[name] = rec[i];
        } else if ((name == "speakers" || name == "residents") && !rec[i].empty()) {
          n[name] = rec[i];
        }
      }
      nodes.push_back(std::move(n));
      lines.push_back(line);
    }
    if (nodes.empty()) return Failure{path + ": no rows after the header", kUsage};
    auto r = api_.post_json("/api/v1/nodes/import", json{{"nodes", nodes}});
    if (auto* f = std::get_if<Failure>(&r)) {
      // Name the file's line rather than the array index.
      if (f->message.rfind("nodes[", 0) == 0) {
        const auto close = f->message.find(']');
        const std::size_t i = std::stoul(f->message.substr(6, close - 6));
        if (i < lines.size()) {
          f->message = path + " line " + std::to_string(lines[i]) + f->message.substr(close + 1);
        }
      }
      return *f;
    }
    return show(std::move(r), [&](const json& j) {
      print_rows(out_, format_, {{"IMPORTED", "imported"}}, {j});
    });
  }

  std::optional<Failure> node_list() {
    const std::string c = "node list";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {}, c)) return f;
    return show(api_.get("/api/v1/nodes"), [&](const json& j) {
      print_rows(out_, format_, node_columns(), j.at("nodes").get<std::vector<json>>());
    });
  }

  std::optional<Failure> bulletin_create() {
    const std::string c = "bulletin create";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {"title", "audio", "text", "voice"}, c)) return f;
    if (auto f = require(args_, {"title"}, c)) return f;
    if (args_.has("audio") == args_.has("text")) {
      return Failure{"'bulletin create' needs exactly one of --audio FILE and --text FILE|STRING",
                     kUsage};
    }
    if (args_.has("voice") && !args_.has("text")) {
      return Failure{"--voice goes with --text", kUsage};
    }
    Outcome r;
    if (args_.has("audio")) {
      const std::string path = args_.get("audio");
      const auto bytes = read_file(path);
      if (!bytes) return Failure{"cannot read audio file " + path, kUsage};
      r = api_.post_bytes("/api/v1/bulletins?title=" + encode_query(args_.get("title")), *bytes,
                          "application/octet-stream");
    } else {
      std::string text = args_.get("text");
      std::error_code ec;
      if (std::filesystem::is_regular_file(text, ec)) {
        const auto content = read_file(text);
        if (!content) return Failure{"cannot read text file " + text, kUsage};
        text = *content;
      }
      r = api_.post_json(
          "/api/v1/bulletins",
          json{{"title", args_.get("title")}, {"text", text}, {"voice", args_.get("voice", "vi")}});
    }
    return show(std::move(r), [&](const json& j) { print_id(j); });
  }

  std::optional<Failure> bulletin_list() {
    const std::string c = "bulletin list";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {}, c)) return f;
    return show(api_.get("/api/v1/bulletins"), [&](const json& j) {
      print_rows(out_, format_,
                 {{"ID", "id"},
                  {"TITLE", "title"},
                  {"SOURCE", "source"},
                  {"SECONDS", "duration_s"},
                  {"CREATED", "created"}},
                 j.at("bulletins").get<std::vector<json>>());
    });
  }

  std::optional<Failure> schedule() {
    const std::string c = "schedule";
    if (auto f = operands(1, c)) return f;
    if (auto f = allow_only(
            args_, {"bulletin", "at", "tz", "target", "priority", "volume", "expiry"}, c)) {
      return f;
    }
    if (auto f = require(args_, {"bulletin", "at", "target"}, c)) return f;
    const std::string b = args_.get("bulletin");
    if (b.empty() || b.find_first_not_of("0123456789") != std::string::npos || b.size() > 18) {
      return Failure{"--bulletin '" + b + "' is not a bulletin id", kUsage};
    }
    json body{{"bulletin", std::stoll(b)},
              {"at", args_.get("at")},
              {"targets", args_.options.at("target")},
              {"priority", args_.get("priority", "normal")}};
    if (args_.has("tz")) body["tz"] = args_.get("tz");
    if (args_.has("expiry")) body["expiry"] = args_.get("expiry");
    if (args_.has("volume")) body["volume"] = args_.get("volume");
    return show(api_.post_json("/api/v1/occurrences", body), [&](const json& j) { print_id(j); });
  }

  std::optional<Failure> coverage() {
    const std::string c = "report coverage";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {"bulletin", "occurrence", "by"}, c)) return f;
    if (args_.has("bulletin") == args_.has("occurrence")) {
      return Failure{"'report coverage' needs exactly one of --bulletin ID and --occurrence ID",
                     kUsage};
    }
    std::string path = "/api/v1/coverage?";
    path += args_.has("bulletin") ? "bulletin=" + encode_query(args_.get("bulletin"))
                                  : "occurrence=" + encode_query(args_.get("occurrence"));
    if (args_.has("by")) {
      if (args_.get("by") != "area") return Failure{"--by takes 'area'", kUsage};
      path += "&by=area";
    }
    return show(api_.get(path), [&](const json& j) {
      std::vector<json> rows = j.at("rows").get<std::vector<json>>();
      json total = j;
      total["area"] = "total";
      rows.push_back(total);
      print_rows(out_, format_,
                 {{"AREA", "area"},
                  {"TARGETED", "targeted"},
                  {"CACHED", "cached"},
                  {"COMPLETED", "completed"},
                  {"PARTIAL", "partial"},
                  {"FAILED", "failed"},
                  {"PREEMPTED", "preempted"},
                  {"EXPIRED", "expired"},
                  {"CANCELLED", "cancelled"},
                  {"MISSED", "missed"},
                  {"PENDING", "pending"},
                  {"RESIDENTS_TARGETED", "residents_targeted"},
                  {"RESIDENTS_REACHED", "residents_reached"}},
                 rows);
    });
  }

  std::optional<Failure> log() {
    const std::string c = "log";
    if (auto f = operands(1, c)) return f;
    if (auto f =
            allow_only(args_, {"node", "area", "since", "bulletin", "occurrence", "limit"}, c)) {
      return f;
    }
    std::string path = "/api/v1/log";
    char sep = '?';
    for (const char* k : {"node", "area", "since", "bulletin", "occurrence", "limit"}) {
      if (args_.has(k)) {
        path += sep + std::string(k) + "=" + encode_query(args_.get(k));
        sep = '&';
      }
    }
    return show(api_.get(path), [&](const json& j) {
      print_rows(out_, format_,
                 {{"START", "start"},
                  {"NODE", "node"},
                  {"AREA", "area"},
                  {"OCCURRENCE", "occurrence"},
                  {"BULLETIN", "bulletin"},
                  {"OUTCOME", "outcome"},
                  {"PLAYED", "frames_played"},
                  {"CONCEALED", "frames_concealed"},
                  {"DROPPED", "frames_dropped"},
                  {"DETAIL", "detail"}},
                 j.at("events").get<std::vector<json>>());
    });
  }

  const Args& args_;
  Format format_;
  std::ostream& out_;
  Api api_;
};

}  // namespace

std::string loactl_usage() {
  return R"(loactl: command-line client of loa-controller's HTTP API

Usage: loactl [--controller http://HOST:PORT] [--format table|json|csv] COMMAND ...

Commands:
  node add --id ID --area 79/26734/03 [--speakers N] [--residents N] [--name TEXT]
           [--public-key HEX]
  node import FILE.csv            header: id,area,speakers,residents,name
  node list                       with online state and last seen
  bulletin create --title TEXT (--audio FILE | --text FILE|STRING [--voice vi])
                                  prints the bulletin id
  bulletin list
  schedule --bulletin ID --at 2026-12-01T06:30[:SS] [--tz ZONE] --target area:PATH
           [--target node:ID ...] [--priority normal|priority|emergency] [--volume 0-100]
           [--expiry 2026-12-01T07:00]
                                  prints the occurrence id
  report coverage (--bulletin ID | --occurrence ID) [--by area]
  log [--node ID] [--area PATH] [--since 2026-12-01[T06:00][Z]] [--bulletin ID]
      [--occurrence ID] [--limit N]

Options:
  --controller URL   the controller's API (default http://127.0.0.1:8080)
  --format FORMAT    table (default), json (the API's JSON) or csv
  -h, --help         this text

Exit status: 0 done, 1 refused by the controller, 2 bad usage or controller unreachable.
)";
}

int run_loactl(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  Args args;
  if (auto f = parse_args(argv, args)) {
    err << "loactl: " << f->message << '\n';
    return f->code;
  }
  if (args.help) {
    out << loactl_usage();
    return 0;
  }
  if (args.words.empty()) {
    err << "loactl: no command given (see loactl --help)\n";
    return kUsage;
  }
  Format format = Format::table;
  const std::string f = args.get("format", "table");
  if (f == "json") {
    format = Format::api_json;
  } else if (f == "csv") {
    format = Format::csv;
  } else if (f != "table") {
    err << "loactl: --format '" << f << "' is not one of table, json, csv\n";
    return kUsage;
  }
  const std::string url = args.get("controller", "http://127.0.0.1:8080");
  if (url.rfind("http://", 0) != 0) {
    err << "loactl: --controller '" << url << "' must start with http://\n";
    return kUsage;
  }
  Cli cli(args, format, out);
  if (auto failure = cli.run()) {
    err << "loactl: " << failure->message << '\n';
    return failure->code;
  }
  return 0;
}

}  // namespace loa::controller
