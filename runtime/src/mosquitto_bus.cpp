#include <mosquitto.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "loa/runtime/bus.hpp"
#include "loa/runtime/log.hpp"

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

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

class MosquittoBus final : public Bus {
 public:
  explicit MosquittoBus(BusConfig config) : config_(std::move(config)) {}
  ~MosquittoBus() override { stop(0); }

  void on_message(MessageHandler handler) override { message_handler_ = std::move(handler); }
  void on_connection(ConnectHandler handler) override { connect_handler_ = std::move(handler); }

  Status start() override {
    init_library();
    auto addr = parse_broker_url(config_.url);
    if (!addr) return addr.error();
    mosq_ =
        mosquitto_new(config_.client_id.empty() ? nullptr : config_.client_id.c_str(), true, this);
    if (!mosq_) return make_error("mqtt: cannot create client '" + config_.client_id + "'");
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_reconnect_delay_set(mosq_, std::max(1, config_.reconnect_min_ms / 1000),
                                  std::max(1, config_.reconnect_max_ms / 1000), true);
    if (!config_.username.empty()) {
      mosquitto_username_pw_set(mosq_, config_.username.c_str(),
                                config_.password.empty() ? nullptr : config_.password.c_str());
    }
    if (addr->tls || !config_.ca_file.empty()) {
      int rc =
          mosquitto_tls_set(mosq_, config_.ca_file.c_str(), nullptr,
                            config_.cert_file.empty() ? nullptr : config_.cert_file.c_str(),
                            config_.key_file.empty() ? nullptr : config_.key_file.c_str(), nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        return make_error(std::string("mqtt: TLS setup: ") + mosquitto_strerror(rc));
      }
      // Peer verification on (1); the broker's host name is checked against its certificate.
      rc = mosquitto_tls_opts_set(
          mosq_, 1, config_.tls_version.empty() ? nullptr : config_.tls_version.c_str(), nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        return make_error("mqtt: TLS version '" + config_.tls_version +
                          "': " + mosquitto_strerror(rc));
      }
    }
    if (!config_.will_topic.empty()) {
      mosquitto_will_set(mosq_, config_.will_topic.c_str(),
                         static_cast<int>(config_.will_payload.size()), config_.will_payload.data(),
                         1, config_.will_retain);
    }
    mosquitto_connect_callback_set(mosq_, &MosquittoBus::on_connect_cb);
    mosquitto_disconnect_callback_set(mosq_, &MosquittoBus::on_disconnect_cb);
    mosquitto_message_callback_set(mosq_, &MosquittoBus::on_message_cb);
    mosquitto_publish_callback_set(mosq_, &MosquittoBus::on_publish_cb);

    host_ = addr->host;
    port_ = addr->port;
    mosquitto_threaded_set(mosq_, true);
    thread_ = std::thread([this] { run(); });
    return {};
  }

