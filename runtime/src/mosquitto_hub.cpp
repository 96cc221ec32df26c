#include "loa/runtime/mosquitto_hub.hpp"

#include <mosquitto.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>
#include <vector>

#include "loa/runtime/log.hpp"

namespace loa::runtime {

namespace {

using Steady = std::chrono::steady_clock;
class HubBus;

}  // namespace

struct MosquittoHub::Impl {
  mutable std::mutex mu;  // guards `clients` and every libmosquitto call of the network thread
  std::vector<HubBus*> clients;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::thread thread;

  void wake() const {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
  void run();
};

namespace {

class HubBus final : public Bus {
 public:
  HubBus(std::shared_ptr<MosquittoHub::Impl> hub, BusConfig config)
      : hub_(std::move(hub)), config_(std::move(config)), delay_ms_(config_.reconnect_min_ms) {}
  ~HubBus() override { stop(0); }

  void on_message(MessageHandler handler) override { message_handler_ = std::move(handler); }
  void on_connection(ConnectHandler handler) override { connect_handler_ = std::move(handler); }

  Status start() override {
    if (mosq_) return {};
    static std::once_flag once;
    std::call_once(once, [] { mosquitto_lib_init(); });
    auto addr = parse_broker_url(config_.url);
    if (!addr) return addr.error();
    if (addr->tls) return make_error("mqtt: broker '" + config_.url + "': the hub has no TLS");
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
    if (!config_.will_topic.empty()) {
      mosquitto_will_set(mosq_, config_.will_topic.c_str(),
                         static_cast<int>(config_.will_payload.size()), config_.will_payload.data(),
                         1, config_.will_retain);
    }
    mosquitto_connect_callback_set(mosq_, &HubBus::on_connect_cb);
    mosquitto_disconnect_callback_set(mosq_, &HubBus::on_disconnect_cb);
    mosquitto_message_callback_set(mosq_, &HubBus::on_message_cb);
    mosquitto_publish_callback_set(mosq_, &HubBus::on_publish_cb);
    {
      std::lock_guard lock(hub_->mu);
      hub_->clients.push_back(this);
    }
    hub_->wake();
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
    std::lock_guard lock(hub_->mu);
    std::erase(hub_->clients, this);
    if (mosquitto_socket(mosq_) >= 0) {
      mosquitto_disconnect(mosq_);
      mosquitto_loop_write(mosq_, 1);
    }
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
      hub_->wake();
    }
    return {};
  }

  Status unsubscribe(const std::string& filter) override {
    std::lock_guard lock(mu_);
    filters_.erase(filter);
    if (connected_) {
      mosquitto_unsubscribe(mosq_, nullptr, filter.c_str());
      hub_->wake();
    }
    return {};
  }

  Status publish(const std::string& topic, ByteView payload, bool retain) override {
    return send(topic, payload, 1, retain);
  }
  Status publish_best_effort(const std::string& topic, ByteView payload) override {
    return send(topic, payload, 0, false);
  }

  bool connected() const override {
    std::lock_guard lock(mu_);
    return connected_;
  }

  // The network thread, with the hub's lock held.
  const std::string& client_id() const { return config_.client_id; }
  mosquitto* handle() const { return mosq_; }
  void set_cut(bool cut) {
    cut_ = cut;
    if (cut && mosquitto_socket(mosq_) >= 0) ::shutdown(mosquitto_socket(mosq_), SHUT_RDWR);
  }
  // Connects if it is time to: the first connection and every one after a loss, with backoff.
  void maybe_connect(Steady::time_point now) {
    if (cut_ || now < next_attempt_ || mosquitto_socket(mosq_) >= 0) return;
    const int rc = first_ ? mosquitto_connect(mosq_, host_.c_str(), port_, config_.keepalive_s)
                          : mosquitto_reconnect(mosq_);
    if (rc == MOSQ_ERR_SUCCESS) {
      first_ = false;
      delay_ms_ = config_.reconnect_min_ms;
      return;
    }
    Log(failures_++ == 0 ? LogLevel::warn : LogLevel::debug, "mqtt")
            .kv("broker", config_.url)
            .kv("client", config_.client_id)
            .kv("error", mosquitto_strerror(rc))
        << "cannot connect; retrying";
    next_attempt_ = now + std::chrono::milliseconds(delay_ms_);
    delay_ms_ = std::min(delay_ms_ * 2, config_.reconnect_max_ms);
  }

 private:
  Status send(const std::string& topic, ByteView payload, int qos, bool retain) {
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
    hub_->wake();
    return {};
  }

  static void on_connect_cb(mosquitto* m, void* self, int rc) {
    auto* bus = static_cast<HubBus*>(self);
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
    bus->failures_ = 0;
    Log(LogLevel::debug, "mqtt").kv("client", bus->config_.client_id) << "connected";
    if (bus->connect_handler_) bus->connect_handler_(true);
  }

