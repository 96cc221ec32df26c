#include "mosquitto_client.hpp"

#include <algorithm>
#include <chrono>

#include "loa/runtime/log.hpp"

namespace loa::runtime {

MosquittoClient::MosquittoClient(BusConfig config, ClientStyle style)
    : config_(std::move(config)), style_(style), delay_ms_(config_.reconnect_min_ms) {}

Status MosquittoClient::create() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
  auto addr = parse_broker_url(config_.url);
  if (!addr) return addr.error();
  if (addr->tls && !style_.tls) {
    return make_error("mqtt: broker '" + config_.url + "': the hub has no TLS");
  }
  host_ = addr->host;
  port_ = addr->port;
  mosq_ =
      mosquitto_new(config_.client_id.empty() ? nullptr : config_.client_id.c_str(), true, this);
  if (!mosq_) return make_error("mqtt: cannot create client '" + config_.client_id + "'");
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_threaded_set(mosq_, true);  // publishes from other threads only queue
  if (!config_.username.empty()) {
    mosquitto_username_pw_set(mosq_, config_.username.c_str(),
                              config_.password.empty() ? nullptr : config_.password.c_str());
  }
  if (style_.tls && (addr->tls || !config_.ca_file.empty())) {
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
  mosquitto_connect_callback_set(mosq_, &MosquittoClient::on_connect_cb);
  mosquitto_disconnect_callback_set(mosq_, &MosquittoClient::on_disconnect_cb);
  mosquitto_message_callback_set(mosq_, &MosquittoClient::on_message_cb);
  mosquitto_publish_callback_set(mosq_, &MosquittoClient::on_publish_cb);
  return {};
}

void MosquittoClient::drain(int drain_ms) {
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(drain_ms),
                 [&] { return in_flight_.empty() || !connected_; });
    stopping_ = true;
  }
  cv_.notify_all();
}

bool MosquittoClient::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void MosquittoClient::wait_unless_stopping(int ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
}

void MosquittoClient::destroy() {
  mosquitto_destroy(mosq_);
  mosq_ = nullptr;
}

bool MosquittoClient::connect_once() {
  const int rc = first_ ? mosquitto_connect(mosq_, host_.c_str(), port_, config_.keepalive_s)
                        : mosquitto_reconnect(mosq_);
  if (rc == MOSQ_ERR_SUCCESS) {
    first_ = false;
    delay_ms_ = config_.reconnect_min_ms;
    return true;
  }
  Log(style_.quiet && failures_ > 0 ? LogLevel::debug : LogLevel::warn, "mqtt")
          .kv("broker", config_.url)
          .kv("client", config_.client_id)
          .kv("error", mosquitto_strerror(rc))
      << "cannot connect; retrying";
  ++failures_;
  return false;
}

int MosquittoClient::next_backoff_ms() {
  const int delay = delay_ms_;
  delay_ms_ = std::min(delay_ms_ * 2, config_.reconnect_max_ms);
  return delay;
}

Status MosquittoClient::subscribe(const std::string& filter) {
  return subscribe_qos(filter, 1);
}

Status MosquittoClient::subscribe_best_effort(const std::string& filter) {
  return subscribe_qos(filter, 0);
}

Status MosquittoClient::subscribe_qos(const std::string& filter, int qos) {
  std::lock_guard lock(mu_);
  filters_[filter] = qos;
  if (connected_) {
    const int rc = mosquitto_subscribe(mosq_, nullptr, filter.c_str(), qos);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
      return make_error("mqtt: subscribe '" + filter + "': " + mosquitto_strerror(rc));
    }
    wake();
  }
  return {};
}

Status MosquittoClient::unsubscribe(const std::string& filter) {
  std::lock_guard lock(mu_);
  filters_.erase(filter);
  if (connected_) {
    mosquitto_unsubscribe(mosq_, nullptr, filter.c_str());
    wake();
  }
  return {};
}

Status MosquittoClient::publish(const std::string& topic, ByteView payload, bool retain) {
  return send(topic, payload, 1, retain);
}

Status MosquittoClient::publish_best_effort(const std::string& topic, ByteView payload) {
  return send(topic, payload, 0, false);
}

bool MosquittoClient::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

Status MosquittoClient::send(const std::string& topic, ByteView payload, int qos, bool retain) {
  if (!mosq_) return make_error("mqtt: publish '" + topic + "': bus not started");
  {
    std::lock_guard lock(mu_);
    int mid = 0;
    const int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                     payload.data(), qos, retain);
    // NO_CONN with QoS 1: libmosquitto keeps the message queued and sends it on reconnect.
    if (rc != MOSQ_ERR_SUCCESS && !(rc == MOSQ_ERR_NO_CONN && qos == 1)) {
      return make_error("mqtt: publish '" + topic + "': " + mosquitto_strerror(rc));
    }
    if (qos == 1) in_flight_.insert(mid);
  }
  wake();
  return {};
}

void MosquittoClient::on_connect_cb(mosquitto* m, void* self, int rc) {
  auto* c = static_cast<MosquittoClient*>(self);
  if (rc != 0) {
    Log(LogLevel::warn, "mqtt")
            .kv("broker", c->config_.url)
            .kv("reason", mosquitto_connack_string(rc))
        << "connection refused";
    return;
  }
  {
    std::lock_guard lock(c->mu_);
    c->connected_ = true;
    for (const auto& [f, qos] : c->filters_) mosquitto_subscribe(m, nullptr, f.c_str(), qos);
  }
  c->failures_ = 0;
  Log(c->style_.quiet ? LogLevel::debug : LogLevel::info, "mqtt")
          .kv("broker", c->config_.url)
          .kv("client", c->config_.client_id)
      << "connected";
  if (c->connect_handler_) c->connect_handler_(true);
}

void MosquittoClient::on_disconnect_cb(mosquitto*, void* self, int rc) {
  auto* c = static_cast<MosquittoClient*>(self);
  bool stopping = false;
  {
    std::lock_guard lock(c->mu_);
    if (!c->connected_) return;
    c->connected_ = false;
    stopping = c->stopping_;
  }
  c->cv_.notify_all();
  if (stopping && c->style_.silent_stop) return;
  if (rc != 0) {
    Log(LogLevel::warn, "mqtt")
            .kv("broker", c->config_.url)
            .kv("client", c->config_.client_id)
            .kv("reason", mosquitto_strerror(rc))
        << "connection lost; reconnecting";
  }
  if (c->connect_handler_) c->connect_handler_(false);
}

void MosquittoClient::on_message_cb(mosquitto*, void* self, const mosquitto_message* msg) {
  auto* c = static_cast<MosquittoClient*>(self);
  if (!c->message_handler_) return;
  BusMessage m;
  m.topic = msg->topic;
  const auto* p = static_cast<const std::uint8_t*>(msg->payload);
  m.payload.assign(p, p + msg->payloadlen);
  m.retained = msg->retain;
  c->message_handler_(m);
}

void MosquittoClient::on_publish_cb(mosquitto*, void* self, int mid) {
  auto* c = static_cast<MosquittoClient*>(self);
  {
    std::lock_guard lock(c->mu_);
    c->in_flight_.erase(mid);
  }
  c->cv_.notify_all();
}

}  // namespace loa::runtime
