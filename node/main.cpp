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

extern "C" void on_signal(int) {
  g_stop = 1;
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
  auto bus = runtime::make_mosquitto_bus(node::node_bus_config(options));

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
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  runtime::Log(runtime::LogLevel::info, "node") << "signal received, stopping";
  (void)runtime::notify_systemd("STOPPING=1");
  (*node)->stop();
  return 0;
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
