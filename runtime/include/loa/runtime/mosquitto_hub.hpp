// Many MQTT connections served by one network thread: the fleet simulator runs thousands of
// nodes in one process without a thread per connection.
#pragma once

#include <memory>
#include <string>

#include "loa/runtime/bus.hpp"

namespace loa::runtime {

// Makes buses that behave like make_mosquitto_bus's (first connection retried with backoff,
// automatic reconnect, resubscription, QoS 1 queueing while away) but share one thread that
// polls every connection's socket. Handlers of all its buses run on that thread, one at a time.
// mqtt:// only (no TLS). The hub must outlive every bus it made.
class MosquittoHub {
 public:
  MosquittoHub();
  ~MosquittoHub();
  MosquittoHub(const MosquittoHub&) = delete;
  MosquittoHub& operator=(const MosquittoHub&) = delete;

  // A bus served by this hub; it connects on start() like any Bus.
  std::unique_ptr<Bus> make_bus(BusConfig config);
  // Fault injection: drops the connection of the bus with this client id at once (no MQTT
  // DISCONNECT, so the broker sends its last will) and keeps it away until called with false.
  void cut(const std::string& client_id, bool cut);
  // Connections up now.
  std::size_t connected_count() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace loa::runtime
