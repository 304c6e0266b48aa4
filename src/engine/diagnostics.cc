#include "engine/diagnostics.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "base/time.h"
#include "os/process.h"

namespace bd::engine {

namespace {

constexpr const char* kColumns =
    "id, component, op, target, pid, started_at, COALESCE(finished_at, 0), COALESCE(outcome, ''), "
    "COALESCE(error_code, ''), COALESCE(error_message, ''), log, pid_start";

OperationRecord Row(const store::Statement& st) {
  OperationRecord r;
  r.id = st.Int(0);
  r.component = st.Text(1);
  r.op = st.Text(2);
  r.target = st.Text(3);
  r.pid = static_cast<pid_t>(st.Int(4));
  r.started_at = st.Int(5);
  r.finished_at = st.Int(6);
  r.outcome = st.Text(7);
  r.error_code = st.Text(8);
  r.error_message = st.Text(9);
  r.log = st.Text(10);
  r.pid_start = static_cast<uint64_t>(st.Int(11));
  return r;
}

// "not found" and "not_found" alike: the kind as a user types it.
std::string KindName(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), ' ', '_');
  return out;
}

// The value at fraction `q` of sorted `v` (nearest rank).
int64_t Percentile(const std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  size_t rank = static_cast<size_t>(q * static_cast<double>(v.size()) + 0.999999);
  return v[std::min(v.size(), std::max<size_t>(rank, 1)) - 1];
}

}  // namespace

Operation Operation::Begin(store::Db* db, std::string component, std::string op, std::string target) {
  Operation o;
  o.db_ = db;
  o.started_ = NowNanos();
  pid_t self = ::getpid();
  auto st = db->Prepare(
      "INSERT INTO operations(component, op, target, pid, pid_start, started_at) VALUES (?, ?, ?, ?, ?, ?) "
      "RETURNING id");
  if (!st.ok()) return o;
  st->BindAll(component, op, target, static_cast<int64_t>(self), static_cast<int64_t>(os::ProcessStartTime(self)),
              o.started_);
  auto row = st->Step();
  if (row.ok() && *row) o.id_ = st->Int(0);
  return o;
}

Operation::Operation(Operation&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), id_(std::exchange(o.id_, 0)), started_(o.started_), log_(std::move(o.log_)) {}

Operation& Operation::operator=(Operation&& o) noexcept {
  if (this != &o) {
    if (id_) (void)Finish(Status::Internal("abandoned"));
    db_ = std::exchange(o.db_, nullptr);
    id_ = std::exchange(o.id_, 0);
    started_ = o.started_;
    log_ = std::move(o.log_);
  }
  return *this;
}

Operation::~Operation() {
  if (id_) (void)Finish(Status::Internal("abandoned"));
}

void Operation::SetTarget(const std::string& target) {
  if (!id_) return;
  if (auto st = db_->Prepare("UPDATE operations SET target = ? WHERE id = ?"); st.ok()) {
    (void)st->BindAll(target, id_).Run();
  }
}

void Operation::Log(const std::string& line) {
  if (!id_) return;
  log_ += FormatRfc3339Nano(NowNanos()) + " " + line + "\n";
  if (auto st = db_->Prepare("UPDATE operations SET log = ? WHERE id = ?"); st.ok()) {
    (void)st->BindAll(log_, id_).Run();
  }
}

Status Operation::Finish(const Status& result) {
  if (!id_) return result;
  int64_t id = std::exchange(id_, 0);
  auto st = db_->Prepare(
      "UPDATE operations SET finished_at = ?, outcome = ?, error_code = ?, error_message = ? WHERE id = ?");
  if (st.ok()) {
    std::string code = result.ok() ? "" : KindName(CodeName(result.code()));
    (void)st->BindAll(NowNanos(), std::string(result.ok() ? "ok" : "error"), code,
                      result.ok() ? std::string() : result.message(), id)
        .Run();
  }
  // Now and then, the oldest finished rows beyond what is kept go (one indexed delete).
  if (id % 64 == 0) {
    if (auto del = db_->Prepare("DELETE FROM operations WHERE id <= ? AND finished_at IS NOT NULL"); del.ok()) {
      (void)del->BindAll(id - kKeptOperations).Run();
    }
  }
  return result;
}

Result<std::vector<OperationRecord>> Diagnostics::Query(const std::string& where, const DiagnosticsQuery& q,
                                                        const std::string& order) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM operations WHERE " + where +
                    " AND (?1 = '' OR component = ?1) AND (?2 = 0 OR started_at >= ?2)"
                    " AND (?3 = 0 OR started_at <= ?3) AND (?4 = '' OR error_code = ?4)"
                    " AND (?5 = '' OR substr(target, 1, length(?5)) = ?5) ORDER BY " + order;
  BD_ASSIGN_OR_RETURN(store::Statement st, db_->Prepare(sql));
  st.BindAll(q.component, q.since, q.until, KindName(q.error_kind), q.target);
  std::vector<OperationRecord> out;
  for (;;) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(Row(st));
  }
  return out;
}

