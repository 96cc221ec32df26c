#include "loa/runtime/mosquitto_hub.hpp"

#include <mosquitto.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "mosquitto_client.hpp"

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

// A client whose network loop is the hub's thread.
class HubBus final : public MosquittoClient {
 public:
  HubBus(std::shared_ptr<MosquittoHub::Impl> hub, BusConfig config)
      : MosquittoClient(std::move(config),
                        ClientStyle{.tls = false, .quiet = true, .silent_stop = true}),
        hub_(std::move(hub)) {}
  ~HubBus() override { stop(0); }

  Status start() override {
    if (handle()) return {};
    if (Status created = create(); !created) return created;
    {
      std::lock_guard lock(hub_->mu);
      hub_->clients.push_back(this);
    }
    hub_->wake();
    return {};
  }

  void stop(int drain_ms) override {
    if (!handle()) return;
    drain(drain_ms);
    std::lock_guard lock(hub_->mu);
    std::erase(hub_->clients, this);
    if (mosquitto_socket(handle()) >= 0) {
      mosquitto_disconnect(handle());
      mosquitto_loop_write(handle(), 1);
    }
    destroy();
  }

  // The network thread, with the hub's lock held.
  void set_cut(bool cut) {
    cut_ = cut;
    if (cut && mosquitto_socket(handle()) >= 0) ::shutdown(mosquitto_socket(handle()), SHUT_RDWR);
  }
  // Connects if it is time to: the first connection and every one after a loss, with backoff.
  void maybe_connect(Steady::time_point now) {
    if (cut_ || now < next_attempt_ || mosquitto_socket(handle()) >= 0) return;
    if (!connect_once()) next_attempt_ = now + std::chrono::milliseconds(next_backoff_ms());
  }

 private:
  void wake() override { hub_->wake(); }

  std::shared_ptr<MosquittoHub::Impl> hub_;
  // Network thread only.
  bool cut_ = false;
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
    // Keepalive pings and their timeouts, once a second, also in the middle of a long pass: the
    // clients' callbacks run on this thread, and when thousands of nodes each write a bulletin
    // file in one pass (a 5-minute bulletin completing on 2,500 simulated nodes: ~20 s), PINGREQs
    // due meanwhile must still go out, or the broker drops those clients (1.5 x keepalive).
    const auto misc_if_due = [&] {
      if (Steady::now() < next_misc) return;
      for (HubBus* b : clients) {
        if (mosquitto_socket(b->handle()) >= 0) mosquitto_loop_misc(b->handle());
      }
      next_misc = Steady::now() + std::chrono::seconds(1);
    };
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
      misc_if_due();
    }
    misc_if_due();
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
