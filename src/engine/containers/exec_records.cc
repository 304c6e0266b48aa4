#include "engine/containers/exec_records.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"
#include "os/process.h"

namespace bd::engine {

using nlohmann::json;

std::string_view ExecRecordStateName(ExecRecordState s) {
  switch (s) {
    case ExecRecordState::kRunning: return "running";
    case ExecRecordState::kDone: return "done";
    case ExecRecordState::kInterrupted: return "interrupted";
  }
  return "";
}

namespace {

Result<ExecRecordState> ParseExecRecordState(std::string_view s) {
  for (ExecRecordState st : {ExecRecordState::kRunning, ExecRecordState::kDone, ExecRecordState::kInterrupted}) {
    if (ExecRecordStateName(st) == s) return st;
  }
  return Status::Internal("unknown exec record state \"" + std::string(s) + "\"");
}

std::vector<std::string> StringList(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const json& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::string Columns(bool with_output) {
  return std::string(
             "id, container_id, key, state, exec_id, argv, env, working_dir, user, tty, interactive,"
             " supervisor_pid, supervisor_start, pid, pid_start, created_at, started_at, finished_at,"
             " exit_code, error, output_limit, stdout_size, stderr_size, ") +
         (with_output ? "stdout, stderr" : "x'', x''") + ", length(stdout), length(stderr)";
}

Result<ExecRecord> FromRow(store::Statement& st) {
  ExecRecord r;
  r.id = st.Int(0);
  r.container_id = st.Text(1);
  r.key = st.Text(2);
  BD_ASSIGN_OR_RETURN(r.state, ParseExecRecordState(st.Text(3)));
  r.exec_id = st.Text(4);
  r.argv = StringList(st.Text(5));
  r.env = StringList(st.Text(6));
  r.working_dir = st.Text(7);
  r.user = st.Text(8);
  r.tty = st.Int(9) != 0;
  r.interactive = st.Int(10) != 0;
  r.supervisor_pid = static_cast<pid_t>(st.Int(11));
  r.supervisor_start = static_cast<uint64_t>(st.Int(12));
  r.pid = static_cast<pid_t>(st.Int(13));
  r.pid_start = static_cast<uint64_t>(st.Int(14));
  r.created_at = st.Int(15);
  r.started_at = st.Int(16);
  r.finished_at = st.Int(17);
  r.exit_code = static_cast<int>(st.Int(18));
  r.error = st.Text(19);
  r.output_limit = st.Int(20);
  r.stdout_size = st.Int(21);
  r.stderr_size = st.Int(22);
  r.stdout_data = st.Blob(23);
  r.stderr_data = st.Blob(24);
  r.stdout_kept = st.Int(25);
  r.stderr_kept = st.Int(26);
  return r;
}

Result<std::vector<ExecRecord>> AllRows(store::Statement& st) {
  std::vector<ExecRecord> out;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    BD_ASSIGN_OR_RETURN(ExecRecord r, FromRow(st));
    out.push_back(std::move(r));
  }
}

// Output as JSON: the text when it is UTF-8, else base64 (with the encoding said).
json OutputJson(const std::string& data, int64_t size, int64_t kept, bool with_output) {
  json j = {{"Size", size}, {"Kept", kept}, {"Truncated", size > kept}};
  if (!with_output) return j;
  if (ValidateUtf8("output", data).ok()) {
    j["Data"] = data;
    j["Encoding"] = "utf-8";
  } else {
    j["Data"] = Base64Encode(data);
    j["Encoding"] = "base64";
  }
  return j;
}

// Durable commits for the records: a claim lost to a power cut would let the command run a
// second time. The connection's setting is put back after.
class FullSync {
 public:
  explicit FullSync(store::Db* db) : db_(db) { (void)db_->Exec("PRAGMA synchronous=FULL"); }
  ~FullSync() { (void)db_->Exec("PRAGMA synchronous=NORMAL"); }

 private:
  store::Db* db_;
};

}  // namespace

Status ValidateExecKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("an exec key (--once) must not be empty");
  if (key.size() > 255) return Status::InvalidArgument("an exec key (--once) is at most 255 bytes");
  BD_RETURN_IF_ERROR(ValidateUtf8("the exec key (--once)", key));
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("an exec key (--once) must not hold control characters");
  }
  return {};
}

std::string ExecRecordJson(const ExecRecord& r, std::string_view container_name, bool with_output, int indent) {
  json j = {{"Container", {{"ID", r.container_id}, {"Name", container_name}}},
            {"Key", r.key},
            {"State", ExecRecordStateName(r.state)},
            {"ExecID", r.exec_id},
            {"Argv", r.argv},
            {"Env", r.env},
            {"WorkingDir", r.working_dir},
            {"User", r.user},
            {"Tty", r.tty},
            {"Interactive", r.interactive},
            {"Supervisor", {{"Pid", r.supervisor_pid}, {"StartTime", r.supervisor_start}}},
            {"Pid", r.pid},
            {"CreatedAt", FormatRfc3339Nano(r.created_at)},
            {"StartedAt", FormatRfc3339Nano(r.started_at)},
            {"FinishedAt", FormatRfc3339Nano(r.finished_at)},
            {"ExitCode", r.exit_code},
            {"Error", r.error},
            {"OutputLimit", r.output_limit},
            {"Stdout", OutputJson(r.stdout_data, r.stdout_size, r.stdout_kept, with_output)},
            {"Stderr", OutputJson(r.stderr_data, r.stderr_size, r.stderr_kept, with_output)}};
  return j.dump(indent);
}

