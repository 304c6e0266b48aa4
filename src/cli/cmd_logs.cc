// logs.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "base/strings.h"
#include "cli/cli.h"

namespace bd::cli {

void RegisterLogs(CLI::App& app, Context& ctx) {
  struct Flags {
    engine::LogsOptions opts;
    std::string tail = "all";
    std::string container;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* logs = app.add_subcommand("logs", "Fetch the logs of a container");
  logs->add_flag("-f,--follow", f->opts.follow, "Follow log output");
  logs->add_flag("-t,--timestamps", f->opts.timestamps, "Show timestamps");
  logs->add_option("-n,--tail", f->tail, "Number of lines to show from the end (default \"all\")");
  logs->add_option("container", f->container, "Container")->required();
  logs->callback([&ctx, f] {
    ctx.action = [&ctx, f]() -> int {
      if (f->tail != "all") {
        auto n = ParseInt(f->tail);
        if (!n || *n < 0) return Fail(Status::InvalidArgument("invalid --tail \"" + f->tail + "\""));
        f->opts.tail = *n;
      }
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      Status st = (*eng)->Logs(f->container, f->opts, STDOUT_FILENO, STDERR_FILENO);
      return st.ok() ? 0 : Fail(st);
    };
  });
}

}  // namespace bd::cli
