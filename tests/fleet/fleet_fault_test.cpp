// Fault tests of a fleet (issue 8): a real Mosquitto, loa-controller, and loa-fleet running
// LOA_FLEET_NODES (default 200) real nodes, in ceil(N / LOA_FLEET_PER_PROCESS (default 2,500))
// processes: one at the CI size, four at 10,000 (a process holds ~6 descriptors per node and
// `ulimit -n` bounds it). After each fault, the controller's playback log must equal the fleet's
// ground truth node by node: one event per node, the same outcome, frames, start, end and
// sequence number as the node published, and, for what played, the frames its sink received.
#include <httplib.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "deployment_test.hpp"

namespace loa::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::max(1, std::atoi(v)) : fallback;
}
int fleet_size() {
  return env_int("LOA_FLEET_NODES", 200);
}
int nodes_per_process() {
  return env_int("LOA_FLEET_PER_PROCESS", 2500);
}

// The tests' timings, all derived from the fleet's size here. At the CI size (200 nodes) they are
// the figures the tests were written with, kept for CI time. A larger fleet takes longer for
// each thing the tests wait on, roughly in proportion to its nodes: registering and connecting
// (10,000 nodes: 47-62 s, docs/benchmarks.md), reconnecting after a broker restart, fetching the
// 12 s bulletin (~37 KB a node: 10,000 x 37 KB through one Mosquitto at the ~12.5 MB/s measured
// there is ~30 s if no connection drops) and reporting the events. So every lead and wait grows
// by one slack, 20 ms per node above 200 (196 s at 10,000: about three times the slowest of
// those figures). ctest's TIMEOUT follows from the same slack in tests/fleet/fleet_timeout.cmake
// (180 s + 5 slacks): keep the two in step. Above 200 nodes the polls are 1 s apart, not 200 ms:
// each is a list of every node or every event from the controller's API, or the fleet's
// summaries, and must not take the CPU the controller and the broker need.
struct Timings {
  explicit Timings(int nodes)
      : slack(20 * std::max(0, nodes - 200)), poll(nodes > 200 ? 1000 : 200) {}
  milliseconds slack;
  milliseconds poll;
  milliseconds online() const { return 60s + slack; }                  // all nodes online
  milliseconds lead(milliseconds base) const { return base + slack; }  // scheduling -> air time
  milliseconds cached() const { return 15s + slack; }                  // broker back -> all cached
  milliseconds events() const { return 60s + slack; }                  // every event recorded
  milliseconds summaries() const { return 10s + slack; }               // fleet summaries caught up
  milliseconds stop() const { return 30s + slack / 4; }                // a fleet process's SIGTERM
};

