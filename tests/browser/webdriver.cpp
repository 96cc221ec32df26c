#include "webdriver.hpp"

#include <httplib.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include "mosquitto_broker.hpp"

namespace loa::test {
namespace {

using nlohmann::json;

constexpr const char* kElement = "element-6066-11e4-a52e-4f735466cecf";

std::string base64_decode(const std::string& in) {
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (const char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (v < 0) continue;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

}  // namespace

WebDriver::WebDriver(const std::string& chromedriver, const std::string& chromium,
                     const std::string& log_path) {
  port_ = free_loopback_port();
  driver_ = std::make_unique<Process>(
      std::vector<std::string>{chromedriver, "--port=" + std::to_string(port_),
                               "--allowed-ips=127.0.0.1"},
      log_path);
  for (int i = 0; i < 100; ++i) {
    httplib::Client c("127.0.0.1", port_);
    if (auto r = c.Get("/status"); r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const json caps = {
      {"capabilities",
       {{"alwaysMatch",
         {{"browserName", "chrome"},
          {"goog:chromeOptions",
           {{"binary", chromium},
            {"args",
             {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required",
              // A fake microphone (a beep) that needs no permission prompt.
              "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"}}}}}}}}};
  const json value = command("POST", "/session", caps);
  session_ = value.value("sessionId", "");
  if (session_.empty()) throw std::runtime_error("webdriver: no session id in " + value.dump());
}

WebDriver::~WebDriver() {
  if (!session_.empty()) {
    try {
      command("DELETE", "");
    } catch (const std::exception&) {
    }
  }
  driver_.reset();
}

json WebDriver::command(const std::string& method, const std::string& path, const json& body) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(60, 0);
  const std::string url = session_.empty() ? path : "/session/" + session_ + path;
  const std::string payload = body.is_null() ? "{}" : body.dump();
  httplib::Result r = method == "GET"      ? c.Get(url)
                      : method == "DELETE" ? c.Delete(url)
                                           : c.Post(url, payload, "application/json");
  if (!r) throw std::runtime_error("webdriver: " + method + " " + url + ": no answer");
  const json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("value")) {
    throw std::runtime_error("webdriver: " + method + " " + url + ": " + r->body);
  }
  if (r->status != 200) {
    const json& v = j["value"];
    throw std::runtime_error("webdriver: " + method + " " + url + ": " + v.value("error", "") +
                             ": " + v.value("message", "").substr(0, 400));
  }
  return j["value"];
}

void WebDriver::go(const std::string& url) {
  command("POST", "/url", {{"url", url}});
}

std::string WebDriver::find(const std::string& css) {
  const json v = command("POST", "/element", {{"using", "css selector"}, {"value", css}});
  if (!v.contains(kElement))
    throw std::runtime_error("webdriver: no element '" + css + "': " + v.dump());
  return v[kElement];
}

void WebDriver::click(const std::string& css) {
  command("POST", "/element/" + find(css) + "/click", json::object());
}

void WebDriver::type(const std::string& css, const std::string& text) {
  const std::string id = find(css);
  command("POST", "/element/" + id + "/clear", json::object());
  command("POST", "/element/" + id + "/value", {{"text", text}});
}

json WebDriver::script(const std::string& js, const json& args) {
  return command("POST", "/execute/sync", {{"script", js}, {"args", args}});
}

bool WebDriver::wait_for(const std::string& js_expression, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const json v = script("return !!(" + js_expression + ");");
    if (v.is_boolean() && v.get<bool>()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void WebDriver::screenshot(const std::string& path) {
  const std::string png = base64_decode(command("GET", "/screenshot").get<std::string>());
  std::ofstream(path, std::ios::binary) << png;
}

}  // namespace loa::test
