// The controller daemon's settings. Every field is a config-file key and a --flag of the same
// name (firmware-config/controller.conf lists them with their defaults).
#pragma once

#include <cstdint>
#include <string>

#include "loa/runtime/bus.hpp"
#include "loa/runtime/options.hpp"

namespace loa::controller {

struct ControllerConfig {
  std::string broker = "mqtt://127.0.0.1:1883";
  std::string client_id = "loa-controller";
  std::string broker_username;
  std::string broker_password;
  std::string broker_ca_file;  // required with an mqtts:// broker
  std::string broker_cert_file;
  std::string broker_key_file;
  std::string broker_tls_version = "tlsv1.2";
  std::string db = "loa-controller.db";
  std::string listen = "127.0.0.1:8080";
  std::string key = "loa-controller.key";
  std::string audio_dir;  // empty: "<db file>.audio" next to the database
  // The local administrator token (auth.hpp), rewritten 0600 at each start; empty: "<db>.token".
  std::string local_token_file;
  std::string tz = "Asia/Ho_Chi_Minh";
  std::int64_t missed_grace_s = 300;
  std::int64_t offline_after_s = 180;
  int plan_horizon_days = 8;             // series are planned this far ahead (node autonomy)
  int tick_s = 60;                       // seconds between the controller's periodic ticks
  bool trust_first_key = false;          // development: trust a node's first hello key
  std::int64_t event_tolerance_s = 120;  // ledger: allowance around an occurrence's window
  // Refused events kept, the newest: per node, and of all nodes together.
  std::int64_t refused_keep_per_node = 1000;
  std::int64_t refused_keep = 100000;
  int fetch_window_ms = 200;
  double prefetch_mbps = 200;  // prefetch budget, Mbit/s delivered to all nodes together; 0: none
  int ingest_batch_max = 256;  // node messages recorded per durable commit
  std::string log_level = "info";
  std::uint32_t bitrate = 24000;
  std::uint16_t frame_ms = 20;
  std::int64_t max_upload_mb = 64;  // an upload (audio, CAP XML, node import, live segment)
  // The HTTP front (loa::http::Limits; docs/api.md "Limits").
  std::int64_t http_max_body_kb = 1024;    // any other request's body (JSON)
  std::int64_t http_max_header_kb = 16;    // a request's header, all fields together
  std::int64_t http_max_headers = 100;     // header fields of a request
  std::int64_t http_max_connections = 64;  // open connections; beyond: 503
  // Open connections from one peer address (other than a trusted proxy); beyond: 503.
  std::int64_t http_max_connections_per_address = 16;
  std::int64_t http_header_timeout_s = 10;     // a request's whole header, from its first byte
  std::int64_t http_body_idle_timeout_s = 30;  // longest pause within a body or an answer
  std::int64_t http_min_body_rate = 4096;      // bytes/s a body averages, after that grace
  std::int64_t http_keep_alive_s = 5;          // idle between requests on a connection
  // Accounts (auth.hpp AuthSettings; docs/api.md "Accounts").
  std::int64_t session_ttl_s = 12 * 3600;  // lifetime of a login's cookie or bearer token
  int login_max_failures = 5;  // failed logins per address (or name and address) before a 429
  std::int64_t login_window_s = 15 * 60;  // ... counted over this many seconds
  bool cookie_secure = false;             // the session cookie carries Secure (behind TLS)
  std::string trusted_proxies;            // proxies whose X-Forwarded-For names the client; "" none
};

// The options of loa-controller bound to `config`'s fields, with its defaults.
runtime::po::options_description controller_options(ControllerConfig& config);

// The broker connection the config describes (checked with runtime::validate_bus_config).
runtime::BusConfig controller_bus_config(const ControllerConfig& config);

// The audio directory the config resolves to (audio_dir, or next to the database).
std::string resolved_audio_dir(const ControllerConfig& config);
// The local token file the config resolves to (local_token_file, or next to the database).
std::string resolved_local_token_file(const ControllerConfig& config);

}  // namespace loa::controller