class FleetFaultTest : public DeploymentTest {
 protected:
  void SetUp() override {
    DeploymentTest::SetUp();
    n_ = fleet_size();
    t_ = Timings(n_);
    token();
    // ceil(n / per) processes of nearly equal size, each its own contiguous range of the fleet's
    // indices (--first: ids f00001.. run on across processes), directory, summary and commands.
    const int k = (n_ + nodes_per_process() - 1) / nodes_per_process();
    if (k > 1) {
      // As scripts/bench-fleet: a fleet split over processes is a large one; its nodes' SQLite
      // outboxes go to tmpfs (each real node has a disk of its own, so their fsyncs must not
      // queue on one), and the processes run at nice 10 (they stand for devices with CPUs of
      // their own, and must not take the broker's and the controller's).
      shm_ = std::make_unique<TempDir>("loa-fleet", "/dev/shm");
    }
    // One process after the other, each once the nodes before it are online: a process registers
    // its nodes in one import, and the controller drops the status messages that arrive during
    // an import ("database is locked"), so the other processes' nodes that said hello then would
    // count as offline until their next status, 60 s later.
    const auto deadline = std::chrono::steady_clock::now() + t_.online();
    const auto left = [&] {
      return std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    };
    for (int i = 0, first = 0; i < k; ++i) {
      FleetProcess p;
      p.first = first;
      p.count = n_ / k + (i < n_ % k ? 1 : 0);
      first += p.count;
      const std::string name = k == 1 ? "fleet" : "fleet" + std::to_string(i);
      p.summary = d_->dir() / (name + ".json");
      p.commands = d_->dir() / (name + ".commands");
      std::ofstream(p.commands).flush();
      std::vector<std::string> argv{LOA_FLEET_BIN,
                                    "--nodes",
                                    std::to_string(p.count),
                                    "--first",
                                    std::to_string(p.first),
                                    "--areas",
                                    "79/10x4",
                                    "--broker",
                                    d_->broker().url(),
                                    "--controller",
                                    d_->controller_url(),
                                    "--dir",
                                    shm_ ? *shm_ / name : d_->dir() / name,
                                    "--summary",
                                    p.summary,
                                    "--commands",
                                    p.commands,
                                    "--log-level",
                                    "warn"};
      if (!token().empty()) {
        argv.insert(argv.end(), {"--token-file", d_->dir() / "controller.db.token"});
      }
      if (k > 1) {
        argv.insert(argv.begin(), {"/usr/bin/nice", "-n", "10"});
        // The nodes due at one instant load their bulletin one after the other (~1 ms each
        // with four processes on 2 cores): 500 ms, a device's figure, is too short for 2,500.
        argv.insert(argv.end(), {"--open-ahead-ms", std::to_string(500 + p.count)});
      }
      largest_process_ = std::max(largest_process_, p.count);
      p.process = std::make_unique<Process>(argv, d_->dir() / (name + ".log"));
      fleets_.push_back(std::move(p));
      ASSERT_TRUE(
          eventually([&] { return online() == first || !fleets_running(); }, left(), t_.poll) &&
          fleets_running())
          << online() << " of " << first << " nodes online (" << n_ << " in " << k
          << " loa-fleet processes, " << i + 1 << " started); all running: " << fleets_running();
    }
    bulletin_ = make_tts_bulletin("ban-tin-ngan.txt");
    ASSERT_GT(bulletin_, 0);
  }
  void TearDown() override {
    for (auto& p : fleets_) {
      if (p.process->pid() > 0) ::kill(p.process->pid(), SIGTERM);  // all at once, then wait
    }
    for (auto& p : fleets_) p.process->stop(SIGTERM, static_cast<int>(t_.stop().count()));
    DeploymentTest::TearDown();
  }

  bool fleets_running() {
    for (auto& p : fleets_) {
      if (!p.process->running()) return false;
    }
    return true;
  }
  // Sends a fleet command ("kill", "start", "cut", "restore"; see fleet/main.cpp) for the
  // fleet's nodes [from, from + count) to the processes holding them, in their own indices.
  void command(const std::string& verb, int from, int count) {
    for (const auto& p : fleets_) {
      const int lo = std::max(from, p.first);
      const int hi = std::min(from + count, p.first + p.count);
      if (lo < hi) {
        std::ofstream(p.commands, std::ios::app)
            << verb << " " << lo - p.first << " " << hi - lo << "\n";
      }
    }
  }

