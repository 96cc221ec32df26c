// A month of simulated playback in two communes: the Controller on a ManualClock and a file
// SQLite store, nodes that sign their events with their own registered keys. The period report
// must equal what this test computes from the events it sent; `report verify` must pass, and fail
// once a row is altered by hand in the database file.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "loa/controller/api_server.hpp"
#include "loa/controller/cli.hpp"
#include "loa/controller/controller.hpp"
#include "loa/controller/local_time.hpp"
#include "loa/runtime/keys.hpp"
#include "loa/runtime/sqlite.hpp"
#include "test_node.hpp"

using namespace loa;
using namespace loa::controller;
using loa::test::TestNode;

namespace {

constexpr Micros kSecond = 1'000'000;

struct Expected {
  std::uint64_t occurrences = 0;
  std::uint64_t targeted = 0;
  std::uint64_t completed = 0;
  std::uint64_t partial = 0;
  std::uint64_t failed = 0;
  std::uint64_t preempted = 0;
  std::uint64_t missed = 0;
  std::int64_t residents_reached = 0;
  std::uint64_t frames = 0;
};

TEST(LedgerMonth, PeriodReportEqualsTheRawEventsAndVerifyCatchesAnAlteredRow) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("loa-ledger-month-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db_path = (dir / "controller.db").string();
  auto store = open_sqlite_store(db_path);
  ASSERT_TRUE(store.ok()) << store.error().message;
  runtime::MemoryHub hub;
  runtime::ManualClock clock(*parse_utc("2026-10-31T10:00:00Z"));
  auto bus = hub.connect("controller");
  ControllerSettings settings;
  settings.audio_dir = (dir / "audio").string();
  settings.missed_grace_us = 300 * kSecond;
  settings.fetch_window_ms = 0;
  Controller controller(**store, *bus, clock, protocol::KeyPair::generate(), settings);
  ASSERT_TRUE(controller.attach().ok());
  ASSERT_TRUE(bus->start().ok());

  // Commune A (79/26734) has three clusters, commune B (79/26737) two.
  struct Spec {
    const char* id;
    const char* area;
    std::int64_t residents;
  };
  const std::vector<Spec> specs = {{"a1", "79/26734/01", 1200},
                                   {"a2", "79/26734/02", 950},
                                   {"a3", "79/26734/03", 700},
                                   {"b1", "79/26737/01", 1500},
                                   {"b2", "79/26737/02", 800}};
  std::map<std::string, std::unique_ptr<TestNode>> nodes;
  std::map<std::string, std::int64_t> residents;
  for (const auto& s : specs) {
    nodes[s.id] = std::make_unique<TestNode>(hub, clock, s.id);
    residents[s.id] = s.residents;
    NodeInput in;
    in.id = s.id;
    in.area = s.area;
    in.residents = s.residents;
    in.public_key_hex = runtime::to_hex(protocol::ByteView(nodes[s.id]->keys().public_key));
    ASSERT_TRUE(controller.add_node(in).ok());
  }
  auto b1 = controller.create_bulletin_from_audio("Tiêm chủng", test::tone_wav(2.5));
  auto b2 = controller.create_bulletin_from_audio("Phòng cháy", test::tone_wav(1.5));
  ASSERT_TRUE(b1.ok() && b2.ok());

  std::map<std::string, std::uint64_t> seq;
  std::uint32_t rng = 12345;
  const auto next = [&] {
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) % 100;
  };
  Expected want;
  std::map<std::string, Expected> want_by_commune;
  std::map<std::string, Expected> want_by_day;
  std::uint64_t refused_sent = 0;

