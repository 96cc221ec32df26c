// loa-fleet: runs N simulated nodes (the real node library) in one process until SIGTERM or
// SIGINT, a `quit` command or --duration; writes its ground truth as JSON (see fleet.hpp).
#include <boost/program_options.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "loa/fleet/fleet.hpp"
#include "loa/runtime/log.hpp"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop = true;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << j.dump(1) << "\n";
  std::filesystem::rename(tmp, path);
}

// Commands, one a line, appended to a file while the fleet runs: "kill FROM COUNT",
// "start FROM COUNT", "cut FROM COUNT", "restore FROM COUNT", "quit". Node indices from 0 within
// this process: with --first F, index i is the fleet's node F + i (id prefix + F + i + 1).
class Commands {
 public:
  explicit Commands(std::string path) : path_(std::move(path)) {}
  void apply(loa::fleet::Fleet& fleet) {
    if (path_.empty()) return;
    std::ifstream in(path_);
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // an incomplete last line: read it next time
      offset_ += line.size() + 1;
      std::istringstream words(line);
      std::string verb;
      int from = 0, count = 0;
      words >> verb >> from >> count;
      loa::runtime::Log(loa::runtime::LogLevel::info, "fleet")
              .kv("command", verb)
              .kv("from", from)
              .kv("count", count)
          << "command";
      if (verb == "kill") fleet.kill(from, count);
      if (verb == "start") fleet.start(from, count);
      if (verb == "cut") fleet.cut(from, count, true);
      if (verb == "restore") fleet.cut(from, count, false);
      if (verb == "quit") g_stop = true;
    }
  }

 private:
  std::string path_;
  std::size_t offset_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  loa::fleet::FleetOptions opt;
  std::string summary_path, commands_path, log_level = "warn";
  double duration_s = 0;
  int summary_every_s = 1;
  po::options_description desc("loa-fleet options");
  desc.add_options()("help", "this help")("nodes", po::value(&opt.nodes)->default_value(opt.nodes),
                                          "number of nodes")(
      "areas", po::value(&opt.areas)->default_value(opt.areas),
      "PROVINCE/COMMUNESxVILLAGES: node i in commune i mod C, village (i / C) mod V")(
      "broker", po::value(&opt.broker)->default_value(opt.broker), "mqtt://HOST:PORT")(
      "controller", po::value(&opt.controller)->required(),
      "controller API (http://HOST:PORT): nodes are registered there")(
      "controller-key", po::value(&opt.controller_key),
      "controller public key file (default: read from the API)")(
      "token-file", po::value(&opt.token_file),
      "bearer token for the controller's API (first line of the file)")(
      "dir", po::value(&opt.dir)->required(), "directory of the nodes' caches, outboxes, keys")(
      "prefix", po::value(&opt.prefix)->default_value(opt.prefix), "node id prefix")(
      "first", po::value(&opt.first)->default_value(opt.first),
      "index of this process's first node in a fleet split over processes: ids from prefix + "
      "(first + 1), areas as for that index")(
      "summary", po::value(&summary_path), "JSON ground truth, written every second and at exit")(
      "summary-every", po::value(&summary_every_s)->default_value(summary_every_s),
      "seconds between two summaries (a summary of thousands of nodes costs the loop time)")(
      "commands", po::value(&commands_path), "file of commands read as it grows (see main.cpp)")(
      "duration", po::value(&duration_s)->default_value(0), "seconds to run (0: until a signal)")(
      "open-ahead-ms", po::value(&opt.open_ahead_ms)->default_value(opt.open_ahead_ms),
      "milliseconds before the instant that each player loads its bulletin (thousands of "
      "simulated nodes load one after the other: give them seconds)")(
      "decode", po::bool_switch(&opt.decode),
      "decode bulletins as a real node does (default: count each packet's samples)")(
      "log-level", po::value(&log_level)->default_value(log_level), "debug, info, warn, error");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
    loa::runtime::LogLevel level{};
    if (!loa::runtime::parse_log_level(log_level, level)) {
      throw std::runtime_error("log-level '" + log_level + "' is not debug, info, warn or error");
    }
    loa::runtime::set_log_level(level);
    if (opt.open_ahead_ms < 0 || opt.open_ahead_ms > 60000) {
      throw std::runtime_error("open-ahead-ms " + std::to_string(opt.open_ahead_ms) +
                               " is outside 0..60000");
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    const auto t0 = std::chrono::steady_clock::now();
    loa::fleet::Fleet fleet(opt);
    fleet.start(0, fleet.size());
    std::cerr << "loa-fleet: " << fleet.size() << " nodes started\n";
    Commands commands(commands_path);
    long seconds = 0;
    fleet.run(g_stop, [&] {
      commands.apply(fleet);
      if (++seconds % std::max(summary_every_s, 1) == 0) write_json(summary_path, fleet.summary());
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (duration_s > 0 && t >= duration_s) g_stop = true;
    });
    fleet.stop_all();
    const auto summary = fleet.summary();
    write_json(summary_path, summary);
    std::cout << "loa-fleet: " << summary["nodes"] << " nodes; cached " << summary["cached"].dump()
              << "; outcomes " << summary["outcomes"].dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "loa-fleet: " << e.what() << "\n";
    return 1;
  }
}