  void stop(int drain_ms) override {
    if (!mosq_) return;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(drain_ms),
                   [&] { return in_flight_.empty() || !connected_; });
      stopping_ = true;
    }
    cv_.notify_all();
    mosquitto_disconnect(mosq_);
    if (thread_.joinable()) thread_.join();
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
  }

  Status subscribe(const std::string& filter) override {
    std::lock_guard lock(mu_);
    filters_.insert(filter);
    if (connected_) {
      const int rc = mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 1);
      if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        return make_error("mqtt: subscribe '" + filter + "': " + mosquitto_strerror(rc));
      }
    }
    return {};
  }

  Status unsubscribe(const std::string& filter) override {
    std::lock_guard lock(mu_);
    filters_.erase(filter);
    if (connected_) mosquitto_unsubscribe(mosq_, nullptr, filter.c_str());
    return {};
  }

  Status publish(const std::string& topic, ByteView payload, bool retain) override {
    if (!mosq_) return make_error("mqtt: publish '" + topic + "': bus not started");
    std::lock_guard lock(mu_);
    int mid = 0;
    const int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                     payload.data(), 1, retain);
    // NO_CONN: libmosquitto keeps QoS 1 messages queued and sends them on reconnect.
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
      return make_error("mqtt: publish '" + topic + "': " + mosquitto_strerror(rc));
    }
    in_flight_.insert(mid);
    return {};
  }

  Status publish_best_effort(const std::string& topic, ByteView payload) override {
    if (!mosq_) return make_error("mqtt: publish '" + topic + "': bus not started");
    std::lock_guard lock(mu_);
    const int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(),
                                     static_cast<int>(payload.size()), payload.data(), 0, false);
    if (rc != MOSQ_ERR_SUCCESS) {
      return make_error("mqtt: publish '" + topic + "': " + mosquitto_strerror(rc));
    }
    return {};
  }

  bool connected() const override {
    std::lock_guard lock(mu_);
    return connected_;
  }

 private:
  // The network thread. libmosquitto's own loop gives up when the very first connection fails,
  // so the first connection (and any after a fatal loop exit) is retried here with backoff;
  // once connected, mosquitto_loop_forever reconnects by itself.
  void run() {
    int delay_ms = config_.reconnect_min_ms;
    bool first = true;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      const int rc = first ? mosquitto_connect(mosq_, host_.c_str(), port_, config_.keepalive_s)
                           : mosquitto_reconnect(mosq_);
      if (rc == MOSQ_ERR_SUCCESS) {
        first = false;
        delay_ms = config_.reconnect_min_ms;
        mosquitto_loop_forever(mosq_, 1000, 1);
      } else {
        Log(LogLevel::warn, "mqtt").kv("broker", config_.url).kv("error", mosquitto_strerror(rc))
            << "cannot connect; retrying";
      }
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return stopping_; });
      delay_ms = std::min(delay_ms * 2, config_.reconnect_max_ms);
    }
  }

  static void on_connect_cb(mosquitto* m, void* self, int rc) {
    auto* bus = static_cast<MosquittoBus*>(self);
    if (rc != 0) {
      Log(LogLevel::warn, "mqtt")
              .kv("broker", bus->config_.url)
              .kv("reason", mosquitto_connack_string(rc))
          << "connection refused";
      return;
    }
    {
      std::lock_guard lock(bus->mu_);
      bus->connected_ = true;
      for (const auto& f : bus->filters_) mosquitto_subscribe(m, nullptr, f.c_str(), 1);
    }
    Log(LogLevel::info, "mqtt").kv("broker", bus->config_.url).kv("client", bus->config_.client_id)
        << "connected";
    if (bus->connect_handler_) bus->connect_handler_(true);
  }

  static void on_disconnect_cb(mosquitto*, void* self, int rc) {
    auto* bus = static_cast<MosquittoBus*>(self);
    {
      std::lock_guard lock(bus->mu_);
      if (!bus->connected_) return;
      bus->connected_ = false;
    }
    bus->cv_.notify_all();
    if (rc != 0) {
      Log(LogLevel::warn, "mqtt")
              .kv("broker", bus->config_.url)
              .kv("client", bus->config_.client_id)
          << "connection lost; reconnecting";
    }
    if (bus->connect_handler_) bus->connect_handler_(false);
  }

  static void on_message_cb(mosquitto*, void* self, const mosquitto_message* msg) {
    auto* bus = static_cast<MosquittoBus*>(self);
    if (!bus->message_handler_) return;
    BusMessage m;
    m.topic = msg->topic;
    const auto* p = static_cast<const std::uint8_t*>(msg->payload);
    m.payload.assign(p, p + msg->payloadlen);
    m.retained = msg->retain;
    bus->message_handler_(m);
  }

  static void on_publish_cb(mosquitto*, void* self, int mid) {
    auto* bus = static_cast<MosquittoBus*>(self);
    {
      std::lock_guard lock(bus->mu_);
      bus->in_flight_.erase(mid);
    }
    bus->cv_.notify_all();
  }

  BusConfig config_;
  mosquitto* mosq_ = nullptr;
  MessageHandler message_handler_;
  ConnectHandler connect_handler_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> filters_;
  std::set<int> in_flight_;
  bool connected_ = false;
  bool stopping_ = false;
  std::string host_;
  int port_ = 0;
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
