#include "loa/node/config.hpp"

#include <algorithm>
#include <filesystem>

#include "loa/runtime/bus.hpp"
#include "loa/runtime/files.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

namespace po = runtime::po;

void add_node_options(po::options_description& desc, NodeOptions& t) {
  desc.add_options()("id", po::value(&t.id), "this node's id (1..64 of 0-9 A-Z a-z _ -); required")(
      "area", po::value(&t.area), "the node's area path, e.g. 79/26734/03; required")(
      "broker", po::value(&t.broker)->default_value(t.broker),
      "MQTT broker, mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)")(
      "broker-username", po::value(&t.broker_username),
      "MQTT user name (the provisioning tool uses the node id); empty: none")(
      "broker-password", po::value(&t.broker_password), "MQTT password")(
      "broker-ca-file", po::value(&t.broker_ca_file),
      "CA certificate (PEM) that signed the broker's; required with mqtts://")(
      "broker-cert-file", po::value(&t.broker_cert_file),
      "client certificate (PEM) for brokers that require one; with broker-key-file")(
      "broker-key-file", po::value(&t.broker_key_file), "client certificate's private key (PEM)")(
      "broker-tls-version", po::value(&t.broker_tls_version)->default_value(t.broker_tls_version),
      "lowest TLS version accepted: tlsv1.2 or tlsv1.3")(
      "cache", po::value(&t.cache)->default_value(t.cache),
      "directory for cached bulletins, plans, the outbox and the node key")(
      "sink", po::value(&t.sink)->default_value(t.sink),
      "audio output: null, wav:DIR (one WAV per playback), portaudio or portaudio:DEVICE NAME")(
      "controller-key", po::value(&t.controller_key),
      "file with a controller Ed25519 public key (hex), or a directory of such *.pub files; "
      "may be given several times (key rotation); required")(
      "key", po::value(&t.key),
      "file with this node's Ed25519 key pair (hex); created on first start; "
      "default <cache>/node.key")(
      "output-latency-ms", po::value(&t.output_latency_ms)->default_value(t.output_latency_ms),
      "extra output latency (amplifier, DSP) added to the sink's own, in ms")(
      "live-latency-ms", po::value(&t.live_latency_ms)->default_value(t.live_latency_ms),
      "live streams: a frame leaves the loudspeaker this long after its capture, in ms")(
      "volume", po::value(&t.volume)->default_value(t.volume), "output level, 0..100 percent")(
      "emergency-volume", po::value(&t.emergency_volume)->default_value(t.emergency_volume),
      "output level of emergencies, 1..100 percent, whatever the volume or mute")(
      "status-interval", po::value(&t.status_interval)->default_value(t.status_interval),
      "seconds between status messages")(
      "fetch-timeout-ms", po::value(&t.fetch_timeout_ms)->default_value(t.fetch_timeout_ms),
      "quiet time before missing bulletin chunks are asked for again, in ms")(
      "cache-limit-mb", po::value(&t.cache_limit_mb)->default_value(t.cache_limit_mb),
      "most MiB of cached bulletins (unneeded ones are evicted first); 0: no limit")(
      "log-level", po::value(&t.log_level)->default_value(t.log_level),
      "debug, info, warn or error")(
      "clock-offset-bound-ms",
      po::value(&t.clock_offset_bound_ms)->default_value(t.clock_offset_bound_ms),
      "beyond this offset from the controller's clock the node plays by the corrected time, ms")(
      "site-script", po::value(&t.site_script),
      "shell command whose first output lines go into each status (e.g. modem signal); "
      "empty: none");
}

