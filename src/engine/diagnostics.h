// Diagnostics of every component (seed 001): each engine operation (a container start, an image
// import, a capsule attach, ...) is a row of the `operations` table, written when it begins and
// again when it ends. So another process sees what is in progress (what, on which element,
// since when, by which pid), statistics come from the finished rows (count, errors, p50/p99 per
// operation), errors are queryable by time, kind and element, and each operation keeps a short
// log of its steps. The last kKeptOperations finished operations are kept.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/db.h"

namespace bd::engine {

inline constexpr int64_t kKeptOperations = 5000;

// One operation in progress, recorded from Begin to Finish. Dropped unfinished, it is recorded
// as failed ("abandoned"). Recording never fails the operation: a database error only loses
// the row.
class Operation {
 public:
  // Records the start of `op` of `component` on `target` (an id, name or reference).
  static Operation Begin(store::Db* db, std::string component, std::string op, std::string target);
  Operation() = default;
  Operation(Operation&& o) noexcept;
  Operation& operator=(Operation&& o) noexcept;
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;
  ~Operation();

  int64_t id() const { return id_; }
  // Sets the element once it is known (a container's id after create).
  void SetTarget(const std::string& target);
  // One step, timestamped; visible at once to `system diagnostics --op ID`.
  void Log(const std::string& line);
  // Records the outcome; returns `st` so that a caller can `return op.Finish(st);`.
  Status Finish(const Status& st);
  template <typename T>
  Result<T> Finish(Result<T> r) {
    (void)Finish(r.ok() ? Status() : r.status());
    return r;
  }

 private:
  store::Db* db_ = nullptr;
  int64_t id_ = 0;
  int64_t started_ = 0;
  std::string log_;
};

// Runs `fn` (returning Status or Result<T>) as one recorded operation. With `current`, points it
// at the operation meanwhile (for steps logged from deeper down), then restores it.
template <typename F>
auto Tracked(store::Db* db, const char* component, const char* op, std::string target, F&& fn,
             Operation** current = nullptr) -> decltype(fn()) {
  Operation o = Operation::Begin(db, component, op, std::move(target));
  Operation* outer = current ? std::exchange(*current, &o) : nullptr;
  auto r = fn();
  if (current) *current = outer;
  return o.Finish(std::move(r));
}

struct OperationRecord {
  int64_t id = 0;
  std::string component, op, target;
  pid_t pid = 0;
  uint64_t pid_start = 0;  // the process's start time (os::ProcessStartTime)
  int64_t started_at = 0, finished_at = 0;  // ns; finished_at 0 while in progress
  std::string outcome;  // "" in progress, "ok", "error", "interrupted"
  std::string error_code, error_message, log;
  int64_t DurationNanos() const { return finished_at > started_at ? finished_at - started_at : 0; }
};

struct OperationStats {
  std::string component, op;
  int64_t count = 0, errors = 0;
  int64_t p50_nanos = 0, p99_nanos = 0, max_nanos = 0;
};

struct DiagnosticsQuery {
  std::string component;  // "" for every one
  int64_t since = 0, until = 0;  // ns; 0: no bound (on the start time)
  std::string error_kind;  // a Status code name ("not_found"); errors only
  std::string target;      // prefix of the element
};

class Diagnostics {
 public:
  explicit Diagnostics(store::Db* db) : db_(db) {}
  // Operations not finished whose process still runs. Ones whose process is gone are
  // interrupted: Reconcile records them so (MarkInterrupted), a read only leaves them out.
  Result<std::vector<OperationRecord>> InProgress(const DiagnosticsQuery& q);
  // Failed and interrupted operations, newest first, at most `limit`.
  Result<std::vector<OperationRecord>> Errors(const DiagnosticsQuery& q, int limit = 100);
  // Count, errors and latency percentiles per (component, operation) over the finished rows.
  Result<std::vector<OperationStats>> Stats(const DiagnosticsQuery& q);
  Result<OperationRecord> Get(int64_t id);
  // Unfinished operations of processes that are gone become "interrupted". Returns how many.
  Result<int> MarkInterrupted();

 private:
  Result<std::vector<OperationRecord>> Query(const std::string& where, const DiagnosticsQuery& q,
                                             const std::string& order);
  store::Db* db_;
};

// The components Diagnostics knows, in display order.
const std::vector<std::string>& DiagnosticComponents();
// The JSON of a record and of a stats row (`system diagnostics --format json`).
std::string OperationJson(const OperationRecord& r);
std::string OperationStatsJson(const OperationStats& s);

}  // namespace bd::engine