  static void on_disconnect_cb(mosquitto*, void* self, int rc) {
    auto* bus = static_cast<HubBus*>(self);
    bool stopping = false;
    {
      std::lock_guard lock(bus->mu_);
      if (!bus->connected_) return;
      bus->connected_ = false;
      stopping = bus->stopping_;
    }
    bus->cv_.notify_all();
    if (stopping) return;
    if (rc != 0) {
      Log(LogLevel::warn, "mqtt").kv("client", bus->config_.client_id)
          << "connection lost; reconnecting";
    }
    if (bus->connect_handler_) bus->connect_handler_(false);
  }

  static void on_message_cb(mosquitto*, void* self, const mosquitto_message* msg) {
    auto* bus = static_cast<HubBus*>(self);
    if (!bus->message_handler_) return;
    BusMessage m;
    m.topic = msg->topic;
    const auto* p = static_cast<const std::uint8_t*>(msg->payload);
    m.payload.assign(p, p + msg->payloadlen);
    m.retained = msg->retain;
    bus->message_handler_(m);
  }

  static void on_publish_cb(mosquitto*, void* self, int mid) {
    auto* bus = static_cast<HubBus*>(self);
    {
      std::lock_guard lock(bus->mu_);
      bus->in_flight_.erase(mid);
    }
    bus->cv_.notify_all();
  }

  std::shared_ptr<MosquittoHub::Impl> hub_;
  BusConfig config_;
  mosquitto* mosq_ = nullptr;
  MessageHandler message_handler_;
  ConnectHandler connect_handler_;
  mutable std::mutex mu_;  // guards the fields below up to stopping_
  std::condition_variable cv_;
  std::set<std::string> filters_;
  std::set<int> in_flight_;
  bool connected_ = false;
  bool stopping_ = false;
  // Network thread only.
  std::string host_;
  int port_ = 0;
  bool first_ = true;
  bool cut_ = false;
  int delay_ms_;
  int failures_ = 0;
  Steady::time_point next_attempt_{};
};

}  // namespace

void MosquittoHub::Impl::run() {
  constexpr int kPollMs = 100;
  std::vector<pollfd> fds;
  std::vector<HubBus*> owners;
  auto next_misc = Steady::now();
  while (!stopping) {
    fds.assign(1, pollfd{wake_fd, POLLIN, 0});
    owners.clear();
    {
      std::lock_guard lock(mu);
      const auto now = Steady::now();
      for (HubBus* b : clients) {
        b->maybe_connect(now);
        const int s = mosquitto_socket(b->handle());
        if (s < 0) continue;
        const short events = POLLIN | (mosquitto_want_write(b->handle()) ? POLLOUT : 0);
        fds.push_back(pollfd{s, events, 0});
        owners.push_back(b);
      }
    }
    if (::poll(fds.data(), fds.size(), kPollMs) < 0) continue;
    if (fds[0].revents & POLLIN) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd, &count, sizeof count);
    }
    std::lock_guard lock(mu);
    // A bus may have stopped (and another started) while this thread polled.
    const std::unordered_set<HubBus*> live(clients.begin(), clients.end());
    for (std::size_t i = 0; i < owners.size(); ++i) {
      HubBus* b = owners[i];
      const pollfd& p = fds[i + 1];
      if (!live.count(b) || mosquitto_socket(b->handle()) != p.fd) continue;
      if (p.revents & (POLLIN | POLLERR | POLLHUP)) mosquitto_loop_read(b->handle(), 100);
      if ((p.revents & POLLOUT) && mosquitto_socket(b->handle()) >= 0) {
        mosquitto_loop_write(b->handle(), 100);
      }
    }
    if (Steady::now() >= next_misc) {  // keepalive pings and their timeouts
      for (HubBus* b : clients) {
        if (mosquitto_socket(b->handle()) >= 0) mosquitto_loop_misc(b->handle());
      }
      next_misc = Steady::now() + std::chrono::seconds(1);
    }
  }
}

MosquittoHub::MosquittoHub() : impl_(std::make_shared<Impl>()) {
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

MosquittoHub::~MosquittoHub() {
  impl_->stopping = true;
  impl_->wake();
  impl_->thread.join();
  ::close(impl_->wake_fd);
}

std::unique_ptr<Bus> MosquittoHub::make_bus(BusConfig config) {
  return std::make_unique<HubBus>(impl_, std::move(config));
}

void MosquittoHub::cut(const std::string& client_id, bool cut) {
  {
    std::lock_guard lock(impl_->mu);
    for (HubBus* b : impl_->clients) {
      if (b->client_id() == client_id) b->set_cut(cut);
    }
  }
  impl_->wake();
}

std::size_t MosquittoHub::connected_count() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<std::size_t>(std::count_if(impl_->clients.begin(), impl_->clients.end(),
                                                [](const HubBus* b) { return b->connected(); }));
}

}  // namespace loa::runtime