  for (int day = 1; day <= 30; ++day) {
    char date[16];
    std::snprintf(date, sizeof date, "2026-11-%02d", day);
    clock.set(*local_to_utc(std::string(date) + "T00:00", "Asia/Ho_Chi_Minh"));
    struct Slot {
      const char* time;
      const char* target;
      const BulletinRecord* bulletin;
    };
    for (const Slot& slot :
         {Slot{"06:30", "area:79/26734", &*b1}, Slot{"17:00", "area:79", &*b2}}) {
      ScheduleRequest r;
      r.bulletin_id = slot.bulletin->id;
      r.at = std::string(date) + "T" + slot.time;
      r.targets = {slot.target};
      auto o = controller.schedule(r);
      ASSERT_TRUE(o.ok()) << o.error().message;
      ASSERT_TRUE(hub.wait_idle());
      clock.set(o->start_us + 5 * kSecond);
      ++want.occurrences;
      ++want_by_day[date].occurrences;
      std::set<std::string> communes;
      for (const auto& n : o->nodes) {
        const std::string commune = n.area.substr(0, 8);
        communes.insert(commune);
        Expected* buckets[] = {&want, &want_by_commune[commune], &want_by_day[date]};
        for (auto* w : buckets) ++w->targeted;
        const auto roll = next();
        if (roll < 12) {  // no event: missed
          for (auto* w : buckets) ++w->missed;
          continue;
        }
        protocol::PlaybackEvent e;
        e.node_id = n.node_id;
        e.occurrence_id = o->id;
        e.bulletin_id = o->bulletin_id;
        e.start_us = o->start_us + static_cast<Micros>(next()) * 1000;
        const auto frames = static_cast<std::uint32_t>(slot.bulletin->duration_s * 50);
        if (roll < 70) {
          e.outcome = protocol::Outcome::completed;
          e.frames_played = frames;
          for (auto* w : buckets) {
            ++w->completed;
            w->residents_reached += residents[n.node_id];
          }
        } else if (roll < 82) {
          e.outcome = protocol::Outcome::partial;
          e.frames_played = frames / 2;
          for (auto* w : buckets) ++w->partial;
        } else if (roll < 92) {
          e.outcome = protocol::Outcome::failed;
          e.frames_played = 0;
          for (auto* w : buckets) ++w->failed;
        } else {
          e.outcome = protocol::Outcome::preempted;
          e.frames_played = frames / 3;
          for (auto* w : buckets) ++w->preempted;
        }
        e.end_us = e.start_us + static_cast<Micros>(e.frames_played) * 20'000;
        e.event_seq = ++seq[n.node_id];
        for (auto* w : buckets) w->frames += e.frames_played;
        nodes[n.node_id]->event(e);
        if (roll % 7 == 0) nodes[n.node_id]->event(e);  // a resend: counted once
      }
      for (const auto& c : communes) ++want_by_commune[c].occurrences;
      // Commune B's clusters claim the morning bulletin too, which never targeted them.
      if (std::string(slot.target) == "area:79/26734" && day % 5 == 0) {
        protocol::PlaybackEvent forged;
        forged.node_id = "b1";
        forged.occurrence_id = o->id;
        forged.bulletin_id = o->bulletin_id;
        forged.outcome = protocol::Outcome::completed;
        forged.start_us = o->start_us;
        forged.end_us = o->start_us + 2 * kSecond;
        forged.frames_played = 100;
        forged.event_seq = ++seq["b1"];
        nodes["b1"]->event(forged);
        ++refused_sent;
      }
      ASSERT_TRUE(hub.wait_idle());
    }
  }
  clock.set(*parse_utc("2026-12-05T00:00:00Z"));  // everything settled: no event = missed

