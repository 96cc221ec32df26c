// The node's settings: options as given (command line / config file) and the resolved config.
#pragma once

#include <string>
#include <vector>

#include "loa/node/sink.hpp"
#include "loa/protocol/area_path.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/options.hpp"

namespace loa::node {

// Every option of loa-node; each is a --flag and a config-file key of the same name.
struct NodeOptions {
  std::string id;
  std::string area;
  std::string broker = "mqtt://127.0.0.1:1883";
  std::string broker_username;  // empty: connect without credentials
  std::string broker_password;
  std::string broker_ca_file;  // required with mqtts://
  std::string broker_cert_file;
  std::string broker_key_file;
  std::string broker_tls_version = "tlsv1.2";
  std::string cache = "/var/lib/loa-node";
  std::string sink = "null";
  // The controller's public keys (hex): each a file, or a directory whose *.pub files are read;
  // the key may be given several times. Several keys during a key rotation (docs/deployment.md).
  std::vector<std::string> controller_key;
  std::string key;  // the node's key pair file; empty: <cache>/node.key
  int output_latency_ms = 0;
  int live_latency_ms = 300;  // live streams: capture instant to loudspeaker
  int volume = 100;
  int emergency_volume = 100;  // emergencies, whatever the volume or mute
  int status_interval = 60;    // seconds
  int fetch_timeout_ms = 3000;
  int cache_limit_mb = 256;  // 0: no limit but the disk
  std::string log_level = "info";
  int clock_offset_bound_ms = 2000;  // beyond it the node plays by the controller's clock
  std::string site_script;           // shell command whose output goes into the status
};

// Adds every node option to `desc`, storing into `target` (whose values are the defaults).
void add_node_options(runtime::po::options_description& desc, NodeOptions& target);

// Checks every value; the error names the bad key and says what is allowed.
loa::Status validate(const NodeOptions& options);

// The broker connection the options describe (client id = the node id; no will).
runtime::BusConfig node_bus_config(const NodeOptions& options);

// What a Node runs with. Built by load_node_config() or directly (tests, the fleet simulator).
struct NodeConfig {
  std::string id;
  protocol::AreaPath area;
  std::string cache_dir;
  protocol::KeySet controller_keys;  // every controller message must be signed by one of them
  protocol::KeyPair key;             // the node's own signing key
  protocol::Micros extra_output_latency_us = 0;
  protocol::Micros live_latency_us = 300'000;  // live streams: sender instant to loudspeaker
  std::uint8_t volume = 100;
  std::uint8_t emergency_volume = 100;
  protocol::Micros status_interval_us = 60'000'000;
  protocol::Micros fetch_timeout_us = 3'000'000;
  std::uint64_t cache_limit_bytes = 0;           // 0: no limit but the disk
  protocol::Micros event_resend_us = 5'000'000;  // re-publish unreceipted events this often
  // Health (issue 6): the clock offset beyond which the node plays by the controller's clock,
  // the site script, the output as configured (reported), and the session of the last will the
  // bus was given (make_last_will; 0: none).
  protocol::Micros clock_offset_bound_us = 2'000'000;
  std::string site_script;
  std::string output_device;
  std::uint64_t will_session = 0;
  // False only in the fleet simulator: bulletins are counted, not decoded (PlayerConfig::decode).
  bool decode_audio = true;
  // The player loads the bulletin and opens the sink this long before the instant
  // (PlayerConfig::open_ahead_us). Longer only in the fleet simulator, whose thousands of nodes
  // load one after the other on a few cores.
  protocol::Micros open_ahead_us = 500'000;
};

// The controller keys the `controller-key` values name (files, or directories of *.pub files), at
// most kMaxControllerKeys; the error names the file.
inline constexpr std::size_t kMaxControllerKeys = 8;
Result<protocol::KeySet> load_controller_keys(const std::vector<std::string>& paths);

// Validates the options, creates the cache directory, loads the controller keys and loads (or
// creates, on first start) the node's key pair. The error names the key or file.
Result<NodeConfig> load_node_config(const NodeOptions& options);

}  // namespace loa::node
