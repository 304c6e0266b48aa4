#include "engine/diagnostics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"
#include "os/fs.h"
#include "os/process.h"

namespace bd::engine {

using nlohmann::json;

namespace {

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

bool Selected(const OperationRecord& r, const DiagnosticsQuery& q) {
  return (q.component.empty() || r.component == q.component) && (!q.since || r.started_at >= q.since) &&
         (!q.until || r.started_at <= q.until) && (q.error_kind.empty() || r.error_code == KindName(q.error_kind)) &&
         (q.target.empty() || r.target.rfind(q.target, 0) == 0);
}

// A record as one line: invalid UTF-8 replaced, never an exception.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

UniqueFd OpenForAppend(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
}

// The newest `limit` of `ops` (oldest first), newest first.
std::vector<OperationRecord> NewestFirst(std::vector<OperationRecord> ops, int limit) {
  std::reverse(ops.begin(), ops.end());
  if (static_cast<int>(ops.size()) > limit) ops.resize(static_cast<size_t>(limit));
  return ops;
}

std::vector<OperationRecord> Select(std::vector<OperationRecord> ops, const DiagnosticsQuery& q) {
  std::erase_if(ops, [&](const OperationRecord& r) { return !Selected(r, q); });
  return ops;
}

// Statistics count every outcome whatever kind of error a query asks for.
DiagnosticsQuery WithoutKind(DiagnosticsQuery q) {
  q.error_kind.clear();
  return q;
}

std::vector<OperationRecord> InProgressOf(std::vector<OperationRecord> ops) {
  std::erase_if(ops, [](const OperationRecord& r) { return !r.outcome.empty(); });
  return ops;
}

std::vector<OperationRecord> ErrorsOf(std::vector<OperationRecord> ops, int limit) {
  std::erase_if(ops, [](const OperationRecord& r) { return r.outcome != "error" && r.outcome != "interrupted"; });
  return NewestFirst(std::move(ops), limit);
}

// Count, errors and latency percentiles per (component, operation) of the finished ones.
std::vector<OperationStats> StatsOf(const std::vector<OperationRecord>& ops) {
  std::map<std::pair<std::string, std::string>, std::pair<OperationStats, std::vector<int64_t>>> by_op;
  for (const OperationRecord& r : ops) {
    if (r.outcome.empty() || r.outcome == "interrupted") continue;  // not finished: no latency
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

// This process's pid and its start time (read from /proc once per process, not per operation).
std::pair<pid_t, uint64_t> Self() {
  static pid_t pid = 0;
  static uint64_t start = 0;
  if (pid_t now = ::getpid(); now != pid) {  // first use, or a child after fork
    pid = now;
    start = os::ProcessStartTime(now);
  }
  return {pid, start};
}

}  // namespace

OperationLog* OperationLog::Of(const std::string& root) {
  // Never destroyed: operations may finish during static destruction.
  static auto* logs = new std::map<std::string, std::unique_ptr<OperationLog>>();
  auto& log = (*logs)[root];
  if (!log) log.reset(new OperationLog(root));
  return log.get();
}

void OperationLog::Append(const std::string& line) {
  if (!tried_) {
    tried_ = true;
    fd_ = OpenForAppend(path_);
  }
  if (!fd_) return;
  struct stat st;
  if (::fstat(fd_.get(), &st) == 0 && st.st_size >= kRotateBytes) {
    // Whoever sees the file full first moves it aside. A writer whose file was moved aside
    // already (by another process) only reopens: renaming again would push a fresh file over
    // the full one.
    struct stat now;
    if (::stat(path_.c_str(), &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev) {
      (void)::rename(path_.c_str(), (path_ + ".1").c_str());
    }
    fd_ = OpenForAppend(path_);
    if (!fd_) return;
  }
  (void)os::WriteAll(fd_.get(), line + "\n");  // one write: lines of processes never interleave
}

Operation Operation::Begin(OperationLog* log, std::string component, std::string op, std::string target) {
  Operation o;
  if (!log) return o;
  o.log_ = log;
  o.id_ = RandomHexId().substr(0, 12);
  o.started_at_ = NowNanos();
  auto [self, self_start] = Self();
  log->Append(Dump({{"t", "begin"},
                    {"id", o.id_},
                    {"component", component},
                    {"op", op},
                    {"target", target},
                    {"pid", self},
                    {"pid_start", self_start},
                    {"time", o.started_at_}}));
  return o;
}

Operation::Operation(Operation&& o) noexcept
    : log_(std::exchange(o.log_, nullptr)), id_(std::move(o.id_)), started_at_(o.started_at_), held_(std::move(o.held_)) {
  o.id_.clear();
  o.held_.clear();
}

Operation& Operation::operator=(Operation&& o) noexcept {
  if (this != &o) {
    if (!id_.empty()) (void)Finish(Status::Internal("abandoned"));
    log_ = std::exchange(o.log_, nullptr);
    id_ = std::move(o.id_);
    started_at_ = o.started_at_;
    held_ = std::move(o.held_);
    o.id_.clear();
    o.held_.clear();
  }
  return *this;
}

Operation::~Operation() {
  if (!id_.empty()) (void)Finish(Status::Internal("abandoned"));
}

void Operation::SetTarget(const std::string& target) {
  if (id_.empty()) return;
  log_->Append(Dump({{"t", "target"}, {"id", id_}, {"target", target}}));
}

void Operation::Log(const std::string& line) {
  if (id_.empty()) return;
  int64_t now = NowNanos();
  held_ += Dump({{"t", "log"}, {"id", id_}, {"time", now}, {"line", line}});
  if (now - started_at_ < kLogHoldNanos) {
    held_ += '\n';
    return;
  }
  log_->Append(std::exchange(held_, ""));
}

Status Operation::Finish(const Status& result) {
  if (id_.empty()) return result;
  json end = {{"t", "end"}, {"id", std::exchange(id_, "")}, {"time", NowNanos()}, {"outcome", result.ok() ? "ok" : "error"}};
  if (!result.ok()) {
    end["code"] = KindName(CodeName(result.code()));
    end["message"] = result.message();
  }
  log_->Append(std::exchange(held_, "") + Dump(end));
  return result;
}

std::vector<OperationRecord> Diagnostics::ReadAll() {
  std::vector<OperationRecord> ops;
  std::map<std::string, size_t> index;
  for (const std::string& path : {log_->path() + ".1", log_->path()}) {
    auto text = os::ReadFile(path);
    if (!text.ok()) continue;
    for (const std::string& line : Split(*text, '\n')) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) continue;  // a torn line
      std::string id = j["id"];
      std::string kind = j.value("t", "");
      if (kind == "begin") {
        OperationRecord r;
        r.id = id;
        r.component = j.value("component", "");
        r.op = j.value("op", "");
        r.target = j.value("target", "");
        r.pid = j.value("pid", 0);
        r.pid_start = j.value("pid_start", uint64_t{0});
        r.started_at = j.value("time", int64_t{0});
        index[id] = ops.size();
        ops.push_back(std::move(r));
        continue;
      }
      auto it = index.find(id);
      if (it == index.end()) continue;  // began in a file rotated away
      OperationRecord& r = ops[it->second];
      if (kind == "log") {
        r.log += FormatRfc3339Nano(j.value("time", int64_t{0})) + " " + j.value("line", "") + "\n";
      } else if (kind == "target") {
        r.target = j.value("target", r.target);
      } else if (kind == "end") {
        r.finished_at = j.value("time", int64_t{0});
        r.outcome = j.value("outcome", "error");
        r.error_code = j.value("code", "");
        r.error_message = j.value("message", "");
      }
    }
  }
  for (OperationRecord& r : ops) {
    if (r.outcome.empty() && !os::ProcessMatches(r.pid, r.pid_start)) {
      r.outcome = "interrupted";
      r.error_code = "interrupted";
      r.error_message = "its process ended before it finished";
    }
  }
  return ops;
}

Result<std::vector<OperationRecord>> Diagnostics::InProgress(const DiagnosticsQuery& q) {
  return InProgressOf(Select(ReadAll(), q));
}

Result<std::vector<OperationRecord>> Diagnostics::Errors(const DiagnosticsQuery& q, int limit) {
  return ErrorsOf(Select(ReadAll(), q), limit);
}

Result<std::vector<OperationRecord>> Diagnostics::History(const DiagnosticsQuery& q, int limit) {
  return NewestFirst(Select(ReadAll(), q), limit);
}

Result<std::vector<OperationStats>> Diagnostics::Stats(const DiagnosticsQuery& q) {
  return StatsOf(Select(ReadAll(), WithoutKind(q)));
}

Result<DiagnosticsSummary> Diagnostics::Summary(const DiagnosticsQuery& q, int error_limit) {
  std::vector<OperationRecord> all = ReadAll();  // the files read once for all three
  DiagnosticsSummary out;
  out.stats = StatsOf(Select(all, WithoutKind(q)));
  std::vector<OperationRecord> selected = Select(std::move(all), q);
  out.in_progress = InProgressOf(selected);
  out.errors = ErrorsOf(std::move(selected), error_limit);
  return out;
}

Result<OperationRecord> Diagnostics::Get(const std::string& id) {
  if (id.empty()) return Status::InvalidArgument("an operation ID is needed");
  std::vector<OperationRecord> found;
  for (OperationRecord& r : ReadAll()) {
    if (r.id == id) return std::move(r);
    if (r.id.rfind(id, 0) == 0) found.push_back(std::move(r));
  }
  if (found.size() > 1) {
    return Status::InvalidArgument("operation ID prefix " + id + " is ambiguous: " + std::to_string(found.size()) +
                                   " operations match");
  }
  if (found.empty()) return Status::NotFound("no such operation: " + id);
  return std::move(found.front());
}

const std::vector<std::string>& DiagnosticComponents() {
  static const std::vector<std::string> kComponents = {"container", "image", "capsule", "volume", "gc"};
  return kComponents;
}

std::string OperationJson(const OperationRecord& r) {
  json j = {{"ID", r.id},
            {"Component", r.component},
            {"Operation", r.op},
            {"Target", r.target},
            {"Pid", r.pid},
            {"Started", FormatRfc3339Nano(r.started_at)},
            {"Outcome", r.OutcomeText()}};
  if (r.finished_at) {
    j["Finished"] = FormatRfc3339Nano(r.finished_at);
    j["DurationNanos"] = r.DurationNanos();
  }
  if (!r.error_code.empty()) j["Error"] = {{"Kind", r.error_code}, {"Message", r.error_message}};
  j["Log"] = r.log;
  return Dump(j);
}

std::string OperationStatsJson(const OperationStats& s) {
  return Dump({{"Component", s.component},
               {"Operation", s.op},
               {"Count", s.count},
               {"Errors", s.errors},
               {"P50Nanos", s.p50_nanos},
               {"P99Nanos", s.p99_nanos},
               {"MaxNanos", s.max_nanos}});
}

}  // namespace bd::engine
