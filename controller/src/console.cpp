#include "loa/controller/console.hpp"

#include <sodium.h>
#include "loa/http/server.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "loa/controller/audio.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/json_body.hpp"
#include "loa/controller/json_codec.hpp"
#include "loa/controller/local_time.hpp"

namespace loa::controller {
namespace {

using nlohmann::json;

std::string content_type(std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot);
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  return "application/octet-stream";
}

const ConsoleAsset* find_asset(std::string_view name) {
  for (const auto& a : console_assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

void serve(http::Response& res, const ConsoleAsset& a) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  // Everything comes from the controller itself; TTS previews play from blob: URLs.
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; media-src 'self' blob:; img-src 'self' data:");
  res.set_content(std::string(a.bytes), content_type(a.name));
}

void send_error(http::Response& res, const ApiError& e) {
  res.status = http_status(e.code);
  res.set_content(to_json(e).dump(2) + "\n", "application/json");
}

void send_json(http::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

// Live broadcasts in segments (the browser's microphone: a browser cannot stream one chunked
// request body). A session ends with .../end, or when no segment came for kIdle.
class LiveSegments {
 public:
  static constexpr auto kIdle = std::chrono::seconds(10);

  struct Entry {
    std::mutex mutex;  // one segment at a time
    std::unique_ptr<LiveSession> session;
    std::vector<std::string> targets;  // as started: who may feed or end it is judged on them
    std::chrono::steady_clock::time_point last;
    bool ended = false;
  };

  std::string add(std::unique_ptr<LiveSession> session, std::vector<std::string> targets) {
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    std::string id;
    for (const unsigned char c : raw)
      id += "0123456789abcdef"[c >> 4], id += "0123456789abcdef"[c & 15];
    auto e = std::make_shared<Entry>();
    e->session = std::move(session);
    e->targets = std::move(targets);
    e->last = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    entries_[id] = e;
    return id;
  }

  std::shared_ptr<Entry> find(const std::string& id) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : it->second;
  }

  void remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    entries_.erase(id);
  }

  // Ends the sessions that have been idle too long.
  void reap() {
    std::vector<std::shared_ptr<Entry>> idle;
    {
      std::lock_guard lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (now - it->second->last > kIdle) {
          idle.push_back(it->second);
          it = entries_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& e : idle) {
      std::lock_guard lock(e->mutex);
      if (!e->ended) e->session->finish("no segment for 10 s");
      e->ended = true;
    }
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

json summary_json(const LiveSummary& s) {
  return json{{"bulletin_id", s.bulletin_id},
              {"occurrence_id", s.occurrence_id},
              {"start", format_utc(s.start_us)},
              {"end", format_utc(s.end_us)},
              {"duration_s", s.duration_s},
              {"chunks", s.chunks},
              {"packets", s.packets},
              {"ended_by", s.ended_by},
              {"archived", s.archive_error.empty()},
              {"archive_error", s.archive_error}};
}

void register_live(http::Server& server, Controller& controller, TargetCheck check) {
  auto live = std::make_shared<LiveSegments>();
  server.Post("/api/v1/live/sessions", [&controller, check, live](const http::Request& req,
                                                                  http::Response& res) {
    live->reap();
    auto parsed = parse_json_body(req.body);
    if (!parsed) return send_error(res, parsed.error());
    const json body = std::move(*parsed);
    if (body.is_discarded() || !body.is_object()) {
      return send_error(res, api_error(ErrorCode::bad_request, "body: not a JSON object"));
    }
    LiveRequest r;
    try {
      r.targets = body.at("targets").get<std::vector<std::string>>();
      r.priority = body.value("priority", std::string("priority"));
      if (body.contains("chime")) r.chime = body["chime"].get<bool>();
      r.title = body.value("title", std::string());
      r.rate = body.value("rate", 48000u);
    } catch (const json::exception&) {
      return send_error(res, api_error(ErrorCode::bad_request,
                                       "body: needs targets (strings); priority, title (string), "
                                       "chime (boolean) and rate (number) are optional"));
    }
    if (r.rate < 8000 || r.rate > 192000) {
      return send_error(res, api_error(ErrorCode::bad_request,
                                       "rate: " + std::to_string(r.rate) + " is not 8000..192000"));
    }
    if (check) {
      if (auto denied = check(r.targets)) return send_error(res, *denied);
    }
    auto session = controller.start_live(r);
    if (!session) return send_error(res, session.error());
    const std::string id = live->add(std::move(*session), r.targets);
    send_json(res, 201, json{{"id", id}});
  });
  server.Post(
      R"(/api/v1/live/sessions/([0-9a-f]+)/pcm)",
      [check, live](const http::Request& req, http::Response& res) {
        live->reap();
        auto e = live->find(req.matches[1].str());
        if (!e) {
          return send_error(
              res, api_error(ErrorCode::not_found,
                             "live session " + req.matches[1].str() + ": unknown or ended"));
        }
        if (check) {
          if (auto denied = check(e->targets)) return send_error(res, *denied);
        }
        std::lock_guard lock(e->mutex);
        if (e->ended) {
          return send_error(res, api_error(ErrorCode::conflict, "live session ended"));
        }
        e->last = std::chrono::steady_clock::now();
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(req.body.data());
        if (loa::Status s = e->session->push_s16le(protocol::ByteView(bytes, req.body.size()));
            !s) {
          e->ended = true;
          live->remove(req.matches[1].str());
          const LiveSummary summary = e->session->finish("encoder: " + s.message());
          return send_error(
              res, api_error(ErrorCode::unprocessable, "live session: " + summary.ended_by));
        }
        send_json(res, 200, json{{"bytes", req.body.size()}});
      },
      http::Body::large);
  server.Post(R"(/api/v1/live/sessions/([0-9a-f]+)/end)",
              [check, live](const http::Request& req, http::Response& res) {
                auto e = live->find(req.matches[1].str());
                if (!e) {
                  return send_error(
                      res, api_error(ErrorCode::not_found, "live session " + req.matches[1].str() +
                                                               ": unknown or ended"));
                }
                if (check) {
                  if (auto denied = check(e->targets)) return send_error(res, *denied);
                }
                live->remove(req.matches[1].str());
                std::lock_guard lock(e->mutex);
                if (e->ended) {
                  return send_error(res, api_error(ErrorCode::conflict, "live session ended"));
                }
                e->ended = true;
                send_json(res, 200, summary_json(e->session->finish("end of source")));
              });
}

}  // namespace

void register_console(http::Server& server, Controller& controller, TargetCheck check) {
  register_live(server, controller, std::move(check));
  server.Get("/", [](const http::Request&, http::Response& res) {
    if (const auto* a = find_asset("index.html")) serve(res, *a);
  });
  server.Get(R"(/console/([A-Za-z0-9_.-]+))", [](const http::Request& req, http::Response& res) {
    const auto* a = find_asset(req.matches[1].str());
    if (!a) {
      return send_error(
          res, api_error(ErrorCode::not_found, "console: no file '" + req.matches[1].str() + "'"));
    }
    serve(res, *a);
  });
  server.Post("/api/v1/tts/preview", [&controller](const http::Request& req, http::Response& res) {
    auto parsed = parse_json_body(req.body);
    if (!parsed) return send_error(res, parsed.error());
    const json body = std::move(*parsed);
    if (body.is_discarded() || !body.is_object()) {
      return send_error(res, api_error(ErrorCode::bad_request, "body: not a JSON object"));
    }
    if (!body.contains("text") || !body["text"].is_string() ||
        body["text"].get<std::string>().empty()) {
      return send_error(res, api_error(ErrorCode::bad_request, "text: missing or empty"));
    }
    const std::string text = body["text"];
    if (text.size() > 20000) {
      return send_error(
          res, api_error(ErrorCode::bad_request,
                         "text: " + std::to_string(text.size()) + " bytes, at most 20000"));
    }
    if (body.contains("voice") && !body["voice"].is_string()) {
      return send_error(res, api_error(ErrorCode::bad_request, "voice: not a string"));
    }
    const std::string voice = body.value("voice", std::string("vi"));
    auto audio =
        synthesize_speech(text, voice.empty() ? "vi" : voice, controller.settings().encode);
    if (!audio) return send_error(res, api_error(ErrorCode::unprocessable, audio.error().message));
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string(audio->ogg.begin(), audio->ogg.end()), "audio/ogg");
  });
}

}  // namespace loa::controller
