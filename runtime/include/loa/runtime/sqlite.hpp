// A thin RAII wrapper over SQLite: one connection, prepared statements, transactions.
// A Database is used from one thread at a time (callers lock around it).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::runtime {

class Statement;

class Database {
 public:
  // Opens (creating) the file in WAL mode with synchronous=FULL and foreign keys on.
  // ":memory:" opens a private in-memory database.
  static Result<Database> open(const std::string& path);
  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  Status exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  std::int64_t last_insert_rowid() const;
  int changes() const;
  // Whether a transaction is open on this connection.
  bool in_transaction() const;
  // Schema migrations: `steps[i]` moves user_version i to i+1. Each runs in a transaction.
  Status migrate(const std::vector<std::string>& steps);
  sqlite3* handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A prepared statement. bind() indices start at 1; column() indices at 0.
class Statement {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, double v);
  Statement& bind(int i, const std::string& v);
  Statement& bind(int i, protocol::ByteView v);
  Statement& bind_null(int i);
  // Steps once: true when a row is available, false when done. Errors carry SQLite's message.
  Result<bool> step();
  // Runs to completion, discarding rows.
  Status run();
  void reset();

  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  protocol::Bytes blob(int col) const;
  bool is_null(int col) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace loa::runtime
