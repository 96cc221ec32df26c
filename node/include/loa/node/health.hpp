// What the node reports about itself and how it is looked after remotely (issue 6): the
// pre-sealed last will, the board's CPU temperature, the site script, the test tone and the
// settings a config reload may change.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loa/node/config.hpp"
#include "loa/protocol/envelope.hpp"
#include "loa/protocol/ogg_opus.hpp"

namespace loa::node {

// Exit status of loa-node after a `restart` Control (EX_TEMPFAIL); systemd's Restart=always
// starts it again.
inline constexpr int kRestartExitCode = 75;

// The node's last will: a Status with online = 0 sealed with the node's key now, at the next
// sequence of the node's persisted envelope counter (its outbox, outbox_path), which is also its
// session: above every sequence of earlier runs, whatever the clock did. The broker publishes it
// retained on the node's status topic when the connection is lost. PROTOCOL.md, "Status and
// last will". Fails when the outbox cannot be opened or the reservation not stored.
struct LastWill {
  std::string topic;
  protocol::Bytes payload;
  std::uint64_t session = 0;
};
Result<LastWill> make_last_will(const NodeConfig& config, protocol::Micros now_us);

// The highest CPU temperature of /sys/class/thermal/thermal_zone*/temp (milli-degrees Celsius),
// or nullopt where the board has none. `root` is for tests.
std::optional<std::int32_t> read_cpu_temperature(const std::string& root = "/sys/class/thermal");

// Runs the site script (a shell command, e.g. one that prints the modem's signal) on its own
// thread at most once per refresh() and keeps the first lines of its output, at most 256 bytes;
// a run that takes longer than `timeout_ms` is killed and reported as such. Thread-safe.
class SiteScript {
 public:
  explicit SiteScript(int timeout_ms = 5000) : timeout_ms_(timeout_ms) {}
  ~SiteScript();
  SiteScript(const SiteScript&) = delete;
  SiteScript& operator=(const SiteScript&) = delete;
  // The command to run ("" : none; the output is cleared).
  void set_command(const std::string& command);
  // Starts a run in the background unless one is running or no command is set.
  void refresh();
  // The output of the last finished run (or the reason it failed); "" if none yet.
  std::string output() const;
  // Waits for a run in progress to finish (tests, shutdown).
  void wait();

 private:
  const int timeout_ms_;
  mutable std::mutex mu_;
  std::string command_;
  std::string output_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

// Runs `command` through /bin/sh -c, returns its first lines (at most `max_bytes`, with
// newlines turned into " | ") or an error naming the exit status or the timeout.
Result<std::string> run_site_script(const std::string& command, int timeout_ms,
                                    std::size_t max_bytes = 256);

// A 1 kHz test tone of `ms` milliseconds (clamped to 100..30000) at half scale, with 10 ms
// fades, as an Opus stream the player plays like a cached bulletin.
protocol::OpusStream make_test_tone(std::uint64_t ms);

// The settings a reload applies at run time; other changed keys need a restart.
struct RuntimeSettings {
  std::uint8_t volume = 100;
  protocol::Micros status_interval_us = 60'000'000;
  std::string log_level = "info";
  std::string site_script;
  protocol::Micros clock_offset_bound_us = 2'000'000;
  std::vector<std::string> restart_needed;  // keys changed that apply only after a restart
};
// From options re-read from the config file (`now`), compared with those the node started with.
RuntimeSettings runtime_settings(const NodeOptions& now, const NodeOptions& before);

}  // namespace loa::node
