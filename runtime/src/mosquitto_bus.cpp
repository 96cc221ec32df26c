#include <mosquitto.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <thread>

#include "loa/runtime/bus.hpp"
#include "mosquitto_client.hpp"

namespace loa::runtime {

Result<BrokerAddress> parse_broker_url(const std::string& url) {
  BrokerAddress a;
  std::string_view rest = url;
  if (rest.starts_with("mqtt://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("mqtts://")) {
    rest.remove_prefix(8);
    a.tls = true;
    a.port = 8883;
  } else {
    return make_error("broker url '" + url + "': must start with mqtt:// or mqtts://");
  }
  const auto colon = rest.rfind(':');
  a.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    int p = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
      return make_error("broker url '" + url + "': port '" + std::string(port) +
                        "' is not a number from 1 to 65535");
    }
    a.port = p;
  }
  if (a.host.empty()) return make_error("broker url '" + url + "': host is empty");
  return a;
}

Status validate_bus_config(const BusConfig& c) {
  auto bad = [](const std::string& key, const std::string& why) {
    return Status(make_error("option '" + key + "': " + why));
  };
  auto addr = parse_broker_url(c.url);
  if (!addr) return bad("broker", addr.error().message);
  auto readable = [](const std::string& path) {
    std::ifstream in(path);
    return in.good();
  };
  const std::pair<const char*, const std::string*> files[] = {{"broker-ca-file", &c.ca_file},
                                                              {"broker-cert-file", &c.cert_file},
                                                              {"broker-key-file", &c.key_file}};
  for (const auto& [key, path] : files) {
    if (path->empty()) continue;
    if (!addr->tls) return bad(key, "set, but broker '" + c.url + "' is not mqtts://");
    if (!readable(*path)) return bad(key, "cannot read '" + *path + "'");
  }
  if (addr->tls && c.ca_file.empty()) {
    return bad("broker-ca-file",
               "required with an mqtts:// broker (the CA that signed its "
               "certificate)");
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    return bad(c.cert_file.empty() ? "broker-cert-file" : "broker-key-file",
               "the client certificate and its key go together");
  }
  if (c.tls_version != "tlsv1.2" && c.tls_version != "tlsv1.3") {
    return bad("broker-tls-version", "'" + c.tls_version + "' is not tlsv1.2 or tlsv1.3");
  }
  if (c.username.empty() && !c.password.empty()) {
    return bad("broker-password", "set without broker-username");
  }
  if (c.username.find(':') != std::string::npos) {
    return bad("broker-username", "must not contain ':'");
  }
  return {};
}

namespace {

// A client on libmosquitto's own loop, in a thread of its own.
class MosquittoBus final : public MosquittoClient {
 public:
  explicit MosquittoBus(BusConfig config) : MosquittoClient(std::move(config), ClientStyle{}) {}
  ~MosquittoBus() override { stop(0); }

  Status start() override {
    if (Status created = create(); !created) return created;
    mosquitto_reconnect_delay_set(handle(), std::max(1, config_.reconnect_min_ms / 1000),
                                  std::max(1, config_.reconnect_max_ms / 1000), true);
    thread_ = std::thread([this] { run(); });
    return {};
  }

  void stop(int drain_ms) override {
    if (!handle()) return;
    drain(drain_ms);
    mosquitto_disconnect(handle());
    if (thread_.joinable()) thread_.join();
    destroy();
  }

 private:
  // The network thread. libmosquitto's own loop gives up when the very first connection fails,
  // so the first connection (and any after a fatal loop exit) is retried here with backoff;
  // once connected, mosquitto_loop_forever reconnects by itself.
  void run() {
    while (!stopping()) {
      if (connect_once()) mosquitto_loop_forever(handle(), 1000, 1);
      wait_unless_stopping(next_backoff_ms());
    }
  }

  std::thread thread_;
};

}  // namespace

std::unique_ptr<Bus> make_mosquitto_bus(BusConfig config) {
  return std::make_unique<MosquittoBus>(std::move(config));
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  while (true) {
    const auto fslash = filter.find('/');
    const std::string_view fpart = filter.substr(0, fslash);
    if (fpart == "#") return true;
    const auto tslash = topic.find('/');
    const std::string_view tpart = topic.substr(0, tslash);
    if (fpart != "+" && fpart != tpart) return false;
    if (fslash == std::string_view::npos || tslash == std::string_view::npos) {
      // "a/#" also matches "a".
      if (fslash != std::string_view::npos && filter.substr(fslash + 1) == "#") return true;
      return fslash == std::string_view::npos && tslash == std::string_view::npos;
    }
    filter.remove_prefix(fslash + 1);
    topic.remove_prefix(tslash + 1);
  }
}

}  // namespace loa::runtime
