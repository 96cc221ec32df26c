#include "loa/controller/console.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "loa/controller/audio.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/json_codec.hpp"

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

void serve(httplib::Response& res, const ConsoleAsset& a) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  // Everything comes from the controller itself; TTS previews play from blob: URLs.
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; media-src 'self' blob:; img-src 'self' data:");
  res.set_content(std::string(a.bytes), content_type(a.name));
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = http_status(e.code);
  res.set_content(to_json(e).dump(2) + "\n", "application/json");
}

}  // namespace

void register_console(httplib::Server& server, const Controller& controller) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    if (const auto* a = find_asset("index.html")) serve(res, *a);
  });
  server.Get(
      R"(/console/([A-Za-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
        const auto* a = find_asset(req.matches[1].str());
        if (!a) {
          return send_error(res, api_error(ErrorCode::not_found,
                                           "console: no file '" + req.matches[1].str() + "'"));
        }
        serve(res, *a);
      });
  server.Post(
      "/api/v1/tts/preview", [&controller](const httplib::Request& req, httplib::Response& res) {
        const json body = json::parse(req.body, nullptr, false);
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
        if (!audio)
          return send_error(res, api_error(ErrorCode::unprocessable, audio.error().message));
        res.set_header("Cache-Control", "no-store");
        res.set_content(std::string(audio->ogg.begin(), audio->ogg.end()), "audio/ogg");
      });
}

}  // namespace loa::controller