Result<std::vector<OperationRecord>> Diagnostics::InProgress(const DiagnosticsQuery& q) {
  BD_ASSIGN_OR_RETURN(std::vector<OperationRecord> rows, Query("finished_at IS NULL", q, "id"));
  std::erase_if(rows, [](const OperationRecord& r) { return !os::ProcessMatches(r.pid, r.pid_start); });
  return rows;
}

Result<std::vector<OperationRecord>> Diagnostics::Errors(const DiagnosticsQuery& q, int limit) {
  BD_ASSIGN_OR_RETURN(std::vector<OperationRecord> rows,
                      Query("outcome IN ('error', 'interrupted')", q, "id DESC"));
  if (static_cast<int>(rows.size()) > limit) rows.resize(static_cast<size_t>(limit));
  return rows;
}

Result<std::vector<OperationStats>> Diagnostics::Stats(const DiagnosticsQuery& q) {
  DiagnosticsQuery all = q;
  all.error_kind.clear();
  BD_ASSIGN_OR_RETURN(std::vector<OperationRecord> rows, Query("finished_at IS NOT NULL", all, "id"));
  std::map<std::pair<std::string, std::string>, std::pair<OperationStats, std::vector<int64_t>>> by_op;
  for (const OperationRecord& r : rows) {
    auto& [s, durations] = by_op[{r.component, r.op}];
    s.component = r.component;
    s.op = r.op;
    ++s.count;
    if (r.outcome != "ok") ++s.errors;
    durations.push_back(r.DurationNanos());
  }
  std::vector<OperationStats> out;
  for (auto& [key, entry] : by_op) {
    auto& [s, durations] = entry;
    std::sort(durations.begin(), durations.end());
    s.p50_nanos = Percentile(durations, 0.50);
    s.p99_nanos = Percentile(durations, 0.99);
    s.max_nanos = durations.back();
    out.push_back(s);
  }
  const auto& order = DiagnosticComponents();
  std::stable_sort(out.begin(), out.end(), [&](const OperationStats& a, const OperationStats& b) {
    return std::find(order.begin(), order.end(), a.component) < std::find(order.begin(), order.end(), b.component);
  });
  return out;
}

Result<OperationRecord> Diagnostics::Get(int64_t id) {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare(std::string("SELECT ") + kColumns + " FROM operations WHERE id = ?"));
  st.BindAll(id);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("no such operation: " + std::to_string(id));
  return Row(st);
}

Result<int> Diagnostics::MarkInterrupted() {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare("SELECT id, pid, pid_start FROM operations WHERE finished_at IS NULL"));
  std::vector<int64_t> gone;
  for (;;) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (!os::ProcessMatches(static_cast<pid_t>(st.Int(1)), static_cast<uint64_t>(st.Int(2)))) {
      gone.push_back(st.Int(0));
    }
  }
  if (gone.empty()) return 0;
  BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
    for (int64_t id : gone) {
      BD_ASSIGN_OR_RETURN(store::Statement up,
                          db_->Prepare("UPDATE operations SET finished_at = ?, outcome = 'interrupted', "
                                       "error_code = 'interrupted', error_message = 'its process ended before it "
                                       "finished' WHERE id = ? AND finished_at IS NULL"));
      BD_RETURN_IF_ERROR(up.BindAll(NowNanos(), id).Run());
    }
    return {};
  }));
  return static_cast<int>(gone.size());
}

const std::vector<std::string>& DiagnosticComponents() {
  static const std::vector<std::string> kComponents = {"container", "image", "capsule", "volume", "gc"};
  return kComponents;
}

std::string OperationJson(const OperationRecord& r) {
  nlohmann::json j = {{"ID", r.id},
                      {"Component", r.component},
                      {"Operation", r.op},
                      {"Target", r.target},
                      {"Pid", r.pid},
                      {"Started", FormatRfc3339Nano(r.started_at)},
                      {"Outcome", r.outcome.empty() ? "in progress" : r.outcome}};
  if (r.finished_at) {
    j["Finished"] = FormatRfc3339Nano(r.finished_at);
    j["DurationNanos"] = r.DurationNanos();
  }
  if (!r.error_code.empty()) j["Error"] = {{"Kind", r.error_code}, {"Message", r.error_message}};
  j["Log"] = r.log;
  return j.dump();
}

std::string OperationStatsJson(const OperationStats& s) {
  return nlohmann::json({{"Component", s.component},
                         {"Operation", s.op},
                         {"Count", s.count},
                         {"Errors", s.errors},
                         {"P50Nanos", s.p50_nanos},
                         {"P99Nanos", s.p99_nanos},
                         {"MaxNanos", s.max_nanos}})
      .dump();
}

}  // namespace bd::engine