  // Reads the processes' summaries again where a process has written a new one (it replaces
  // its file every second); false while one of them has none (yet).
  bool read_summaries() {
    bool all = true;
    for (auto& p : fleets_) {
      std::error_code ec;
      const auto written = std::filesystem::last_write_time(p.summary, ec);
      if (!ec && (written != p.last_written || p.last.is_discarded())) {
        std::ifstream in(p.summary);
        p.last = json::parse(in, nullptr, false);
        p.last_written = written;
      }
      all = all && !ec && !p.last.is_discarded() && p.last.contains("per_node");
    }
    return all;
  }
  // The fleet's ground truth: the processes' nodes in the fleet's order; discarded while a
  // process has no summary (yet).
  json summary() {
    if (!read_summaries()) return json(json::value_t::discarded);
    json out = {{"per_node", json::array()}};
    for (const auto& p : fleets_) {
      for (const auto& node : p.last["per_node"]) out["per_node"].push_back(node);
    }
    return out;
  }
  // A controller with accounts (issue 7) writes a local administrator token beside its
  // database at each start; without one the API is open. Also set for loactl (LOA_TOKEN).
  std::string token() {
    std::ifstream in(d_->dir() / "controller.db.token");
    std::string t;
    std::getline(in, t);
    if (!t.empty()) ::setenv("LOA_TOKEN", t.c_str(), 1);
    return t;
  }
  // GET from the controller's API with the token, if any; a JSON null on failure.
  json api_get(const std::string& path) {
    httplib::Client client(d_->controller_url());
    if (const std::string t = token(); !t.empty()) client.set_bearer_token_auth(t);
    auto res = client.Get(path);
    if (!res || res->status != 200) return nullptr;
    return json::parse(res->body, nullptr, false);
  }
  // Nodes online at the controller (hello verified).
  int online() {
    const json j = api_get("/api/v1/nodes");
    if (!j.is_object()) return 0;
    int k = 0;
    for (const auto& n : j.value("nodes", json::array())) k += n.value("online", false) ? 1 : 0;
    return k;
  }
  // The controller's playback log of one occurrence, by node (one page: at most 10,000 rows,
  // the largest fleet these tests run).
  std::map<std::string, json> log_of(std::int64_t occurrence) {
    const json j = api_get("/api/v1/log?limit=10000&occurrence=" + std::to_string(occurrence));
    std::map<std::string, json> out;
    if (!j.is_object()) return out;
    for (const auto& row : j.value("events", json::array())) out[row.at("node")] = row;
    return out;
  }
  // Nodes whose cache holds the bulletin, as the fleet saw it last (the processes' counts added).
  int cached(std::int64_t bulletin) {
    if (!read_summaries()) return 0;
    int k = 0;
    for (const auto& p : fleets_) k += p.last["cached"].value(std::to_string(bulletin), 0);
    return k;
  }
  std::pair<std::int64_t, protocol::Micros> schedule_to_all(std::chrono::milliseconds ahead) {
    return schedule(bulletin_, ahead, {"--target", "area:79"});
  }
  // Waits until every node's event for the occurrence is recorded, then compares the log with
  // the fleet's ground truth, node by node. Returns the outcomes counted.
  std::map<std::string, int> expect_log_equals_truth(std::int64_t occurrence) {
    std::map<std::string, json> log;
    EXPECT_TRUE(eventually(
        [&] {
          log = log_of(occurrence);
          return static_cast<int>(log.size()) >= n_;
        },
        t_.events(), t_.poll))
        << log.size() << " of " << n_ << " events recorded";
    // The fleet writes its summary every second: wait for the one that has seen every node's
    // event (or the time is up, and the comparison below names the nodes without one).
    json s;
    eventually(
        [&] {
          s = summary();
          return published(s, occurrence) >= n_;
        },
        t_.summaries(), t_.poll);
    std::map<std::string, int> outcomes;
    EXPECT_EQ(static_cast<int>(s["per_node"].size()), n_);
    for (const auto& node : s["per_node"]) {
      const std::string id = node["id"];
      const std::string occ = std::to_string(occurrence);
      SCOPED_TRACE("node " + id);
      if (!node["events"].contains(occ)) {
        ADD_FAILURE() << "the node published no event";
        continue;
      }
      const json& e = node["events"][occ];
      EXPECT_FALSE(e["conflicting"].get<bool>()) << "two different events published";
      if (!log.count(id)) {
        ADD_FAILURE() << "no event recorded";
        continue;
      }
      const json& row = log[id];
      EXPECT_EQ(row["outcome"], e["outcome"]);
      EXPECT_EQ(row["frames_played"], e["frames_played"]);
      EXPECT_EQ(row["start_us"], e["start_us"]);
      EXPECT_EQ(row["end_us"], e["end_us"]);
      EXPECT_EQ(row["seq"], e["event_seq"]);
      const std::int64_t sink_frames =
          node["played"].contains(occ) ? node["played"][occ]["frames"].get<std::int64_t>() : 0;
      if (e["outcome"] == "completed") {
        EXPECT_EQ(sink_frames, e["frames_played"].get<std::int64_t>());
      }
      ++outcomes[e["outcome"].get<std::string>()];
    }
    EXPECT_EQ(static_cast<int>(log.size()), n_);
    token();
    const json cov = coverage(occurrence);
    EXPECT_EQ(field(cov, "completed"), outcomes["completed"]);
    EXPECT_EQ(field(cov, "partial"), outcomes["partial"]);
    EXPECT_EQ(field(cov, "targeted"), n_);
    return outcomes;
  }
  // Nodes of a summary that published an event for the occurrence.
  static int published(const json& s, std::int64_t occurrence) {
    if (s.is_discarded() || !s.contains("per_node")) return 0;
    int k = 0;
    for (const auto& node : s["per_node"]) {
      k += node["events"].contains(std::to_string(occurrence)) ? 1 : 0;
    }
    return k;
  }
  // Largest |start - instant| over the nodes' completed events, in µs.
  // 50 ms, plus, in a fleet split over processes, 30 µs per node of the largest one: what real
  // nodes do at the instant on their own CPUs, a fleet process does for its nodes in series
  // (docs/benchmarks.md: 10-15 µs per node alone, slower with four processes on 2 cores).
  protocol::Micros start_tolerance_us() const {
    return 50'000 + (fleets_.size() > 1 ? 30 * protocol::Micros{largest_process_} : 0);
  }
  protocol::Micros worst_start_error(std::int64_t occurrence, protocol::Micros at) {
    protocol::Micros worst = 0;
    const json s = summary();
    if (s.is_discarded()) return std::numeric_limits<protocol::Micros>::max();
    for (const auto& node : s["per_node"]) {
      const json& e = node["events"].value(std::to_string(occurrence), json::object());
      if (e.value("outcome", "") != "completed") continue;
      worst = std::max(worst, std::abs(e["start_us"].get<protocol::Micros>() - at));
    }
    return worst;
  }

