// plugin ls | inspect | logs | call | stop | install | rm | check: the plugins the engine finds (docs/plugins.md).
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"
#include "engine/plugins/conformance.h"
#include "os/fs.h"

namespace bd::cli {
namespace {

using nlohmann::json;

json PluginJson(const engine::PluginInfo& p, engine::PluginManager& m) {
  json caps = json::object();
  for (const auto& [t, cs] : p.capabilities.types) caps[t] = cs;
  json j = {{"Name", p.name},
            {"Path", p.path},
            {"Builtin", p.builtin},
            {"State", p.state},
            {"Pid", p.pid},
            {"Address", p.address},
            {"StartedAt", p.started_at ? FormatRfc3339Nano(p.started_at * 1'000'000) : ""},
            {"Failures", p.failures},
            {"RetryAt", p.retry_at ? FormatRfc3339Nano(p.retry_at * 1'000'000) : ""},
            {"LastError", p.last_error},
            {"Refused", p.refused},
            {"ContractVersion", p.refused.empty() ? p.capabilities.contract_version : ""},
            {"Capabilities", caps},
            {"Log", p.builtin ? "" : m.LogPath(p.name)}};
  return j;
}

std::string TypesOf(const engine::PluginInfo& p) {
  std::vector<std::string> parts;
  for (const auto& [t, cs] : p.capabilities.types) parts.push_back(t + ": " + Join(cs, ","));
  return Join(parts, "; ");
}

}  // namespace

void RegisterPlugin(CLI::App& app, Context& ctx) {
  CLI::App* plugin = app.add_subcommand("plugin", "Manage plugins (separate binaries serving the plugin contract)");
  plugin->require_subcommand(1);
  auto manager = [&ctx]() -> Result<engine::PluginManager*> {
    BD_ASSIGN_OR_RETURN(engine::Engine * eng, ctx.Engine());
    return eng->plugins();
  };

  struct LsFlags {
    std::string format;
    bool quiet = false;
  };
  auto lf = std::make_shared<LsFlags>();
  CLI::App* ls = plugin->add_subcommand("ls", "List plugins: name, capabilities, state");
  ls->alias("list");
  ls->add_flag("-q,--quiet", lf->quiet, "Only display names");
  ls->add_option("--format", lf->format, "\"table\" (default) or \"json\" (one object per line)");
  ls->callback([&ctx, lf, manager] {
    ctx.action = [lf, manager]() -> int {
      if (Status st = CheckFormat(lf->format); !st.ok()) return Fail(st);
      auto m = manager();
      if (!m.ok()) return Fail(m.status());
      auto list = (*m)->List();
      if (!list.ok()) return Fail(list.status());
      std::vector<std::vector<std::string>> rows = {{"NAME", "CAPABILITIES", "STATE", "PID", "PATH", "LAST ERROR"}};
      std::string out;
      for (const engine::PluginInfo& p : *list) {
        if (lf->quiet) {
          out += p.name + "\n";
        } else if (lf->format == "json") {
          out += PluginJson(p, **m).dump() + "\n";
        } else {
          std::string err = !p.refused.empty() ? p.refused : p.last_error;
          if (size_t nl = err.find('\n'); nl != std::string::npos) err = err.substr(0, nl);
          if (err.size() > 60) err = err.substr(0, 59) + "…";
          rows.push_back({p.name, p.refused.empty() ? TypesOf(p) : "-", p.state, p.pid ? std::to_string(p.pid) : "-",
                          p.builtin ? "(built in)" : p.path, err});
        }
      }
      if (!lf->quiet && lf->format != "json") out = FormatTable(rows);
      std::fputs(out.c_str(), stdout);
      return 0;
    };
  });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect = plugin->add_subcommand("inspect", "Display plugins in detail (JSON)");
  inspect->add_option("names", *names, "Plugin names")->required();
  inspect->callback([&ctx, names, manager] {
    ctx.action = [names, manager]() -> int {
      auto m = manager();
      if (!m.ok()) return Fail(m.status());
      json out = json::array();
      int rc = ForEachRef(*names, [&](const std::string& name) -> Status {
        BD_ASSIGN_OR_RETURN(engine::PluginInfo p, (*m)->Inspect(name));
        out.push_back(PluginJson(p, **m));
        return {};
      });
      std::printf("%s\n", out.dump(4).c_str());
      return rc;
    };
  });

  struct LogsFlags {
    std::string name;
    int64_t tail = -1;
  };
  auto logf = std::make_shared<LogsFlags>();
  CLI::App* logs = plugin->add_subcommand("logs", "Show what a plugin wrote to its stderr (kept bounded)");
  logs->add_option("-n,--tail", logf->tail, "Only the last N lines");
  logs->add_option("name", logf->name, "Plugin name")->required();
  logs->callback([&ctx, logf, manager] {
    ctx.action = [logf, manager]() -> int {
      auto m = manager();
      if (!m.ok()) return Fail(m.status());
      auto text = (*m)->Logs(logf->name, -1);
      if (!text.ok()) return Fail(text.status());
      std::string_view out = *text;
      if (logf->tail >= 0) {
        size_t pos = out.size();
        if (pos > 0 && out[pos - 1] == '\n') --pos;
        for (int64_t n = 0; n < logf->tail && pos != std::string_view::npos && pos > 0; ++n) {
          pos = out.rfind('\n', pos - 1);
        }
        out = logf->tail == 0 ? std::string_view() : pos == std::string_view::npos ? out : out.substr(pos == 0 ? 0 : pos + 1);
      }
      (void)os::WriteAll(STDOUT_FILENO, out);
      return 0;
    };
  });

  struct CallFlags {
    std::string name, endpoint, body = "{}";
  };
  auto cf = std::make_shared<CallFlags>();
  CLI::App* call = plugin->add_subcommand("call", "Call one capability of a plugin with a JSON body; prints the answer");
  call->add_option("name", cf->name, "Plugin name")->required();
  call->add_option("capability", cf->endpoint, "TYPE/CAPABILITY")->required();
  call->add_option("body", cf->body, "The request's JSON (default {}; - reads it from stdin)");
  call->callback([&ctx, cf, manager] {
    ctx.action = [cf, manager]() -> int {
      size_t slash = cf->endpoint.find('/');
      if (slash == std::string::npos) return Fail(Status::InvalidArgument("the capability must be TYPE/CAPABILITY, not `" + cf->endpoint + "`"));
      std::string body = cf->body;
      if (body == "-") body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      if (!nlohmann::json::accept(body)) return Fail(Status::InvalidArgument("the request body is not JSON"));
      auto m = manager();
      if (!m.ok()) return Fail(m.status());
      auto out = (*m)->Call(cf->name, cf->endpoint.substr(0, slash), cf->endpoint.substr(slash + 1), body);
      if (!out.ok()) return Fail(out.status());
      std::string text = *out;
      if (text.empty() || text.back() != '\n') text.push_back('\n');
      (void)os::WriteAll(STDOUT_FILENO, text);
      return 0;
    };
  });

  auto stop_names = std::make_shared<std::vector<std::string>>();
  CLI::App* stop = plugin->add_subcommand("stop", "Stop a plugin's running instance (the next call starts it again)");
  stop->add_option("names", *stop_names, "Plugin names")->required();
  stop->callback([&ctx, stop_names, manager] {
    ctx.action = [stop_names, manager]() -> int {
      auto m = manager();
      if (!m.ok()) return Fail(m.status());
      return ForEachRef(*stop_names, [&](const std::string& name) -> Status {
        BD_RETURN_IF_ERROR((*m)->Stop(name));
        std::printf("%s\n", name.c_str());
        return {};
      });
    };
  });

  struct InstallFlags {
    std::string source, name;
    bool replace = false;
  };
  auto inf = std::make_shared<InstallFlags>();
  CLI::App* install = plugin->add_subcommand("install", "Install a plugin from an OCI image layout (directory or tar) with one binary per platform");
  install->add_option("--name", inf->name, "Install under this name (default: the binary's title annotation)");
  install->add_flag("--replace", inf->replace, "Replace an installed plugin of that name");
  install->add_option("source", inf->source, "The OCI image layout: a directory or a tar of one")->required();
  install->callback([&ctx, inf, manager] {
    ctx.action = [inf, manager]() -> int {
      auto m = manager();
      if (!m.ok()) return Fail(m.status());
      auto r = (*m)->Install(inf->source, inf->name, inf->replace);
      if (!r.ok()) return Fail(r.status());
      if (r->noop) {
        std::printf("plugin %s is installed already (%s)\n", r->name.c_str(), r->digest.c_str());
      } else {
        std::printf("installed plugin %s (%s, %s) as %s\n", r->name.c_str(), r->platform.c_str(), r->digest.c_str(), r->path.c_str());
      }
      return 0;
    };
  });

  auto rm_names = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = plugin->add_subcommand("rm", "Remove installed plugins (stopped first)");
  rm->alias("remove");
  rm->add_option("names", *rm_names, "Plugin names")->required();
  rm->callback([&ctx, rm_names, manager] {
    ctx.action = [rm_names, manager]() -> int {
      auto m = manager();
      if (!m.ok()) return Fail(m.status());
      return ForEachRef(*rm_names, [&](const std::string& name) -> Status {
        BD_RETURN_IF_ERROR((*m)->Remove(name));
        std::printf("%s\n", name.c_str());
        return {};
      });
    };
  });

  auto check_path = std::make_shared<std::string>();
  CLI::App* check = plugin->add_subcommand("check", "Run the plugin conformance suite against a plugin binary");
  check->add_option("path", *check_path, "The plugin's executable")->required();
  check->callback([&ctx, check_path] {
    ctx.action = [check_path]() -> int {
      if (::access(check_path->c_str(), X_OK) != 0) return Fail(Status::InvalidArgument(*check_path + " is not an executable file"));
      auto scratch = os::TempDir::Create("/tmp", "bd-plugin-check-");
      if (!scratch.ok()) return Fail(scratch.status());
      ::chmod(scratch->path().c_str(), 0700);
      std::vector<engine::CheckResult> results = engine::CheckPlugin(*check_path, scratch->path());
      int passed = 0, failed = 0;
      for (const engine::CheckResult& r : results) {
        (r.passed ? passed : failed)++;
        std::printf("%s  %s%s%s\n", r.passed ? "PASS" : "FAIL", r.name.c_str(), r.detail.empty() ? "" : ": ", r.detail.c_str());
      }
      std::printf("%d passed, %d failed\n", passed, failed);
      return failed == 0 ? 0 : 1;
    };
  });
}

}  // namespace bd::cli
