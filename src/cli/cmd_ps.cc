// ps.
#include <CLI/CLI.hpp>
#include <map>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"

namespace bd::cli {
namespace {

std::string StatusText(const engine::Container& c, int64_t now) {
  if (c.state == engine::State::kRunning) return "Up " + HumanDuration(now - c.started_at);
  if (c.Paused()) return "Up " + HumanDuration(now - c.started_at) + " (Paused)";
  if (c.state == engine::State::kRestarting) {
    return "Restarting (" + std::to_string(c.exit_code) + ") " +
           HumanDuration(now - c.finished_at) + " ago";
  }
  if (c.state == engine::State::kExited) {
    return "Exited (" + std::to_string(c.exit_code) + ") " + HumanDuration(now - c.finished_at) +
           " ago";
  }
  return "Created";
}

std::string CommandText(const engine::Container& c, bool truncate) {
  std::vector<std::string> quoted;
  for (const auto& a : c.Args()) quoted.push_back(ShellQuote(a));
  std::string cmd = Join(quoted, " ");
  if (truncate && cmd.size() > 20) cmd = cmd.substr(0, 19) + "…";
  return "\"" + cmd + "\"";
}

}  // namespace

void RegisterPs(CLI::App& app, Context& ctx) {
  struct Flags {
    bool all = false;
    bool quiet = false;
    bool no_trunc = false;
    std::string format;
    std::vector<std::string> filters;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* ps = app.add_subcommand("ps", "List containers");
  ps->add_flag("-a,--all", f->all, "Show all containers (default shows just running)");
  ps->add_flag("-q,--quiet", f->quiet, "Only display container IDs");
  ps->add_flag("--no-trunc", f->no_trunc, "Don't truncate output");
  ps->add_option("-f,--filter", f->filters,
                 "Filter: id=, name= (a regular expression), label=K[=V], status=, ancestor=, before=, since=, "
                 "exited=, volume=")
      ->allow_extra_args(false);
  ps->add_option("--format", f->format, "\"table\" (default) or \"json\" (one object per line)");
  ps->callback([&ctx, f] {
    ctx.action = [&ctx, f]() -> int {
      if (Status st = CheckFormat(f->format); !st.ok()) return Fail(st);
      auto filter = engine::ListFilter::Parse(f->filters, engine::kContainerFilterKeys, "ps");
      if (!filter.ok()) return Fail(filter.status());
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto list = (*eng)->ListContainers(*filter, f->all);
      if (!list.ok()) return Fail(list.status());
      int64_t now = NowNanos();
      std::vector<std::vector<std::string>> rows = {
          {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
      std::string out;
      for (const engine::Container& c : *list) {
        std::string id = f->no_trunc ? c.id : c.id.substr(0, 12);
        if (f->quiet) {
          out += id + "\n";
        } else if (f->format == "json") {
          nlohmann::json j = {{"ID", id},
                              {"Image", c.image_ref},
                              {"Command", CommandText(c, !f->no_trunc)},
                              {"CreatedAt", FormatRfc3339Nano(c.created_at)},
                              {"State", engine::StateName(c.state)},
                              {"Status", StatusText(c, now)},
                              {"Names", c.name},
                              {"Labels", c.config.labels}};
          out += j.dump() + "\n";
        } else {
          rows.push_back({id, c.image_ref, CommandText(c, !f->no_trunc),
                          HumanDuration(now - c.created_at) + " ago", StatusText(c, now), "",
                          c.name});
        }
      }
      if (!f->quiet && f->format != "json") out = FormatTable(rows);
      std::fputs(out.c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace bd::cli
