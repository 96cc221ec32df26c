#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "loa/controller/store.hpp"
#include "loa/runtime/sqlite.hpp"

using namespace loa;
using namespace loa::controller;

namespace {

std::unique_ptr<Store> memory_store() {
  auto s = open_sqlite_store(":memory:");
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(*s);
}

NodeRecord node(const std::string& id, const std::string& area, std::int64_t residents = 100) {
  NodeRecord n;
  n.id = id;
  n.name = "Cụm " + id;
  n.area = area;
  n.speakers = 2;
  n.residents = residents;
  return n;
}

// A database file of this test process that does not exist yet.
std::filesystem::path fresh_db(const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("loa-store-" + name + "-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  return path;
}

EventRecord event(const std::string& node, std::uint64_t occurrence, std::uint64_t seq) {
  EventRecord r;
  r.event.node_id = node;
  r.event.occurrence_id = occurrence;
  r.event.bulletin_id = 1;
  r.event.event_seq = seq;
  r.event.start_us = 1000 + static_cast<Micros>(seq);
  r.recorded_us = 5000;
  r.envelope = {1, 2, 3};
  return r;
}

}  // namespace

TEST(SqliteStore, MigratesToTheLatestSchemaAndReopens) {
  const auto path = fresh_db("test");
  {
    auto s = open_sqlite_store(path.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_TRUE((*s)->add_node(node("a", "79/1")).ok());
  }
  {
    // Reopening runs no migration twice and keeps the data.
    auto s = open_sqlite_store(path.string());
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto a = (*s)->find_node("a");
    ASSERT_TRUE(a.ok() && a->has_value());
    EXPECT_EQ((**a).area, "79/1");
  }
  auto db = runtime::Database::open(path.string());
  ASSERT_TRUE(db.ok());
  auto v = db->prepare("PRAGMA user_version");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->step().ok());
  EXPECT_EQ(static_cast<std::size_t>(v->int64(0)), sqlite_store_migrations().size());
  auto mode = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(mode->step().ok());
  EXPECT_EQ(mode->text(0), "wal");
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

// Refusals stored whole by earlier versions keep their first 1024 bytes and their size; new
// ones are one per (node, digest); trimming keeps the newest per node and in total.
TEST(SqliteStore, RefusedEventsAreBoundedAndTrimmed) {
  const auto path = fresh_db("refused");
  const auto& steps = sqlite_store_migrations();
  {
    auto db = runtime::Database::open(path.string());
    ASSERT_TRUE(db.ok());
    // The schema before refusals were bounded, with a 5000-byte envelope stored whole.
    const auto bounded = std::find_if(steps.begin(), steps.end(), [](const std::string& step) {
      return step.find("CREATE TABLE refused_events_bounded") != std::string::npos;
    });
    ASSERT_NE(bounded, steps.end());
    ASSERT_TRUE(db->migrate(std::vector<std::string>(steps.begin(), bounded)).ok());
    ASSERT_TRUE(db->exec("INSERT INTO refused_events(node_id, occurrence_id, reason, detail, "
                         "envelope, at_us) VALUES ('a', 7, 'malformed', 'x', zeroblob(5000), 1)")
                    .ok());
  }
  auto s = open_sqlite_store(path.string());
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto old = (*s)->refused_events({});
  ASSERT_TRUE(old.ok());
  ASSERT_EQ(old->size(), 1u);
  EXPECT_EQ(old->front().envelope.size(), 1024u);
  EXPECT_EQ(old->front().envelope_size, 5000u);
  EXPECT_TRUE(old->front().envelope_sha256.empty());

  RefusedEventRecord r;
  r.node_id = "a";
  r.reason = "malformed";
  r.envelope = {1, 2};
  r.envelope_size = 2;
  r.envelope_sha256.assign(32, 0x11);
  ASSERT_TRUE(*(*s)->add_refused_event(r));
  EXPECT_FALSE(*(*s)->add_refused_event(r));  // the same digest from the same node
  r.envelope_sha256.assign(31, 0x11);
  EXPECT_FALSE((*s)->add_refused_event(r).ok());  // not a digest
  for (int i = 0; i < 6; ++i) {
    r.node_id = i < 3 ? "a" : "b";
    r.occurrence_id = 100 + static_cast<std::uint64_t>(i);
    r.envelope_sha256.assign(32, static_cast<std::uint8_t>(0x20 + i));
    ASSERT_TRUE(*(*s)->add_refused_event(r));
  }
  // Occurrences of a: 7, 0, 100, 101, 102; of b: 103, 104, 105.
  auto trimmed = (*s)->trim_refused_events("a", 2, 100);
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(*trimmed, 3u);  // a's three oldest
  EXPECT_EQ((*s)->refused_events({})->size(), 5u);
  trimmed = (*s)->trim_refused_events("b", 3, 4);
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(*trimmed, 1u);  // b keeps its 3; the total of 5 loses the oldest of all (a's 101)
  std::vector<std::uint64_t> left;
  auto all = (*s)->refused_events({});
  ASSERT_TRUE(all.ok());
  for (const auto& x : *all) left.push_back(x.occurrence_id);
  EXPECT_EQ(left, (std::vector<std::uint64_t>{105, 104, 103, 102}));
  // The page after the second row.
  RefusedFilter page;
  page.limit = 1;
  page.before_id = (*all)[1].id;
  left.clear();
  auto after = (*s)->refused_events(page);
  ASSERT_TRUE(after.ok());
  for (const auto& x : *after) left.push_back(x.occurrence_id);
  EXPECT_EQ(left, (std::vector<std::uint64_t>{103}));
  (*s).reset();
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST(SqliteStore, NodesAddUpsertAndAreaPrefix) {
  auto s = memory_store();
  ASSERT_TRUE(s->add_node(node("a", "79/267_34/01")).ok());
  EXPECT_FALSE(s->add_node(node("a", "79/1")).ok());  // id taken
  ASSERT_TRUE(s->upsert_nodes({node("b", "79/267_34/02"), node("c", "79/26734x/01"),
                               node("d", "79/267a34/01")})
                  .ok());
  // '_' is not a wildcard, and "79/26734x" is not below "79/26734".
  auto in = s->nodes_in_area("79/267_34");
  ASSERT_TRUE(in.ok());
  ASSERT_EQ(in->size(), 2u);
  EXPECT_EQ((*in)[0].id, "a");
  EXPECT_EQ((*in)[1].id, "b");
  EXPECT_EQ(s->nodes_in_area("79")->size(), 4u);
  EXPECT_EQ(s->nodes_in_area("7")->size(), 0u);

  protocol::PublicKey key{};
  key[0] = 7;
  ASSERT_TRUE(s->set_node_public_key("a", key).ok());
  ASSERT_TRUE(s->set_node_seen("a", 42, true).ok());
  // Upsert changes the registration but keeps key, last seen and online.
  auto moved = node("a", "79/2", 999);
  ASSERT_TRUE(s->upsert_nodes({moved}).ok());
  auto a = s->find_node("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((**a).area, "79/2");
  EXPECT_EQ((**a).residents, 999);
  ASSERT_TRUE((**a).public_key.has_value());
  EXPECT_EQ((*(**a).public_key)[0], 7);
  EXPECT_EQ((**a).last_seen_us, 42);
  EXPECT_TRUE((**a).online);
  EXPECT_FALSE(s->find_node("zz")->has_value());
}

TEST(SqliteStore, OccurrencesKeepTargetsScopesAndFrozenNodes) {
  auto s = memory_store();
  BulletinRecord b;
  b.title = "t";
  b.source = "audio";
  b.ogg_path = "/x.ogg";
  auto bid = s->add_bulletin(b);
  ASSERT_TRUE(bid.ok());
  OccurrenceRecord o;
  o.bulletin_id = *bid;
  o.start_us = 100;
  o.expiry_us = 200;
  o.priority = protocol::Priority::emergency;
  o.volume = 80;
  o.local_time = "2026-12-01T06:30";
  o.tz = "Asia/Ho_Chi_Minh";
  o.targets = {"area:79", "node:a"};
  o.scopes = {"area:79"};
  o.nodes = {{"a", "79/1", 10}, {"b", "79/2", 20}};
  auto id = s->add_occurrence(o);
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto back = s->find_occurrence(*id);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((**back).targets, o.targets);
  EXPECT_EQ((**back).scopes, o.scopes);
  EXPECT_EQ((**back).nodes, o.nodes);
  EXPECT_EQ((**back).priority, protocol::Priority::emergency);
  EXPECT_EQ((**back).volume, 80);
  // Active in its scope until keep_until (default expiry + 60 s), then not; cancelled: not.
  EXPECT_EQ((**back).keep_until_us, 200 + 60'000'000);
  EXPECT_EQ(s->active_occurrences_in_scope("area:79", 150)->size(), 1u);
  EXPECT_EQ(s->active_occurrences_in_scope("area:79", 200 + 60'000'000)->size(), 0u);
  ASSERT_TRUE(s->cancel_occurrence(*id, 100).ok());
  EXPECT_EQ(s->active_occurrences_in_scope("area:79", 150)->size(), 0u);
  EXPECT_EQ(s->active_occurrences_in_scope("node:a", 150)->size(), 0u);
}

TEST(SqliteStore, PlanVersionsAlwaysIncrease) {
  auto s = memory_store();
  auto v1 = s->next_plan_version();
  auto v2 = s->next_plan_version();
  ASSERT_TRUE(v1.ok() && v2.ok());
  EXPECT_GT(*v2, *v1);
  ASSERT_TRUE(s->save_plan({"area:79", *v2, {1, 2}, 10}).ok());
  ASSERT_TRUE(s->save_plan({"area:79", *v2 + 1, {3}, 11}).ok());
  auto p = s->find_plan("area:79");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((**p).version, *v2 + 1);
  EXPECT_EQ((**p).body, protocol::Bytes({3}));
}

TEST(SqliteStore, EventsAreIdempotentAndReceiptsContiguous) {
  auto s = memory_store();
  auto first = s->add_event(event("n1", 10, 1));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  EXPECT_EQ(*s->recorded_through("n1"), 1u);
  // A gap: 3 arrives before 2.
  EXPECT_TRUE(*s->add_event(event("n1", 12, 3)));
  EXPECT_EQ(*s->recorded_through("n1"), 1u);
  EXPECT_TRUE(*s->add_event(event("n1", 11, 2)));
  EXPECT_EQ(*s->recorded_through("n1"), 3u);
  // The same (node, occurrence) again, even with a new sequence, is not recorded twice...
  EXPECT_FALSE(*s->add_event(event("n1", 10, 4)));
  // ...but its sequence counts as received.
  EXPECT_EQ(*s->recorded_through("n1"), 4u);
  EXPECT_EQ(*s->note_event_seq("n1", 5), 5u);
  EXPECT_EQ(*s->recorded_through("n2"), 0u);

  LogFilter all;
  auto events = s->events(all);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 3u);
  LogFilter one;
  one.occurrence_id = 12;
  EXPECT_EQ(s->events(one)->size(), 1u);
  LogFilter since;
  since.since_us = 1002;
  EXPECT_EQ(s->events(since)->size(), 2u);
  EXPECT_EQ(s->events(all)->front().envelope, protocol::Bytes({1, 2, 3}));
}

TEST(SqliteStore, CacheReportsKeepTheLatestPerNodeAndBulletin) {
  auto s = memory_store();
  ASSERT_TRUE(s->save_cache_report({"n1", 5, protocol::CacheState::failed, "disk", 1}).ok());
  ASSERT_TRUE(s->save_cache_report({"n1", 5, protocol::CacheState::cached, "", 2}).ok());
  ASSERT_TRUE(s->save_cache_report({"n2", 5, protocol::CacheState::rejected, "sig", 3}).ok());
  auto r = s->cache_reports(5);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].state, protocol::CacheState::cached);
  EXPECT_EQ((*r)[1].detail, "sig");
}

// The accounts' audit log writes through a second connection to the same file. A batch that has
// read must still be able to write after that connection committed (a deferred transaction is
// refused at once, "database is locked", and the batch of node messages was lost).
TEST(SqliteStore, ABatchIsNotRefusedWhenAnotherConnectionWritesMeanwhile) {
  const auto path = fresh_db("busy");
  auto s = open_sqlite_store(path.string());
  ASSERT_TRUE(s.ok()) << s.error().message;
  Store& store = **s;
  ASSERT_TRUE(store.add_node(node("a", "79/1")).ok());
  auto other = runtime::Database::open(path.string());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other->exec("CREATE TABLE audit_probe (x INTEGER)").ok());
  std::atomic<bool> written{false};
  std::thread writer;
  const loa::Status batch = store.batch([&]() -> loa::Status {
    auto found = store.find_node("a");  // a read: the transaction has a snapshot now
    if (!found || !*found) return make_error("node a not found");
    writer = std::thread([&] {
      (void)other->exec("INSERT INTO audit_probe VALUES (1)");
      written = true;
    });
    // Give the other connection time to commit (it cannot while this batch holds the lock).
    for (int i = 0; i < 20 && !written; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return store.set_node_seen("a", 42, true);
  });
  writer.join();
  EXPECT_TRUE(batch.ok()) << batch.message();
  EXPECT_TRUE(written);
  auto a = store.find_node("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((**a).last_seen_us, 42);
  std::filesystem::remove(path);
}
