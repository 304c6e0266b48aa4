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

// --filter KEY=VALUE: values of one key OR together, different keys AND.
Result<std::map<std::string, std::vector<std::string>>> ParseFilters(
    const std::vector<std::string>& filters) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& f : filters) {
    size_t eq = f.find('=');
    std::string key = f.substr(0, eq);
    if (eq == std::string::npos || (key != "status" && key != "name" && key != "label" &&
                                    key != "id" && key != "ancestor")) {
      return Status::InvalidArgument("invalid filter \"" + f +
                                     "\": use status=, name=, label=, id= or ancestor=");
    }
    std::string value = f.substr(eq + 1);
    if (key == "status") {
      if (auto state = engine::ParseState(value); !state.ok()) {
        return Status::InvalidArgument("invalid filter \"" + f + "\": " + state.status().message());
      }
    }
    out[key].push_back(value);
  }
  return out;
}

bool Matches(const engine::Container& c, const std::map<std::string, std::vector<std::string>>& filters) {
  for (const auto& [key, values] : filters) {
    bool any = false;
    for (const std::string& v : values) {
      if (key == "status") any |= engine::StateName(c.state) == v;
      else if (key == "name") any |= c.name.find(v) != std::string::npos;
      else if (key == "id") any |= c.id.rfind(v, 0) == 0;
      else if (key == "ancestor") any |= c.image_ref == v || c.image_id == v;
      else if (key == "label") {
        size_t eq = v.find('=');
        auto it = c.config.labels.find(v.substr(0, eq));
        any |= it != c.config.labels.end() && (eq == std::string::npos || it->second == v.substr(eq + 1));
      }
    }
    if (!any) return false;
  }
  return true;
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
  ps->add_option("-f,--filter", f->filters, "Filter: status=, name=, label=K[=V], id=, ancestor=")
      ->allow_extra_args(false);
  ps->add_option("--format", f->format, "\"table\" (default) or \"json\" (one object per line)");
  ps->callback([&ctx, f] {
    ctx.action = [&ctx, f]() -> int {
      if (Status st = CheckFormat(f->format); !st.ok()) return Fail(st);
      auto filters = ParseFilters(f->filters);
      if (!filters.ok()) return Fail(filters.status());
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto list = (*eng)->containers().List();
      if (!list.ok()) return Fail(list.status());
      int64_t now = NowNanos();
      std::vector<std::vector<std::string>> rows = {
          {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
      std::string out;
      for (const engine::Container& c : *list) {
        // A status filter looks at every container, as in Docker.
        if (!f->all && !filters->count("status") && !c.Active()) continue;
        if (!Matches(c, *filters)) continue;
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
