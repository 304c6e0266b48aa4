// The state database: SQLite in WAL mode with ordered migrations checked against
// PRAGMA user_version. A Db is one connection; use it from one thread at a time. Separate
// processes (CLI, shims, serve) each open their own connection; SQLite serializes writers and
// busy_timeout makes them wait instead of failing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bd::store {

struct Migration {
  int version;      // 1, 2, 3, ... in order, no gaps
  const char* sql;  // run in one transaction together with `PRAGMA user_version = version`
};

class Statement {
 public:
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, int64_t v);
  Statement& Bind(int index, int v) { return Bind(index, static_cast<int64_t>(v)); }
  Statement& Bind(int index, std::string_view v);
  Statement& Bind(int index, const char* v) { return Bind(index, std::string_view(v)); }
  Statement& Bind(int index, const std::string& v) { return Bind(index, std::string_view(v)); }
  Statement& BindNull(int index);
  // Bytes as a BLOB (no text encoding assumed), read back with Blob.
  Statement& BindBlob(int index, std::string_view v);
  template <typename... Args>
  Statement& BindAll(Args&&... args) {
    int i = 0;
    (Bind(++i, std::forward<Args>(args)), ...);
    return *this;
  }

  // Advances to the next row: true if there is one, false when done.
  Result<bool> Step();
  // Steps until done (for statements that return no rows).
  Status Run();

  int64_t Int(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const;

 private:
  friend class Db;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Db {
 public:
  // Opens (creating if needed) and migrates the database at `path`.
  static Result<std::unique_ptr<Db>> Open(const std::string& path,
                                          const std::vector<Migration>& migrations);
  ~Db();

  Result<Statement> Prepare(std::string_view sql);
  Status Exec(std::string_view sql);
  int UserVersion();
  int Changes();

  // Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; a non-OK status from `fn` rolls back.
  Status WriteTxn(const std::function<Status()>& fn);

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  Status Migrate(const std::vector<Migration>& migrations);
  sqlite3* db_;
};

}  // namespace bd::store
