// The message bus: MQTT through libmosquitto, or an in-memory hub for unit tests.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::runtime {

using protocol::Bytes;
using protocol::ByteView;

struct BusMessage {
  std::string topic;
  Bytes payload;
  bool retained = false;
};

// A connection to a broker. Subscriptions persist across reconnects (the bus re-subscribes).
// Handlers run on the bus's own thread, one at a time; they must not block for long.
class Bus {
 public:
  virtual ~Bus() = default;
  using MessageHandler = std::function<void(const BusMessage&)>;
  using ConnectHandler = std::function<void(bool connected)>;

  // Set both before start().
  virtual void on_message(MessageHandler handler) = 0;
  virtual void on_connection(ConnectHandler handler) = 0;

  // Starts connecting in the background; keeps retrying with backoff until stop().
  virtual Status start() = 0;
  // Disconnects (sending queued QoS 1 messages first, for up to `drain_ms`) and stops the thread.
  virtual void stop(int drain_ms = 1000) = 0;

  // Deliveries at QoS 1: the broker keeps them for this client until acknowledged.
  virtual Status subscribe(const std::string& filter) = 0;
  // Deliveries at QoS 0: no acknowledgement, nothing kept per delivery; a broker that falls
  // behind may drop them. For what the subscriber repairs itself (a bulletin's chunks, which
  // the node fetches again) and is sent to thousands at once. The default subscribes with
  // subscribe().
  virtual Status subscribe_best_effort(const std::string& filter) { return subscribe(filter); }
  virtual Status unsubscribe(const std::string& filter) = 0;
  // QoS 1. While disconnected the message is queued by the library and sent on reconnect.
  virtual Status publish(const std::string& topic, ByteView payload, bool retain = false) = 0;
  // QoS 0, not retained, not queued while disconnected: for audio that is useless once late
  // (live chunks). The default publishes with publish().
  virtual Status publish_best_effort(const std::string& topic, ByteView payload) {
    return publish(topic, payload, false);
  }
  virtual bool connected() const = 0;
};

struct BusConfig {
  std::string url = "mqtt://127.0.0.1:1883";  // mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)
  std::string client_id;
  std::string username;  // empty: none
  std::string password;
  std::string ca_file;    // CA certificate(s) that signed the broker's; required for mqtts://
  std::string cert_file;  // client certificate (PEM), optional, together with key_file
  std::string key_file;   // client private key (PEM, unencrypted)
  std::string tls_version = "tlsv1.2";  // lowest TLS version accepted: tlsv1.2 or tlsv1.3
  int keepalive_s = 30;
  // Last will, published by the broker when the connection is lost (empty topic: none).
  std::string will_topic;
  Bytes will_payload;
  bool will_retain = true;
  int reconnect_min_ms = 500;
  int reconnect_max_ms = 30000;
};

// Parses "mqtt://host:port" or "mqtts://host:port"; the error names what is wrong.
struct BrokerAddress {
  std::string host;
  int port = 1883;
  bool tls = false;
};
Result<BrokerAddress> parse_broker_url(const std::string& url);

// Checks the connection settings of a BusConfig as the daemons' options name them: "broker",
// "broker-username", "broker-password", "broker-ca-file", "broker-cert-file", "broker-key-file",
// "broker-tls-version". mqtts:// needs a readable CA file; TLS files with mqtt:// are refused
// (they would be silently unused); cert and key come together; a password needs a user name.
// The error starts with "option '<key>': ".
Status validate_bus_config(const BusConfig& config);

std::unique_ptr<Bus> make_mosquitto_bus(BusConfig config);

// True if an MQTT topic filter (with + and #) matches a topic.
bool topic_matches(std::string_view filter, std::string_view topic);

// An in-memory broker for unit tests: retained messages, wildcard filters, and, like a real
// client, each bus delivers on its own thread. While offline, publishes are queued (QoS 1).
// The hub must outlive every bus it made.
class MemoryHub {
 public:
  MemoryHub();
  ~MemoryHub();
  std::unique_ptr<Bus> connect(std::string client_id);
  // Drops every client's connection (they see on_connection(false)) or restores them.
  void set_online(bool online);
  // Messages accepted by the hub so far (publishes while online, or flushed after reconnect).
  std::size_t published_count() const;
  // Blocks until no message is queued or being handled anywhere (at most `timeout_ms`).
  bool wait_idle(int timeout_ms = 5000);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace loa::runtime
