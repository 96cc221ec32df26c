// Fault tests of a fleet (issue 8): a real Mosquitto, loa-controller, and loa-fleet running
// LOA_FLEET_NODES (default 200) real nodes in one process. After each fault, the controller's
// playback log must equal the fleet's ground truth node by node: one event per node, the same
// outcome, frames, start, end and sequence number as the node published, and, for what played,
// the frames its sink received.
#include <httplib.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

#include "deployment_test.hpp"

namespace loa::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

int fleet_size() {
  const char* v = std::getenv("LOA_FLEET_NODES");
  return v ? std::max(1, std::atoi(v)) : 200;
}

class FleetFaultTest : public DeploymentTest {
 protected:
  void SetUp() override {
    DeploymentTest::SetUp();
    n_ = fleet_size();
    std::ofstream(commands_file()).flush();
    token();
    std::vector<std::string> argv{LOA_FLEET_BIN,
                                  "--nodes",
                                  std::to_string(n_),
                                  "--areas",
                                  "79/10x4",
                                  "--broker",
                                  d_->broker().url(),
                                  "--controller",
                                  d_->controller_url(),
                                  "--dir",
                                  d_->dir() / "fleet",
                                  "--summary",
                                  summary_file(),
                                  "--commands",
                                  commands_file(),
                                  "--log-level",
                                  "warn"};
    if (!token().empty()) {
      argv.insert(argv.end(), {"--token-file", d_->dir() / "controller.db.token"});
    }
    fleet_ = std::make_unique<Process>(argv, d_->dir() / "fleet.log");
    ASSERT_TRUE(eventually([&] { return online() == n_; }, 60s))
        << online() << " of " << n_ << " nodes online";
    bulletin_ = make_tts_bulletin("ban-tin-ngan.txt");
    ASSERT_GT(bulletin_, 0);
  }
  void TearDown() override {
    if (fleet_) fleet_->stop(SIGTERM, 30000);
    DeploymentTest::TearDown();
  }

  std::string summary_file() const { return d_->dir() / "fleet.json"; }
  std::string commands_file() const { return d_->dir() / "fleet.commands"; }
  void command(const std::string& line) {
    std::ofstream(commands_file(), std::ios::app) << line << "\n";
  }

  json summary() {
    std::ifstream in(summary_file());
    return json::parse(in, nullptr, false);
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
  // The controller's playback log of one occurrence, by node.
  std::map<std::string, json> log_of(std::int64_t occurrence) {
    const json j = api_get("/api/v1/log?limit=100000&occurrence=" + std::to_string(occurrence));
    std::map<std::string, json> out;
    if (!j.is_object()) return out;
    for (const auto& row : j.value("events", json::array())) out[row.at("node")] = row;
    return out;
  }
  // Nodes whose cache holds the bulletin, as the fleet saw it last.
  int cached(std::int64_t bulletin) {
    const json s = summary();
    if (s.is_discarded()) return 0;
    return s["cached"].value(std::to_string(bulletin), 0);
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
        60s))
        << log.size() << " of " << n_ << " events recorded";
    // The fleet writes its summary every second: wait for the one that has seen every node's
    // event (or the time is up, and the comparison below names the nodes without one).
    json s;
    eventually(
        [&] {
          s = summary();
          return published(s, occurrence) >= n_;
        },
        10s);
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
  protocol::Micros worst_start_error(std::int64_t occurrence, protocol::Micros at) {
    protocol::Micros worst = 0;
    for (const auto& node : summary()["per_node"]) {
      const json& e = node["events"].value(std::to_string(occurrence), json::object());
      if (e.value("outcome", "") != "completed") continue;
      worst = std::max(worst, std::abs(e["start_us"].get<protocol::Micros>() - at));
    }
    return worst;
  }

  int n_ = 0;
  std::int64_t bulletin_ = 0;
  std::unique_ptr<Process> fleet_;
};

TEST_F(FleetFaultTest, BrokerKilledDuringPrefetchEveryNodeStillCachesAndPlaysOnTime) {
  const auto [occ, at] = schedule_to_all(20s);
  ASSERT_GT(occ, 0);
  d_->broker().stop();  // SIGKILL while the nodes fetch: retained plans and manifest are gone
  const int cached_when_killed = cached(bulletin_);  // the fleet's summary, at most 1 s old
  std::this_thread::sleep_for(3s);
  d_->broker().start();
  EXPECT_TRUE(eventually([&] { return cached(bulletin_) == n_; }, 15s))
      << cached(bulletin_) << " of " << n_ << " cached";
  std::cout << "[ measured ] " << cached_when_killed << " of " << n_
            << " nodes had cached the bulletin when the broker was killed\n";
  const auto outcomes = expect_log_equals_truth(occ);
  EXPECT_EQ(outcomes.at("completed"), n_);
  EXPECT_LT(worst_start_error(occ, at), 50'000) << "a node started more than 50 ms off";
}

TEST_F(FleetFaultTest, ControllerKilledWhileEventsStreamInLosesAndDoublesNothing) {
  const auto [occ, at] = schedule_to_all(12s);
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
  const auto [occ, at] = schedule_to_all(12s);
  ASSERT_GT(occ, 0);
  const int killed = std::max(1, n_ / 10);
  std::this_thread::sleep_for(std::chrono::microseconds(at + 4'000'000 - now_us()));
  command("kill 0 " + std::to_string(killed));  // 4 s into the 12 s bulletin
  std::this_thread::sleep_for(3s);
  command("start 0 " + std::to_string(killed));
  const auto outcomes = expect_log_equals_truth(occ);
  EXPECT_EQ(outcomes.at("partial"), killed);
  EXPECT_EQ(outcomes.at("completed"), n_ - killed);
}

TEST_F(FleetFaultTest, GroupCutOffAcrossTheAirTimeReportsAfterwards) {
  const auto [occ, at] = schedule_to_all(15s);
  ASSERT_GT(occ, 0);
  ASSERT_TRUE(eventually([&] { return cached(bulletin_) == n_; }, 14s));
  const int group = std::max(1, n_ / 10);
  command("cut 0 " + std::to_string(group));
  // Through the air time (12 s) and a little after: the group plays from its cache, offline.
  std::this_thread::sleep_for(std::chrono::microseconds(at + 16'000'000 - now_us()));
  const auto during = log_of(occ);
  int group_recorded = 0;
  for (int i = 0; i < group; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "f%05d", i + 1);
    group_recorded += static_cast<int>(during.count(id));
  }
  EXPECT_EQ(group_recorded, 0) << "events of cut-off nodes reached the controller";
  EXPECT_EQ(static_cast<int>(during.size()), n_ - group);
  command("restore 0 " + std::to_string(group));
  const auto outcomes = expect_log_equals_truth(occ);
  EXPECT_EQ(outcomes.at("completed"), n_);
}

}  // namespace
}  // namespace loa::test
