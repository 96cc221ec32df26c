// A small W3C WebDriver client for browser tests: starts chromedriver on a free loopback port and
// a headless Chromium session, and drives it with the protocol's HTTP JSON commands.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "process.hpp"

namespace loa::test {

class WebDriver {
 public:
  // Starts `chromedriver` (log to `log_path`) and a headless session of the `chromium` binary
  // (1280x1000, --no-sandbox: tests may run as root). Throws std::runtime_error on failure.
  WebDriver(const std::string& chromedriver, const std::string& chromium,
            const std::string& log_path);
  ~WebDriver();  // ends the session and stops chromedriver
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  void go(const std::string& url);
  // The WebDriver id of the first element matching the CSS selector; throws if there is none.
  std::string find(const std::string& css);
  void click(const std::string& css);
  // Types `text` into the element (after clearing it).
  void type(const std::string& css, const std::string& text);
  // Runs `js` (a function body; arguments in `arguments`) in the page and returns its value.
  nlohmann::json script(const std::string& js,
                        const nlohmann::json& args = nlohmann::json::array());
  // Polls the JS expression every 200 ms until it is truthy or `timeout` passes.
  bool wait_for(const std::string& js_expression, std::chrono::milliseconds timeout);
  // Writes a PNG screenshot of the viewport to `path`.
  void screenshot(const std::string& path);

 private:
  // One command: `method` on /session/<id>`path` (or `path` itself before a session); returns
  // "value", throws with the driver's error message.
  nlohmann::json command(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr);

  std::unique_ptr<Process> driver_;
  int port_ = 0;
  std::string session_;
};

}  // namespace loa::test
