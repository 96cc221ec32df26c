// The Node's health and remote control (issue 6): status fields, clock offset, controls, reload.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>

#include "loa/node/node.hpp"
#include "loa/runtime/files.hpp"
#include "loa/runtime/log.hpp"

namespace loa::node {

using protocol::Micros;
using runtime::Log;
using runtime::LogLevel;

namespace {

// Volume and mute as last set by a Control, kept across restarts ("volume=N\nmuted=0|1\n").
constexpr const char* kOutputStateFile = "output.state";

std::string output_state_path(const NodeConfig& c) {
  return (std::filesystem::path(c.cache_dir) / kOutputStateFile).string();
}

}  // namespace

std::uint64_t Node::next_sequence(Micros now) {
  // The persisted counter is above the will's session already when the will was sealed from it
  // (make_last_will); the floor keeps that true for a will sealed otherwise.
  const auto above_will = static_cast<Micros>(
      std::min<std::uint64_t>(config_.will_session, std::numeric_limits<Micros>::max() - 1) + 1);
  return sequence_->next(std::max(now, above_will));
}

void Node::start_health() {
  status_interval_us_ = config_.status_interval_us;
  offset_bound_us_ = config_.clock_offset_bound_us;
  site_.set_command(config_.site_script);
  site_.refresh();
  auto saved = runtime::read_file(output_state_path(config_), 256);
  if (!saved) return;  // none yet: the configured volume
  std::istringstream in(std::string(saved->begin(), saved->end()));
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const int value = std::atoi(line.c_str() + eq + 1);
    if (key == "volume" && value >= 0 && value <= 100) {
      player_.set_volume(static_cast<std::uint8_t>(value));
    } else if (key == "muted") {
      player_.set_muted(value != 0);
    }
  }
  Log(LogLevel::info, "node").kv("volume", player_.volume()).kv("muted", player_.muted())
      << "output level as last set by the controller";
}

