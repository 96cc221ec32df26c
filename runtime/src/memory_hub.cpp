#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "loa/runtime/bus.hpp"

namespace loa::runtime {

class MemoryBus;

struct MemoryHub::Impl {
  std::mutex mu;
  std::condition_variable idle_cv;
  std::vector<MemoryBus*> clients;
  std::map<std::string, Bytes> retained;
  bool online = true;
  std::size_t published = 0;
  std::size_t busy = 0;  // messages queued or in a handler, across clients

  void route(const std::string& topic, const Bytes& payload, bool retain);
};

class MemoryBus final : public Bus {
 public:
  MemoryBus(std::shared_ptr<MemoryHub::Impl> hub, std::string id)
      : hub_(std::move(hub)), id_(std::move(id)) {}
  ~MemoryBus() override { stop(0); }

  void on_message(MessageHandler h) override { message_handler_ = std::move(h); }
  void on_connection(ConnectHandler h) override { connect_handler_ = std::move(h); }

  Status start() override {
    {
      std::lock_guard lock(hub_->mu);
      hub_->clients.push_back(this);
      running_ = true;
      if (hub_->online) push_locked(Item{Item::Kind::connected, {}});
    }
    thread_ = std::thread([this] { run(); });
    return {};
  }

  void stop(int) override {
    {
      std::lock_guard lock(hub_->mu);
      if (!running_) return;
      running_ = false;
      std::erase(hub_->clients, this);
      hub_->busy -= queue_.size();
      queue_.clear();
      outbox_.clear();
    }
    cv_.notify_all();
    hub_->idle_cv.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  Status subscribe(const std::string& filter) override {
    std::lock_guard lock(hub_->mu);
    filters_.insert(filter);
    if (connected_locked()) {
      for (const auto& [topic, payload] : hub_->retained) {
        if (topic_matches(filter, topic))
          push_locked(Item{Item::Kind::message, {topic, payload, true}});
      }
    }
    return {};
  }

  Status unsubscribe(const std::string& filter) override {
    std::lock_guard lock(hub_->mu);
    filters_.erase(filter);
    return {};
  }

  Status publish(const std::string& topic, ByteView payload, bool retain) override {
    Bytes copy(payload.begin(), payload.end());
    std::lock_guard lock(hub_->mu);
    if (!hub_->online) {
      outbox_.push_back(BusMessage{topic, std::move(copy), retain});
      return {};
    }
    hub_->route(topic, copy, retain);
    return {};
  }

  bool connected() const override {
    std::lock_guard lock(hub_->mu);
    return connected_;
  }

  // Called with hub mutex held.
  void deliver_locked(const std::string& topic, const Bytes& payload) {
    for (const auto& f : filters_) {
      if (topic_matches(f, topic)) {
        push_locked(Item{Item::Kind::message, {topic, payload, false}});
        return;
      }
    }
  }

  // Reconnect in two phases across all clients, like a broker that is back: first every client
  // is connected and resubscribed (with the retained messages), then queued publishes flow.
  void set_online_locked(bool online) {
    push_locked(Item{online ? Item::Kind::connected : Item::Kind::disconnected, {}});
    if (!online) return;
    for (const auto& [topic, payload] : hub_->retained) {
      for (const auto& f : filters_) {
        if (topic_matches(f, topic)) {
          push_locked(Item{Item::Kind::message, {topic, payload, true}});
          break;
        }
      }
    }
  }

  void flush_outbox_locked() {
    for (const auto& m : outbox_) hub_->route(m.topic, m.payload, m.retained);
    outbox_.clear();
  }

 private:
  struct Item {
    enum class Kind { message, connected, disconnected } kind;
    BusMessage message;
  };

  bool connected_locked() const { return connected_ || hub_->online; }

  void push_locked(Item item) {
    queue_.push_back(std::move(item));
    ++hub_->busy;
    cv_.notify_one();
  }

  void run() {
    std::unique_lock lock(hub_->mu);
    while (true) {
      cv_.wait(lock, [&] { return !running_ || !queue_.empty(); });
      if (!running_) return;
      Item item = std::move(queue_.front());
      queue_.pop_front();
      if (item.kind != Item::Kind::message) connected_ = item.kind == Item::Kind::connected;
      lock.unlock();
      if (item.kind == Item::Kind::message) {
        if (message_handler_) message_handler_(item.message);
      } else if (connect_handler_) {
        connect_handler_(item.kind == Item::Kind::connected);
      }
      lock.lock();
      --hub_->busy;
      hub_->idle_cv.notify_all();
    }
  }

  std::shared_ptr<MemoryHub::Impl> hub_;
  std::string id_;
  MessageHandler message_handler_;
  ConnectHandler connect_handler_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::vector<BusMessage> outbox_;
  std::set<std::string> filters_;
  std::thread thread_;
  bool running_ = false;
  bool connected_ = false;
};

void MemoryHub::Impl::route(const std::string& topic, const Bytes& payload, bool retain) {
  ++published;
  if (retain) {
    if (payload.empty()) {
      retained.erase(topic);
    } else {
      retained[topic] = payload;
    }
  }
  for (MemoryBus* c : clients) c->deliver_locked(topic, payload);
}

MemoryHub::MemoryHub() : impl_(std::make_shared<Impl>()) {}
MemoryHub::~MemoryHub() = default;

std::unique_ptr<Bus> MemoryHub::connect(std::string client_id) {
  return std::make_unique<MemoryBus>(impl_, std::move(client_id));
}

void MemoryHub::set_online(bool online) {
  std::lock_guard lock(impl_->mu);
  if (impl_->online == online) return;
  impl_->online = online;
  for (MemoryBus* c : impl_->clients) c->set_online_locked(online);
  if (online) {
    for (MemoryBus* c : impl_->clients) c->flush_outbox_locked();
  }
}

std::size_t MemoryHub::published_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->published;
}

bool MemoryHub::wait_idle(int timeout_ms) {
  std::unique_lock lock(impl_->mu);
  return impl_->idle_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                 [&] { return impl_->busy == 0; });
}

}  // namespace loa::runtime
