// rm, wait.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli.h"

namespace bd::cli {

void RegisterRm(CLI::App& app, Context& ctx) {
  auto force = std::make_shared<bool>(false);
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = app.add_subcommand("rm", "Remove one or more containers");
  rm->add_flag("-f,--force", *force, "Force the removal of a running container (uses SIGKILL)");
  rm->add_option("containers", *refs, "Containers")->required();
  rm->callback([&ctx, force, refs] {
    ctx.action = [&ctx, force, refs]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      return ForEachRef(*refs, [&](const std::string& ref) -> Status {
        BD_RETURN_IF_ERROR((*eng)->Remove(ref, *force));
        std::printf("%s\n", ref.c_str());
        return {};
      });
    };
  });

  auto wait_refs = std::make_shared<std::vector<std::string>>();
  CLI::App* wait = app.add_subcommand("wait", "Block until containers stop, then print their exit codes");
  wait->add_option("containers", *wait_refs, "Containers")->required();
  wait->callback([&ctx, wait_refs] {
    ctx.action = [&ctx, wait_refs]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      return ForEachRef(*wait_refs, [&](const std::string& ref) -> Status {
        BD_ASSIGN_OR_RETURN(int code, (*eng)->Wait(ref));
        std::printf("%d\n", code);
        std::fflush(stdout);
        return {};
      });
    };
  });
}

}  // namespace bd::cli
