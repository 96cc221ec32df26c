// loa-node: parses options, builds the node and runs it until SIGTERM or SIGINT.
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "loa/node/config.hpp"
#include "loa/node/node.hpp"
#include "loa/runtime/bus.hpp"
#include "loa/runtime/log.hpp"
#include "loa/runtime/sd_notify.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_signal(int) {
  g_stop = 1;
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
