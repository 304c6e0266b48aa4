// system df, system info, info, system diagnostics.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"
#include "engine/diagnostics.h"
#include "engine/system.h"

namespace bd::cli {
namespace {

int PrintDiskUsage(Context& ctx, const std::string& format) {
  if (Status st = CheckFormat(format); !st.ok()) return Fail(st);
  auto eng = ctx.Engine();
  if (!eng.ok()) return Fail(eng.status());
  auto rows = engine::DiskUsage(**eng);
  if (!rows.ok()) return Fail(rows.status());
  std::string out;
  if (format == "json") {
    for (const engine::DiskUsageRow& r : *rows) {
      out += nlohmann::json({{"Type", r.type},
                             {"TotalCount", r.total},
                             {"Active", r.active},
                             {"Size", HumanSize(r.size)},
                             {"Reclaimable", HumanSize(r.reclaimable)},
                             {"SizeBytes", r.size},
                             {"ReclaimableBytes", r.reclaimable}})
                 .dump() + "\n";
    }
  } else {
    std::vector<std::vector<std::string>> table = {{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}};
    for (const engine::DiskUsageRow& r : *rows) {
      int64_t pct = r.size > 0 ? r.reclaimable * 100 / r.size : 0;
      table.push_back({r.type, std::to_string(r.total), std::to_string(r.active), HumanSize(r.size),
                       HumanSize(r.reclaimable) + " (" + std::to_string(pct) + "%)"});
    }
    out = FormatTable(table);
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

int PrintInfo(Context& ctx, const std::string& format) {
  if (Status st = CheckFormat(format); !st.ok()) return Fail(st);
  auto eng = ctx.Engine();
  if (!eng.ok()) return Fail(eng.status());
  auto info = engine::Info(**eng);
  if (!info.ok()) return Fail(info.status());
  if (format == "json") {
    std::printf("%s\n", engine::InfoJson(*info).c_str());
    return 0;
  }
  const engine::SystemInfo& i = *info;
  std::string out = "Containers: " + std::to_string(i.containers) + "\n Running: " + std::to_string(i.running) +
                    "\n Paused: " + std::to_string(i.paused) + "\n Stopped: " + std::to_string(i.stopped) +
                    "\nImages: " + std::to_string(i.images) + "\nVolumes: " + std::to_string(i.volumes) +
                    "\nCapsules: " + std::to_string(i.capsules) + "\nServer Version: " + i.server_version +
                    "\nStorage Driver: " + i.storage_driver + "\nLogging Driver: " + i.logging_driver +
                    "\nCgroup Driver: " + i.cgroup_driver + "\nCgroup Version: " + i.cgroup_version +
                    "\nRuntimes:";
  for (const auto& [name, path] : i.runtimes) out += " " + name;
  out += "\nDefault Runtime: " + i.default_runtime + "\nSecurity Options:\n";
  for (const std::string& s : i.security_options) out += " " + s + "\n";
  out += "Kernel Version: " + i.kernel_version + "\nOperating System: " + i.operating_system +
         "\nOSType: linux\nArchitecture: " + i.architecture + "\nCPUs: " + std::to_string(i.ncpu) +
         "\nTotal Memory: " + HumanSize(i.mem_total, true) + "\nDocker Root Dir: " + i.docker_root_dir + "\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

struct DiagnosticsFlags {
  std::string component, since, until, kind, target, format;
  bool in_progress = false, errors = false, history = false;
  std::string op;  // an operation's ID (or a unique prefix of it)
};

// "1.23ms", "4.5s": an operation's latency as a table shows it.
std::string Millis(int64_t nanos) {
  char buf[32];
  if (nanos >= 10'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(nanos) / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.2fms", static_cast<double>(nanos) / 1e6);
  }
  return buf;
}

Status CheckKind(const std::string& kind) {
  if (kind.empty() || kind == "interrupted") return {};
  for (int c = static_cast<int>(Code::kNotFound); c <= static_cast<int>(Code::kDeadlineExceeded); ++c) {
    std::string name(CodeName(static_cast<Code>(c)));
    std::replace(name.begin(), name.end(), ' ', '_');
    std::string spaced = kind;
    std::replace(spaced.begin(), spaced.end(), ' ', '_');
    if (name == spaced) return {};
  }
  return Status::InvalidArgument("unknown error kind \"" + kind +
                                 "\": not_found, already_exists, invalid_argument, failed_precondition, "
                                 "permission_denied, unavailable, internal, conflict, not_supported, "
                                 "deadline_exceeded or interrupted");
}

int PrintOperation(engine::Engine& eng, const std::string& id, const std::string& format) {
  auto r = eng.diagnostics().Get(id);
  if (!r.ok()) return Fail(r.status());
  if (format == "json") {
    std::printf("%s\n", engine::OperationJson(*r).c_str());
    return 0;
  }
  std::string out = "ID: " + r->id + "\nComponent: " + r->component + "\nOperation: " + r->op +
                    "\nTarget: " + r->target + "\nPid: " + std::to_string(r->pid) +
                    "\nStarted: " + FormatRfc3339Nano(r->started_at) +
                    "\nOutcome: " + r->OutcomeText() + "\n";
  if (r->finished_at) out += "Duration: " + Millis(r->DurationNanos()) + "\n";
  if (!r->error_code.empty()) out += "Error: " + r->error_code + ": " + r->error_message + "\n";
  out += "Log:\n" + r->log;
  std::fputs(out.c_str(), stdout);
  return 0;
}

int PrintDiagnostics(Context& ctx, const DiagnosticsFlags& f) {
  if (Status st = CheckFormat(f.format); !st.ok()) return Fail(st);
  const auto& components = engine::DiagnosticComponents();
  if (!f.component.empty() && std::find(components.begin(), components.end(), f.component) == components.end()) {
    return Fail(Status::InvalidArgument("unknown component \"" + f.component + "\": " + Join(components, ", ")));
  }
  if (Status st = CheckKind(f.kind); !st.ok()) return Fail(st);
  engine::DiagnosticsQuery q;
  q.component = f.component;
  q.error_kind = f.kind;
  q.target = f.target;
  auto since = ParseTimeBound(f.since);
  if (!since.ok()) return Fail(since.status());
  auto until = ParseTimeBound(f.until);
  if (!until.ok()) return Fail(until.status());
  q.since = *since;
  q.until = *until;
  auto eng = ctx.Engine();
  if (!eng.ok()) return Fail(eng.status());
  if (!f.op.empty()) return PrintOperation(**eng, f.op, f.format);
  engine::Diagnostics diag = (*eng)->diagnostics();
  if (f.history) {
    auto rows = diag.History(q);
    if (!rows.ok()) return Fail(rows.status());
    std::string out;
    std::vector<std::vector<std::string>> table = {{"ID", "TIME", "COMPONENT", "OPERATION", "TARGET", "OUTCOME", "DURATION"}};
    for (const engine::OperationRecord& r : *rows) {
      if (f.format == "json") out += engine::OperationJson(r) + "\n";
      table.push_back({r.id, FormatRfc3339Nano(r.started_at), r.component, r.op, r.target,
                       r.OutcomeText(), r.finished_at ? Millis(r.DurationNanos()) : ""});
    }
    if (f.format != "json") out = FormatTable(table);
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  // Without a section asked for, every one: in progress, statistics, the latest errors.
  bool all = !f.in_progress && !f.errors;
  bool json = f.format == "json";
  auto summary = diag.Summary(q, all ? 10 : 100);  // the records read once for every section
  if (!summary.ok()) return Fail(summary.status());
  std::string out;
  if (f.in_progress || all) {
    std::vector<std::vector<std::string>> table = {{"ID", "COMPONENT", "OPERATION", "TARGET", "PID", "RUNNING FOR"}};
    for (const engine::OperationRecord& r : summary->in_progress) {
      if (json) out += engine::OperationJson(r) + "\n";
      table.push_back({r.id, r.component, r.op, r.target, std::to_string(r.pid),
                       Millis(NowNanos() - r.started_at)});
    }
    if (!json) out += (all ? "IN PROGRESS\n" : "") + FormatTable(table);
  }
  if (all) {
    std::vector<std::vector<std::string>> table = {{"COMPONENT", "OPERATION", "COUNT", "ERRORS", "P50", "P99", "MAX"}};
    for (const engine::OperationStats& s : summary->stats) {
      if (json) out += engine::OperationStatsJson(s) + "\n";
      table.push_back({s.component, s.op, std::to_string(s.count), std::to_string(s.errors), Millis(s.p50_nanos),
                       Millis(s.p99_nanos), Millis(s.max_nanos)});
    }
    if (!json) out += "\nSTATISTICS\n" + FormatTable(table);
  }
  if (f.errors || all) {
    std::vector<std::vector<std::string>> table = {{"ID", "TIME", "COMPONENT", "OPERATION", "TARGET", "KIND", "MESSAGE"}};
    for (const engine::OperationRecord& r : summary->errors) {
      if (json) out += engine::OperationJson(r) + "\n";
      table.push_back({r.id, FormatRfc3339Nano(r.started_at), r.component, r.op, r.target,
                       r.error_code, r.error_message});
    }
    if (!json) out += (all ? "\nRECENT ERRORS\n" : "") + FormatTable(table);
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace

void RegisterSystem(CLI::App& app, Context& ctx) {
  auto df_format = std::make_shared<std::string>();
  auto info_format = std::make_shared<std::string>();
  CLI::App* system = app.add_subcommand("system", "Manage basic-docker");
  system->require_subcommand(1);
  auto diag = std::make_shared<DiagnosticsFlags>();
  CLI::App* d = system->add_subcommand("diagnostics", "Show operations in progress, statistics and errors of every component");
  d->add_option("--component", diag->component, "container, image, capsule, volume or gc");
  d->add_flag("--in-progress", diag->in_progress, "Only the operations in progress");
  d->add_flag("--errors", diag->errors, "Only the failed and interrupted operations (newest first)");
  d->add_flag("--history", diag->history, "Every recorded operation, whatever its outcome (newest 100 first)");
  d->add_option("--since", diag->since, "Operations started since (unix seconds, RFC 3339, 10m)");
  d->add_option("--until", diag->until, "Operations started before");
  d->add_option("--kind", diag->kind, "Errors of this kind (not_found, invalid_argument, interrupted, ...)");
  d->add_option("--target", diag->target, "Operations on this element (a prefix of its id, name or reference)");
  d->add_option("--op", diag->op, "One operation in full, with its log (its ID or a unique prefix)");
  d->add_option("--format", diag->format, "\"table\" (default) or \"json\" (one object per line)");
  d->callback([&ctx, diag] { ctx.action = [&ctx, diag] { return PrintDiagnostics(ctx, *diag); }; });
  CLI::App* df = system->add_subcommand("df", "Show disk usage of images, containers, volumes and capsules");
  df->add_option("--format", *df_format, "\"table\" (default) or \"json\"");
  df->callback([&ctx, df_format] { ctx.action = [&ctx, df_format] { return PrintDiskUsage(ctx, *df_format); }; });
  for (CLI::App* sub : {system->add_subcommand("info", "Display system-wide information"),
                        app.add_subcommand("info", "Display system-wide information")}) {
    sub->add_option("-f,--format", *info_format, "\"table\" (default) or \"json\"");
    sub->callback([&ctx, info_format] { ctx.action = [&ctx, info_format] { return PrintInfo(ctx, *info_format); }; });
  }
}

}  // namespace bd::cli