  struct FleetProcess {
    int first = 0;  // the fleet's index of its first node
    int count = 0;
    std::string summary;
    std::string commands;
    std::unique_ptr<Process> process;
    json last = json(json::value_t::discarded);  // its summary, as last read
    std::filesystem::file_time_type last_written;
  };

  int n_ = 0;
  Timings t_{0};
  std::int64_t bulletin_ = 0;
  std::unique_ptr<TempDir> shm_;  // the nodes' directories of a split fleet (tmpfs)
  std::vector<FleetProcess> fleets_;
  int largest_process_ = 0;
};

TEST_F(FleetFaultTest, BrokerKilledDuringPrefetchEveryNodeStillCachesAndPlaysOnTime) {
  const auto [occ, at] = schedule_to_all(t_.lead(20s));
  ASSERT_GT(occ, 0);
  d_->broker().stop();  // SIGKILL while the nodes fetch: retained plans and manifest are gone
  const int cached_when_killed = cached(bulletin_);  // the fleet's summary, at most 1 s old
  std::this_thread::sleep_for(3s);
  d_->broker().start();
  EXPECT_TRUE(eventually([&] { return cached(bulletin_) == n_; }, t_.cached(), t_.poll))
      << cached(bulletin_) << " of " << n_ << " cached";
  std::cout << "[ measured ] " << cached_when_killed << " of " << n_
            << " nodes had cached the bulletin when the broker was killed\n";
  const auto outcomes = expect_log_equals_truth(occ);
  EXPECT_EQ(outcomes.at("completed"), n_);
  EXPECT_LT(worst_start_error(occ, at), start_tolerance_us())
      << "a node started more than " << start_tolerance_us() / 1000 << " ms off";
}

