// The part of a libmosquitto Bus that does not depend on who runs the network loop: client
// set-up (credentials, TLS, last will, callbacks), subscriptions kept for resubscription,
// publishing with QoS 1 bookkeeping, connection state and reconnect backoff. Private to
// runtime/: MosquittoBus runs each client on libmosquitto's loop in a thread of its own,
// MosquittoHub polls many clients from one thread.
#pragma once

#include <mosquitto.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "loa/runtime/bus.hpp"

namespace loa::runtime {

// How a loop strategy wants its clients to behave where the two differ.
struct ClientStyle {
  bool tls = true;           // false: mqtts:// is refused and the TLS options are not applied
  bool quiet = false;        // "connected" and every connect failure after the first at debug level
  bool silent_stop = false;  // no connection handler call for the disconnection stop() makes
};

class MosquittoClient : public Bus {
 public:
  MosquittoClient(BusConfig config, ClientStyle style);
  MosquittoClient(const MosquittoClient&) = delete;
  MosquittoClient& operator=(const MosquittoClient&) = delete;

  void on_message(MessageHandler handler) override { message_handler_ = std::move(handler); }
  void on_connection(ConnectHandler handler) override { connect_handler_ = std::move(handler); }
  Status subscribe(const std::string& filter) override;
  Status subscribe_best_effort(const std::string& filter) override;
  Status unsubscribe(const std::string& filter) override;
  Status publish(const std::string& topic, ByteView payload, bool retain) override;
  Status publish_best_effort(const std::string& topic, ByteView payload) override;
  bool connected() const override;

  const std::string& client_id() const { return config_.client_id; }
  // The libmosquitto handle; null before create() and after destroy().
  mosquitto* handle() const { return mosq_; }

 protected:
  // Creates the libmosquitto client for config's broker, with every option and callback set.
  Status create();
  // Waits up to drain_ms for QoS 1 messages still unacknowledged (none while disconnected),
  // then marks the client stopping.
  void drain(int drain_ms);
  bool stopping() const;
  // Waits up to ms or until drain() marks the client stopping.
  void wait_unless_stopping(int ms);
  void destroy();
  // Connects (the first time) or reconnects to the broker; on failure logs it and returns false.
  bool connect_once();
  // The wait before the next connection attempt; each call doubles the next one, up to
  // reconnect_max_ms, until a connection succeeds.
  int next_backoff_ms();
  // Called after a message or (un)subscription was queued, so the network loop sends it.
  virtual void wake() {}

  BusConfig config_;

 private:
  Status send(const std::string& topic, ByteView payload, int qos, bool retain);
  Status subscribe_qos(const std::string& filter, int qos);

  static void on_connect_cb(mosquitto* m, void* self, int rc);
  static void on_disconnect_cb(mosquitto* m, void* self, int rc);
  static void on_message_cb(mosquitto* m, void* self, const mosquitto_message* msg);
  static void on_publish_cb(mosquitto* m, void* self, int mid);

  ClientStyle style_;
  mosquitto* mosq_ = nullptr;
  MessageHandler message_handler_;
  ConnectHandler connect_handler_;
  mutable std::mutex mu_;  // guards the fields below up to stopping_
  std::condition_variable cv_;
  std::map<std::string, int> filters_;  // filter -> QoS
  std::set<int> in_flight_;
  bool connected_ = false;
  bool stopping_ = false;
  // The network loop only.
  std::string host_;
  int port_ = 0;
  bool first_ = true;
  int delay_ms_;
  int failures_ = 0;
};

}  // namespace loa::runtime
