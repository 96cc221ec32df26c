// loa-node: parses options, builds the node and runs it until SIGTERM or SIGINT.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "loa/node/config.hpp"
#include "loa/node/node.hpp"
#include "loa/node/outbox.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/log.hpp"
#include "loa/runtime/sd_notify.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;
std::atomic<bool> g_restart{false};

extern "C" void on_signal(int) {
  g_stop = 1;
}

extern "C" void on_hangup(int) {
  g_reload = 1;
}

// Test hook: LOA_TEST_CRASH_AT=POINT[:N] kills the process (SIGKILL, like a power cut as far as
// the process can tell) the N-th time (default 1) it reaches POINT (see Outbox::crash_point).
void install_crash_hook() {
  const char* spec = std::getenv("LOA_TEST_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return;
  std::string point = spec;
  int nth = 1;
  if (const auto colon = point.find(':'); colon != std::string::npos) {
    nth = std::max(1, std::atoi(point.c_str() + colon + 1));
    point.resize(colon);
  }
  loa::runtime::Log(loa::runtime::LogLevel::warn, "node").kv("point", point).kv("nth", nth)
      << "test hook: crashing at a point (LOA_TEST_CRASH_AT)";
  auto hits = std::make_shared<std::atomic<int>>(0);
  loa::node::Outbox::set_crash_hook([point, nth, hits](std::string_view at) {
    if (at == point && ++*hits == nth) std::raise(SIGKILL);
  });
}

int run(int argc, char** argv) {
  using namespace loa;
  node::NodeOptions options;
  runtime::po::options_description desc("Node options (each also a config-file key)");
  node::add_node_options(desc, options);
  runtime::po::variables_map vm;
  if (!runtime::parse_options(argc, argv, desc, vm, "loa-node", "[--config FILE] [options]")) {
    return 0;
  }
  auto config = node::load_node_config(options);
  if (!config) {
    std::cerr << "loa-node: " << config.error().message << "\n";
    return 2;
  }
  runtime::LogLevel level{};
  runtime::parse_log_level(options.log_level, level);
  runtime::set_log_level(level);

  install_crash_hook();
  runtime::SystemClock clock;
  auto spec = node::parse_sink_spec(options.sink);
  auto sinks =
      spec ? node::make_sink_factory(*spec, clock) : Result<node::SinkFactory>(spec.error());
  if (!sinks) {
    std::cerr << "loa-node: option 'sink': " << sinks.error().message << "\n";
    return 2;
  }
  // The last will, sealed now with the node's key: the broker publishes it when the connection
  // is lost (PROTOCOL.md, "Status and last will").
  auto will = node::make_last_will(*config, clock.now_us());
  if (!will) {
    std::cerr << "loa-node: " << will.error().message << "\n";
    return 1;
  }
  config->will_session = will->session;
  runtime::BusConfig bus_config = node::node_bus_config(options);
  bus_config.will_topic = will->topic;
  bus_config.will_payload = will->payload;
  bus_config.will_retain = true;
  auto bus = runtime::make_mosquitto_bus(bus_config);

  auto node = node::Node::create(std::move(config).value(), *bus, clock, std::move(sinks).value());
  if (!node) {
    std::cerr << "loa-node: " << node.error().message << "\n";
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_hangup;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);

  // Remote control: restart stops the node and exits with kRestartExitCode (systemd restarts
  // it); reload (the Control, or SIGHUP) re-reads the config file, the command line still wins.
  (*node)->on_restart([] {
    g_restart = true;
    g_stop = 1;
  });
  const node::NodeOptions started_with = options;
  (*node)->on_reload([argc, argv, started_with]() -> Result<node::RuntimeSettings> {
    try {
      node::NodeOptions again;
      runtime::po::options_description d("Node options");
      node::add_node_options(d, again);
      runtime::po::variables_map m;
      runtime::parse_options(argc, argv, d, m, "loa-node", "");
      if (loa::Status s = node::validate(again); !s) return make_error(s.message());
      return node::runtime_settings(again, started_with);
    } catch (const std::exception& e) {
      return make_error(e.what());
    }
  });

  // systemd (Type=notify): READY once running, WATCHDOG only from the node's housekeeping
  // loop while the player lives, STOPPING on the way out.
  runtime::WatchdogFeeder watchdog;
  (*node)->on_healthy([&watchdog] { watchdog.feed(); });
  if (loa::Status s = (*node)->start(); !s) {
    std::cerr << "loa-node: " << s.message() << "\n";
    return 1;
  }
  if (auto r = runtime::notify_systemd("READY=1\nSTATUS=running"); !r) {
    runtime::Log(runtime::LogLevel::warn, "node").kv("error", r.error().message)
        << "cannot notify systemd";
  }
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_reload) {
      g_reload = 0;
      (*node)->reload();
    }
  }
  runtime::Log(runtime::LogLevel::info, "node")
      << (g_restart ? "restart requested, stopping" : "signal received, stopping");
  (void)runtime::notify_systemd("STOPPING=1");
  (*node)->stop();
  return g_restart ? node::kRestartExitCode : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "loa-node: " << e.what() << "\n";
    return 2;
  }
}