TEST_F(FleetFaultTest, ControllerKilledWhileEventsStreamInLosesAndDoublesNothing) {
  const auto [occ, at] = schedule_to_all(t_.lead(12s));
  ASSERT_GT(occ, 0);
  // The events arrive when the bulletin ends: kill the controller as soon as the first ones
  // are recorded, while the others are still coming in.
  const double duration_s =
      api_get("/api/v1/bulletins/" + std::to_string(bulletin_)).value("duration_s", 0.0);
  ASSERT_GT(duration_s, 0);
  const auto end_us = at + static_cast<protocol::Micros>(duration_s * 1e6);
  std::this_thread::sleep_for(std::chrono::microseconds(end_us - now_us()));
  std::size_t recorded_before = 0;
  for (int i = 0; i < 2000 && recorded_before == 0; ++i) {
    recorded_before = log_of(occ).size();
    if (recorded_before == 0) std::this_thread::sleep_for(5ms);
  }
  ASSERT_GT(recorded_before, 0u) << "no event recorded";
  d_->stop_controller(SIGKILL);
  std::this_thread::sleep_for(2s);
  d_->start_controller();
  std::cout << "[ measured ] " << recorded_before << " of " << n_
            << " events recorded when the controller was killed\n";
  const auto outcomes = expect_log_equals_truth(occ);
  EXPECT_EQ(outcomes.at("completed"), n_);
}

TEST_F(FleetFaultTest, TenPercentKilledDuringPlaybackReportExactlyOnce) {
  const auto [occ, at] = schedule_to_all(t_.lead(12s));
  ASSERT_GT(occ, 0);
  const int killed = std::max(1, n_ / 10);
  std::this_thread::sleep_for(std::chrono::microseconds(at + 4'000'000 - now_us()));
  command("kill", 0, killed);  // 4 s into the 12 s bulletin
  std::this_thread::sleep_for(3s);
  command("start", 0, killed);
  const auto outcomes = expect_log_equals_truth(occ);
  EXPECT_EQ(outcomes.at("partial"), killed);
  EXPECT_EQ(outcomes.at("completed"), n_ - killed);
}

TEST_F(FleetFaultTest, GroupCutOffAcrossTheAirTimeReportsAfterwards) {
  const auto [occ, at] = schedule_to_all(t_.lead(15s));
  ASSERT_GT(occ, 0);
  // Until a second before the air time.
  ASSERT_TRUE(eventually([&] { return cached(bulletin_) == n_; }, t_.lead(15s) - 1s, t_.poll))
      << cached(bulletin_) << " of " << n_ << " cached";
  const int group = std::max(1, n_ / 10);
  command("cut", 0, group);
  // Through the air time (12 s) and a little after: the group plays from its cache, offline.
  std::this_thread::sleep_for(std::chrono::microseconds(at + 16'000'000 - now_us()));
  // The others' events: all in by then at the CI size (no slack: one look); a larger fleet's
  // may take the slack (the group stays cut meanwhile).
  std::map<std::string, json> during;
  eventually(
      [&] {
        during = log_of(occ);
        return static_cast<int>(during.size()) >= n_ - group;
      },
      t_.slack, t_.poll);
  int group_recorded = 0;
  for (int i = 0; i < group; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "f%05d", i + 1);
    group_recorded += static_cast<int>(during.count(id));
  }
  EXPECT_EQ(group_recorded, 0) << "events of cut-off nodes reached the controller";
  EXPECT_EQ(static_cast<int>(during.size()), n_ - group);
  command("restore", 0, group);
  const auto outcomes = expect_log_equals_truth(occ);
  EXPECT_EQ(outcomes.at("completed"), n_);
}

}  // namespace
}  // namespace loa::test
