// Diagnostics of every component (seed 001): each engine operation (a container start, an image
// import, a capsule attach, ...) is recorded when it begins and again when it ends. So another
// process sees what is in progress (what, on which element, since when, by which pid),
// statistics come from the finished ones (count, errors, p50/p99 per operation), errors are
// queryable by time, kind and element, and each operation keeps a short log of its steps.
//
// The records live in <data-root>/operations.jsonl, not in the state database: one line per
// event of an operation (begin, a log step, end), appended with one write(2) by whichever
// process carries it out. So recording costs a few microseconds, never takes the state
// database's write lock (concurrent commands do not queue behind each other's bookkeeping) and
// never adds to its checkpoints. Diagnostics are best-effort, not state: nothing is fsynced, a
// torn last line (power loss) is skipped by readers, and the file is rotated to
// operations.jsonl.1 at kRotateBytes, so about the newest 2 x kRotateBytes of records are kept.
// An operation begun and never ended whose process is gone reads as "interrupted".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::engine {

inline constexpr int64_t kRotateBytes = 2 << 20;
inline constexpr int64_t kLogHoldNanos = 50'000'000;

// The operation records of one data root, opened on first use, one per process and root.
// Not thread-safe, as an Engine is not.
class OperationLog {
 public:
  static OperationLog* Of(const std::string& root);
  // Appends one record (a JSON object, one line). Failures lose the record, nothing else.
  void Append(const std::string& line);
  const std::string& path() const { return path_; }

 private:
  explicit OperationLog(std::string root) : path_(std::move(root) + "/operations.jsonl") {}
  std::string path_;
  UniqueFd fd_;
  bool tried_ = false;
};

// One operation in progress, recorded from Begin to Finish. Dropped unfinished, it is recorded
// as failed ("abandoned"). Recording never fails the operation: a write error only loses the
// record.
class Operation {
 public:
  // Records the start of `op` of `component` on `target` (an id, name or reference).
  static Operation Begin(OperationLog* log, std::string component, std::string op, std::string target);
  Operation() = default;
  Operation(Operation&& o) noexcept;
  Operation& operator=(Operation&& o) noexcept;
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;
  ~Operation();

  const std::string& id() const { return id_; }
  // Sets the element once it is known (a container's id after create).
  void SetTarget(const std::string& target);
  // One step, timestamped. The steps of an operation younger than kLogHoldNanos are written
  // with its end (one write for a quick operation's whole record); after that, each at once,
  // so a long operation's steps show while it runs.
  void Log(const std::string& line);
  // Records the outcome; returns `st` so that a caller can `return op.Finish(st);`.
  Status Finish(const Status& st);
  template <typename T>
  Result<T> Finish(Result<T> r) {
    (void)Finish(r.ok() ? Status() : r.status());
    return r;
  }

 private:
  OperationLog* log_ = nullptr;
  std::string id_;  // "" once finished (or when nothing is recorded)
  int64_t started_at_ = 0;
  std::string held_;  // steps not written yet, JSON lines
};

// Runs `fn` (returning Status or Result<T>) as one recorded operation. With `current`, points it
// at the operation meanwhile (for steps logged from deeper down), then restores it.
template <typename F>
auto Tracked(OperationLog* log, const char* component, const char* op, std::string target, F&& fn,
             Operation** current = nullptr) -> decltype(fn()) {
  Operation o = Operation::Begin(log, component, op, std::move(target));
  Operation* outer = current ? std::exchange(*current, &o) : nullptr;
  auto r = fn();
  if (current) *current = outer;
  return o.Finish(std::move(r));
}

struct OperationRecord {
  std::string id;  // 12 hex digits
  std::string component, op, target;
  pid_t pid = 0;
  uint64_t pid_start = 0;  // the process's start time (os::ProcessStartTime)
  int64_t started_at = 0, finished_at = 0;  // ns; finished_at 0 while in progress
  std::string outcome;  // "" in progress, "ok", "error", "interrupted"
  std::string error_code, error_message, log;
  int64_t DurationNanos() const { return finished_at > started_at ? finished_at - started_at : 0; }
  // The outcome as shown: "in progress" until there is one.
  std::string OutcomeText() const { return outcome.empty() ? "in progress" : outcome; }
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

// What `system diagnostics` shows without a section asked for, from one reading of the records.
struct DiagnosticsSummary {
  std::vector<OperationRecord> in_progress;
  std::vector<OperationStats> stats;
  std::vector<OperationRecord> errors;  // newest first
};

class Diagnostics {
 public:
  explicit Diagnostics(OperationLog* log) : log_(log) {}
  // Operations not finished whose process still runs. Ones whose process is gone are
  // "interrupted" (an error of that kind); a read decides it, nothing is rewritten.
  Result<std::vector<OperationRecord>> InProgress(const DiagnosticsQuery& q);
  // Failed and interrupted operations, newest first, at most `limit`.
  Result<std::vector<OperationRecord>> Errors(const DiagnosticsQuery& q, int limit = 100);
  // Count, errors and latency percentiles per (component, operation) over the finished rows.
  Result<std::vector<OperationStats>> Stats(const DiagnosticsQuery& q);
  // Every recorded operation, whatever its outcome, newest first, at most `limit`.
  Result<std::vector<OperationRecord>> History(const DiagnosticsQuery& q, int limit = 100);
  Result<OperationRecord> Get(const std::string& id);
  // InProgress, Stats and Errors (at most `error_limit`) together, the records read once.
  Result<DiagnosticsSummary> Summary(const DiagnosticsQuery& q, int error_limit);

 private:
  // Every operation in both files, oldest first.
  std::vector<OperationRecord> ReadAll();
  OperationLog* log_;
};

// The components Diagnostics knows, in display order.
const std::vector<std::string>& DiagnosticComponents();
// The JSON of a record and of a stats row (`system diagnostics --format json`).
std::string OperationJson(const OperationRecord& r);
std::string OperationStatsJson(const OperationStats& s);

}  // namespace bd::engine
