// The operator's web console (issue 7): static HTML/CSS/JavaScript built into the binary from
// controller/console/ (see controller/CMakeLists.txt), served at / and /console/..., and the
// TTS preview endpoint it uses.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "loa/controller/api_error.hpp"

namespace loa::http {
class Server;
}

namespace loa::controller {

class Controller;

// Whether the caller may target these (nullopt: yes; else the error to answer).
using TargetCheck = std::function<std::optional<ApiError>(const std::vector<std::string>& targets)>;

// One file of controller/console/, as built in: its name ("app.js") and its bytes.
struct ConsoleAsset {
  std::string_view name;
  std::string_view bytes;
};

// Every console file (generated at build time).
std::span<const ConsoleAsset> console_assets();

// Serves GET / (index.html) and GET /console/NAME with their content types and
// "Cache-Control: no-cache"; POST /api/v1/tts/preview {"text", "voice"?} -> audio/ogg (speech
// synthesized as a bulletin would be, nothing stored); and live broadcasts in segments (the
// browser's microphone): POST /api/v1/live/sessions {"targets", "priority"?, "chime"?, "title"?,
// "rate"?} -> 201 {"id"}, POST /api/v1/live/sessions/ID/pcm (s16le mono at `rate`), POST
// /api/v1/live/sessions/ID/end -> the summary; a session idle for 10 s is ended. The API's
// access gate, when attached, authorizes these like any other /api/ route; `check` (empty: none)
// judges a live session's targets against the caller's area when it is started, fed and ended.
// `controller` must outlive the server.
void register_console(http::Server& server, Controller& controller, TargetCheck check);

}  // namespace loa::controller