  PeriodQuery q;
  q.period.month = "2026-11";
  q.area = "79";
  q.by = "area";
  auto report = controller.period_report(q);
  ASSERT_TRUE(report.ok()) << report.error().message;
  const auto check = [](const ReportFigures& got, const Expected& w, const std::string& where) {
    EXPECT_EQ(got.occurrences, w.occurrences) << where;
    EXPECT_EQ(got.plays.targeted, w.targeted) << where;
    EXPECT_EQ(got.plays.completed, w.completed) << where;
    EXPECT_EQ(got.plays.partial, w.partial) << where;
    EXPECT_EQ(got.plays.failed, w.failed) << where;
    EXPECT_EQ(got.plays.preempted, w.preempted) << where;
    EXPECT_EQ(got.plays.missed, w.missed) << where;
    EXPECT_EQ(got.plays.pending, 0u) << where;
    EXPECT_EQ(got.plays.residents_reached, w.residents_reached) << where;
    EXPECT_EQ(got.frames_aired, w.frames) << where;
    EXPECT_DOUBLE_EQ(got.hours_aired(), static_cast<double>(w.frames) * 0.02 / 3600.0) << where;
  };
  check(report->total, want, "total");
  EXPECT_EQ(want.targeted, 30u * 8u);
  ASSERT_EQ(report->rows.size(), 2u);
  check(report->rows[0].figures, want_by_commune["79/26734"], "commune A");
  check(report->rows[1].figures, want_by_commune["79/26737"], "commune B");
  EXPECT_NEAR(report->total.completion_rate(),
              static_cast<double>(want.completed) / static_cast<double>(want.targeted), 1e-12);

  q.area.clear();
  q.by = "day";
  auto days = controller.period_report(q);
  ASSERT_TRUE(days.ok());
  ASSERT_EQ(days->rows.size(), 30u);
  for (const auto& row : days->rows) check(row.figures, want_by_day[row.key], row.key);
  check(days->total, want, "total by day");

  // The forged claims were refused, not counted.
  RefusedQuery rq;
  rq.reason = "not_targeted";
  EXPECT_EQ(controller.refused_log(rq)->size(), refused_sent);
  EXPECT_EQ(controller.refused_log({})->size(), refused_sent);

  // report verify: over the API and loactl, passes, then fails once a row is altered by hand.
  ApiServer api(controller, 1 << 20);
  auto port = api.bind("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  api.start();
  const std::string url = "http://127.0.0.1:" + std::to_string(*port);
  const auto loactl = [&](std::vector<std::string> args, std::string& out) {
    std::ostringstream o;
    std::ostringstream e;
    args.insert(args.begin(), {"--controller", url});
    const int code = run_loactl(args, o, e);
    out = o.str() + e.str();
    return code;
  };
  std::string out;
  EXPECT_EQ(loactl({"report", "verify", "--month", "2026-11"}, out), 0) << out;
  EXPECT_EQ(out.rfind("verified", 0), 0u) << out;
  EXPECT_EQ(loactl({"report", "period", "--month", "2026-11", "--by", "day"}, out), 0) << out;

  {
    auto db = runtime::Database::open(db_path);
    ASSERT_TRUE(db.ok()) << db.error().message;
    ASSERT_TRUE(db->exec("UPDATE events SET outcome = 0, frames_played = 125 WHERE id = "
                         "(SELECT MIN(id) FROM events WHERE outcome = 4)")
                    .ok());
  }
  auto v = controller.verify_report(PeriodQuery{});
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->verified());
  EXPECT_EQ(loactl({"report", "verify"}, out), 1) << out;
  EXPECT_NE(out.find("outcome stored completed, signed failed"), std::string::npos) << out;
  EXPECT_NE(out.find("total completed: stored rows give " + std::to_string(want.completed + 1) +
                     ", signed events give " + std::to_string(want.completed)),
            std::string::npos)
      << out;

  // The refused log and decommissioning through loactl.
  EXPECT_EQ(loactl({"log", "--refused", "--reason", "not_targeted"}, out), 0) << out;
  EXPECT_NE(out.find("did not target node 'b1'"), std::string::npos) << out;
  EXPECT_EQ(loactl({"--format", "csv", "log", "--refused", "--node", "a1"}, out), 0) << out;
  EXPECT_EQ(out, "at,node,occurrence,reason,detail\n");
  EXPECT_EQ(loactl({"node", "decommission", "b2"}, out), 0) << out;
  EXPECT_EQ(loactl({"node", "decommission", "b2"}, out), 1) << out;
  EXPECT_NE(out.find("already decommissioned"), std::string::npos) << out;
  api.stop();
  bus->stop(0);
  std::filesystem::remove_all(dir);
}

}  // namespace