Result<std::optional<ExecRecord>> ExecRecordStore::Find(const std::string& container_id, std::string_view key,
                                                        bool with_output) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT " + Columns(with_output) +
                                            " FROM exec_records WHERE container_id = ? AND key = ?"));
  st.BindAll(container_id, key);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ExecRecord>();
  BD_ASSIGN_OR_RETURN(ExecRecord r, FromRow(st));
  return std::optional<ExecRecord>(std::move(r));
}

Result<ExecRecord> ExecRecordStore::GetById(int64_t id) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT " + Columns(false) + " FROM exec_records WHERE id = ?"));
  st.Bind(1, id);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("no exec record " + std::to_string(id));
  return FromRow(st);
}

Result<std::vector<ExecRecord>> ExecRecordStore::List(const std::string& container_id) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT " + Columns(false) + " FROM exec_records" +
                                            (container_id.empty() ? "" : " WHERE container_id = ?") +
                                            " ORDER BY created_at, id"));
  if (!container_id.empty()) st.Bind(1, container_id);
  return AllRows(st);
}

Result<ExecRecordStore::Claim> ExecRecordStore::ClaimOrFind(ExecRecord* fresh, bool reset) {
  FullSync durable(db_);
  Claim claim;
  BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
    BD_ASSIGN_OR_RETURN(std::optional<ExecRecord> there, Find(fresh->container_id, fresh->key, false));
    if (there && !(reset && there->state != ExecRecordState::kRunning)) {
      claim.existing = std::move(there);
      return {};
    }
    if (there) {
      BD_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM exec_records WHERE id = ?"));
      BD_RETURN_IF_ERROR(del.Bind(1, there->id).Run());
    }
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO exec_records(container_id, key, state, exec_id, argv, env, working_dir, user, tty,"
        " interactive, supervisor_pid, supervisor_start, created_at, output_limit)"
        " VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
    st.BindAll(fresh->container_id, fresh->key, fresh->exec_id, json(fresh->argv).dump(), json(fresh->env).dump(),
               fresh->working_dir, fresh->user, fresh->tty ? 1 : 0, fresh->interactive ? 1 : 0,
               static_cast<int64_t>(fresh->supervisor_pid), static_cast<int64_t>(fresh->supervisor_start),
               fresh->created_at, fresh->output_limit);
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Internal("the exec record was not inserted");
    fresh->id = st.Int(0);
    fresh->state = ExecRecordState::kRunning;
    BD_RETURN_IF_ERROR(st.Run());
    claim.claimed = true;
    return {};
  }));
  return claim;
}

namespace {
// What a record holds in the database, as SQL over its row.
constexpr std::string_view kRecordBytes = "length(stdout) + length(stderr) + length(argv) + length(env) + length(key)";
constexpr std::string_view kWhereSupervised =
    " WHERE id = ?1 AND state = 'running' AND supervisor_pid = ?2 AND supervisor_start = ?3";
}  // namespace

Status ExecRecordStore::RecordStart(const ExecRecord& r, const std::map<std::string, std::string>& attributes) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE exec_records SET pid = ?4, pid_start = ?5, started_at = ?6" +
                                            std::string(kWhereSupervised)));
  BD_RETURN_IF_ERROR(st.BindAll(r.id, static_cast<int64_t>(r.supervisor_pid), static_cast<int64_t>(r.supervisor_start),
                                static_cast<int64_t>(r.pid), static_cast<int64_t>(r.pid_start), r.started_at)
                         .Run());
  if (db_->Changes() == 0) return Status::FailedPrecondition("exec record " + r.key + " is no longer this run's");
  BD_RETURN_IF_ERROR(events_.Emit("container", "exec_once_start", r.container_id, attributes));
  // Docker's own exec event too, with the command line, as a plain exec records it.
  return events_.Emit("container", "exec_start: " + Join(r.argv, " "), r.container_id, attributes);
}

Status ExecRecordStore::MarkStarted(const ExecRecord& r, const std::map<std::string, std::string>& attributes) {
  return db_->WriteTxn([&]() -> Status { return RecordStart(r, attributes); });
}

