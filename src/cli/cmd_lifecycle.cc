// stop, kill, restart.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "cli/cli.h"
#include "os/process.h"

namespace bd::cli {

void RegisterLifecycle(CLI::App& app, Context& ctx) {
  struct StopFlags {
    int timeout = -1;
    std::vector<std::string> refs;
  };
  auto sf = std::make_shared<StopFlags>();
  CLI::App* stop = app.add_subcommand("stop", "Stop one or more running containers");
  stop->add_option("-t,--time", sf->timeout,
                   "Seconds to wait after SIGTERM before SIGKILL (default: the container's, 10)");
  stop->add_option("containers", sf->refs, "Containers")->required();
  stop->callback([&ctx, sf] {
    ctx.action = [&ctx, sf]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::optional<int> timeout;
      if (sf->timeout >= 0) timeout = sf->timeout;
      return ForEachRef(sf->refs, [&](const std::string& ref) -> Status {
        BD_RETURN_IF_ERROR((*eng)->Stop(ref, timeout).status());
        std::printf("%s\n", ref.c_str());
        return {};
      });
    };
  });

  struct KillFlags {
    std::string signal = "KILL";
    std::vector<std::string> refs;
  };
  auto kf = std::make_shared<KillFlags>();
  CLI::App* kill = app.add_subcommand("kill", "Send a signal to one or more running containers");
  kill->add_option("-s,--signal", kf->signal, "Signal to send (name or number, default KILL)");
  kill->add_option("containers", kf->refs, "Containers")->required();
  kill->callback([&ctx, kf] {
    ctx.action = [&ctx, kf]() -> int {
      auto sig = os::ParseSignal(kf->signal);
      if (!sig.ok()) return Fail(sig.status());
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      return ForEachRef(kf->refs, [&](const std::string& ref) -> Status {
        BD_ASSIGN_OR_RETURN(engine::Container c, (*eng)->containers().Find(ref));
        BD_RETURN_IF_ERROR((*eng)->Signal(c, *sig));
        std::printf("%s\n", ref.c_str());
        return {};
      });
    };
  });

  auto rf = std::make_shared<StopFlags>();
  CLI::App* restart = app.add_subcommand("restart", "Restart one or more containers");
  restart->add_option("-t,--time", rf->timeout, "Seconds to wait for stop before killing");
  restart->add_option("containers", rf->refs, "Containers")->required();
  restart->callback([&ctx, rf] {
    ctx.action = [&ctx, rf]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::optional<int> timeout;
      if (rf->timeout >= 0) timeout = rf->timeout;
      return ForEachRef(rf->refs, [&](const std::string& ref) -> Status {
        BD_RETURN_IF_ERROR((*eng)->Stop(ref, timeout).status());
        BD_RETURN_IF_ERROR((*eng)->Start(ref, nullptr).status());
        std::printf("%s\n", ref.c_str());
        return {};
      });
    };
  });
}

}  // namespace bd::cli
