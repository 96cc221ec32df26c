// A whole loa deployment on loopback for end-to-end tests: a real Mosquitto, loa-controller, and
// loa-node processes with WAV sinks, each with its own directory under one TempDir.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "loa/protocol/messages.hpp"
#include "mosquitto_broker.hpp"
#include "process.hpp"

namespace loa::test {

struct NodeSpec {
  std::string id;
  std::string area;
  int speakers = 2;
  int residents = 1000;
};

class Deployment {
 public:
  Deployment();
  ~Deployment();

  MosquittoBroker& broker() { return *broker_; }
  const TempDir& dir() const { return dir_; }
  std::string controller_url() const { return "http://127.0.0.1:" + std::to_string(api_port_); }

  void start_controller();
  void stop_controller(int signal = 15);
  // Registers the node with the controller (loactl node add) and starts its process.
  void add_node(const NodeSpec& spec);
  void start_node(const std::string& id);
  void stop_node(const std::string& id, int signal = 15);
  // Whether the node's process is still running (false once it exited or was never started).
  bool node_running(const std::string& id);
  std::string node_wav_dir(const std::string& id) const;
  std::string node_cache_dir(const std::string& id) const;
  std::string controller_public_key_file() const { return dir_ / "controller.pub"; }
  // The controller's local administrator token file; start_controller() also exports it as
  // LOA_TOKEN_FILE, which loactl (and child processes) read.
  std::string local_token_file() const { return dir_ / "controller.db.token"; }
  std::string logs() const;  // every process's log, for failure messages

  // Runs loactl with --controller and --format json; returns the exit code and parsed stdout
  // (or the raw stdout and stderr when it is not JSON).
  struct CtlResult {
    int exit_code = -1;
    nlohmann::json json;
    std::string out;
    std::string err;
  };
  CtlResult loactl(std::vector<std::string> args);
  // GET from the controller's API; throws on a non-200 answer.
  std::string http_get(const std::string& path);

 private:
  TempDir dir_;
  std::unique_ptr<MosquittoBroker> broker_;
  int api_port_ = 0;
  std::unique_ptr<Process> controller_;
  std::map<std::string, NodeSpec> specs_;
  std::map<std::string, std::unique_ptr<Process>> nodes_;
};

// 16-bit mono PCM samples of a WAV file; throws if it is not one.
std::vector<std::int16_t> read_wav_pcm16(const std::string& path);
// Writes 16-bit mono PCM at `rate` as a WAV file.
void write_wav_pcm16(const std::string& path, const std::vector<std::int16_t>& pcm,
                     std::uint32_t rate);

// Wall clock in µs since the epoch.
protocol::Micros now_us();

// "YYYY-MM-DDTHH:MM:SS" in UTC for an instant, rounded up to the next whole second (`rounded`).
std::string utc_wall_time(protocol::Micros t, protocol::Micros* rounded);

// A number field of a JSON object, or -1 when it is missing or not a number.
std::int64_t field(const nlohmann::json& j, const char* key);

// Polls `pred` every `every` (200 ms) until it holds or `timeout` passes; returns its last value.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds(200)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
  }
  return pred();
}

}  // namespace loa::test
