#include "deployment.hpp"

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace loa::test {
namespace fs = std::filesystem;

protocol::Micros now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string utc_wall_time(protocol::Micros t, protocol::Micros* rounded) {
  const std::time_t secs = static_cast<std::time_t>((t + 999'999) / 1'000'000);
  *rounded = static_cast<protocol::Micros>(secs) * 1'000'000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::int64_t field(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<std::int64_t>() : -1;
}

Deployment::Deployment() : dir_("loa-e2e"), broker_(std::make_unique<MosquittoBroker>()) {
  api_port_ = free_loopback_port();
  fs::create_directories(dir_ / "audio");
  auto key =
      run_command({LOA_CONTROLLER_BIN, "--key", dir_ / "controller.key", "--print-public-key"});
  if (key.exit_code != 0) throw std::runtime_error("--print-public-key failed: " + key.err);
  std::ofstream(controller_public_key_file()) << key.out;
}

Deployment::~Deployment() {
  nodes_.clear();
  controller_.reset();
}

void Deployment::start_controller() {
  controller_ = std::make_unique<Process>(
      std::vector<std::string>{LOA_CONTROLLER_BIN, "--broker", broker_->url(), "--db",
                               dir_ / "controller.db", "--key", dir_ / "controller.key",
                               "--audio-dir", dir_ / "audio", "--listen",
                               "127.0.0.1:" + std::to_string(api_port_), "--log-level", "debug"},
      dir_ / "controller.log");
  for (int i = 0; i < 200; ++i) {
    httplib::Client client("127.0.0.1", api_port_);
    if (auto res = client.Get("/api/v1/health"); res && res->status == 200) {
      // The local administrator token (written before the API listens), for loactl and every
      // other child process of the test (docs/api.md "Accounts").
      ::setenv("LOA_TOKEN_FILE", local_token_file().c_str(), 1);
      return;
    }
    if (!controller_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("controller did not come up:\n" + controller_->log());
}

void Deployment::stop_controller(int signal) {
  if (controller_) controller_->stop(signal);
  controller_.reset();
}

void Deployment::add_node(const NodeSpec& spec) {
  // Provisioning makes the node's key pair before its first start, and the controller learns
  // the public half from the registration (issue 9: no trust on first use). The node's default
  // key file is <cache>/node.key; the controller binary writes a key pair file in that format.
  fs::create_directories(node_wav_dir(spec.id));
  fs::create_directories(node_cache_dir(spec.id));
  auto key = run_command({LOA_CONTROLLER_BIN, "--key",
                          (fs::path(node_cache_dir(spec.id)) / "node.key").string(),
                          "--print-public-key"});
  if (key.exit_code != 0) throw std::runtime_error("node key " + spec.id + ": " + key.err);
  std::string public_key = key.out;
  while (!public_key.empty() && std::isspace(static_cast<unsigned char>(public_key.back()))) {
    public_key.pop_back();
  }
  auto r = loactl({"node", "add", "--id", spec.id, "--area", spec.area, "--speakers",
                   std::to_string(spec.speakers), "--residents", std::to_string(spec.residents),
                   "--name", "Cụm loa " + spec.id, "--public-key", public_key});
  if (r.exit_code != 0) throw std::runtime_error("node add " + spec.id + ": " + r.err);
  specs_[spec.id] = spec;
  start_node(spec.id);
}

void Deployment::start_node(const std::string& id) {
  const NodeSpec& spec = specs_.at(id);
  nodes_[id] = std::make_unique<Process>(
      std::vector<std::string>{LOA_NODE_BIN, "--id", id, "--area", spec.area, "--broker",
                               broker_->url(), "--cache", node_cache_dir(id), "--sink",
                               "wav:" + node_wav_dir(id), "--controller-key",
                               controller_public_key_file(), "--log-level", "debug"},
      dir_ / ("node-" + id + ".log"));
}

void Deployment::stop_node(const std::string& id, int signal) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  it->second->stop(signal);
  nodes_.erase(it);
}

bool Deployment::node_running(const std::string& id) {
  auto it = nodes_.find(id);
  return it != nodes_.end() && it->second->running();
}

std::string Deployment::node_wav_dir(const std::string& id) const {
  return dir_ / ("wav-" + id);
}
std::string Deployment::node_cache_dir(const std::string& id) const {
  return dir_ / ("cache-" + id);
}

std::string Deployment::logs() const {
  std::string out;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    out += "----- " + entry.path().filename().string() + "\n";
    out += std::string(std::istreambuf_iterator<char>(in), {});
  }
  out += "----- mosquitto\n" + broker_->log();
  return out;
}

Deployment::CtlResult Deployment::loactl(std::vector<std::string> args) {
  std::vector<std::string> argv = {LOA_LOACTL_BIN, "--controller", controller_url(), "--format",
                                   "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv);
  CtlResult out{r.exit_code, nullptr, r.out, r.err};
  if (r.exit_code == 0) {
    out.json = nlohmann::json::parse(r.out, nullptr, false);
  }
  return out;
}

std::string Deployment::http_get(const std::string& path) {
  httplib::Client client("127.0.0.1", api_port_);
  std::ifstream token_file(local_token_file());
  std::string token;
  std::getline(token_file, token);
  client.set_bearer_token_auth(token.c_str());
  auto res = client.Get(path);
  if (!res || res->status != 200) {
    throw std::runtime_error("GET " + path + " failed: " +
                             (res ? std::to_string(res->status) + " " + res->body : "no answer"));
  }
  return res->body;
}

void write_wav_pcm16(const std::string& path, const std::vector<std::int16_t>& pcm,
                     std::uint32_t rate) {
  std::ofstream f(path, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  f.write("RIFF", 4);
  u32(36 + static_cast<std::uint32_t>(pcm.size() * 2));
  f.write("WAVEfmt ", 8);
  u32(16);
  u16(1);
  u16(1);
  u32(rate);
  u32(rate * 2);
  u16(2);
  u16(16);
  f.write("data", 4);
  u32(static_cast<std::uint32_t>(pcm.size() * 2));
  f.write(reinterpret_cast<const char*>(pcm.data()), static_cast<std::streamsize>(pcm.size() * 2));
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::vector<std::int16_t> read_wav_pcm16(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), {});
  auto u32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at])) |
           static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at + 1])) << 8 |
           static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at + 2])) << 16 |
           static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at + 3])) << 24;
  };
  if (data.size() < 12 || data.compare(0, 4, "RIFF") != 0 || data.compare(8, 4, "WAVE") != 0) {
    throw std::runtime_error(path + ": not a WAV file");
  }
  std::size_t at = 12;
  while (at + 8 <= data.size()) {
    const std::uint32_t size = u32(at + 4);
    if (data.compare(at, 4, "fmt ") == 0) {
      const auto channels = static_cast<std::uint8_t>(data[at + 10]);
      const auto bits = static_cast<std::uint8_t>(data[at + 22]);
      if (channels != 1 || bits != 16) throw std::runtime_error(path + ": not 16-bit mono");
    }
    if (data.compare(at, 4, "data") == 0) {
      const std::size_t n = std::min<std::size_t>(size, data.size() - at - 8) / 2;
      std::vector<std::int16_t> pcm(n);
      std::memcpy(pcm.data(), data.data() + at + 8, n * 2);
      return pcm;
    }
    at += 8 + size + (size & 1);
  }
  throw std::runtime_error(path + ": no data chunk");
}

}  // namespace loa::test
