#include "loa/controller/cli.hpp"

#include "loa/controller/audio.hpp"
#include "loa/controller/capture.hpp"

#include <httplib.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <variant>

#include "loa/controller/provision.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/keys.hpp"

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
    } else if (a == "--dry-run" || a == "--refused" || a == "--stdin" || a == "--chime" ||
               a == "--no-chime") {  // options without a value
      args.options[a.substr(2)].push_back("true");
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
  allowed.insert({"controller", "format", "token-file"});
  for (const auto& [name, values] : args.options) {
    if (!allowed.count(name)) {
      return Failure{"'" + command + "' does not take --" + name + " (see loactl --help)", kUsage};
    }
    if (values.size() > 1 && name != "target" && name != "exclude") {
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
  // `token`: sent as "Authorization: Bearer" when not empty.
  Api(const std::string& url, const std::string& token) : url_(url), client_(url) {
    if (!token.empty()) client_.set_bearer_token_auth(token.c_str());
    client_.set_connection_timeout(5, 0);
    client_.set_read_timeout(600, 0);  // text-to-speech of a long text takes a while
    client_.set_write_timeout(600, 0);
  }

  // The JSON body of a 2xx response, or the failure to report.
  std::variant<json, Failure> get(const std::string& path) { return handle(client_.Get(path)); }
  std::variant<json, Failure> post_json(const std::string& path, const json& body) {
    return handle(client_.Post(path, body.dump(), "application/json"));
  }
  std::variant<json, Failure> patch_json(const std::string& path, const json& body) {
    return handle(client_.Patch(path, body.dump(), "application/json"));
  }
  std::variant<json, Failure> del(const std::string& path) { return handle(client_.Delete(path)); }
  // POSTs a chunked body: `next` fills the next block, false at the end.
  std::variant<json, Failure> post_stream(const std::string& path,
                                          const std::function<bool(std::string&)>& next) {
    return handle(client_.Post(
        path,
        [&](std::size_t, httplib::DataSink& sink) {
          std::string block;
          if (!next(block)) {
            sink.done();
            return true;
          }
          return sink.write(block.data(), block.size());
        },
        "application/octet-stream"));
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

// Set by SIGINT during loactl live: the stream ends cleanly on every node.
std::atomic<bool>& live_stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

// ---- commands ----

using Outcome = std::variant<json, Failure>;

class Cli {
 public:
  Cli(const Args& args, Format format, std::ostream& out, std::ostream& err)
      : args_(args),
        format_(format),
        out_(out),
        err_(err),
        api_(args.get("controller", "http://127.0.0.1:8080"),
             loactl_token(args.get("token-file"))) {}

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
    if (cmd == "live") return live();
    if (cmd == "cancel") return cancel();
    if (cmd == "area" && sub == "set") return area_set();
    if (cmd == "area" && sub == "list") return area_list();
    if (cmd == "approval" && sub == "list") return approval_list();
    if (cmd == "approval" && (sub == "approve" || sub == "reject")) return approval_decide(sub);
    if (cmd == "group" && (sub == "add" || sub == "remove")) return group_edit(sub);
    if (cmd == "group" && sub == "list") return group_list();
    if (cmd == "occurrence" && sub == "change") return occurrence_change();
    if (cmd == "occurrence" && sub == "show") return occurrence_show();
    if (cmd == "report" && sub == "coverage") return coverage();
    if (cmd == "report" && sub == "period") return report_period();
    if (cmd == "report" && sub == "verify") return report_verify();
    if (cmd == "node" && sub == "decommission") return node_decommission();
    if (cmd == "node" && sub == "provision") return node_provision();
    if (cmd == "node" && sub == "health") return node_health();
    if (cmd == "node" && sub == "history") return node_history();
    if (cmd == "node" &&
        (sub == "volume" || sub == "mute" || sub == "unmute" || sub == "test-tone" ||
         sub == "restart" || sub == "reload" || sub == "ping")) {
      return node_control(sub);
    }
    if (cmd == "log") return log();
    if (cmd == "cap") return cap(sub);
    if (cmd == "login" || cmd == "logout" || cmd == "whoami") return session(cmd);
    if (cmd == "user") return user(sub);
    if (cmd == "audit") return audit();
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

  // loactl live: streams PCM to POST /api/v1/live until the source ends or Ctrl-C.
  std::optional<Failure> live() {
    const std::string c = "live";
    if (auto f = operands(1, c)) return f;
    if (auto f = allow_only(args_,
                            {"target", "priority", "chime", "no-chime", "file", "stdin",
                             "pcm-format", "device", "seconds", "title"},
                            c)) {
      return f;
    }
    if (auto f = require(args_, {"target", "priority"}, c)) return f;
    const int sources =
        (args_.has("file") ? 1 : 0) + (args_.has("stdin") ? 1 : 0) + (args_.has("device") ? 1 : 0);
    if (sources != 1) return Failure{"live: give one of --file, --stdin or --device", kUsage};
    std::string format = args_.get("pcm-format", "s16le:48000:1");
    std::unique_ptr<Capture> capture;
    std::uint64_t capture_left = 0;  // samples still to capture with --seconds
    if (args_.has("device")) {
      if (args_.has("pcm-format")) return Failure{"live: --pcm-format goes with --stdin", kUsage};
      constexpr std::uint32_t kRate = 48000;
      if (args_.has("seconds")) {
        const std::string text = args_.get("seconds");
        char* end = nullptr;
        const double seconds = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(seconds > 0) || seconds > 86400) {
          return Failure{"live: --seconds '" + text + "' is not a number of seconds (0..86400]",
                         kUsage};
        }
        capture_left = static_cast<std::uint64_t>(seconds * kRate);
      }
      auto opened = open_capture(args_.get("device"), kRate);
      if (!opened) return Failure{"live: --device: " + opened.error().message};
      capture = std::move(*opened);
      format = "s16le:" + std::to_string(kRate) + ":1";
    } else if (args_.has("seconds")) {
      return Failure{"live: --seconds goes with --device", kUsage};
    }
    std::string pcm;  // a file, converted up front
    if (args_.has("file")) {
      if (args_.has("pcm-format")) {
        return Failure{"live: --pcm-format goes with --stdin", kUsage};
      }
      std::uint32_t rate = 0;
      auto mono = read_sound_file_mono(args_.get("file"), rate);
      if (!mono) return Failure{mono.error().message};
      pcm.resize(mono->size() * 2);
      for (std::size_t i = 0; i < mono->size(); ++i) {
        const float v = std::clamp((*mono)[i], -1.0f, 1.0f);
        const auto s = static_cast<std::uint16_t>(static_cast<std::int16_t>(v * 32767.0f));
        pcm[2 * i] = static_cast<char>(s & 0xff);
        pcm[2 * i + 1] = static_cast<char>(s >> 8);
      }
      format = "s16le:" + std::to_string(rate) + ":1";
    }
    std::string targets;
    for (const auto& t : args_.options.at("target")) targets += (targets.empty() ? "" : ",") + t;
    std::string path = "/api/v1/live?targets=" + encode_query(targets) +
                       "&priority=" + encode_query(args_.get("priority")) +
                       "&format=" + encode_query(format);
    if (args_.has("chime")) path += "&chime=1";
    if (args_.has("no-chime")) path += "&chime=0";
    if (args_.has("title")) path += "&title=" + encode_query(args_.get("title"));
    live_stop_requested().store(false);
    std::signal(SIGINT, [](int) { live_stop_requested().store(true); });
    std::size_t sent = 0;
    const bool from_stdin = args_.has("stdin");
    std::string capture_error;
    auto r = api_.post_stream(path, [&](std::string& block) {
      if (live_stop_requested().load()) return false;
      if (capture) {  // 100 ms at a time, until Ctrl-C or --seconds
        const bool limited = args_.has("seconds");
        if (limited && capture_left == 0) return false;
        const std::uint64_t frames = limited ? std::min<std::uint64_t>(4800, capture_left) : 4800;
        block.clear();
        if (auto s = capture->read(frames, block); !s.ok()) {
          capture_error = s.message();
          return false;
        }
        if (limited) capture_left -= frames;
        return true;
      }
      if (!from_stdin) {
        if (sent >= pcm.size()) return false;
        const std::size_t n = std::min<std::size_t>(9600, pcm.size() - sent);
        block.assign(pcm, sent, n);
        sent += n;
        return true;
      }
      char buf[4096];
      const ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) return false;
      block.assign(buf, static_cast<std::size_t>(n));
      return true;
    });
    std::signal(SIGINT, SIG_DFL);
    // The stream ended on every node either way; the operator learns why it ended early.
    if (!capture_error.empty()) err_ << "loactl: live: capture stopped: " << capture_error << "\n";
    if (capture && capture->overflows() > 0) {
      err_ << "loactl: live: the capture overflowed " << capture->overflows()
           << " times (audio was lost there)\n";
    }
    return show(std::move(r), [&](const json& j) {
      print_rows(out_, format_,
                 {{"BULLETIN", "bulletin_id"},
                  {"OCCURRENCE", "occurrence_id"},
                  {"SECONDS", "duration_s"},
                  {"CHUNKS", "chunks"},
                  {"ENDED BY", "ended_by"}},
                 {j});
    });
  }

  std::optional<Failure> schedule() {
    const std::string c = "schedule";
    if (auto f = operands(1, c)) return f;
    if (auto f = allow_only(args_,
                            {"bulletin", "at", "tz", "target", "priority", "volume", "expiry",
                             "rrule", "repeat-every", "until", "dry-run", "days", "exclude"},
                            c)) {
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
    if (args_.has("exclude")) {
      for (const auto& x : args_.options.at("exclude")) {
        body["targets"].push_back(x.rfind('-', 0) == 0 ? x : "-" + x);
      }
    }
    if (args_.has("rrule")) body["rrule"] = args_.get("rrule");
    if (args_.has("repeat-every")) body["repeat_every_min"] = args_.get("repeat-every");
    if (args_.has("until")) body["until"] = args_.get("until");
    if (args_.has("days")) {
      if (!args_.has("dry-run")) return Failure{"--days goes with --dry-run", kUsage};
      body["days"] = args_.get("days");
    }
    const bool dry = args_.has("dry-run");
    if (dry) body["dry_run"] = true;
    auto r = api_.post_json("/api/v1/occurrences", body);
    if (auto* j = std::get_if<json>(&r); j && format_ != Format::api_json) {
      for (const auto& w : j->value("warnings", json::array())) {
        err_ << "loactl: warning: " << w.get<std::string>() << '\n';
      }
    }
    return show(std::move(r), [&](const json& j) {
      if (dry) return print_timelines(j);
      if (!j.contains("occurrences")) return print_id(j);
      // A series: its id, then the occurrences planned so far.
      print_rows(out_, format_, {{"SERIES", "id"}}, {j.at("series")});
      print_rows(out_, format_, {{"OCCURRENCE", "id"}, {"START", "start_local"}},
                 j.at("occurrences").get<std::vector<json>>());
    });
  }

  void print_timelines(const json& j) {
    std::vector<json> rows;
    for (const auto& g : j.at("timelines")) {
      const std::string who = g.at("label").get<std::string>() + " (" +
                              std::to_string(g.at("nodes").size()) +
                              (g.at("nodes").size() == 1 ? " node)" : " nodes)");
      for (const auto& e : g.at("entries")) {
        json row = e;
        row["target"] = who;
        row["what"] = e.at("label").get<std::string>() + " bulletin " +
                      std::to_string(e.at("bulletin").get<std::uint64_t>());
        rows.push_back(std::move(row));
      }
    }
    print_rows(out_, format_,
               {{"TARGET", "target"},
                {"START", "start_local"},
                {"OCCURRENCE", "what"},
                {"PRIORITY", "priority"},
                {"FATE", "fate"},
                {"PLAYS", "plays"},
                {"BEHIND", "behind"}},
               rows);
    std::vector<json> conflicts;
    for (const auto& g : j.at("timelines")) {
      for (const auto& c : g.at("conflicts")) {
        conflicts.push_back(json{{"target", g.at("label")}, {"conflict", c}});
      }
    }
    if (format_ == Format::table) {
      out_ << '\n' << (conflicts.empty() ? "no conflicts\n" : "");
    }
    if (!conflicts.empty()) {
      print_rows(out_, format_, {{"TARGET", "target"}, {"CONFLICT", "conflict"}}, conflicts);
    }
  }

  // An id operand (the word after the command words), or a usage failure naming `what`.
  std::variant<std::string, Failure> id_operand(std::size_t index, const std::string& what) {
    if (args_.words.size() != index + 1) {
      return Failure{"give one " + what + " id (see loactl --help)", kUsage};
    }
    const std::string id = args_.words[index];
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos) {
      return Failure{what + " '" + id + "' is not an id", kUsage};
    }
    return id;
  }

  static const std::vector<Column>& occurrence_columns() {
    static const std::vector<Column> c = {{"ID", "id"},
                                          {"BULLETIN", "bulletin"},
                                          {"START", "start_local"},
                                          {"PRIORITY", "priority"},
                                          {"STATUS", "status"},
                                          {"SERIES", "series"},
                                          {"NODES", "residents_targeted"}};
    return c;
  }

  std::optional<Failure> cancel() {
    const std::string c = "cancel";
    if (auto f = allow_only(args_, {"series"}, c)) return f;
    if (args_.has("series")) {
      if (args_.words.size() != 1) return Failure{"give an occurrence id or --series ID", kUsage};
      const std::string id = args_.get("series");
      if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
        return Failure{"--series '" + id + "' is not a series id", kUsage};
      }
      return show(api_.post_json("/api/v1/series/" + id + "/cancel", json::object()),
                  [&](const json& j) {
                    print_rows(out_, format_, {{"SERIES", "id"}, {"STATUS", "status"}}, {j});
                    std::vector<json> ids;
                    for (const auto& o : j.at("cancelled_occurrences")) {
                      ids.push_back(json{{"id", o}});
                    }
                    print_rows(out_, format_, {{"CANCELLED OCCURRENCE", "id"}}, ids);
                  });
    }
    auto id = id_operand(1, "occurrence");
    if (auto* f = std::get_if<Failure>(&id)) return *f;
    return show(api_.post_json("/api/v1/occurrences/" + std::get<std::string>(id) + "/cancel",
                               json::object()),
                [&](const json& j) { print_rows(out_, format_, occurrence_columns(), {j}); });
  }

  std::optional<Failure> area_set() {
    const std::string c = "area set";
    if (auto f = operands(3, c)) return f;
    if (auto f = allow_only(args_, {"approval"}, c)) return f;
    if (auto f = require(args_, {"approval"}, c)) return f;
    return show(api_.post_json("/api/v1/areas/approval",
                               json{{"area", args_.words[2]}, {"approval", args_.get("approval")}}),
                [&](const json& j) {
                  print_rows(out_, format_, {{"AREA", "area"}, {"APPROVAL", "approval"}}, {j});
                });
  }

  std::optional<Failure> area_list() {
    const std::string c = "area list";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {}, c)) return f;
    return show(api_.get("/api/v1/areas/approval"), [&](const json& j) {
      std::vector<json> rows;
      for (const auto& a : j.at("required"))
        rows.push_back(json{{"area", a}, {"approval", "required"}});
      print_rows(out_, format_, {{"AREA", "area"}, {"APPROVAL", "approval"}}, rows);
    });
  }

  std::optional<Failure> approval_list() {
    const std::string c = "approval list";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {}, c)) return f;
    return show(api_.get("/api/v1/approvals"), [&](const json& j) {
      std::vector<json> rows;
      for (auto a : j.at("approvals")) {
        a["node_count"] = a.at("nodes").size();
        rows.push_back(std::move(a));
      }
      print_rows(out_, format_,
                 {{"OCCURRENCE", "occurrence"},
                  {"AREA", "area"},
                  {"START", "start_local"},
                  {"BULLETIN", "bulletin"},
                  {"NODES", "node_count"}},
                 rows);
    });
  }

  std::optional<Failure> approval_decide(const std::string& verb) {
    const std::string c = "approval " + verb;
    if (auto f = allow_only(args_, {"area"}, c)) return f;
    if (auto f = require(args_, {"area"}, c)) return f;
    auto id = id_operand(2, "occurrence");
    if (auto* f = std::get_if<Failure>(&id)) return *f;
    return show(api_.post_json("/api/v1/approvals/" + verb,
                               json{{"occurrence", std::stoull(std::get<std::string>(id))},
                                    {"area", args_.get("area")}}),
                [&](const json& j) { print_rows(out_, format_, occurrence_columns(), {j}); });
  }

  std::optional<Failure> group_edit(const std::string& verb) {
    const std::string c = "group " + verb;
    if (auto f = allow_only(args_, {}, c)) return f;
    if (args_.words.size() < 4) return Failure{"'" + c + "' takes NAME NODE...", kUsage};
    json ids = json::array();
    for (std::size_t i = 3; i < args_.words.size(); ++i) ids.push_back(args_.words[i]);
    return show(api_.post_json("/api/v1/groups/" + encode_query(args_.words[2]), json{{verb, ids}}),
                [&](const json& j) {
                  std::vector<json> rows;
                  for (const auto& n : j.at("nodes"))
                    rows.push_back(json{{"group", j.at("name")}, {"node", n}});
                  print_rows(out_, format_, {{"GROUP", "group"}, {"NODE", "node"}}, rows);
                });
  }

  std::optional<Failure> group_list() {
    const std::string c = "group list";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {}, c)) return f;
    return show(api_.get("/api/v1/groups"), [&](const json& j) {
      std::vector<json> rows;
      for (const auto& [name, nodes] : j.at("groups").items()) {
        for (const auto& n : nodes) rows.push_back(json{{"group", name}, {"node", n}});
      }
      print_rows(out_, format_, {{"GROUP", "group"}, {"NODE", "node"}}, rows);
    });
  }

  std::optional<Failure> occurrence_show() {
    const std::string c = "occurrence show";
    if (auto f = allow_only(args_, {}, c)) return f;
    auto id = id_operand(2, "occurrence");
    if (auto* f = std::get_if<Failure>(&id)) return *f;
    return show(api_.get("/api/v1/occurrences/" + std::get<std::string>(id)),
                [&](const json& j) { print_rows(out_, format_, occurrence_columns(), {j}); });
  }

  std::optional<Failure> occurrence_change() {
    const std::string c = "occurrence change";
    if (auto f = allow_only(
            args_, {"at", "tz", "target", "bulletin", "priority", "volume", "expiry"}, c)) {
      return f;
    }
    auto id = id_operand(2, "occurrence");
    if (auto* f = std::get_if<Failure>(&id)) return *f;
    json body = json::object();
    for (const char* k : {"at", "tz", "priority", "expiry", "volume"}) {
      if (args_.has(k)) body[k] = args_.get(k);
    }
    if (args_.has("bulletin")) body["bulletin"] = args_.get("bulletin");
    if (args_.has("target")) body["targets"] = args_.options.at("target");
    if (body.empty()) return Failure{"'occurrence change' needs something to change", kUsage};
    return show(api_.patch_json("/api/v1/occurrences/" + std::get<std::string>(id), body),
                [&](const json& j) { print_rows(out_, format_, occurrence_columns(), {j}); });
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
                  {"CANCELLED_UNHEARD", "cancelled_unheard"},
                  {"REJECTED", "approval_rejected"},
                  {"EXPIRED_UNAPPROVED", "expired_unapproved"},
                  {"RESIDENTS_TARGETED", "residents_targeted"},
                  {"RESIDENTS_REACHED", "residents_reached"}},
                 rows);
    });
  }

  // ---- ledger (issue 9) ----

  std::optional<Failure> node_decommission() {
    const std::string c = "node decommission";
    if (auto f = operands(3, c)) return f;
    if (auto f = allow_only(args_, {"password-file", "acl-file"}, c)) return f;
    if (auto f = revoke_broker(args_.words[2])) return f;
    return show(
        api_.post_json("/api/v1/nodes/" + encode_query(args_.words[2]) + "/decommission",
                       json::object()),
        [&](const json& j) {
          print_rows(out_, format_, {{"ID", "id"}, {"DECOMMISSIONED", "decommissioned"}}, {j});
        });
  }

  // ---- node health and remote control (issue 6) ----

  std::optional<Failure> node_health() {
    const std::string c = "node health";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {"offline-after"}, c)) return f;
    const std::string after = args_.get("offline-after", "300");
    if (after.empty() || after.size() > 9 ||
        after.find_first_not_of("0123456789") != std::string::npos || after == "0") {
      return Failure{"--offline-after takes a number of seconds above 0", kUsage};
    }
    return show(api_.get("/api/v1/health/nodes?offline_after_s=" + after), [&](const json& j) {
      std::vector<json> rows;
      for (const auto& n : j.at("nodes")) {
        json r{{"id", n.at("id")},
               {"area", n.at("area")},
               {"online", n.at("online")},
               {"last_seen", n.at("last_seen")}};
        const json& s = n.at("status");
        if (!s.is_null()) {
          r["clock_offset_ms"] = s.at("clock_offset_ms");
          r["cache"] = text_of(s.at("cache_bytes")) + "/" + text_of(s.at("cache_limit_bytes"));
          r["cpu_temp_c"] = s.at("cpu_temp_c");
          r["volume"] = text_of(s.at("volume")) + (s.at("muted").get<bool>() ? " muted" : "");
          r["output"] = s.at("output_ok").get<bool>() ? "ok" : "failed";
          const json& p = s.at("last_playback");
          if (!p.is_null()) {
            r["last_playback"] = text_of(p.at("occurrence")) + " " + text_of(p.at("outcome")) +
                                 " " + text_of(p.at("end"));
          }
          if (!s.at("site").get<std::string>().empty()) r["site"] = s.at("site");
        }
        rows.push_back(std::move(r));
      }
      print_rows(out_, format_,
                 {{"NODE", "id"},
                  {"AREA", "area"},
                  {"ONLINE", "online"},
                  {"LAST SEEN", "last_seen"},
                  {"CLOCK OFFSET MS", "clock_offset_ms"},
                  {"CACHE BYTES", "cache"},
                  {"CPU C", "cpu_temp_c"},
                  {"VOLUME", "volume"},
                  {"OUTPUT", "output"},
                  {"LAST PLAYBACK", "last_playback"},
                  {"SITE", "site"}},
                 rows);
      if (format_ == Format::csv) return;
      out_ << "\nOffline longer than " << text_of(j.at("offline_after_s")) << " s: ";
      std::string offline;
      for (const auto& id : j.at("offline")) offline += (offline.empty() ? "" : " ") + text_of(id);
      out_ << (offline.empty() ? "none" : offline) << "\n";
      out_ << "Silent when they should have played: " << (j.at("silent").empty() ? "none" : "")
           << "\n";
      if (!j.at("silent").empty()) {
        print_rows(out_, format_,
                   {{"NODE", "node"},
                    {"OCCURRENCE", "occurrence"},
                    {"BULLETIN", "bulletin"},
                    {"START", "start"},
                    {"DUE BY", "due_by"}},
                   j.at("silent").get<std::vector<json>>());
      }
    });
  }

  std::optional<Failure> node_history() {
    const std::string c = "node history";
    if (auto f = operands(3, c)) return f;
    if (auto f = allow_only(args_, {"limit"}, c)) return f;
    std::string path = "/api/v1/nodes/" + encode_query(args_.words[2]) + "/history";
    if (args_.has("limit")) path += "?limit=" + encode_query(args_.get("limit"));
    return show(api_.get(path), [&](const json& j) {
      std::vector<json> rows;
      for (const auto& s : j.at("statuses")) {
        json r = s;
        r["cache"] = text_of(s.at("cache_bytes")) + "/" + text_of(s.at("cache_limit_bytes"));
        rows.push_back(std::move(r));
      }
      print_rows(out_, format_,
                 {{"RECEIVED", "received"},
                  {"ONLINE", "online"},
                  {"UPTIME S", "uptime_s"},
                  {"PLAN", "plan_version"},
                  {"CLOCK OFFSET MS", "clock_offset_ms"},
                  {"CACHE BYTES", "cache"},
                  {"CPU C", "cpu_temp_c"},
                  {"VOLUME", "volume"},
                  {"OUTPUT OK", "output_ok"},
                  {"SITE", "site"}},
                 rows);
    });
  }

  // node volume N | mute | unmute | test-tone [MS] | restart | reload | ping, for --node ID
  // (repeatable as a list: --node a,b) or --area PATH.
  std::optional<Failure> node_control(const std::string& sub) {
    const std::string c = "node " + sub;
    const bool takes_value = sub == "volume" || sub == "test-tone";
    const std::size_t words = args_.words.size();
    if (words > 3 || (sub == "volume" && words != 3) || (!takes_value && words != 2)) {
      return Failure{"'" + c + "' takes " +
                         (sub == "volume"      ? std::string("one operand (0..100)")
                          : sub == "test-tone" ? std::string("at most one operand (ms)")
                                               : std::string("no operands")) +
                         " (see loactl --help)",
                     kUsage};
    }
    if (auto f = allow_only(args_, {"node", "area"}, c)) return f;
    if (args_.has("node") == args_.has("area")) {
      return Failure{"'" + c + "' needs exactly one of --node ID[,ID...] and --area PATH", kUsage};
    }
    json body{{"command", sub}};
    if (words == 3) {
      const std::string v = args_.words[2];
      if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
        return Failure{"'" + c + "': '" + v + "' is not a number", kUsage};
      }
      body["value"] = std::stoll(v);
    }
    if (args_.has("area")) {
      body["area"] = args_.get("area");
    } else {
      std::vector<std::string> ids;
      std::string list = args_.get("node");
      for (std::size_t at = 0; at <= list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        if (comma > at) ids.push_back(list.substr(at, comma - at));
        at = comma + 1;
      }
      body["nodes"] = ids;
    }
    return show(api_.post_json("/api/v1/control", body), [&](const json& j) {
      std::vector<json> rows;
      for (const auto& t : j.at("topics")) {
        rows.push_back(json{{"command", j.at("command")}, {"value", j.at("value")}, {"topic", t}});
      }
      print_rows(out_, format_, {{"SENT", "command"}, {"VALUE", "value"}, {"TOPIC", "topic"}},
                 rows);
    });
  }

  // ---- device provisioning (issue 6) ----

  // With --password-file and --acl-file: removes the node's broker credential and ACL block
  // first, so the device loses broker access even if the controller is unreachable.
  std::optional<Failure> revoke_broker(const std::string& id) {
    const bool passwd = args_.has("password-file");
    if (passwd != args_.has("acl-file")) {
      return Failure{"--password-file and --acl-file go together (broker revocation)", kUsage};
    }
    if (!passwd) return std::nullopt;
    auto user = remove_password_user(args_.get("password-file"), id);
    if (!user) return Failure{"broker password file " + user.error().message};
    auto acl = remove_node_acl(args_.get("acl-file"), id);
    if (!acl) return Failure{"broker ACL file " + acl.error().message};
    err_ << "loactl: broker credential of '" << id << "' " << (*user ? "removed" : "not found")
         << ", ACL block " << (*acl ? "removed" : "not found")
         << "; reload the broker (systemctl reload mosquitto)\n";
    return std::nullopt;
  }

  std::optional<Failure> node_provision() {
    const std::string c = "node provision";
    if (auto f = operands(3, c)) return f;
    if (auto f = allow_only(args_,
                            {"area", "out", "broker", "broker-ca", "tls-version", "residents",
                             "speakers", "name", "sink", "password-file", "acl-file"},
                            c)) {
      return f;
    }
    if (auto f = require(args_, {"area", "out", "broker", "password-file", "acl-file"}, c)) {
      return f;
    }
    BundleRequest req;
    req.node_id = args_.words[2];
    if (loa::Status s = protocol::validate_node_id(req.node_id); !s) {
      return Failure{"node id '" + req.node_id + "': " + s.message(), kUsage};
    }
    auto area = protocol::AreaPath::parse(args_.get("area"));
    if (!area) return Failure{"--area: " + area.error().message, kUsage};
    req.area = *area;
    req.out_dir = args_.get("out");
    req.broker_url = args_.get("broker");
    req.broker_ca_file = args_.get("broker-ca");
    req.broker_tls_version = args_.get("tls-version", "tlsv1.2");
    req.sink = args_.get("sink", "portaudio");
    runtime::BusConfig bus;
    bus.url = req.broker_url;
    bus.ca_file = req.broker_ca_file;
    bus.tls_version = req.broker_tls_version;
    bus.username = req.node_id;
    if (loa::Status s = runtime::validate_bus_config(bus); !s) {
      // Name this command's options rather than node.conf's keys.
      std::string m = s.message();
      for (const auto& [key, flag] : {std::pair{"'broker-ca-file'", "--broker-ca"},
                                      std::pair{"'broker-tls-version'", "--tls-version"},
                                      std::pair{"'broker'", "--broker"}}) {
        const std::string prefix = std::string("option ") + key;
        if (m.rfind(prefix, 0) == 0) m = flag + m.substr(prefix.size());
      }
      return Failure{m, kUsage};
    }

    // The controller's public key, from the controller itself.
    auto health = api_.get("/api/v1/health");
    if (auto* f = std::get_if<Failure>(&health)) return *f;
    auto key = runtime::from_hex(std::get<json>(health).value("public_key", std::string()), 32);
    if (!key) return Failure{"the controller's /api/v1/health has no valid public_key"};
    std::copy(key->begin(), key->end(), req.controller_key.begin());

    req.broker_password = random_broker_password();
    auto bundle = write_node_bundle(req);
    if (!bundle) return Failure{bundle.error().message};

    json body{{"id", req.node_id},
              {"area", req.area.str()},
              {"name", args_.get("name")},
              {"public_key", runtime::to_hex(bundle->node_public_key)}};
    for (const char* k : {"speakers", "residents"}) {
      if (args_.has(k)) body[k] = args_.get(k);
    }
    auto added = api_.post_json("/api/v1/nodes", body);
    if (auto* f = std::get_if<Failure>(&added)) {
      remove_bundle(*bundle);
      return Failure{"registration refused, no bundle written: " + f->message, f->code};
    }
    const std::string registered =
        " (the node is registered: fix the file and add the broker lines by hand, or "
        "decommission it)";
    if (loa::Status s =
            set_password_line(args_.get("password-file"), req.node_id,
                              mosquitto_password_line(req.node_id, req.broker_password));
        !s) {
      remove_bundle(*bundle);
      return Failure{"broker password file " + s.message() + registered};
    }
    if (loa::Status s =
            set_node_acl(args_.get("acl-file"), req.node_id, node_acl_block(req.node_id, req.area));
        !s) {
      remove_bundle(*bundle);
      return Failure{"broker ACL file " + s.message() + registered};
    }
    if (loa::Status s = make_bundle_archive(*bundle); !s) return Failure{s.message()};

    const json result{{"id", req.node_id},
                      {"area", req.area.str()},
                      {"public_key", runtime::to_hex(bundle->node_public_key)},
                      {"broker_user", req.node_id},
                      {"bundle", bundle->dir},
                      {"archive", bundle->archive}};
    if (format_ == Format::api_json) {
      out_ << result.dump(2) << '\n';
      return std::nullopt;
    }
    print_rows(
        out_, format_,
        {{"ID", "id"}, {"AREA", "area"}, {"BUNDLE", "archive"}, {"PUBLIC KEY", "public_key"}},
        {result});
    err_ << "loactl: reload the broker so the credential and ACL take effect "
            "(systemctl reload mosquitto)\n";
    return std::nullopt;
  }

  // The query string of a period: --from/--to, --month, --quarter, --year (and extra keys).
  std::string period_query(std::initializer_list<const char*> extra) const {
    std::string q;
    for (const char* k : {"from", "to", "month", "quarter", "year"}) {
      if (args_.has(k))
        q += (q.empty() ? "?" : "&") + std::string(k) + "=" + encode_query(args_.get(k));
    }
    for (const char* k : extra) {
      if (args_.has(k))
        q += (q.empty() ? "?" : "&") + std::string(k) + "=" + encode_query(args_.get(k));
    }
    return q;
  }

  std::optional<Failure> report_period() {
    const std::string c = "report period";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {"from", "to", "month", "quarter", "year", "area", "by"}, c)) {
      return f;
    }
    return show(api_.get("/api/v1/reports/period" + period_query({"area", "by"})),
                [&](const json& j) {
                  std::vector<json> rows;
                  for (const auto& r : j.at("rows")) rows.push_back(r);
                  json total = j.at("total");
                  total["label"] = "total";
                  rows.push_back(std::move(total));
                  for (auto& r : rows) {
                    r["completion_pct"] = r.at("completion_rate").get<double>() * 100.0;
                    char hours[32];  // a bulletin is minutes long: hours need three decimals
                    std::snprintf(hours, sizeof hours, "%.3f", r.at("hours_aired").get<double>());
                    r["hours_aired"] = hours;
                  }
                  if (format_ == Format::table) {
                    out_ << "period " << text_of(j.at("period").at("label")) << " ("
                         << text_of(j.at("period").at("from")) << " to "
                         << text_of(j.at("period").at("to")) << ")";
                    if (!j.at("area").is_null()) out_ << ", area " << text_of(j.at("area"));
                    out_ << '\n';
                  }
                  print_rows(out_, format_,
                             {{"ROW", "label"},
                              {"OCCURRENCES", "occurrences"},
                              {"TARGETED", "targeted"},
                              {"COMPLETED", "completed"},
                              {"PARTIAL", "partial"},
                              {"FAILED", "failed"},
                              {"PREEMPTED", "preempted"},
                              {"EXPIRED", "expired"},
                              {"CANCELLED", "cancelled"},
                              {"MISSED", "missed"},
                              {"PENDING", "pending"},
                              {"COMPLETION_%", "completion_pct"},
                              {"RESIDENTS_REACHED", "residents_reached"},
                              {"HOURS_AIRED", "hours_aired"}},
                             rows);
                });
  }

  std::optional<Failure> report_verify() {
    const std::string c = "report verify";
    if (auto f = operands(2, c)) return f;
    if (auto f = allow_only(args_, {"from", "to", "month", "quarter", "year"}, c)) return f;
    auto r = api_.get("/api/v1/reports/verify" + period_query({}));
    if (auto* f = std::get_if<Failure>(&r)) return *f;
    const json& j = std::get<json>(r);
    const auto& list = j.at("discrepancies");
    if (format_ == Format::api_json) {
      out_ << j.dump(2) << '\n';
    } else if (format_ == Format::csv) {
      std::vector<json> rows;
      for (const auto& d : list) rows.push_back(json{{"discrepancy", d}});
      print_rows(out_, format_, {{"DISCREPANCY", "discrepancy"}}, rows);
    } else if (list.empty()) {
      out_ << "verified (" << j.at("events_checked").get<std::size_t>() << " signed events, period "
           << text_of(j.at("period").at("label")) << ")\n";
    } else {
      for (const auto& d : list) out_ << d.get<std::string>() << '\n';
    }
    if (!list.empty()) {
      return Failure{std::to_string(list.size()) + " discrepancies: the ledger does not verify"};
    }
    return std::nullopt;
  }

  std::optional<Failure> log_refused() {
    const std::string c = "log --refused";
    if (auto f = allow_only(args_, {"refused", "node", "reason", "since", "limit"}, c)) return f;
    std::string path = "/api/v1/log/refused";
    char sep = '?';
    for (const char* k : {"node", "reason", "since", "limit"}) {
      if (args_.has(k)) {
        path += sep + std::string(k) + "=" + encode_query(args_.get(k));
        sep = '&';
      }
    }
    return show(api_.get(path), [&](const json& j) {
      print_rows(out_, format_,
                 {{"AT", "at"},
                  {"NODE", "node"},
                  {"OCCURRENCE", "occurrence"},
                  {"REASON", "reason"},
                  {"DETAIL", "detail"}},
                 j.at("refused").get<std::vector<json>>());
    });
  }

  std::optional<Failure> log() {
    const std::string c = "log";
    if (auto f = operands(1, c)) return f;
    if (args_.has("refused")) return log_refused();
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

  // Accounts (issue 7): sessions, users, the audit log.
  std::optional<Failure> session(const std::string& cmd) {
    if (auto f = allow_only(args_, {"password-file"}, cmd)) return f;
    const std::vector<Column> who = {{"NAME", "name"}, {"ROLE", "role"}, {"AREA", "area"}};
    if (cmd == "login") {
      if (auto f = operands(2, "login")) return f;
      auto password = password_input();
      if (!password) return Failure{"login: cannot read the password", kUsage};
      return show(
          api_.post_json("/api/v1/session",
                         json{{"name", args_.words[1]}, {"password", *password}, {"bearer", true}}),
          [&](const json& j) { out_ << j.value("token", "") << '\n'; });
    }
    if (auto f = operands(1, cmd)) return f;
    if (cmd == "logout") {
      return show(api_.del("/api/v1/session"), [&](const json&) {});
    }
    return show(api_.get("/api/v1/session"),
                [&](const json& j) { print_rows(out_, format_, who, {j.at("user")}); });
  }

  // The password of --password-file, else the first line of standard input.
  std::optional<std::string> password_input() {
    std::string text;
    if (args_.has("password-file")) {
      auto f = read_file(args_.get("password-file"));
      if (!f) return std::nullopt;
      text = *f;
    } else if (!std::getline(std::cin, text)) {
      return std::nullopt;
    }
    if (const auto nl = text.find_first_of("\r\n"); nl != std::string::npos) text.resize(nl);
    return text;
  }

  std::optional<Failure> user(const std::string& sub) {
    const std::vector<Column> columns = {{"NAME", "name"},
                                         {"ROLE", "role"},
                                         {"AREA", "area"},
                                         {"DISABLED", "disabled"},
                                         {"CREATED", "created"}};
    const auto one = [&](const json& j) { print_rows(out_, format_, columns, {j}); };
    const std::string c = "user " + sub;
    if (sub == "list") {
      if (auto f = operands(2, c)) return f;
      if (auto f = allow_only(args_, {}, c)) return f;
      return show(api_.get("/api/v1/users"), [&](const json& j) {
        print_rows(out_, format_, columns, j.at("users").get<std::vector<json>>());
      });
    }
    if (sub != "add" && sub != "change" && sub != "remove") {
      return Failure{"'user' takes list, add, change or remove (see loactl --help)", kUsage};
    }
    if (auto f = operands(3, c)) return f;
    const std::string path = "/api/v1/users/" + encode_query(args_.words[2]);
    if (sub == "remove") {
      if (auto f = allow_only(args_, {}, c)) return f;
      return show(api_.del(path), one);
    }
    if (auto f = allow_only(args_, {"role", "area", "password-file", "disabled"}, c)) return f;
    json body = json::object();
    if (args_.has("role")) body["role"] = args_.get("role");
    if (args_.has("area")) body["area"] = args_.get("area");
    if (args_.has("disabled")) body["disabled"] = args_.get("disabled") == "true";
    if (sub == "add" || args_.has("password-file")) {
      auto password = password_input();
      if (!password) return Failure{c + ": cannot read the password", kUsage};
      body["password"] = *password;
    }
    if (sub == "change") return show(api_.patch_json(path, body), one);
    if (auto f = require(args_, {"role"}, c)) return f;
    body["name"] = args_.words[2];
    return show(api_.post_json("/api/v1/users", body), one);
  }

  std::optional<Failure> audit() {
    if (auto f = operands(1, "audit")) return f;
    if (auto f = allow_only(args_, {"since", "actor", "limit"}, "audit")) return f;
    std::string path = "/api/v1/audit";
    char sep = '?';
    for (const char* k : {"since", "actor", "limit"}) {
      if (!args_.has(k)) continue;
      path += sep + std::string(k) + "=" + encode_query(args_.get(k));
      sep = '&';
    }
    return show(api_.get(path), [&](const json& j) {
      print_rows(out_, format_,
                 {{"ID", "id"},
                  {"AT", "at"},
                  {"ACTOR", "actor"},
                  {"REMOTE", "remote"},
                  {"ACTION", "action"},
                  {"TARGET", "target"},
                  {"OUTCOME", "outcome"}},
                 j.at("entries").get<std::vector<json>>());
    });
  }

  // CAP alerts (docs/cap.md): ingest, list, show, and the geocode table.
  std::optional<Failure> cap(const std::string& sub) {
    const std::vector<Column> alert_columns = {{"ID", "id"},           {"RECEIVED", "received"},
                                               {"SENDER", "sender"},   {"IDENTIFIER", "identifier"},
                                               {"STATUS", "status"},   {"TYPE", "msg_type"},
                                               {"EVENT", "event"},     {"LEVEL", "level"},
                                               {"OUTCOME", "outcome"}, {"REASON", "reason"}};
    if (sub == "ingest") {
      const std::string c = "cap ingest";
      if (auto f = operands(3, c)) return f;
      if (auto f = allow_only(args_, {}, c)) return f;
      const auto xml = read_file(args_.words[2]);
      if (!xml) return Failure{"cannot read " + args_.words[2], kUsage};
      auto r = api_.post_bytes("/api/v1/cap", *xml, "application/xml");
      if (auto* j = std::get_if<json>(&r); j && format_ != Format::api_json) {
        for (const auto& w : j->value("warnings", json::array())) {
          err_ << "loactl: warning: " << w.get<std::string>() << '\n';
        }
      }
      return show(std::move(r), [&](const json& j) {
        json row = j;
        if (j.value("duplicate", false)) row["outcome"] = "duplicate of " + text_of(j.at("id"));
        print_rows(out_, format_,
                   {{"ID", "id"},
                    {"STATUS", "status"},
                    {"TYPE", "msg_type"},
                    {"LEVEL", "level"},
                    {"OUTCOME", "outcome"},
                    {"SERIES", "series"},
                    {"REASON", "reason"}},
                   {row});
      });
    }
    if (sub == "list") {
      const std::string c = "cap list";
      if (auto f = operands(2, c)) return f;
      if (auto f = allow_only(args_, {"limit"}, c)) return f;
      std::string path = "/api/v1/cap";
      if (args_.has("limit")) path += "?limit=" + encode_query(args_.get("limit"));
      return show(api_.get(path), [&](const json& j) {
        print_rows(out_, format_, alert_columns, j.at("alerts").get<std::vector<json>>());
      });
    }
    if (sub == "show") {
      auto id = id_operand(2, "CAP alert");
      if (auto* f = std::get_if<Failure>(&id)) return *f;
      if (auto f = allow_only(args_, {}, "cap show")) return f;
      return show(api_.get("/api/v1/cap/" + std::get<std::string>(id)), [&](const json& j) {
        std::vector<json> rows;
        for (const auto& [k, v] : j.items()) {
          if (k != "xml") rows.push_back(json{{"field", k}, {"value", text_of(v)}});
        }
        print_rows(out_, format_, {{"FIELD", "field"}, {"VALUE", "value"}}, rows);
      });
    }
    if (sub == "geocode") {
      const std::string verb = args_.words.size() > 2 ? args_.words[2] : "";
      const std::string c = "cap geocode " + verb;
      if (auto f = allow_only(args_, {}, c)) return f;
      const std::vector<Column> columns = {
          {"VALUENAME", "value_name"}, {"VALUE", "value"}, {"AREA", "area"}};
      if (verb == "set") {
        if (args_.words.size() != 6) {
          return Failure{"'cap geocode set' takes VALUENAME VALUE AREA_PATH", kUsage};
        }
        return show(api_.post_json("/api/v1/cap/geocodes", json{{"value_name", args_.words[3]},
                                                                {"value", args_.words[4]},
                                                                {"area", args_.words[5]}}),
                    [&](const json& j) { print_rows(out_, format_, columns, {j}); });
      }
      if (verb == "remove") {
        if (args_.words.size() != 5) {
          return Failure{"'cap geocode remove' takes VALUENAME VALUE", kUsage};
        }
        return show(api_.del("/api/v1/cap/geocodes/" + encode_query(args_.words[3]) + "/" +
                             encode_query(args_.words[4])),
                    [&](const json& j) { print_rows(out_, format_, columns, {j}); });
      }
      if (verb == "list") {
        if (auto f = operands(3, c)) return f;
        return show(api_.get("/api/v1/cap/geocodes"), [&](const json& j) {
          print_rows(out_, format_, columns, j.at("geocodes").get<std::vector<json>>());
        });
      }
      return Failure{"'cap geocode' takes set, remove or list (see loactl --help)", kUsage};
    }
    return Failure{"'cap' takes ingest, list, show or geocode (see loactl --help)", kUsage};
  }

  const Args& args_;
  Format format_;
  std::ostream& out_;
  std::ostream& err_;
  Api api_;
};

}  // namespace

