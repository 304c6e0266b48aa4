// The task element: the container's process, supervised by a shim of its own (see
// shim/protocol.h for what the shim reports).
#include <signal.h>

#include <cstdlib>

#include "base/strings.h"
#include "engine/elements/elements.h"
#include "engine/engine.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/cgroups.h"
#include "runtime/launch.h"
#include "shim/protocol.h"

namespace bd::engine {

std::string ShimPath(bool external_runtime) {
  if (external_runtime) return os::SelfExeDir() + "/basic-docker-shim-dynamic";
  if (const char* p = std::getenv("BASIC_DOCKER_SHIM"); p && *p) return p;
  return os::SelfExeDir() + "/basic-docker-shim";
}

namespace {

// The container's process, supervised by its shim: kBound while running.
class TaskComponent : public portlayer::Component {
 public:
  explicit TaskComponent(Engine* engine) : engine_(engine) {}
  std::string_view Name() const override { return "task"; }

  Result<portlayer::Level> Observe(const portlayer::Handle& h, const portlayer::Element&) override {
    auto c = engine_->containers().Get(h.container_id());
    if (!c.ok()) {
      if (c.status().code() == Code::kNotFound) return portlayer::Level::kAbsent;
      return c.status();
    }
    return c->Active() ? portlayer::Level::kBound : portlayer::Level::kJoined;
  }

  Status Apply(portlayer::Handle& h, const portlayer::Element& e, portlayer::Level from,
               portlayer::Level to) override {
    if (to == portlayer::Level::kBound) return StartShim(h, e.Config<TaskConfig>());
    if (from == portlayer::Level::kBound) {
      const auto* config = e.Config<TaskConfig>();
      return StopTask(h.container_id(), config ? config->stop_timeout : std::nullopt);
    }
    return {};
  }

 private:
  Status StartShim(portlayer::Handle& h, const TaskConfig* start) {
    BD_RETURN_IF_ERROR(engine_->containers().SetStopRequested(h.container_id(), false));
    UniqueFd sync[2];
    BD_RETURN_IF_ERROR(os::MakePipe(sync));
    // The id goes in the environment (readable by root only), not on the command line.
    std::vector<std::string> argv = {ShimPath(start && !start->runtime.empty()), "--root", engine_->paths().root};
    std::vector<os::FdMapping> fds = {{sync[1].get(), 3}};
    if (start && start->io) {
      argv.push_back("--attach");
      fds.push_back({start->io->stdout_fd, 4});
      fds.push_back({start->io->stderr_fd, 5});
      if (start->io->stdin_fd >= 0) {
        argv.push_back("--stdin");
        fds.push_back({start->io->stdin_fd, 6});
        if (!start->io->detach_keys.empty()) {
          argv.insert(argv.end(), {"--detach-keys", start->io->detach_keys});
        }
      }
    }
    BD_RETURN_IF_ERROR(os::SpawnDetached(argv, fds, {std::string(shim::kShimIdEnv) + "=" + h.container_id()})
                           .WithContext("start shim"));
    sync[1].Reset();
    BD_ASSIGN_OR_RETURN(std::string line, shim::ReadLine(sync[0].get()));
    if (line.rfind(shim::kMsgStarted, 0) == 0) {
      auto pid = ParseInt(TrimSpace(line.substr(shim::kMsgStarted.size())));
      if (start && start->session) {
        *start->session = std::make_unique<TaskSession>(engine_, h.container_id(), std::move(sync[0]),
                                                        static_cast<pid_t>(pid.value_or(0)));
      }
      return {};
    }
    if (line.rfind(shim::kMsgFailed, 0) == 0) {
      std::string rest(TrimSpace(line.substr(shim::kMsgFailed.size())));
      size_t sp = rest.find(' ');
      int code = static_cast<int>(ParseInt(rest.substr(0, sp)).value_or(runtime::kExitEngineFailed));
      std::string msg = sp == std::string::npos ? "container failed to start" : rest.substr(sp + 1);
      CommandFailure failure = runtime::CommandFailureOfExitCode(code);
      if (failure == CommandFailure::kNotFound) return Status::NotFound(msg).WithCommandFailure(failure);
      if (failure == CommandFailure::kCannotRun) return Status::PermissionDenied(msg).WithCommandFailure(failure);
      return Status::Internal(msg);
    }
    auto shim_log = os::ReadFile(engine_->paths().Container(h.container_id()) + "/shim.log");
    return Status::Internal("the shim exited before starting the container" +
                            (shim_log.ok() && !shim_log->empty()
                                 ? ": " + std::string(TrimSpace(*shim_log))
                                 : std::string(" (is basic-docker-shim next to basic-docker?)")));
  }

  // SIGTERM, up to `timeout` seconds (the container's own when unset), then SIGKILL. The stop
  // request is recorded first, so the shim's restart policy never brings the container back.
  Status StopTask(const std::string& id, std::optional<int> timeout) {
    BD_ASSIGN_OR_RETURN(Container c, engine_->containers().Get(id));
    if (!c.Active()) return {};
    BD_RETURN_IF_ERROR(engine_->containers().SetStopRequested(id, true));
    int grace = timeout.value_or(c.config.stop_timeout);
    // A frozen container takes signals only once thawed.
    auto thaw = [&] {
      if (!c.Paused()) return;
      if (auto plan = CgroupPlanOf(c); plan.ok()) (void)runtime::FreezeCgroup(*plan, false);
      (void)engine_->containers().MarkPaused(id, false);
    };
    if (c.Running() && grace > 0) {
      Status st = engine_->Signal(c, SIGTERM);
      thaw();
      if (st.ok() || st.code() == Code::kNotFound) {
        auto gone = engine_->WaitShim(c, grace * 1000);
        if (gone.ok()) return {};
      }
    }
    if (c.Running()) {
      Status st = engine_->Signal(c, SIGKILL);
      thaw();
      if (!st.ok() && st.code() != Code::kNotFound && st.code() != Code::kFailedPrecondition) {
        return st;
      }
    } else if (os::ProcessMatches(c.shim_pid, c.shim_start)) {
      ::kill(c.shim_pid, SIGUSR1);  // between restarts: wake the shim to see the request
    }
    return engine_->WaitShim(c, 30000);
  }

  Engine* engine_;
};

}  // namespace

std::unique_ptr<portlayer::Component> MakeTaskComponent(Engine* engine) {
  return std::make_unique<TaskComponent>(engine);
}

}  // namespace bd::engine
