#include "loa/node/health.hpp"

#include <fcntl.h>
#include <opus.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "loa/node/node.hpp"
#include "loa/node/outbox.hpp"
#include "loa/protocol/topics.hpp"
#include "loa/runtime/sequence.hpp"

extern char** environ;

namespace loa::node {

using protocol::Micros;

Result<LastWill> make_last_will(const NodeConfig& config, Micros now_us) {
  auto outbox = Outbox::open(outbox_path(config.cache_dir));
  if (!outbox) return outbox.error();
  auto reserved = (*outbox)->sequence_reservation();
  if (!reserved) return reserved.error();
  loa::Status stored;
  runtime::SequenceCounter counter(*reserved, [&](std::uint64_t through) {
    stored = (*outbox)->reserve_sequences(through);
    return stored;
  });
  LastWill w;
  w.topic = protocol::topics::node_up(config.id, protocol::topics::UpKind::status);
  w.session = counter.next(std::max<Micros>(now_us, 1));
  if (!stored) return make_error("last will: " + stored.message());
  protocol::Status s;
  s.node_id = config.id;
  s.version = LOA_VERSION;
  s.volume = config.volume;
  s.online = false;
  s.session = w.session;
  w.payload = protocol::seal(protocol::MessageType::status, config.key, now_us, w.session,
                             protocol::encode(s));
  return w;
}

std::optional<std::int32_t> read_cpu_temperature(const std::string& root) {
  std::error_code ec;
  std::optional<std::int32_t> best;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (entry.path().filename().string().rfind("thermal_zone", 0) != 0) continue;
    std::ifstream in(entry.path() / "temp");
    long long value = 0;
    if (!(in >> value)) continue;
    if (value < -100'000 || value > 200'000) continue;  // not a plausible CPU reading
    const auto v = static_cast<std::int32_t>(value);
    if (!best || v > *best) best = v;
  }
  return best;
}

Result<std::string> run_site_script(const std::string& command, int timeout_ms,
                                    std::size_t max_bytes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return make_error("site-script: pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills its children too
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return make_error("site-script: cannot start /bin/sh");
  }
  std::string out;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[512];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of output
    if (out.size() < 4 * max_bytes) out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return make_error("site-script: no answer within " + std::to_string(timeout_ms) + " ms");
  }
  // First lines, newlines shown as " | ", trailing blank lines dropped, cut to max_bytes.
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) {
    out.pop_back();
  }
  std::string text;
  for (const char c : out) {
    if (c == '\n') {
      text += " | ";
    } else if (c != '\r') {
      text += c;
    }
    if (text.size() >= max_bytes) break;
  }
  if (text.size() > max_bytes) text.resize(max_bytes);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return make_error("site-script: exit status " + std::to_string(WEXITSTATUS(status)) +
                      (text.empty() ? "" : ": " + text));
  }
  if (WIFSIGNALED(status)) {
    return make_error("site-script: killed by signal " + std::to_string(WTERMSIG(status)));
  }
  return text;
}

SiteScript::~SiteScript() {
  wait();
}

void SiteScript::set_command(const std::string& command) {
  std::lock_guard lock(mu_);
  if (command == command_) return;
  command_ = command;
  output_.clear();
}

void SiteScript::refresh() {
  std::string command;
  {
    std::lock_guard lock(mu_);
    if (command_.empty() || running_) return;
    command = command_;
    running_ = true;
    if (thread_.joinable()) thread_.join();  // finished: running_ was false
  }
  thread_ = std::thread([this, command] {
    auto result = run_site_script(command, timeout_ms_);
    {
      std::lock_guard lock(mu_);
      if (command == command_) output_ = result ? *result : "error: " + result.error().message;
    }
    running_ = false;
  });
}

std::string SiteScript::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

void SiteScript::wait() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) thread_.join();
}

protocol::OpusStream make_test_tone(std::uint64_t ms) {
  ms = std::clamp<std::uint64_t>(ms, 100, 30000);
  constexpr int kFrame = 960;  // 20 ms at 48 kHz
  const std::size_t total = static_cast<std::size_t>(ms) * 48;
  protocol::OpusStream s;
  s.channels = 1;
  s.input_rate = 48000;
  s.total_samples = total;
  int err = 0;
  OpusEncoder* enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &err);
  if (err != OPUS_OK || enc == nullptr) return s;  // no packets: the player reports it failed
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(24000));
  opus_int32 lookahead = 0;
  opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
  s.pre_skip = static_cast<std::uint16_t>(lookahead);
  const std::size_t frames = (total + static_cast<std::size_t>(lookahead) + kFrame - 1) / kFrame;
  const std::size_t fade = 480;  // 10 ms
  std::vector<opus_int16> pcm(frames * kFrame, 0);
  for (std::size_t i = 0; i < total; ++i) {
    double gain = 0.5;
    if (i < fade) gain *= static_cast<double>(i) / fade;
    if (total - i < fade) gain *= static_cast<double>(total - i) / fade;
    pcm[i] = static_cast<opus_int16>(
        std::lround(gain * 32767 * std::sin(2 * M_PI * 1000.0 * static_cast<double>(i) / 48000)));
  }
  std::vector<unsigned char> buf(1275);
  for (std::size_t f = 0; f < frames; ++f) {
    const int n = opus_encode(enc, pcm.data() + f * kFrame, kFrame, buf.data(),
                              static_cast<opus_int32>(buf.size()));
    if (n < 0) break;
    s.packets.emplace_back(buf.begin(), buf.begin() + n);
  }
  opus_encoder_destroy(enc);
  return s;
}

RuntimeSettings runtime_settings(const NodeOptions& now, const NodeOptions& before) {
  RuntimeSettings r;
  r.volume = static_cast<std::uint8_t>(std::clamp(now.volume, 0, 100));
  r.status_interval_us = Micros{now.status_interval} * 1'000'000;
  r.log_level = now.log_level;
  r.site_script = now.site_script;
  r.clock_offset_bound_us = Micros{now.clock_offset_bound_ms} * 1000;
  auto differs = [&](const char* key, bool changed) {
    if (changed) r.restart_needed.emplace_back(key);
  };
  differs("id", now.id != before.id);
  differs("area", now.area != before.area);
  differs("broker", now.broker != before.broker);
  differs("broker-username", now.broker_username != before.broker_username);
  differs("broker-password", now.broker_password != before.broker_password);
  differs("broker-ca-file", now.broker_ca_file != before.broker_ca_file);
  differs("broker-cert-file", now.broker_cert_file != before.broker_cert_file);
  differs("broker-key-file", now.broker_key_file != before.broker_key_file);
  differs("broker-tls-version", now.broker_tls_version != before.broker_tls_version);
  differs("cache", now.cache != before.cache);
  differs("sink", now.sink != before.sink);
  differs("controller-key", now.controller_key != before.controller_key);
  differs("key", now.key != before.key);
  differs("output-latency-ms", now.output_latency_ms != before.output_latency_ms);
  differs("fetch-timeout-ms", now.fetch_timeout_ms != before.fetch_timeout_ms);
  return r;
}

}  // namespace loa::node
