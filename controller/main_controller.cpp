// loa-controller: the daemon. Parses options and hands over to loa::controller.
#include <malloc.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "loa/controller/accounts.hpp"
#include "loa/controller/api_server.hpp"
#include "loa/controller/auth.hpp"
#include "loa/controller/config.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"
#include "loa/runtime/sd_notify.hpp"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
  g_stop = true;
}

using loa::runtime::Log;
using loa::runtime::LogLevel;

// One line of standard input, not echoed on a terminal.
std::string read_password() {
  termios saved{};
  const bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    std::cerr << "password: " << std::flush;
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// loa-controller user add NAME --role ROLE [--area PATH] [--config FILE | --db FILE]: adds a
// user straight to the database (the first administrator), password on standard input.
int user_command(int argc, char** argv) {
  if (argc < 4 || std::string(argv[2]) != "add") {
    throw std::runtime_error(
        "usage: loa-controller user add NAME --role ROLE [--area PATH] [--config FILE | --db "
        "FILE]  (password on standard input)");
  }
  const std::string name = argv[3];
  std::string role_text;
  std::string area;
  std::vector<char*> rest = {argv[0]};
  for (int i = 4; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--role" || a == "--area") && i + 1 < argc) {
      (a == "--role" ? role_text : area) = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  const auto role = loa::controller::parse_role(role_text);
  if (!role) {
    throw std::runtime_error(
        "--role '" + role_text +
        "' is not administrator, province_operator, commune_operator or viewer");
  }
  loa::controller::ControllerConfig config;
  loa::runtime::po::variables_map vm;
  if (!loa::runtime::parse_options(static_cast<int>(rest.size()), rest.data(),
                                   loa::controller::controller_options(config), vm,
                                   "loa-controller user add", "NAME --role ROLE [--area PATH]")) {
    return 0;
  }
  auto accounts = loa::controller::AccountStore::open(config.db);
  if (!accounts) throw std::runtime_error(accounts.error().message);
  const loa::runtime::SystemClock clock;
  auto user = (*accounts)->add_user(name, *role, area, read_password(), clock.now_us());
  const char* who = std::getenv("USER");
  loa::controller::AuditEntry e{0,
                                clock.now_us(),
                                std::string("console:") + (who ? who : "?"),
                                "",
                                "",
                                "controller host",
                                "loa-controller user add",
                                name + " role=" + role_text + " area=" + area,
                                user ? "201" : "refused: " + user.error().message};
  if (auto r = (*accounts)->append_audit(e); !r) throw std::runtime_error(r.error().message);
  if (!user) throw std::runtime_error(user.error().message);
  std::cout << "user " << name << " added (" << role_text << (area.empty() ? "" : " of " + area)
            << ")\n";
  return 0;
}

int run(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "user") return user_command(argc, argv);
  loa::controller::ControllerConfig config;
  const auto options = loa::controller::controller_options(config);
  loa::runtime::po::variables_map vm;
  if (!loa::runtime::parse_options(argc, argv, options, vm, "loa-controller",
                                   "[--config FILE] [options]")) {
    return 0;
  }
  LogLevel level{};
  if (!loa::runtime::parse_log_level(config.log_level, level)) {
    throw std::runtime_error("log-level '" + config.log_level +
                             "' is not one of debug, info, warn, error");
  }
  loa::runtime::set_log_level(level);

  auto keys = loa::runtime::load_or_create_key_pair(config.key);
  if (!keys) throw std::runtime_error(keys.error().message);
  if (vm["print-public-key"].as<bool>()) {
    std::cout << loa::runtime::to_hex(loa::protocol::ByteView(keys->public_key)) << "\n";
    return 0;
  }

  auto listen = loa::controller::parse_listen_address(config.listen);
  if (!listen) throw std::runtime_error(listen.error().message);
  const loa::runtime::BusConfig bus_config = loa::controller::controller_bus_config(config);
  if (loa::Status s = loa::runtime::validate_bus_config(bus_config); !s) {
    throw std::runtime_error(s.message());
  }
  if (config.frame_ms != 10 && config.frame_ms != 20 && config.frame_ms != 40 &&
      config.frame_ms != 60) {
    throw std::runtime_error("frame-ms " + std::to_string(config.frame_ms) +
                             " is not one of 10, 20, 40, 60");
  }
  if (config.bitrate < 6000 || config.bitrate > 510000) {
    throw std::runtime_error("bitrate " + std::to_string(config.bitrate) +
                             " is outside 6000..510000");
  }
  {
    loa::controller::EncodeOptions encode;
    encode.bitrate = config.bitrate;
    encode.frame_ms = config.frame_ms;
    if (loa::Status s = loa::controller::check_encode_options(encode); !s) {
      throw std::runtime_error("bitrate, frame-ms: " + s.message());
    }
  }
  if (auto zone = loa::controller::check_zone(config.tz); !zone) {
    throw std::runtime_error("tz: " + zone.message());
  }
  auto auth = loa::controller::auth_settings(config);
  if (!auth) throw std::runtime_error(auth.error().message);
  auto http_limits = loa::controller::http_limits(config);
  if (!http_limits) throw std::runtime_error(http_limits.error().message);

  auto store = loa::controller::open_sqlite_store(config.db);
  if (!store) throw std::runtime_error(store.error().message);

  auto bus = loa::runtime::make_mosquitto_bus(bus_config);

  loa::controller::ControllerSettings settings;
  settings.audio_dir = loa::controller::resolved_audio_dir(config);
  settings.tz = config.tz;
  settings.missed_grace_us = config.missed_grace_s * 1'000'000;
  settings.offline_after_us = config.offline_after_s * 1'000'000;
  settings.fetch_window_ms = config.fetch_window_ms;
  if (!(config.prefetch_mbps >= 0 && config.prefetch_mbps <= 100000)) {
    throw std::runtime_error("prefetch-mbps: must be 0 (no limit) to 100000");
  }
  settings.prefetch_bytes_per_s = config.prefetch_mbps * 1e6 / 8;
  if (config.ingest_batch_max < 1 || config.ingest_batch_max > 10000) {
    throw std::runtime_error("ingest-batch-max: must be 1..10000");
  }
  settings.ingest_batch_max = config.ingest_batch_max;
  if (config.plan_horizon_days < 1 || config.plan_horizon_days > 60) {
    throw std::runtime_error("plan-horizon-days: must be 1..60");
  }
  if (config.tick_s < 1) throw std::runtime_error("tick-s: must be 1 or more");
  settings.plan_horizon_days = config.plan_horizon_days;
  settings.trust_first_key = config.trust_first_key;
  settings.event_tolerance_us = config.event_tolerance_s * 1'000'000;
  if (config.refused_keep_per_node < 1 || config.refused_keep_per_node > 1'000'000) {
    throw std::runtime_error(
        "refused-keep-per-node: " + std::to_string(config.refused_keep_per_node) +
        " is outside 1..1000000");
  }
  if (config.refused_keep < 1 || config.refused_keep > 10'000'000) {
    throw std::runtime_error("refused-keep: " + std::to_string(config.refused_keep) +
                             " is outside 1..10000000");
  }
  settings.refused_keep_per_node = static_cast<std::size_t>(config.refused_keep_per_node);
  settings.refused_keep_total = static_cast<std::size_t>(config.refused_keep);
  settings.encode.bitrate = config.bitrate;
  settings.encode.frame_ms = config.frame_ms;
  // The envelope sequence's reservation lives beside the database, outside its transactions.
  if (config.db != ":memory:") settings.sequence_file = config.db + ".sequence";

  loa::runtime::SystemClock clock;
  loa::controller::Controller controller(**store, *bus, clock, *keys, settings);
  bus->on_connection([&config](bool connected) {
    if (g_stop) return;  // the disconnect of our own shutdown is not news
    Log(connected ? LogLevel::info : LogLevel::warn, "controller").kv("broker", config.broker)
        << (connected ? "connected to the broker" : "broker connection lost; retrying");
  });
  if (loa::Status s = controller.attach(); !s) throw std::runtime_error(s.message());
  if (loa::Status s = bus->start(); !s) throw std::runtime_error("broker: " + s.message());

  // Accounts (issue 7). The local token lets loactl on this host act as the administrator:
  // whoever can read the 0600 file can read the database and the signing key anyway. Kept
  // across restarts; delete the file to change it.
  auto accounts = loa::controller::AccountStore::open(config.db);
  if (!accounts) throw std::runtime_error(accounts.error().message);
  const std::string token_file = loa::controller::resolved_local_token_file(config);
  auto local_token = loa::controller::write_local_token(token_file);
  if (!local_token) throw std::runtime_error(local_token.error().message);
  auth->local_token = *local_token;
  loa::controller::Access access(**accounts, controller, *auth);
  loa::controller::ApiServer api(controller, *http_limits, &access);
  auto port = api.bind(listen->first, listen->second);
  if (!port) throw std::runtime_error(port.error().message);
  api.start();

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  Log(LogLevel::info, "controller")
          .kv("listen", listen->first + ":" + std::to_string(*port))
          .kv("broker", config.broker)
          .kv("db", config.db)
          .kv("audio_dir", settings.audio_dir)
          .kv("local_token_file", token_file)
          .kv("public_key", loa::runtime::to_hex(loa::protocol::ByteView(keys->public_key)))
      << "controller running";
  // systemd (Type=notify): ready once the API listens; the watchdog is fed from this loop.
  if (auto r = loa::runtime::notify_systemd("READY=1\nSTATUS=running"); !r) {
    Log(LogLevel::warn, "controller").kv("error", r.error().message) << "cannot notify systemd";
  }
  loa::runtime::WatchdogFeeder watchdog;
  // The tick extends recurring bulletins up to the plan horizon: at start, then every tick-s.
  auto next_tick = std::chrono::steady_clock::now();
  while (!g_stop) {
    watchdog.feed();
    if (std::chrono::steady_clock::now() >= next_tick) {
      if (auto n = controller.tick(); !n) {
        Log(LogLevel::warn, "controller").kv("reason", n.error().message) << "tick failed";
      }
      next_tick = std::chrono::steady_clock::now() + std::chrono::seconds(config.tick_s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  Log(LogLevel::info, "controller") << "stopping";
  (void)loa::runtime::notify_systemd("STOPPING=1");
  api.stop();
  bus->stop(2000);
  Log(LogLevel::info, "controller") << "stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Request bodies (uploads up to max-upload-mb) are large, short-lived and allocated on one of
  // up to http-max-connections threads. glibc's default raises its mmap threshold after such a
  // buffer is freed, so later ones land in per-thread arenas that keep the memory: 57.6 MB
  // uploads left the controller at ~160 MB resident. A fixed threshold gives every large buffer
  // back to the system when it is freed (~40-85 MB; docs/benchmarks.md "Hostile load").
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "loa-controller: " << e.what() << "\n";
    return 1;
  }
}
