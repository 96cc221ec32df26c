// bench_fleet100: a fleet of real nodes against the real controller through a real Mosquitto,
// all in one process (issue 3's figure). Measures the time from scheduling a bulletin to every
// node holding it, and the distribution of playback start errors, plus traffic and CPU.
//
// Everything runs under one temporary directory that is removed at the end (set LOA_KEEP_TMP to
// keep it). Every wait is bounded; a phase that times out prints what it saw and exits 1.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "counting_bus.hpp"
#include "loa/controller/audio.hpp"
#include "loa/controller/controller.hpp"
#include "loa/node/node.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/log.hpp"
#include "loa/runtime/options.hpp"
#include "mosquitto_broker.hpp"
#include "process.hpp"
#include "thread_cpu.hpp"

namespace loa::bench {
namespace {

namespace fs = std::filesystem;
using protocol::Micros;
using SteadyClock = std::chrono::steady_clock;

struct BenchOptions {
  int nodes = 100;
  double minutes = 5.0;
  double lead_s = 20.0;
  int communes = 5;
  std::string log_level = "warn";
};

// A traffic snapshot: bytes and messages per kind.
struct Traffic {
  std::array<std::uint64_t, kTrafficKinds> bytes{};
  std::array<std::uint64_t, kTrafficKinds> messages{};
  static Traffic of(const TrafficCounters& c) {
    Traffic t;
    for (std::size_t k = 0; k < kTrafficKinds; ++k) {
      t.bytes[k] = c.bytes[k].load();
      t.messages[k] = c.messages[k].load();
    }
    return t;
  }
  Traffic operator-(const Traffic& o) const {
    Traffic t;
    for (std::size_t k = 0; k < kTrafficKinds; ++k) {
      t.bytes[k] = bytes[k] - o.bytes[k];
      t.messages[k] = messages[k] - o.messages[k];
    }
    return t;
  }
  std::uint64_t total_bytes() const {
    std::uint64_t n = 0;
    for (auto b : bytes) n += b;
    return n;
  }
};

// Controller-published, node-delivered and node-published traffic at one instant.
struct TrafficPoint {
  Traffic controller_out;
  Traffic nodes_in;
  Traffic nodes_out;
  TrafficPoint operator-(const TrafficPoint& o) const {
    return {controller_out - o.controller_out, nodes_in - o.nodes_in, nodes_out - o.nodes_out};
  }
};

// CPU seconds per thread label and of the broker at one instant.
struct CpuPoint {
  std::map<std::string, double> threads;
  double broker = 0;
  double process = 0;  // whole process (includes exited threads)
  double wall = 0;     // steady-clock seconds since the benchmark began
};

double process_cpu_now() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// Nearest-rank percentile of sorted values: the smallest value with at least p % at or below it.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  const auto rank =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "YYYY-MM-DDTHH:MM:SS" of a UTC instant (whole seconds).
std::string utc_wall_time(Micros t) {
  const std::time_t s = static_cast<std::time_t>(t / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

Micros wall_now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

struct FleetNode {
  std::string id;
  std::string area;
  std::int64_t residents = 0;
  runtime::SystemClock clock;  // each node its own clock, as on separate devices
  std::unique_ptr<CountingBus> bus;
  std::unique_ptr<node::Node> node;  // last: destroyed first
};

// The controller and the nodes, stopped in a safe order whatever happens.
class Fleet {
 public:
  TrafficCounters controller_out, controller_in, nodes_out, nodes_in;
  std::unique_ptr<controller::Store> store;
  runtime::SystemClock controller_clock;
  std::unique_ptr<CountingBus> controller_bus;
  std::unique_ptr<controller::Controller> controller;
  std::vector<std::unique_ptr<FleetNode>> nodes;

  Fleet() = default;
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;
  ~Fleet() { shutdown(); }

  // Stops the nodes (in parallel: each may wait up to 1 s to drain its bus), then the
  // controller's bus, then the controller. Returns the seconds it took.
  double shutdown() {
    const auto t0 = SteadyClock::now();
    std::vector<std::thread> stoppers;
    const std::size_t workers = 8;
    for (std::size_t w = 0; w < workers; ++w) {
      stoppers.emplace_back([this, w] {
        for (std::size_t i = w; i < nodes.size(); i += workers) {
          if (nodes[i]->node) nodes[i]->node->stop();
        }
      });
    }
    for (auto& t : stoppers) t.join();
    nodes.clear();
    if (controller_bus) controller_bus->stop(1000);
    controller.reset();
    controller_bus.reset();
    store.reset();
    return seconds_since(t0);
  }

  TrafficPoint traffic() const {
    return TrafficPoint{Traffic::of(controller_out), Traffic::of(nodes_in), Traffic::of(nodes_out)};
  }
};

void print_traffic(const std::string& title, const TrafficPoint& d) {
  std::cout << "\n" << title << " (payload bytes / messages; MQTT framing not counted)\n";
  std::cout << "  kind                             controller published      nodes received       "
               "nodes published\n";
  for (std::size_t k = 0; k < kTrafficKinds; ++k) {
    if (d.controller_out.messages[k] == 0 && d.nodes_in.messages[k] == 0 &&
        d.nodes_out.messages[k] == 0) {
      continue;
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "  %-32s %12llu B / %-7llu %12llu B / %-7llu %10llu B / %llu\n",
                  to_string(static_cast<TrafficKind>(k)),
                  static_cast<unsigned long long>(d.controller_out.bytes[k]),
                  static_cast<unsigned long long>(d.controller_out.messages[k]),
                  static_cast<unsigned long long>(d.nodes_in.bytes[k]),
                  static_cast<unsigned long long>(d.nodes_in.messages[k]),
                  static_cast<unsigned long long>(d.nodes_out.bytes[k]),
                  static_cast<unsigned long long>(d.nodes_out.messages[k]));
    std::cout << line;
  }
  std::cout << "  total: controller published " << d.controller_out.total_bytes()
            << " B, nodes received " << d.nodes_in.total_bytes() << " B, nodes published "
            << d.nodes_out.total_bytes() << " B\n";
}

void print_cpu(const std::vector<std::pair<std::string, CpuPoint>>& points) {
  std::cout << "\nCPU seconds (user+system) per phase, by thread group (summed over all nodes)\n";
  std::vector<std::string> labels;
  for (const auto& [_, p] : points) {
    for (const auto& [label, __] : p.threads) {
      if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
    }
  }
  std::cout << "  " << std::string(14, ' ');
  for (std::size_t i = 1; i < points.size(); ++i) {
    char h[32];
    std::snprintf(h, sizeof h, "%14s", points[i].first.c_str());
    std::cout << h;
  }
  std::cout << "\n";
  auto row = [&](const std::string& name, auto get) {
    char h[32];
    std::snprintf(h, sizeof h, "  %-14s", name.c_str());
    std::cout << h;
    for (std::size_t i = 1; i < points.size(); ++i) {
      std::snprintf(h, sizeof h, "%14.2f", get(points[i].second) - get(points[i - 1].second));
      std::cout << h;
    }
    std::cout << "\n";
  };
  for (const auto& label : labels) {
    row(label, [&](const CpuPoint& p) {
      const auto it = p.threads.find(label);
      return it == p.threads.end() ? 0.0 : it->second;
    });
  }
  row("(process)", [](const CpuPoint& p) { return p.process; });
  row("mosquitto", [](const CpuPoint& p) { return p.broker; });
  row("(wall time)", [](const CpuPoint& p) { return p.wall; });
}

// Milliseconds of each of `count` 4 KiB write + fdatasync on a file at `path` (removed after),
// sorted: what one SQLite commit with synchronous=FULL costs at least on this disk.
std::vector<double> fsync_probe(const std::string& path, int count) {
  std::vector<double> ms;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return ms;
  std::vector<char> block(4096, 'x');
  for (int i = 0; i < count; ++i) {
    const auto t0 = SteadyClock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
    if (::fdatasync(fd) != 0) break;
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(ms.begin(), ms.end());
  return ms;
}

// Seconds from `t0` to a steady_ns() instant (NAN for 0: never).
double rel_s(std::int64_t ns, SteadyClock::time_point t0) {
  if (ns == 0) return NAN;
  return static_cast<double>(
             ns -
             std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count()) /
         1e9;
}

// Where the prefetch time goes: first and last message of each kind, relative to schedule()
// returning; chunk publications grouped into bursts (gaps over 50 ms).
void print_timeline(const Fleet& fleet, SteadyClock::time_point t0, double all_cached_s,
                    int fetch_window_ms) {
  std::cout << "\nPrefetch timeline, seconds after schedule() returned (first .. last message)\n";
  auto row = [&](const std::string& what, const TrafficCounters& c, TrafficKind k) {
    const auto i = static_cast<std::size_t>(k);
    std::cout << "  " << what << ": " << fixed(rel_s(c.first_ns[i].load(), t0), 3) << " .. "
              << fixed(rel_s(c.last_ns[i].load(), t0), 3) << " (" << c.messages[i].load()
              << " messages)\n";
  };
  row("plans published by the controller", fleet.controller_out, TrafficKind::plan);
  row("plans delivered to nodes", fleet.nodes_in, TrafficKind::plan);
  row("manifests delivered to nodes", fleet.nodes_in, TrafficKind::manifest);
  row("fetches sent by nodes", fleet.nodes_out, TrafficKind::up_fetch);
  row("fetches received by the controller", fleet.controller_in, TrafficKind::up_fetch);
  row("chunks published by the controller", fleet.controller_out, TrafficKind::chunk);
  row("chunks delivered to nodes", fleet.nodes_in, TrafficKind::chunk);
  row("cache reports sent by nodes", fleet.nodes_out, TrafficKind::up_report);
  row("cache reports received by the controller", fleet.controller_in, TrafficKind::up_report);
  std::cout << "  controller coverage counted all cached: " << fixed(all_cached_s, 3) << "\n";

  const auto fetches = fleet.controller_in.times(TrafficKind::up_fetch);
  if (!fetches.empty()) {
    // The controller serves what arrived within its fetch window of the first request together.
    const std::int64_t window_end = fetches.front() + std::int64_t{fetch_window_ms} * 1'000'000;
    const auto in_first = std::count_if(fetches.begin(), fetches.end(),
                                        [&](std::int64_t t) { return t <= window_end; });
    std::cout << "  fetches received within the fetch window (" << fetch_window_ms
              << " ms) of the first: " << in_first << " of " << fetches.size() << "\n";
  }
  const auto chunks = fleet.controller_out.times(TrafficKind::chunk);
  std::size_t begin = 0;
  int burst = 0;
  for (std::size_t i = 1; i <= chunks.size(); ++i) {
    if (i == chunks.size() || chunks[i] - chunks[i - 1] > 50'000'000) {
      std::cout << "  chunk burst " << ++burst << ": " << (i - begin) << " chunks published "
                << fixed(rel_s(chunks[begin], t0), 3) << " .. "
                << fixed(rel_s(chunks[i - 1], t0), 3) << " s\n";
      begin = i;
    }
  }
}

int run(const BenchOptions& opt) {
  runtime::LogLevel level{};
  if (!runtime::parse_log_level(opt.log_level, level)) {
    std::cerr << "bench_fleet100: log-level '" << opt.log_level
              << "' is not one of debug, info, warn, error\n";
    return 2;
  }
  runtime::set_log_level(level);

  const std::size_t n = static_cast<std::size_t>(opt.nodes);
  const double target_s = opt.minutes * 60.0;
  std::cout << "bench_fleet100: " << n << " nodes in " << opt.communes << " communes, bulletin ~"
            << fixed(target_s, 0) << " s, scheduled " << fixed(opt.lead_s, 0) << " s ahead\n";
  std::cout << "load average at start (1/5/15 min): " << load_average() << "\n";

  const auto t_begin = SteadyClock::now();
  test::TempDir dir("loa-bench-fleet");
  std::cout << "temp dir: " << dir.path() << "\n";
  const auto fsync_ms = fsync_probe(dir / "fsync-probe", 50);
  std::cout << "fsync probe on the temp dir's disk (50 x write 4 KiB + fdatasync): median "
            << fixed(percentile(fsync_ms, 50), 2) << " ms, max "
            << fixed(fsync_ms.empty() ? NAN : fsync_ms.back(), 2) << " ms\n";
  ThreadCpu cpu;
  cpu.label_self("main");

  auto before = ThreadCpu::thread_ids();
  test::MosquittoBroker broker;
  const auto broker_pids = child_pids("mosquitto");
  const pid_t broker_pid = broker_pids.empty() ? 0 : broker_pids.front();
  std::cout << "broker: " << broker.url() << " (pid " << broker_pid << ")\n";

  Fleet fleet;
  auto cpu_point = [&] {
    CpuPoint p;
    p.threads = cpu.by_label();
    p.broker = broker_pid ? std::max(0.0, cpu_seconds(broker_pid)) : 0;
    p.process = process_cpu_now();
    p.wall = seconds_since(t_begin);
    return p;
  };
  std::vector<std::pair<std::string, CpuPoint>> cpu_points;
  cpu_points.emplace_back("begin", cpu_point());

  // The controller: SQLite file store, its own bus, the system clock, the defaults of the daemon
  // (fetch window 200 ms) except the zone.
  auto store = controller::open_sqlite_store(dir / "controller.db");
  if (!store) {
    std::cerr << "bench_fleet100: store: " << store.error().message << "\n";
    return 1;
  }
  fleet.store = std::move(store).value();
  runtime::BusConfig ctl_bus_config;
  ctl_bus_config.url = broker.url();
  ctl_bus_config.client_id = "loa-controller";
  fleet.controller_out.keep_times(TrafficKind::chunk);
  fleet.controller_in.keep_times(TrafficKind::up_fetch);
  fleet.controller_bus = std::make_unique<CountingBus>(runtime::make_mosquitto_bus(ctl_bus_config),
                                                       fleet.controller_out, fleet.controller_in);
  controller::ControllerSettings settings;
  settings.audio_dir = dir / "audio";
  settings.tz = "UTC";
  settings.trust_first_key = true;  // the fleet's nodes make their keys on first start
  before = ThreadCpu::thread_ids();
  fleet.controller = std::make_unique<controller::Controller>(
      *fleet.store, *fleet.controller_bus, fleet.controller_clock, protocol::KeyPair::generate(),
      settings);
  cpu.label_new(before, {"ctl-fetch"});
  controller::Controller& ctl = *fleet.controller;
  if (loa::Status s = ctl.attach(); !s) {
    std::cerr << "bench_fleet100: controller attach: " << s.message() << "\n";
    return 1;
  }
  before = ThreadCpu::thread_ids();
  if (loa::Status s = fleet.controller_bus->start(); !s) {
    std::cerr << "bench_fleet100: controller bus: " << s.message() << "\n";
    return 1;
  }
  cpu.label_new(before, {"ctl-mqtt"});

  // Register the nodes through the controller's API, with their public keys.
  const auto t_setup = SteadyClock::now();
  std::vector<std::string> communes;
  for (int c = 0; c < opt.communes; ++c) communes.push_back(std::to_string(26734 + 3 * c));
  for (std::size_t i = 0; i < n; ++i) {
    auto fn = std::make_unique<FleetNode>();
    char id[32];
    std::snprintf(id, sizeof id, "n%03zu", i + 1);
    fn->id = id;
    const std::size_t commune = i % communes.size();
    const std::size_t village = 1 + (i / communes.size()) % 4;
    char area[96];
    std::snprintf(area, sizeof area, "79/%s/%02zu", communes[commune].c_str(), village);
    fn->area = area;
    fn->residents = 800 + static_cast<std::int64_t>(i % 7) * 100;
    fleet.nodes.push_back(std::move(fn));
  }
  std::vector<protocol::KeyPair> keys;
  for (const auto& fn : fleet.nodes) {
    keys.push_back(protocol::KeyPair::generate());
    controller::NodeInput in;
    in.id = fn->id;
    in.area = fn->area;
    in.speakers = 4;
    in.residents = fn->residents;
    in.name = "Cụm loa " + fn->id;
    in.public_key_hex = runtime::to_hex(protocol::ByteView(keys.back().public_key));
    auto added = ctl.add_node(in);
    if (!added) {
      std::cerr << "bench_fleet100: add_node " << fn->id << ": " << added.error().message << "\n";
      return 1;
    }
  }
  std::cout << "registered " << n << " nodes in " << fixed(seconds_since(t_setup), 2) << " s\n";

  // Start the nodes: real node library, own identity, own bus, own cache dir, null sink.
  const auto t_start = SteadyClock::now();
  for (std::size_t i = 0; i < n; ++i) {
    FleetNode& fn = *fleet.nodes[i];
    node::NodeConfig config;
    config.id = fn.id;
    config.area = *protocol::AreaPath::parse(fn.area);
    config.cache_dir = dir / ("nodes/" + fn.id);
    fs::create_directories(config.cache_dir);
    config.controller_keys = protocol::KeySet(ctl.public_key());
    config.key = keys[i];
    auto sinks = node::make_sink_factory(node::SinkSpec{node::SinkSpec::Kind::null, ""}, fn.clock);
    if (!sinks) {
      std::cerr << "bench_fleet100: sink: " << sinks.error().message << "\n";
      return 1;
    }
    runtime::BusConfig bus_config;
    bus_config.url = broker.url();
    bus_config.client_id = "loa-node-" + fn.id;
    fn.bus = std::make_unique<CountingBus>(runtime::make_mosquitto_bus(bus_config), fleet.nodes_out,
                                           fleet.nodes_in);
    auto created = node::Node::create(std::move(config), *fn.bus, fn.clock, std::move(*sinks));
    if (!created) {
      std::cerr << "bench_fleet100: node " << fn.id << ": " << created.error().message << "\n";
      return 1;
    }
    fn.node = std::move(created).value();
    before = ThreadCpu::thread_ids();
    if (loa::Status s = fn.node->start(); !s) {
      std::cerr << "bench_fleet100: node " << fn.id << " start: " << s.message() << "\n";
      return 1;
    }
    // Node::start starts the player, then the housekeeping thread, then the bus's thread.
    if (cpu.label_new(before, {"node-player", "node-hk", "node-mqtt"}) != 3) {
      std::cout << "note: node " << fn.id
                << " did not start exactly 3 threads; labels may be off\n";
    }
  }
  const std::size_t threads_total = ThreadCpu::thread_ids().size();
  std::cout << "started " << n << " nodes in " << fixed(seconds_since(t_start), 2) << " s ("
            << threads_total << " threads in the process)\n";

  // Every node online at the controller (its hello verified).
  {
    const auto t0 = SteadyClock::now();
    const double limit_s = 30.0 + 0.2 * static_cast<double>(n);
    std::size_t online = 0;
    while (true) {
      auto list = ctl.list_nodes();
      online = 0;
      if (list) {
        for (const auto& v : *list) online += v.online ? 1 : 0;
      }
      if (online == n) break;
      if (seconds_since(t0) > limit_s) {
        std::cerr << "bench_fleet100: FAILED: only " << online << " of " << n
                  << " nodes online at the controller after " << fixed(limit_s, 0) << " s\n";
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::cout << "all " << n << " nodes online at the controller after "
              << fixed(seconds_since(t0), 2) << " s\n";
  }

  // The bulletin: espeak-ng speaking the project's sample text, repeated to ~target length, made
  // through the controller's own path (create_bulletin_from_text: TTS, normalize, Opus 24 kbit/s).
  std::string sample;
  {
    std::ifstream in(std::string(LOA_SOURCE_DIR) + "/samples/ban-tin-ngan.txt");
    std::ostringstream s;
    s << in.rdbuf();
    sample = s.str();
    while (!sample.empty() && (sample.back() == '\n' || sample.back() == ' ')) sample.pop_back();
  }
  if (sample.empty()) {
    std::cerr << "bench_fleet100: cannot read samples/ban-tin-ngan.txt\n";
    return 1;
  }
  const auto t_tts = SteadyClock::now();
  auto once = controller::synthesize_speech(sample, "vi", settings.encode);
  if (!once) {
    std::cerr << "bench_fleet100: TTS: " << once.error().message << "\n";
    return 1;
  }
  const int reps = std::max(1, static_cast<int>(std::lround(target_s / once->duration_s)));
  std::string text;
  for (int r = 0; r < reps; ++r) text += (r ? "\n" : "") + sample;
  auto bulletin = ctl.create_bulletin_from_text("Bản tin thử tải " + std::to_string(n) + " cụm loa",
                                                text, "vi");
  if (!bulletin) {
    std::cerr << "bench_fleet100: bulletin: " << bulletin.error().message << "\n";
    return 1;
  }
  const auto ogg_bytes = fs::file_size(bulletin->ogg_path);
  std::cout << "bulletin " << bulletin->id << ": samples/ban-tin-ngan.txt x" << reps << " ("
            << text.size() << " bytes of text, one reading " << fixed(once->duration_s, 1)
            << " s), " << fixed(bulletin->duration_s, 1) << " s of audio, Ogg Opus " << ogg_bytes
            << " bytes, made in " << fixed(seconds_since(t_tts), 1) << " s\n";

  // Schedule it for every commune, lead_s ahead (rounded up to a whole second: the wall time
  // string has seconds).
  const TrafficPoint traffic_before = fleet.traffic();
  cpu_points.emplace_back("setup", cpu_point());
  controller::ScheduleRequest req;
  req.bulletin_id = bulletin->id;
  const Micros at_us =
      (wall_now_us() + static_cast<Micros>(opt.lead_s * 1e6) + 999'999) / 1'000'000 * 1'000'000;
  req.at = utc_wall_time(at_us);
  req.tz = "UTC";
  for (const auto& c : communes) req.targets.push_back("area:79/" + c);
  const auto t_call = SteadyClock::now();
  auto occ = ctl.schedule(req);
  const auto t_sched = SteadyClock::now();
  if (!occ) {
    std::cerr << "bench_fleet100: schedule: " << occ.error().message << "\n";
    return 1;
  }
  const Micros sched_wall = wall_now_us();
  std::cout << "scheduled occurrence " << occ->id << " at " << req.at << " UTC for "
            << occ->nodes.size() << " nodes over " << occ->scopes.size()
            << " plan scopes; the call took "
            << fixed(std::chrono::duration<double, std::milli>(t_sched - t_call).count(), 1)
            << " ms; start is " << fixed(static_cast<double>(occ->start_us - sched_wall) / 1e6, 2)
            << " s after it returned\n";
  if (occ->nodes.size() != n) {
    std::cerr << "bench_fleet100: FAILED: the occurrence targets " << occ->nodes.size()
              << " nodes, expected " << n << "\n";
    return 1;
  }

  // Phase 1: schedule returned -> all cached (controller's coverage; node caches alongside).
  std::vector<double> cached_at(n + 1, NAN);  // seconds when the controller's count reached k
  double node_side_first_s = NAN, node_side_all_s = NAN;
  std::uint64_t cached = 0;
  {
    const Micros deadline = occ->start_us + 30'000'000;
    std::size_t polls = 0;
    double poll_ms_total = 0, poll_ms_max = 0, poll_max_at_s = 0;
    while (true) {
      const auto tp = SteadyClock::now();
      auto cov = ctl.coverage(0, occ->id, false);
      const double poll_ms =
          std::chrono::duration<double, std::milli>(SteadyClock::now() - tp).count();
      ++polls;
      poll_ms_total += poll_ms;
      if (poll_ms > poll_ms_max) {
        poll_ms_max = poll_ms;
        poll_max_at_s = std::chrono::duration<double>(tp - t_sched).count();
      }
      const double t = seconds_since(t_sched);
      if (cov) {
        cached = cov->total.cached;
        for (std::uint64_t k = 1; k <= std::min<std::uint64_t>(cached, n); ++k) {
          if (std::isnan(cached_at[k])) cached_at[k] = t;
        }
      }
      if (std::isnan(node_side_all_s)) {
        const auto holding =
            std::count_if(fleet.nodes.begin(), fleet.nodes.end(),
                          [&](const auto& fn) { return fn->node->cache().has(bulletin->id); });
        if (holding > 0 && std::isnan(node_side_first_s)) node_side_first_s = t;
        if (static_cast<std::size_t>(holding) == n) node_side_all_s = t;
      }
      if (cached >= n) break;
      if (wall_now_us() > deadline) {
        std::cerr << "bench_fleet100: FAILED: only " << cached << " of " << n
                  << " nodes reported cached by 30 s after the start (" << fixed(t, 1)
                  << " s after scheduling). Nodes without the bulletin:\n";
        for (const auto& fn : fleet.nodes) {
          if (fn->node->cache().has(bulletin->id)) continue;
          const auto snap = fn->node->snapshot();
          std::cerr << "  " << fn->id << ": chunks accepted " << snap.prefetch.chunks_accepted
                    << ", dropped " << snap.prefetch.chunks_dropped << ", fetches sent "
                    << snap.prefetch.fetches_sent << ", plans held " << snap.plans.size() << "\n";
        }
        return 1;
      }
      std::this_thread::sleep_until(tp + std::chrono::milliseconds(50));
    }
    std::cout << "\nRESULT prefetch: all " << n << " nodes cached (controller coverage) "
              << fixed(cached_at[n], 2) << " s after schedule() returned\n";
    std::cout << "  controller count reached 1 / 50 % / 90 % / all: " << fixed(cached_at[1], 2)
              << " / " << fixed(cached_at[(n + 1) / 2], 2) << " / "
              << fixed(cached_at[std::max<std::size_t>(1, (n * 9 + 9) / 10)], 2) << " / "
              << fixed(cached_at[n], 2) << " s\n";
    std::cout << "  node caches holding the file (node side, same polls): first "
              << fixed(node_side_first_s, 2) << " s, all " << fixed(node_side_all_s, 2) << " s\n";
    std::cout << "  " << polls << " coverage polls, 50 ms period, each "
              << fixed(poll_ms_total / static_cast<double>(polls), 1) << " ms on average, max "
              << fixed(poll_ms_max, 1) << " ms (the poll that began at " << fixed(poll_max_at_s, 2)
              << " s)\n";
    std::cout << "  effective delivery: "
              << fixed(static_cast<double>(ogg_bytes) * n / cached_at[n] / 1e6, 2)
              << " MB/s of bulletin to the fleet (" << n << " x " << ogg_bytes << " B)\n";
  }
  const TrafficPoint traffic_cached = fleet.traffic();
  cpu_points.emplace_back("prefetch", cpu_point());

  // Phase 2: playback; wait until every node's event is in (pending == 0).
  const Micros duration_us = static_cast<Micros>(bulletin->duration_s * 1e6);
  {
    while (wall_now_us() < occ->start_us) {
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::clamp<Micros>((occ->start_us - wall_now_us()) / 1000, 1, 500)));
    }
    cpu_points.emplace_back("wait-start", cpu_point());
    std::cout << "\nplaying: " << fixed(bulletin->duration_s, 1) << " s from " << req.at
              << " UTC; waiting for every event\n";
    const Micros deadline = occ->start_us + duration_us + 120'000'000;
    auto last_print = SteadyClock::now();
    while (true) {
      auto cov = ctl.coverage(0, occ->id, false);
      if (cov && cov->total.pending == 0) break;
      if (seconds_since(last_print) >= 60) {
        last_print = SteadyClock::now();
        std::cout << "  t+" << fixed(static_cast<double>(wall_now_us() - occ->start_us) / 1e6, 0)
                  << " s: " << (cov ? cov->total.pending : 0) << " pending, load average "
                  << load_average() << "\n";
      }
      if (wall_now_us() > deadline) {
        std::cerr << "bench_fleet100: FAILED: " << (cov ? cov->total.pending : 0) << " of " << n
                  << " nodes still pending 120 s after the bulletin's end\n";
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::cout << "all events in "
              << fixed(static_cast<double>(wall_now_us() - occ->start_us - duration_us) / 1e6, 2)
              << " s after the bulletin's scheduled end\n";
  }
  const TrafficPoint traffic_done = fleet.traffic();
  cpu_points.emplace_back("playback", cpu_point());

  // Start errors from the playback log.
  controller::LogQuery query;
  query.occurrence_id = occ->id;
  query.limit = n * 2 + 10;
  auto log = ctl.playback_log(query);
  if (!log) {
    std::cerr << "bench_fleet100: playback log: " << log.error().message << "\n";
    return 1;
  }
  std::map<std::string, std::size_t> outcomes;
  std::vector<double> start_ms, length_ms;
  std::uint64_t concealed = 0, dropped = 0, short_frames = 0;
  const std::uint64_t expected_frames =
      static_cast<std::uint64_t>(std::llround(bulletin->duration_s * 50));
  for (const auto& e : *log) {
    const auto& ev = e.record.event;
    ++outcomes[protocol::to_string(ev.outcome)];
    concealed += ev.frames_concealed;
    dropped += ev.frames_dropped;
    if (ev.start_us != 0) {
      start_ms.push_back(static_cast<double>(ev.start_us - occ->start_us) / 1000.0);
      if (ev.end_us != 0)
        length_ms.push_back(static_cast<double>(ev.end_us - ev.start_us - duration_us) / 1000.0);
    }
    if (ev.outcome == protocol::Outcome::completed && ev.frames_played + 1 < expected_frames)
      ++short_frames;
  }
  std::sort(start_ms.begin(), start_ms.end());
  std::sort(length_ms.begin(), length_ms.end());
  std::cout << "\nRESULT start error (event start_us - occurrence start_us) over "
            << start_ms.size() << " nodes that started:\n";
  std::cout << "  min " << fixed(start_ms.empty() ? NAN : start_ms.front(), 3) << " ms, median "
            << fixed(percentile(start_ms, 50), 3) << " ms, p95 "
            << fixed(percentile(start_ms, 95), 3) << " ms, p99 "
            << fixed(percentile(start_ms, 99), 3) << " ms, max "
            << fixed(start_ms.empty() ? NAN : start_ms.back(), 3) << " ms\n";
  std::cout << "  spread (max - min): "
            << fixed(start_ms.empty() ? NAN : start_ms.back() - start_ms.front(), 3) << " ms\n";
  std::cout << "  play length - bulletin duration: median " << fixed(percentile(length_ms, 50), 1)
            << " ms, max " << fixed(length_ms.empty() ? NAN : length_ms.back(), 1) << " ms\n";
  std::cout << "outcomes:";
  for (const auto& [o, c] : outcomes) std::cout << " " << o << "=" << c;
  std::cout << " (events " << log->size() << " of " << n << "); frames concealed " << concealed
            << ", dropped " << dropped
            << "; completed with fewer frames than the bulletin: " << short_frames << "\n";
  auto cov = ctl.coverage(0, occ->id, false);
  if (cov) {
    const auto& t = cov->total;
    std::cout << "coverage: targeted " << t.targeted << ", cached " << t.cached << ", completed "
              << t.completed << ", partial " << t.partial << ", failed " << t.failed << ", missed "
              << t.missed << ", residents reached " << t.residents_reached << " of "
              << t.residents_targeted << "\n";
  }

  print_timeline(fleet, t_sched, cached_at[n], settings.fetch_window_ms);
  print_traffic("Traffic, schedule -> all cached", traffic_cached - traffic_before);
  print_traffic(
      "Traffic, whole run (setup, prefetch, playback, events)",
      TrafficPoint{traffic_done.controller_out, traffic_done.nodes_in, traffic_done.nodes_out});
  {
    const auto d = traffic_cached - traffic_before;
    const auto chunk = static_cast<std::size_t>(TrafficKind::chunk);
    std::cout << "  bulletin chunk payload: published " << d.controller_out.bytes[chunk]
              << " B by the controller ("
              << fixed(static_cast<double>(d.controller_out.bytes[chunk]) / ogg_bytes, 2)
              << " x the Ogg file), delivered " << d.nodes_in.bytes[chunk] << " B ("
              << fixed(static_cast<double>(d.nodes_in.bytes[chunk]) /
                           static_cast<double>(ogg_bytes * n),
                       2)
              << " x file x nodes)\n";
  }

  print_cpu(cpu_points);
  std::cout << "busiest threads over the whole run:";
  for (const auto& b : cpu.busiest(8))
    std::cout << " " << b.label << "(" << b.tid << ")=" << fixed(b.seconds, 2) << "s";
  std::cout << "\nload average at end (1/5/15 min): " << load_average() << "\n";

  const double stop_s = fleet.shutdown();
  std::cout << "stopped everything in " << fixed(stop_s, 2) << " s\n";

  const std::size_t completed = outcomes.count("completed") ? outcomes["completed"] : 0;
  if (completed != n) {
    std::cerr << "bench_fleet100: FAILED: " << completed << " of " << n << " nodes completed\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace loa::bench

int main(int argc, char** argv) {
  std::cout << std::unitbuf;  // progress shows as it happens, also through ctest -V
  try {
    loa::bench::BenchOptions opt;
    namespace po = loa::runtime::po;
    po::options_description desc("bench_fleet100 options");
    desc.add_options()("nodes", po::value(&opt.nodes)->default_value(opt.nodes), "number of nodes")(
        "minutes", po::value(&opt.minutes)->default_value(opt.minutes),
        "bulletin length in minutes (approximate: whole readings of the sample text)")(
        "lead", po::value(&opt.lead_s)->default_value(opt.lead_s),
        "seconds from scheduling to the start")(
        "communes", po::value(&opt.communes)->default_value(opt.communes), "communes (1..20)")(
        "log-level", po::value(&opt.log_level)->default_value(opt.log_level),
        "debug, info, warn or error");
    po::variables_map vm;
    if (!loa::runtime::parse_options(argc, argv, desc, vm, "bench_fleet100", "[options]")) return 0;
    if (opt.nodes < 1 || opt.nodes > 999) throw std::runtime_error("nodes must be 1..999");
    if (!(opt.minutes > 0) || opt.minutes > 30)
      throw std::runtime_error("minutes must be in (0, 30]");
    if (!(opt.lead_s >= 2) || opt.lead_s > 600) throw std::runtime_error("lead must be 2..600 s");
    if (opt.communes < 1 || opt.communes > 20) throw std::runtime_error("communes must be 1..20");
    return loa::bench::run(opt);
  } catch (const std::exception& e) {
    std::cerr << "bench_fleet100: " << e.what() << "\n";
    return 2;
  }
}