// Not synced to disk at commit (WAL, synchronous=NORMAL): a finish lost to a power cut leaves
// the record running under a dead supervisor, which reads as interrupted; never as not run.
Status ExecRecordStore::Finish(const ExecRecord& r, const std::map<std::string, std::string>& attributes,
                               bool record_start) {
  return db_->WriteTxn([&]() -> Status {
    if (record_start) BD_RETURN_IF_ERROR(RecordStart(r, attributes));
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "UPDATE exec_records SET state = 'done', finished_at = ?4, exit_code = ?5, error = ?6,"
        " stdout_size = ?7, stderr_size = ?8, stdout = ?9, stderr = ?10" + std::string(kWhereSupervised)));
    st.BindAll(r.id, static_cast<int64_t>(r.supervisor_pid), static_cast<int64_t>(r.supervisor_start), r.finished_at,
               r.exit_code, r.error, r.stdout_size, r.stderr_size);
    st.BindBlob(9, r.stdout_data).BindBlob(10, r.stderr_data);
    BD_RETURN_IF_ERROR(st.Run());
    if (db_->Changes() == 0) return Status::FailedPrecondition("exec record " + r.key + " is no longer this run's");
    return events_.Emit("container", "exec_die", r.container_id, attributes);
  });
}

Status ExecRecordStore::Withdraw(const ExecRecord& r) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM exec_records" + std::string(kWhereSupervised) +
                                            " AND started_at = 0"));
  return st.BindAll(r.id, static_cast<int64_t>(r.supervisor_pid), static_cast<int64_t>(r.supervisor_start)).Run();
}

Result<bool> ExecRecordStore::InterruptIfOrphaned(ExecRecord* r, const std::map<std::string, std::string>& attributes) {
  if (r->state != ExecRecordState::kRunning || os::ProcessMatches(r->supervisor_pid, r->supervisor_start)) return false;
  bool changed = false;
  int64_t now = NowNanos();
  BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE exec_records SET state = 'interrupted', finished_at = ?4" +
                                              std::string(kWhereSupervised)));
    BD_RETURN_IF_ERROR(st.BindAll(r->id, static_cast<int64_t>(r->supervisor_pid),
                                  static_cast<int64_t>(r->supervisor_start), now)
                           .Run());
    changed = db_->Changes() > 0;
    if (!changed) return {};
    std::map<std::string, std::string> attrs = attributes;
    attrs["key"] = r->key;
    attrs["execID"] = r->exec_id;
    return events_.Emit("container", "exec_once_interrupted", r->container_id, attrs);
  }));
  if (!changed) {  // another process settled it first: read what it wrote
    BD_ASSIGN_OR_RETURN(*r, GetById(r->id));
    return false;
  }
  r->state = ExecRecordState::kInterrupted;
  r->finished_at = now;
  // The command dies with its supervisor; one that slipped past that must not run on unseen.
  if (r->pid > 0 && os::ProcessMatches(r->pid, r->pid_start)) {
    if (auto pidfd = os::PidfdOpen(r->pid); pidfd.ok() && os::ProcessMatches(r->pid, r->pid_start)) {
      ::syscall(SYS_pidfd_send_signal, pidfd->get(), SIGKILL, nullptr, 0);
    }
  }
  return true;
}

Result<std::vector<ExecRecord>> ExecRecordStore::ListRunning() {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT " + Columns(false) + " FROM exec_records WHERE state = 'running'"));
  return AllRows(st);
}

Result<ExecRecordStore::Usage> ExecRecordStore::DiskUsage() {
  std::string bytes(kRecordBytes);
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*), coalesce(sum(state = 'running'), 0), coalesce(sum(" + bytes +
                                            "), 0), coalesce(sum(CASE WHEN state = 'running' THEN 0 ELSE " + bytes +
                                            " END), 0) FROM exec_records"));
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  Usage u;
  if (row) {
    u.total = st.Int(0);
    u.running = st.Int(1);
    u.bytes = st.Int(2);
    u.reclaimable = st.Int(3);
  }
  return u;
}

Status ExecRecordStore::Remove(const std::string& container_id, std::string_view key) {
  return db_->WriteTxn([&]() -> Status {
    BD_ASSIGN_OR_RETURN(std::optional<ExecRecord> r, Find(container_id, key, false));
    if (!r) return Status::NotFound("no exec record \"" + std::string(key) + "\" in container " + container_id.substr(0, 12));
    if (r->state == ExecRecordState::kRunning && os::ProcessMatches(r->supervisor_pid, r->supervisor_start)) {
      return Status::FailedPrecondition("exec record \"" + r->key + "\" is running; wait for it to finish");
    }
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM exec_records WHERE id = ?"));
    return st.Bind(1, r->id).Run();
  });
}

Result<ExecRecordStore::PruneReport> ExecRecordStore::Prune(int64_t before) {
  PruneReport report;
  BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
    std::string where = " WHERE state != 'running'" + std::string(before > 0 ? " AND finished_at < ?1" : "");
    BD_ASSIGN_OR_RETURN(auto sum, db_->Prepare("SELECT count(*), coalesce(sum(" + std::string(kRecordBytes) + "), 0)"
                                               " FROM exec_records" + where));
    if (before > 0) sum.Bind(1, before);
    BD_ASSIGN_OR_RETURN(bool row, sum.Step());
    if (row) {
      report.removed = sum.Int(0);
      report.bytes = sum.Int(1);
    }
    BD_RETURN_IF_ERROR(sum.Run());
    BD_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM exec_records" + where));
    if (before > 0) del.Bind(1, before);
    return del.Run();
  }));
  return report;
}

}  // namespace bd::engine
