#include "store/db.h"

#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "base/log.h"

namespace bd::store {
namespace {

// `rc` may be an extended code: a constraint says which kind it is.
Status FromCode(int rc, std::string msg) {
  switch (rc) {
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      // A row refers to one that is not there (or is still referred to): not a duplicate.
      return Status::FailedPrecondition(std::move(msg));
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK: return Status::InvalidArgument(std::move(msg));
    default: break;
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return Status::AlreadyExists(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Unavailable(std::move(msg));
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH: return Status::PermissionDenied(std::move(msg));
    default: return Status::Internal(std::move(msg));
  }
}

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  if (!db) return FromCode(rc, std::string(what) + ": " + sqlite3_errstr(rc));
  int ext = sqlite3_extended_errcode(db);
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db);
  if (ext != rc) msg += " (sqlite code " + std::to_string(ext) + ")";
  return FromCode((ext & 0xff) == (rc & 0xff) ? ext : rc, std::move(msg));
}

}  // namespace

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int index, int64_t v) {
  sqlite3_bind_int64(stmt_, index, v);
  return *this;
}
Statement& Statement::Bind(int index, std::string_view v) {
  sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlob(int index, std::string_view v) {
  // An empty view may have no data pointer, which SQLite would bind as NULL.
  if (v.empty()) sqlite3_bind_zeroblob(stmt_, index, 0);
  else sqlite3_bind_blob64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, "sqlite step");
}

Status Statement::Run() {
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return {};
  }
}

int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string Statement::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}
std::string Statement::Blob(int col) const {
  const void* b = sqlite3_column_blob(stmt_, col);
  return b ? std::string(static_cast<const char*>(b), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Result<std::unique_ptr<Db>> Db::Open(const std::string& path,
                                     const std::vector<Migration>& migrations) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Db> db(new Db(raw));
  if (rc != SQLITE_OK) return SqliteStatus(raw, rc, "open database `" + path + "`");
  sqlite3_busy_timeout(raw, 10000);
  // Every CLI command and shim is a short-lived connection: checkpointing (and fsyncing) the
  // WAL each time the last one closes would cost every command milliseconds. SQLite's
  // automatic checkpoint (every 1000 pages) keeps the WAL bounded instead.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  // WAL: readers never block the writer. synchronous=NORMAL keeps every committed transaction
  // across a process crash (kill -9); only an OS crash may lose the last commits, never
  // consistency.
  // The journal mode is stored in the file: set once, by the first opener. Several processes
  // opening a new database at once race for that change, and SQLite reports the loser busy
  // without waiting on the busy handler: retried for as long as the busy timeout.
  for (int attempt = 0;; ++attempt) {
    Status st = db->Exec("PRAGMA journal_mode=WAL");
    if (st.ok()) break;
    if (st.code() != Code::kUnavailable || attempt >= 1000) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BD_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  BD_RETURN_IF_ERROR(db->Migrate(migrations).WithContext("migrate `" + path + "`"));
  return db;
}

Db::~Db() { sqlite3_close_v2(db_); }

Result<Statement> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "prepare `" + std::string(sql) + "`");
  return Statement(db_, stmt);
}

Status Db::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    int ext = sqlite3_extended_errcode(db_);
    return FromCode((ext & 0xff) == (rc & 0xff) ? ext : rc, "sql: " + msg);
  }
  return {};
}

int Db::UserVersion() {
  auto st = Prepare("PRAGMA user_version");
  if (!st.ok()) return -1;
  auto row = st->Step();
  return row.ok() && *row ? static_cast<int>(st->Int(0)) : -1;
}

int Db::Changes() { return sqlite3_changes(db_); }

Status Db::WriteTxn(const std::function<Status()>& fn) {
  BD_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status st = fn();
  if (st.ok()) st = Exec("COMMIT");
  if (!st.ok()) {
    if (!sqlite3_get_autocommit(db_)) (void)Exec("ROLLBACK");
    return st;
  }
  return {};
}

Status Db::Migrate(const std::vector<Migration>& migrations) {
  int current = UserVersion();
  if (current < 0) return Status::Internal("cannot read schema version");
  int latest = migrations.empty() ? 0 : migrations.back().version;
  if (current > latest) {
    return Status::FailedPrecondition("database schema version " + std::to_string(current) +
                                      " is newer than this basic-docker supports (" +
                                      std::to_string(latest) + ")");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    Status st = WriteTxn([&]() -> Status {
      // Another process may have migrated between our read and our write lock.
      if (UserVersion() >= m.version) return {};
      BD_RETURN_IF_ERROR(Exec(m.sql));
      return Exec("PRAGMA user_version = " + std::to_string(m.version));
    });
    if (!st.ok()) return st.WithContext("migration " + std::to_string(m.version));
    log::Debug("database migrated to schema {}", m.version);
  }
  return {};
}

}  // namespace bd::store
