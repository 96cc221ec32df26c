#include <gtest/gtest.h>

#include <filesystem>

#include "loa/runtime/sqlite.hpp"

using loa::Status;
using loa::runtime::Database;

TEST(Sqlite, MigratesOnceAndKeepsData) {
  const auto path = std::filesystem::temp_directory_path() / "loa-sqlite-test.db";
  std::filesystem::remove(path);
  const std::vector<std::string> steps = {
      "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
      "ALTER TABLE t ADD COLUMN blob BLOB"};
  {
    auto db = Database::open(path.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    ASSERT_TRUE(db->migrate({steps[0]}).ok());
    auto ins = db->prepare("INSERT INTO t (name) VALUES (?)");
    ASSERT_TRUE(ins.ok());
    ins->bind(1, std::string("a"));
    ASSERT_TRUE(ins->run().ok());
  }
  {
    auto db = Database::open(path.string());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->migrate(steps).ok());
    ASSERT_TRUE(db->migrate(steps).ok());  // idempotent
    auto q = db->prepare("SELECT name, blob FROM t");
    ASSERT_TRUE(q.ok());
    auto row = q->step();
    ASSERT_TRUE(row.ok() && *row);
    EXPECT_EQ(q->text(0), "a");
    EXPECT_TRUE(q->is_null(1));
    // A program older than the database refuses to touch it.
    Status older = db->migrate({steps[0]});
    EXPECT_FALSE(older.ok());
    EXPECT_NE(older.message().find("newer"), std::string::npos);
  }
  std::filesystem::remove(path);
}

TEST(Sqlite, ErrorsNameTheStatement) {
  auto db = Database::open(":memory:");
  ASSERT_TRUE(db.ok());
  auto bad = db->prepare("SELEC nothing");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("SELEC nothing"), std::string::npos);
  auto failing = db->migrate({"CREATE TABLE a (x)", "CREATE TABLE a (x)"});
  ASSERT_FALSE(failing.ok());
  EXPECT_NE(failing.message().find("schema version 2"), std::string::npos);
}
