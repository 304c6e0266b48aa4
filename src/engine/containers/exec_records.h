// At-most-once exec (`exec --once KEY`): one record per (container instance, KEY) in the state
// database. A record is claimed (state running) in the same transaction that finds it absent,
// with the identity (pid and start time) of the process that supervises the run; that process
// finishes it (done) with the exit code and the output. A running record whose supervisor is
// gone is interrupted: the command is never started again on its own. A container's records
// go with it (ON DELETE CASCADE); the container's id is its instance, so a recreated container
// starts with none. Not thread-safe; one per Db.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/events.h"
#include "store/db.h"

namespace bd::engine {

enum class ExecRecordState { kRunning, kDone, kInterrupted };
std::string_view ExecRecordStateName(ExecRecordState s);

struct ExecRecord {
  int64_t id = 0;  // the row's own, what the supervisor is handed
  std::string container_id;
  std::string key;
  ExecRecordState state = ExecRecordState::kRunning;
  std::string exec_id;  // the execID of its events
  // Exactly what execve gets (argv) and the environment it runs with, as the engine made them.
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  bool tty = false;
  bool interactive = false;  // the caller's stdin went in
  pid_t supervisor_pid = 0;
  uint64_t supervisor_start = 0;  // os::ProcessStartTime of the supervisor
  pid_t pid = 0;                  // the command, as the host sees it (0 until it started)
  uint64_t pid_start = 0;
  int64_t created_at = 0;  // unix nanoseconds: claimed
  int64_t started_at = 0;  // the command exec'd (0: it never did)
  int64_t finished_at = 0;
  int exit_code = 0;
  std::string error;         // why the command could not run (exit 126 / 127)
  int64_t output_limit = 0;  // bytes kept of each stream
  std::string stdout_data, stderr_data;  // byte-exact, at most output_limit each
  int64_t stdout_size = 0, stderr_size = 0;  // bytes the command wrote to each, kept or not
  int64_t stdout_kept = 0, stderr_kept = 0;  // bytes the record holds of each (read or not)

  bool StdoutTruncated() const { return stdout_size > stdout_kept; }
  bool StderrTruncated() const { return stderr_size > stderr_kept; }
};

// InvalidArgument unless `key` is 1-255 bytes of UTF-8 without control characters.
Status ValidateExecKey(std::string_view key);

// `inspect`-shaped JSON of a record: with `with_output`, the output as text where it is UTF-8,
// else base64; without, its sizes only. `indent` as nlohmann::json::dump (-1: one line).
std::string ExecRecordJson(const ExecRecord& r, std::string_view container_name, bool with_output = true,
                           int indent = 2);

class ExecRecordStore {
 public:
  explicit ExecRecordStore(store::Db* db) : db_(db), events_(db) {}

  // With `with_output`, stdout_data and stderr_data are read too.
  Result<std::optional<ExecRecord>> Find(const std::string& container_id, std::string_view key,
                                         bool with_output = true);
  Result<ExecRecord> GetById(int64_t id);
  // Every record (of one container when `container_id` is not empty), without their output,
  // oldest first.
  Result<std::vector<ExecRecord>> List(const std::string& container_id = "");

  // What Claim found.
  struct Claim {
    bool claimed = false;          // `fresh` was inserted: the caller's supervisor runs it
    std::optional<ExecRecord> existing;  // else the record there is (output not read)
  };
  // In one transaction (durable before it returns): the record of (container, key) if there
  // is one, else `fresh` inserted as running. With `reset`, a record that is not running is
  // replaced by `fresh`.
  Result<Claim> ClaimOrFind(ExecRecord* fresh, bool reset);
  // The supervisor's steps. Each changes the record only while it is running under
  // `supervisor` (pid, start): FailedPrecondition otherwise.
  // MarkStarted records the command's pid and start (and exec_once_start); Finish the end,
  // with the start too when `record_start` (a command that ended before its start was
  // recorded: one transaction instead of two). Finish is not synced to disk at commit: one
  // lost to a power cut leaves the record running under a dead supervisor, read as
  // interrupted, never as not run.
  Status MarkStarted(const ExecRecord& r, const std::map<std::string, std::string>& attributes);
  Status Finish(const ExecRecord& r, const std::map<std::string, std::string>& attributes, bool record_start = false);
  // The command never started because of the engine (not the command): the claim is
  // withdrawn, as if never made.
  Status Withdraw(const ExecRecord& r);
  // A running record whose supervisor is not alive becomes interrupted (its command, if still
  // there, is killed) and the exec_once_interrupted event is recorded. Returns true if it
  // changed the record; `r` is updated.
  Result<bool> InterruptIfOrphaned(ExecRecord* r, const std::map<std::string, std::string>& attributes);
  // The running records (for InterruptIfOrphaned), without their output.
  Result<std::vector<ExecRecord>> ListRunning();
  // What the records hold, for `system df`: how many, how many running, their bytes (output,
  // argv, environment, key) and the bytes of those not running (what prune can free).
  struct Usage {
    int64_t total = 0, running = 0, bytes = 0, reclaimable = 0;
  };
  Result<Usage> DiskUsage();

  // NotFound when there is no such record; FailedPrecondition while it runs.
  Status Remove(const std::string& container_id, std::string_view key);
  // Removes the records that are not running and finished before `before` (unix nanoseconds;
  // 0: every one). Returns how many and the bytes they held.
  struct PruneReport {
    int64_t removed = 0;
    int64_t bytes = 0;
  };
  Result<PruneReport> Prune(int64_t before);

 private:
  // MarkStarted's change, inside the caller's transaction.
  Status RecordStart(const ExecRecord& r, const std::map<std::string, std::string>& attributes);
  store::Db* db_;
  EventLog events_;
};

}  // namespace bd::engine
