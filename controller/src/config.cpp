#include "loa/controller/config.hpp"

namespace loa::controller {

namespace po = runtime::po;

po::options_description controller_options(ControllerConfig& c) {
  po::options_description d("loa-controller options (also config-file keys)");
  auto add = d.add_options();
  add("broker", po::value(&c.broker)->default_value(c.broker),
      "MQTT broker, mqtt://HOST:PORT or mqtts://HOST:PORT");
  add("client-id", po::value(&c.client_id)->default_value(c.client_id), "MQTT client id");
  add("broker-username", po::value(&c.broker_username)->default_value(c.broker_username),
      "MQTT user name (empty: none)");
  add("broker-password", po::value(&c.broker_password)->default_value(c.broker_password),
      "MQTT password");
  add("broker-ca-file", po::value(&c.broker_ca_file)->default_value(c.broker_ca_file),
      "CA certificate (PEM) that signed the broker's; required with mqtts://");
  add("broker-cert-file", po::value(&c.broker_cert_file)->default_value(c.broker_cert_file),
      "client certificate (PEM) for brokers that require one; with broker-key-file");
  add("broker-key-file", po::value(&c.broker_key_file)->default_value(c.broker_key_file),
      "client certificate's private key (PEM)");
  add("broker-tls-version", po::value(&c.broker_tls_version)->default_value(c.broker_tls_version),
      "lowest TLS version accepted: tlsv1.2 or tlsv1.3");
  add("db", po::value(&c.db)->default_value(c.db), "SQLite database file");
  add("listen", po::value(&c.listen)->default_value(c.listen), "HTTP API address HOST:PORT");
  add("key", po::value(&c.key)->default_value(c.key),
      "Ed25519 signing key file (created with mode 0600 if absent)");
  add("print-public-key", po::bool_switch(), "print the signing key's public half in hex and exit");
  add("audio-dir", po::value(&c.audio_dir)->default_value(c.audio_dir),
      "directory of the bulletins' Ogg Opus files (empty: <db>.audio)");
  add("local-token-file", po::value(&c.local_token_file)->default_value(c.local_token_file),
      "file (mode 0600) the local administrator token is written to at each start, for loactl "
      "on this host (empty: <db>.token)");
  add("tz", po::value(&c.tz)->default_value(c.tz), "default IANA time zone of schedules");
  add("missed-grace-s", po::value(&c.missed_grace_s)->default_value(c.missed_grace_s),
      "seconds after an occurrence's expiry before a node without an event counts as missed");
  add("offline-after-s", po::value(&c.offline_after_s)->default_value(c.offline_after_s),
      "seconds without a message after which a node is listed offline");
  add("trust-first-key",
      po::value(&c.trust_first_key)->default_value(c.trust_first_key)->implicit_value(true),
      "trust the public key in the first hello of a node registered without one (development "
      "only; otherwise register keys with loactl node add --public-key)");
  add("event-tolerance-s", po::value(&c.event_tolerance_s)->default_value(c.event_tolerance_s),
      "seconds of allowance around an occurrence's window for the instants of playback events");
  add("refused-keep-per-node",
      po::value(&c.refused_keep_per_node)->default_value(c.refused_keep_per_node),
      "refused playback events kept per node, the newest (older ones are deleted); 1..1000000");
  add("refused-keep", po::value(&c.refused_keep)->default_value(c.refused_keep),
      "refused playback events kept of all nodes together, the newest; 1..10000000");
  add("plan-horizon-days", po::value(&c.plan_horizon_days)->default_value(c.plan_horizon_days),
      "days ahead that recurring bulletins are planned (nodes play that long on their own)");
  add("tick-s", po::value(&c.tick_s)->default_value(c.tick_s),
      "seconds between extensions of recurring bulletins' plans");
  add("fetch-window-ms", po::value(&c.fetch_window_ms)->default_value(c.fetch_window_ms),
      "milliseconds over which nodes' requests for audio are collected and served together");
  add("prefetch-mbps", po::value(&c.prefetch_mbps)->default_value(c.prefetch_mbps),
      "megabits per second of prefetched audio the broker may deliver to all nodes together (a "
      "chunk counts once per node fetching it; 0: no limit)");
  add("ingest-batch-max", po::value(&c.ingest_batch_max)->default_value(c.ingest_batch_max),
      "most messages from nodes recorded in one durable commit (1: a commit per message)");
  add("log-level", po::value(&c.log_level)->default_value(c.log_level),
      "debug, info, warn or error");
  add("bitrate", po::value(&c.bitrate)->default_value(c.bitrate),
      "Opus bit rate of new bulletins and live streams, bit/s (6000..510000; at most 255000 "
      "with 40 ms frames, 170000 with 60 ms)");
  add("frame-ms", po::value(&c.frame_ms)->default_value(c.frame_ms),
      "Opus frame length of new bulletins: 10, 20, 40 or 60");
  add("max-upload-mb", po::value(&c.max_upload_mb)->default_value(c.max_upload_mb),
      "largest upload accepted by the API (audio, CAP XML, a node import, a live segment), in "
      "MiB; 1..4096");
  add("http-max-body-kb", po::value(&c.http_max_body_kb)->default_value(c.http_max_body_kb),
      "largest body of any other API request (JSON), in KiB; larger: 413; 1..65536");
  add("http-max-header-kb", po::value(&c.http_max_header_kb)->default_value(c.http_max_header_kb),
      "largest request header (request line and fields together), in KiB; larger: 431; 1..1024");
  add("http-max-headers", po::value(&c.http_max_headers)->default_value(c.http_max_headers),
      "most header fields in a request; more: 431; 1..10000");
  add("http-max-connections",
      po::value(&c.http_max_connections)->default_value(c.http_max_connections),
      "most open HTTP connections (one thread each); beyond: 503 and close; 1..10000");
  add("http-max-connections-per-address",
      po::value(&c.http_max_connections_per_address)
          ->default_value(c.http_max_connections_per_address),
      "most open HTTP connections from one peer address; beyond: 503 and close (peers in "
      "trusted-proxies count toward http-max-connections only); 1..10000");
  add("http-header-timeout-s",
      po::value(&c.http_header_timeout_s)->default_value(c.http_header_timeout_s),
      "seconds a client has to send a request's whole header; 1..3600");
  add("http-body-idle-timeout-s",
      po::value(&c.http_body_idle_timeout_s)->default_value(c.http_body_idle_timeout_s),
      "longest pause, in seconds, within a request body or while an answer is sent; 1..3600");
  add("http-min-body-rate", po::value(&c.http_min_body_rate)->default_value(c.http_min_body_rate),
      "bytes per second a request body (other than a live stream) must average after "
      "http-body-idle-timeout-s of grace; 1..1073741824");
  add("http-keep-alive-s", po::value(&c.http_keep_alive_s)->default_value(c.http_keep_alive_s),
      "seconds an idle connection is kept open between requests; 1..3600");
  add("session-ttl-s", po::value(&c.session_ttl_s)->default_value(c.session_ttl_s),
      "seconds a login (browser session or bearer token) lasts; 60..2592000");
  add("login-max-failures", po::value(&c.login_max_failures)->default_value(c.login_max_failures),
      "failed logins from one client address (for one user name, or for all together) within "
      "login-window-s after which logins from that address are refused (429); as many for one "
      "name from anywhere only slow its logins down (at most 1 s each); 1..1000");
  add("login-window-s", po::value(&c.login_window_s)->default_value(c.login_window_s),
      "seconds over which failed logins are counted; 1..86400");
  add("cookie-secure",
      po::value(&c.cookie_secure)->default_value(c.cookie_secure)->implicit_value(true),
      "mark the session cookie Secure (browsers send it over HTTPS only): set it when the API "
      "is reached through a TLS proxy");
  add("trusted-proxies", po::value(&c.trusted_proxies)->default_value(c.trusted_proxies),
      "comma-separated addresses or networks (10.0.0.0/8) of reverse proxies in front of the "
      "API: a request from one is taken to come from the right-most address of X-Forwarded-For "
      "that is not one of them (empty: none; X-Forwarded-For is then ignored)");
  return d;
}

runtime::BusConfig controller_bus_config(const ControllerConfig& c) {
  runtime::BusConfig b;
  b.url = c.broker;
  b.client_id = c.client_id;
  b.username = c.broker_username;
  b.password = c.broker_password;
  b.ca_file = c.broker_ca_file;
  b.cert_file = c.broker_cert_file;
  b.key_file = c.broker_key_file;
  b.tls_version = c.broker_tls_version;
  return b;
}

std::string resolved_audio_dir(const ControllerConfig& c) {
  if (!c.audio_dir.empty()) return c.audio_dir;
  if (c.db == ":memory:" || c.db.empty()) return "loa-controller.audio";
  return c.db + ".audio";
}

std::string resolved_local_token_file(const ControllerConfig& c) {
  if (!c.local_token_file.empty()) return c.local_token_file;
  if (c.db == ":memory:" || c.db.empty()) return "loa-controller.token";
  return c.db + ".token";
}

}  // namespace loa::controller