std::string loactl_token(const std::string& token_file) {
  if (const char* t = std::getenv("LOA_TOKEN"); t && *t) return t;
  std::vector<std::string> files;
  if (!token_file.empty()) {
    files.push_back(token_file);
  } else if (const char* f = std::getenv("LOA_TOKEN_FILE"); f && *f) {
    files.push_back(f);
  } else {
    files = {"loa-controller.db.token", "/var/lib/loa-controller/loa-controller.db.token"};
  }
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string token;
    if (in && std::getline(in, token) && !token.empty()) return token;
  }
  return {};
}

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
           [--expiry 2026-12-01T07:00] [--rrule 'FREQ=DAILY;BYHOUR=6,17;BYMINUTE=30']
           [--repeat-every MIN [--until 2026-12-01T09:00]] [--dry-run [--days 7]]
                                  prints the occurrence id (a series: its id and occurrences);
                                  conflicts found are warnings on stderr. --dry-run stores
                                  nothing and prints each target's timeline and conflicts
  schedule targets: area:PATH, node:ID, group:NAME; --exclude area:PATH|node:ID|group:NAME
           (or a target with a leading '-') leaves those nodes out
  cancel OCCURRENCE | cancel --series ID
  live --target T ... --priority priority|emergency [--chime|--no-chime] [--title TEXT]
       (--file F | --stdin [--pcm-format s16le:RATE:CH] | --device NAME|default [--seconds S])
                                  breaks in live until the source ends or Ctrl-C; --device
                                  captures from a microphone (PortAudio); archived as a bulletin
  area set PATH --approval required|none
                                  occurrences pushed from above PATH wait for its approval
  area list
  approval list | approval approve OCCURRENCE --area PATH | approval reject OCCURRENCE --area PATH
  group add NAME NODE... | group remove NAME NODE... | group list
  occurrence show OCCURRENCE
  occurrence change OCCURRENCE [--at TIME] [--tz ZONE] [--target T ...] [--bulletin ID]
                    [--priority P] [--volume N] [--expiry TIME]
  report coverage (--bulletin ID | --occurrence ID) [--by area]
  report period (--from DATE --to DATE | --month 2026-11 | --quarter 2026-Q4 | --year 2026)
                [--area PATH] [--by area|day|bulletin]
                                  in the deployment's zone; definitions: docs/reports.md
  report verify [--from DATE --to DATE | --month .. | --quarter .. | --year ..]
                                  re-checks every stored signature and total; exit 1 if not
  node decommission ID [--password-file FILE --acl-file FILE]
                                  keeps its history, refuses its events from now on; with the
                                  broker files, first removes its credential and ACL block
  node provision ID --area PATH --broker mqtts://HOST:8883 [--broker-ca CA.pem]
           --password-file FILE --acl-file FILE --out DIR [--speakers N] [--residents N]
           [--name TEXT] [--sink portaudio] [--tls-version tlsv1.2|tlsv1.3]
                                  new key pair, broker credential and ACL block, node.conf;
                                  registers the node; writes DIR/ID/ and DIR/ID.tar.gz
  node health [--offline-after S]
                                  every node's last status (clock offset, cache, temperature,
                                  last playback, site script), nodes offline longer than S
                                  (default 300) and nodes silent when they should have played
  node history ID [--limit N]     the node's stored statuses, newest first
  node volume 0-100 | node mute | node unmute | node test-tone [MS] | node restart |
  node reload | node ping          (--node ID[,ID...] | --area PATH): a signed Control
  log --refused [--node ID] [--reason REASON] [--since ..] [--limit N]
  log [--node ID] [--area PATH] [--since 2026-12-01[T06:00][Z]] [--bulletin ID]
      [--occurrence ID] [--limit N]

  cap ingest FILE.xml             an OASIS CAP 1.2 message: Actual alerts are scheduled in the
                                  areas their geocodes map to; Test/Exercise are only logged
  cap list [--limit N] | cap show ID
                                  every CAP message received, with what was done or why refused
  cap geocode set VALUENAME VALUE AREA_PATH | cap geocode remove VALUENAME VALUE |
  cap geocode list                the table from CAP geocodes to area paths (docs/cap.md)

  login NAME [--password-file F]  password from F or standard input; prints a bearer token
                                  for LOA_TOKEN (valid 12 h)
  logout | whoami
  user list | user remove NAME
  user add NAME --role administrator|province_operator|commune_operator|viewer [--area PATH]
           [--password-file F]    password from F or standard input
  user change NAME [--role R] [--area PATH] [--password-file F] [--disabled true|false]
  audit [--since T] [--actor NAME] [--limit N]
                                  who changed what, when, from where, and the outcome

Options:
  --controller URL   the controller's API (default http://127.0.0.1:8080)
  --format FORMAT    table (default), json (the API's JSON) or csv
  --token-file FILE  the bearer token to send: LOA_TOKEN, else the first line of FILE (or of
                     LOA_TOKEN_FILE, else loa-controller.db.token here or in
                     /var/lib/loa-controller: the local administrator token the controller
                     writes at start, readable only by its user)
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
  Cli cli(args, format, out, err);
  if (auto failure = cli.run()) {
    err << "loactl: " << failure->message << '\n';
    return failure->code;
  }
  return 0;
}

}  // namespace loa::controller