loa::Status validate(const NodeOptions& o) {
  auto bad = [](const std::string& key, const std::string& why) {
    return loa::Status(make_error("option '" + key + "': " + why));
  };
  if (o.id.empty()) return bad("id", "required");
  if (loa::Status s = protocol::validate_node_id(o.id); !s) return bad("id", s.message());
  if (o.area.empty()) return bad("area", "required");
  if (auto a = protocol::AreaPath::parse(o.area); !a) return bad("area", a.error().message);
  if (loa::Status s = runtime::validate_bus_config(node_bus_config(o)); !s) {
    return make_error(s.message());
  }
  if (o.cache.empty()) return bad("cache", "must name a directory");
  if (auto s = parse_sink_spec(o.sink); !s) return bad("sink", s.error().message);
  if (o.controller_key.empty())
    return bad("controller-key", "required (the controller's public key file)");
  if (o.live_latency_ms < 40 || o.live_latency_ms > 10000) {
    return bad("live-latency-ms", std::to_string(o.live_latency_ms) + " is not in 40..10000");
  }
  if (o.output_latency_ms < 0 || o.output_latency_ms > 10000) {
    return bad("output-latency-ms", std::to_string(o.output_latency_ms) + " is not in 0..10000");
  }
  if (o.volume < 0 || o.volume > 100) {
    return bad("volume", std::to_string(o.volume) + " is not in 0..100");
  }
  if (o.emergency_volume < 1 || o.emergency_volume > 100) {
    return bad("emergency-volume",
               std::to_string(o.emergency_volume) + " is not in 1..100 (an emergency must sound)");
  }
  if (o.status_interval < 1 || o.status_interval > 86400) {
    return bad("status-interval", std::to_string(o.status_interval) + " is not in 1..86400");
  }
  if (o.fetch_timeout_ms < 100 || o.fetch_timeout_ms > 600000) {
    return bad("fetch-timeout-ms", std::to_string(o.fetch_timeout_ms) + " is not in 100..600000");
  }
  if (o.cache_limit_mb < 0 || o.cache_limit_mb > 1048576) {
    return bad("cache-limit-mb", std::to_string(o.cache_limit_mb) + " is not in 0..1048576");
  }
  if (o.clock_offset_bound_ms < 10 || o.clock_offset_bound_ms > 3600000) {
    return bad("clock-offset-bound-ms",
               std::to_string(o.clock_offset_bound_ms) + " is not in 10..3600000");
  }
  runtime::LogLevel level{};
  if (!runtime::parse_log_level(o.log_level, level)) {
    return bad("log-level", "'" + o.log_level + "' is not one of debug, info, warn, error");
  }
  return {};
}

runtime::BusConfig node_bus_config(const NodeOptions& o) {
  runtime::BusConfig c;
  c.url = o.broker;
  // The node id is also its broker user name (provisioning); the production broker takes the
  // user name as the client id anyway (use_username_as_clientid), so the two agree.
  c.client_id = o.id;
  c.username = o.broker_username;
  c.password = o.broker_password;
  c.ca_file = o.broker_ca_file;
  c.cert_file = o.broker_cert_file;
  c.key_file = o.broker_key_file;
  c.tls_version = o.broker_tls_version;
  return c;
}

Result<protocol::KeySet> load_controller_keys(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> in_dir;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (entry.path().extension() == ".pub" && entry.is_regular_file(ec)) {
        in_dir.push_back(entry.path().string());
      }
    }
    if (ec) return make_error(path + ": " + ec.message());
    if (in_dir.empty()) return make_error(path + ": a directory without any *.pub key file");
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  if (files.empty()) return make_error("required (the controller's public key file)");
  if (files.size() > kMaxControllerKeys) {
    return make_error(std::to_string(files.size()) + " key files (at most " +
                      std::to_string(kMaxControllerKeys) + ")");
  }
  protocol::KeySet keys;
  for (const auto& file : files) {
    auto key = runtime::load_public_key(file);
    if (!key) return make_error(key.error().message);
    keys.add(*key);
  }
  return keys;
}

Result<NodeConfig> load_node_config(const NodeOptions& o) {
  if (loa::Status s = validate(o); !s) return make_error(s.message());
  if (loa::Status s = runtime::make_directories(o.cache); !s) {
    return make_error("option 'cache': " + s.message());
  }
  NodeConfig c;
  c.id = o.id;
  c.area = *protocol::AreaPath::parse(o.area);
  c.cache_dir = o.cache;
  auto controller = load_controller_keys(o.controller_key);
  if (!controller) return make_error("option 'controller-key': " + controller.error().message);
  c.controller_keys = std::move(controller).value();
  const std::string key_file =
      o.key.empty() ? (std::filesystem::path(o.cache) / "node.key").string() : o.key;
  auto key = runtime::load_or_create_key_pair(key_file);
  if (!key) return make_error("option 'key': " + key.error().message);
  c.key = *key;
  c.extra_output_latency_us = protocol::Micros{o.output_latency_ms} * 1000;
  c.live_latency_us = protocol::Micros{o.live_latency_ms} * 1000;
  c.volume = static_cast<std::uint8_t>(o.volume);
  c.emergency_volume = static_cast<std::uint8_t>(o.emergency_volume);
  c.status_interval_us = protocol::Micros{o.status_interval} * 1'000'000;
  c.fetch_timeout_us = protocol::Micros{o.fetch_timeout_ms} * 1000;
  c.clock_offset_bound_us = protocol::Micros{o.clock_offset_bound_ms} * 1000;
  c.site_script = o.site_script;
  c.output_device = o.sink;
  c.cache_limit_bytes = static_cast<std::uint64_t>(o.cache_limit_mb) * 1024 * 1024;
  return c;
}

}  // namespace loa::node
