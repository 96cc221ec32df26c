// The operator's web console (issue 7): static HTML/CSS/JavaScript built into the binary from
// controller/console/ (see controller/CMakeLists.txt), served at / and /console/..., and the
// TTS preview endpoint it uses.
#pragma once

#include <span>
#include <string_view>

namespace httplib {
class Server;
}

namespace loa::controller {

class Controller;

// One file of controller/console/, as built in: its name ("app.js") and its bytes.
struct ConsoleAsset {
  std::string_view name;
  std::string_view bytes;
};

// Every console file (generated at build time).
std::span<const ConsoleAsset> console_assets();

// Serves GET / (index.html) and GET /console/NAME with their content types and
// "Cache-Control: no-cache", and POST /api/v1/tts/preview {"text", "voice"?} -> audio/ogg
// (speech synthesized as a bulletin would be, nothing stored). The API's access gate, when
// attached, authorizes the preview like any other /api/ route. `controller` must outlive the
// server.
void register_console(httplib::Server& server, const Controller& controller);

}  // namespace loa::controller
