// exec-records ls | inspect | rm | prune: the records of exec --once.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"
#include "engine/containers/exec_records.h"

namespace bd::cli {
namespace {

std::string StatusOf(const engine::ExecRecord& r, int64_t now) {
  switch (r.state) {
    case engine::ExecRecordState::kRunning:
      return "Running for " + HumanDuration(now - (r.started_at ? r.started_at : r.created_at));
    case engine::ExecRecordState::kInterrupted:
      return "Interrupted " + HumanDuration(now - (r.finished_at ? r.finished_at : r.created_at)) + " ago";
    case engine::ExecRecordState::kDone:
      return "Exited (" + std::to_string(r.exit_code) + ") " + HumanDuration(now - r.finished_at) + " ago";
  }
  return "";
}

std::string OutputSize(int64_t size, bool truncated) {
  return HumanSize(size) + (truncated ? " (truncated)" : "");
}

}  // namespace

void RegisterExecRecords(CLI::App& app, Context& ctx) {
  CLI::App* records = app.add_subcommand("exec-records", "Manage the records of exec --once");
  records->require_subcommand(1);

  struct LsFlags {
    std::string container, format;
    bool quiet = false;
  };
  auto lf = std::make_shared<LsFlags>();
  CLI::App* ls = records->add_subcommand("ls", "List exec --once records");
  ls->alias("list");
  ls->add_option("container", lf->container, "Only this container's records");
  ls->add_flag("-q,--quiet", lf->quiet, "Only display keys");
  ls->add_option("--format", lf->format, "\"table\" (default) or \"json\" (one object per line)");
  ls->callback([&ctx, lf] {
    ctx.action = [&ctx, lf]() -> int {
      if (Status st = CheckFormat(lf->format); !st.ok()) return Fail(st);
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::string id;
      if (!lf->container.empty()) {
        auto c = (*eng)->containers().Find(lf->container);
        if (!c.ok()) return Fail(c.status());
        id = c->id;
      }
      auto list = (*eng)->exec_records().List(id);
      if (!list.ok()) return Fail(list.status());
      std::map<std::string, std::string> names;  // container id -> name
      auto name_of = [&](const std::string& cid) -> const std::string& {
        auto it = names.find(cid);
        if (it != names.end()) return it->second;
        auto c = (*eng)->containers().Get(cid);
        return names[cid] = c.ok() ? c->name : cid.substr(0, 12);
      };
      int64_t now = NowNanos();
      std::vector<std::vector<std::string>> rows = {{"CONTAINER", "KEY", "STATUS", "COMMAND", "STDOUT", "STDERR"}};
      std::string out;
      for (const engine::ExecRecord& r : *list) {
        if (lf->quiet) {
          out += r.key + "\n";
        } else if (lf->format == "json") {
          out += engine::ExecRecordJson(r, name_of(r.container_id), /*with_output=*/false, -1) + "\n";
        } else {
          std::string cmd = Join(r.argv, " ");
          if (cmd.size() > 30) cmd = cmd.substr(0, 29) + "…";
          rows.push_back({name_of(r.container_id), r.key, StatusOf(r, now), "\"" + cmd + "\"",
                          OutputSize(r.stdout_size, r.StdoutTruncated()), OutputSize(r.stderr_size, r.StderrTruncated())});
        }
      }
      if (!lf->quiet && lf->format != "json") out = FormatTable(rows);
      std::fputs(out.c_str(), stdout);
      return 0;
    };
  });

  struct KeyFlags {
    std::string container;
    std::vector<std::string> keys;
    bool force = false;
  };
  auto inf = std::make_shared<KeyFlags>();
  CLI::App* inspect = records->add_subcommand("inspect", "Display an exec --once record, its output included");
  inspect->add_option("container", inf->container, "Container")->required();
  inspect->add_option("keys", inf->keys, "Keys")->required();
  inspect->callback([&ctx, inf] {
    ctx.action = [&ctx, inf]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto c = (*eng)->containers().Find(inf->container);
      if (!c.ok()) return Fail(c.status());
      std::vector<std::string> shown;
      int rc = ForEachRef(inf->keys, [&](const std::string& key) -> Status {
        BD_RETURN_IF_ERROR(engine::ValidateExecKey(key));
        BD_ASSIGN_OR_RETURN(std::optional<engine::ExecRecord> r, (*eng)->exec_records().Find(c->id, key));
        if (!r) return Status::NotFound("no exec record \"" + key + "\" in container " + c->name);
        shown.push_back(engine::ExecRecordJson(*r, c->name));
        return {};
      });
      std::printf("[%s]\n", Join(shown, ",\n").c_str());
      return rc;
    };
  });

  auto rmf = std::make_shared<KeyFlags>();
  CLI::App* rm = records->add_subcommand("rm", "Remove exec --once records (the command may run again)");
  rm->alias("remove");
  rm->add_flag("-f,--force", rmf->force, "Do not fail when a record does not exist");
  rm->add_option("container", rmf->container, "Container")->required();
  rm->add_option("keys", rmf->keys, "Keys")->required();
  rm->callback([&ctx, rmf] {
    ctx.action = [&ctx, rmf]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto c = (*eng)->containers().Find(rmf->container);
      if (!c.ok()) return Fail(c.status());
      return ForEachRef(rmf->keys, [&](const std::string& key) -> Status {
        BD_RETURN_IF_ERROR(engine::ValidateExecKey(key));
        Status st = (*eng)->exec_records().Remove(c->id, key);
        if (st.code() == Code::kNotFound) {
          if (rmf->force) return {};
          return Status::NotFound("no exec record \"" + key + "\" in container " + c->name);
        }
        BD_RETURN_IF_ERROR(st);
        std::printf("%s\n", key.c_str());
        return {};
      });
    };
  });

  struct PruneFlags {
    std::string until;
    bool force = false;
  };
  auto pf = std::make_shared<PruneFlags>();
  CLI::App* prune = records->add_subcommand("prune", "Remove exec --once records that are not running");
  prune->add_option("--until", pf->until,
                    "Only those finished before this time (a duration before now: 24h, 30m; or RFC 3339)");
  prune->add_flag("-f,--force", pf->force, "Do not prompt for confirmation");
  prune->callback([&ctx, pf] {
    ctx.action = [&ctx, pf]() -> int {
      auto until = ParseTimeBound(pf->until);
      if (!until.ok()) return Fail(until.status().WithContext("--until"));
      if (!pf->force) {
        std::fprintf(stderr, "WARNING! This will remove every exec --once record that is not running%s: "
                             "their commands may run again.\nAre you sure you want to continue? [y/N] ",
                     pf->until.empty() ? "" : (" and finished before " + FormatRfc3339Nano(*until)).c_str());
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") return 1;
      }
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto report = (*eng)->exec_records().Prune(*until);
      if (!report.ok()) return Fail(report.status());
      std::printf("Deleted exec records: %lld\nTotal reclaimed space: %s\n", static_cast<long long>(report->removed),
                  HumanSize(report->bytes).c_str());
      return 0;
    };
  });
}

}  // namespace bd::cli