void Node::save_output_state() {
  const std::string text = "volume=" + std::to_string(player_.volume()) +
                           "\nmuted=" + (player_.muted() ? "1" : "0") + "\n";
  if (loa::Status s = runtime::write_file_atomic(
          output_state_path(config_),
          protocol::ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
      !s) {
    Log(LogLevel::warn, "node") << "output level not saved: " << s.message();
  }
}

void Node::apply_control(const protocol::EnvelopeHeader& header, const protocol::Control& control) {
  if (control.command == protocol::ControlCommand::time) {
    on_time_answer(header, control.value);
    return;
  }
  Log(LogLevel::info, "node")
          .kv("command", protocol::to_string(control.command))
          .kv("value", control.value)
      << "control";
  switch (control.command) {
    case protocol::ControlCommand::volume:
      if (control.value > 100) {
        Log(LogLevel::warn, "node").kv("value", control.value) << "volume beyond 100 ignored";
        return;
      }
      player_.set_volume(static_cast<std::uint8_t>(control.value));
      save_output_state();
      publish_status();
      return;
    case protocol::ControlCommand::mute:
      player_.set_muted(control.value != 0);
      save_output_state();
      publish_status();
      return;
    case protocol::ControlCommand::cancel:
      if (!player_.cancel(control.value)) {
        Log(LogLevel::info, "node").kv("occurrence", control.value)
            << "cancel: occurrence not scheduled here";
      }
      return;
    case protocol::ControlCommand::ping:
      publish_status();
      return;
    case protocol::ControlCommand::test_tone: {
      const std::uint64_t ms = std::clamp<std::uint64_t>(control.value, 100, 30000);
      const std::uint64_t id = player_.play_test_tone(make_test_tone(ms));
      Log(LogLevel::info, "node").kv("ms", ms).kv("tone", id & ~(std::uint64_t{1} << 63))
          << "test tone queued";
      return;
    }
    case protocol::ControlCommand::restart:
      if (!restart_) {
        Log(LogLevel::warn, "node") << "restart not possible here (no service manager hook)";
        return;
      }
      Log(LogLevel::warn, "node") << "restart requested by the controller: stopping";
      restart_();
      return;
    case protocol::ControlCommand::reload:
      apply_reload();
      return;
    case protocol::ControlCommand::time:
      return;
  }
}

void Node::on_time_answer(const protocol::EnvelopeHeader& header, std::uint64_t status_sequence) {
  if (!offset_.answered(status_sequence, header.sender_us, clock_.base().now_us())) {
    Log(LogLevel::debug, "node").kv("sequence", status_sequence)
        << "time answer to no pending status ignored";
    return;
  }
  const auto estimate = offset_.estimate();
  if (!estimate) return;
  const Micros bound = offset_bound_us_.load();
  const Micros before = clock_.correction();
  // Beyond the bound (surely, given the round trip) it applies; once applied it follows the
  // estimate until it is surely within half the bound, so a wobble does not switch back and forth.
  const Micros after = correction_for(*estimate, bound, before);
  const bool apply = after != 0;
  if (after == before) return;
  clock_.set_correction(after);
  if (apply) {
    Log(LogLevel::warn, "node")
            .kv("offset_ms", estimate->offset_us / 1000)
            .kv("round_trip_ms", estimate->round_trip_us / 1000)
            .kv("bound_ms", bound / 1000)
        << "clock off from the controller's beyond the bound: playing by the corrected time";
  } else {
    Log(LogLevel::info, "node").kv("offset_ms", estimate->offset_us / 1000)
        << "clock back within the bound: correction removed";
  }
}

void Node::apply_reload() {
  if (!reload_) {
    Log(LogLevel::warn, "node") << "reload not possible here (no config file hook)";
    return;
  }
  auto settings = reload_();
  if (!settings) {
    Log(LogLevel::error, "node") << "reload refused, nothing changed: " << settings.error().message;
    return;
  }
  player_.set_volume(settings->volume);
  save_output_state();
  status_interval_us_ = settings->status_interval_us;
  runtime::LogLevel level{};
  if (runtime::parse_log_level(settings->log_level, level)) runtime::set_log_level(level);
  site_.set_command(settings->site_script);
  site_.refresh();
  offset_bound_us_ = settings->clock_offset_bound_us;
  std::string restart;
  for (const auto& k : settings->restart_needed) restart += (restart.empty() ? "" : ",") + k;
  Log(restart.empty() ? LogLevel::info : LogLevel::warn, "node")
          .kv("volume", settings->volume)
          .kv("status_interval_s", settings->status_interval_us / 1'000'000)
          .kv("log_level", settings->log_level)
          .kv("restart_needed", restart.empty() ? "-" : restart)
      << "config reloaded" << (restart.empty() ? "" : "; changed keys above apply after a restart");
  clock_.wake();  // the housekeeping loop picks up the new status interval
}

void Node::note_playback(const protocol::PlaybackEvent& e) {
  protocol::PlaybackEvent last = e;
  last.detail.clear();
  std::lock_guard lock(health_mu_);
  last_playback_ = std::move(last);
}

void Node::add_health(protocol::Status& s) {
  s.online = true;
  s.session = config_.will_session;
  if (const auto estimate = offset_.estimate()) s.clock_offset_us = estimate->offset_us;
  s.clock_corrected = clock_.correction() != 0;
  s.muted = player_.muted();
  {
    std::lock_guard lock(health_mu_);
    if (last_playback_) {
      s.last_occurrence_id = last_playback_->occurrence_id;
      s.last_end_us = last_playback_->end_us;
      s.last_outcome = last_playback_->outcome;
    }
  }
  s.output_device = config_.output_device;
  if (!s.output_ok) s.output_error = "the last open of the output failed (see the node's log)";
  s.cpu_temp_mc = read_cpu_temperature();
  s.site_output = site_.output();
  site_.refresh();  // for the next status: this one never waits for the script
}

}  // namespace loa::node
