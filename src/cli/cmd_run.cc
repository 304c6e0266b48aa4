// run, create, start.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "base/strings.h"
#include "cli/cli.h"
#include "engine/containers/detach.h"
#include "os/error.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"
#include "runtime/launch.h"

namespace bd::cli {
namespace {

struct CreateFlags {
  engine::CreateOptions opts;
  std::vector<std::string> labels;
  std::string entrypoint;
  bool interactive = false;
  bool tty = false;
  int stop_timeout = -1;
  std::string pull = "missing";
  std::string platform;
};

void AddCreateFlags(CLI::App* sub, CreateFlags& f) {
  sub->set_help_flag("--help", "Print this help");
  sub->add_option("--name", f.opts.name, "Assign a name to the container");
  sub->add_option("-e,--env", f.opts.env, "Set environment variables (K=V, or K to pass it on)")
      ->allow_extra_args(false);
  sub->add_option("-w,--workdir", f.opts.working_dir, "Working directory inside the container");
  sub->add_option("-h,--hostname", f.opts.hostname, "Container host name");
  sub->add_option("-u,--user", f.opts.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  sub->add_option("--entrypoint", f.entrypoint, "Overwrite the default ENTRYPOINT of the image");
  sub->add_option("-l,--label", f.labels, "Set metadata on the container (K=V)")
      ->allow_extra_args(false);
  sub->add_flag("--rm", f.opts.auto_remove, "Remove the container when it exits");
  sub->add_option("--cap-add", f.opts.cap_add, "Add Linux capabilities (or ALL)")->allow_extra_args(false);
  sub->add_option("--cap-drop", f.opts.cap_drop, "Drop Linux capabilities (or ALL)")->allow_extra_args(false);
  sub->add_flag("--privileged", f.opts.privileged,
                "All capabilities, no seccomp filter, no masked paths, writable /sys");
  sub->add_flag("--read-only", f.opts.read_only, "Mount the container's root filesystem read-only");
  sub->add_option("--security-opt", f.opts.security_opt,
                  "seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false]")
      ->allow_extra_args(false);
  sub->add_option("--restart", f.opts.restart,
                  "Restart policy: no, on-failure[:N], always, unless-stopped");
  sub->add_option("--stop-timeout", f.stop_timeout, "Seconds stop waits before SIGKILL (default 10)");
  sub->add_option("-m,--memory", f.opts.memory, "Memory limit (e.g. 512m, 1g)");
  sub->add_option("--cpus", f.opts.cpus, "Number of CPUs (e.g. 1.5)");
  sub->add_option("--pids-limit", f.opts.pids_limit, "Tune the container's pids limit (-1: unlimited)");
  sub->add_option("-v,--volume", f.opts.volumes,
                  "Bind mount a host path or a named volume: SOURCE:DEST[:ro|rw]")
      ->allow_extra_args(false);
  sub->add_option("--tmpfs", f.opts.tmpfs, "Mount a tmpfs: DEST[:OPTIONS]")->allow_extra_args(false);
  sub->add_option("--capsule", f.opts.capsules,
                  "Attach a capsule (and what it requires) at /capsules/NAME/VERSION: NAME:VERSION")
      ->allow_extra_args(false);
  sub->add_option("--network,--net", f.opts.network, "none (default: loopback only) or host");
  sub->add_option("--log-opt", f.opts.log_opts,
                  "Log options: max-size=SIZE (default 20m, -1: unlimited), max-file=N (default 5)")
      ->allow_extra_args(false);
  sub->add_option("--runtime", f.opts.runtime,
                  "Runtime for the container: builtin (default), crun, runc, basic-runtime or one of daemon.json's");
  sub->add_option("--pull", f.pull, "Pull the image before creating: missing (default), always or never");
  sub->add_option("--platform", f.platform, "os/arch[/variant] of the image to pull");
  sub->add_flag("--init", f.opts.init, "Run an init inside the container that reaps and forwards signals");
  sub->add_flag("-i,--interactive", f.interactive, "Keep STDIN open");
  sub->add_flag("-t,--tty", f.tty, "Allocate a pseudo-TTY");
  sub->prefix_command();
}

// Fills image and command from the arguments left after the flags.
// `-v ./dir:/x` (a source beginning with "." or "..") is a bind mount of that directory, made
// absolute against the working directory, as Docker's CLI does; other sources are unchanged.
Result<std::string> AbsoluteVolumeSource(const std::string& volume) {
  std::string source = volume.substr(0, volume.find(':'));
  bool relative = source == "." || source == ".." || source.rfind("./", 0) == 0 || source.rfind("../", 0) == 0;
  if (!relative) return volume;
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return os::ErrnoStatus("getcwd");
  std::vector<std::string> parts;
  for (const std::string& p : Split(std::string(cwd) + "/" + source, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
    } else {
      parts.push_back(p);
    }
  }
  return "/" + Join(parts, "/") + volume.substr(source.size());
}

Status FinishCreateFlags(CLI::App* sub, CreateFlags& f) {
  std::vector<std::string> rest = sub->remaining();
  if (rest.empty()) return Status::InvalidArgument("\"" + sub->get_name() + "\" requires an image");
  if (rest[0].size() > 1 && rest[0][0] == '-') {
    return Status::InvalidArgument("unknown flag: " + rest[0]);
  }
  f.opts.open_stdin = f.interactive;
  f.opts.tty = f.tty;
  f.opts.image = rest[0];
  f.opts.cmd.assign(rest.begin() + 1, rest.end());
  if (sub->count("--entrypoint")) f.opts.entrypoint = f.entrypoint;
  if (sub->count("--stop-timeout")) f.opts.stop_timeout = f.stop_timeout;
  BD_ASSIGN_OR_RETURN(f.opts.labels, ParseLabels(f.labels));
  for (std::string& v : f.opts.volumes) {
    BD_ASSIGN_OR_RETURN(v, AbsoluteVolumeSource(v));
  }
  return {};
}

// Waits for the attached container to exit. Without a terminal the signals the CLI receives
// go to the container (Docker's sig-proxy); with one, keys carry them: the CLI's terminal is
// raw for the session and resizes go to the shim, which reads the new size from it.
int AttachUntilExit(engine::Engine& eng, const engine::Container& c,
                    engine::TaskSession& session) {
  auto code = DriveTask(session, c);
  if (!code.ok()) {
    auto now = eng.containers().Get(c.id);
    if (now.ok() && !now->error.empty()) return Fail(Status::Internal(now->error), ExitStyle::kRun);
    return Fail(code.status(), ExitStyle::kRun);
  }
  return ExitCodeOfOutcome(*code);  // detached: the container runs on
}

int StartAndMaybeAttach(engine::Engine& eng, const engine::Container& c, bool attach,
                        bool remove_on_failure, const std::string& detach_keys = "") {
  engine::AttachIo io{STDOUT_FILENO, STDERR_FILENO, c.config.open_stdin ? STDIN_FILENO : -1,
                      detach_keys};
  auto session = eng.Start(c.id, attach ? &io : nullptr);
  if (!session.ok()) {
    if (remove_on_failure) (void)eng.Remove(c.id, true);
    return Fail(session.status(), ExitStyle::kRun);
  }
  if (!attach) return 0;
  if (!*session) {
    return Fail(Status::FailedPrecondition("container " + c.name + " is already running"));
  }
  return AttachUntilExit(eng, c, **session);
}

// run --persistent: a new (or replacing) instance runs as `run` would; a reused one is started
// when stopped, and attached to when running unless -d. With -d the id is printed either way.
int RunPersistent(engine::Engine& eng, const engine::CreateOptions& opts, bool replace, bool detach,
                  const std::string& detach_keys) {
  auto p = eng.CreatePersistent(opts, replace);
  if (!p.ok()) return Fail(p.status(), ExitStyle::kRun);
  const engine::Container& c = p->container;
  bool fresh = p->outcome != engine::Engine::Persistent::kReused;
  if (fresh || !c.Active()) {
    engine::AttachIo io{STDOUT_FILENO, STDERR_FILENO, c.config.open_stdin ? STDIN_FILENO : -1, detach_keys};
    auto session = eng.Start(c.id, detach ? nullptr : &io);
    if (!session.ok()) {
      // Only a container this command made is removed: a reused one keeps its records.
      if (fresh) (void)eng.Remove(c.id, true);
      return Fail(session.status(), ExitStyle::kRun);
    }
    if (!detach && *session) return AttachUntilExit(eng, c, **session);
    // No session: another command started it in between; attach as to a running one.
  }
  if (detach) {
    std::printf("%s\n", c.id.c_str());
    return 0;
  }
  engine::AttachIo io{STDOUT_FILENO, STDERR_FILENO, c.config.open_stdin ? STDIN_FILENO : -1, detach_keys};
  auto session = eng.StartAttach(c.id, io);
  if (!session.ok()) return Fail(session.status(), ExitStyle::kRun);
  auto out = DriveAttach(**session);
  if (!out.ok()) return Fail(out.status(), ExitStyle::kRun);
  return ExitCodeOfOutcome(*out);
}

}  // namespace

void RegisterRun(CLI::App& app, Context& ctx) {
  auto run_flags = std::make_shared<CreateFlags>();
  auto detach = std::make_shared<bool>(false);
  auto detach_keys = std::make_shared<std::string>();
  auto replace = std::make_shared<bool>(false);
  CLI::App* run = app.add_subcommand("run", "Create and run a new container from an image");
  AddCreateFlags(run, *run_flags);
  run->add_flag("--persistent", run_flags->opts.persistent,
                "Reuse the container of this --name when its configuration is the same (start it if stopped)");
  run->add_flag("--replace", *replace, "With --persistent: replace a container of this name whose configuration differs");
  run->add_flag("-d,--detach", *detach, "Run in the background and print the container ID");
  run->add_option("--detach-keys", *detach_keys,
                  "Key sequence that detaches from an -it container (default ctrl-p,ctrl-q)");
  run->callback([&ctx, run, run_flags, detach, detach_keys, replace] {
    ctx.action = [&ctx, run, run_flags, detach, detach_keys, replace]() -> int {
      if (Status st = FinishCreateFlags(run, *run_flags); !st.ok()) return Fail(st, ExitStyle::kRun);
      if (!detach_keys->empty()) {
        if (auto keys = engine::ParseDetachKeys(*detach_keys); !keys.ok()) return Fail(keys.status(), ExitStyle::kRun);
      }
      if (*replace && !run_flags->opts.persistent) {
        return Fail(Status::InvalidArgument("--replace needs --persistent"), ExitStyle::kRun);
      }
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status(), ExitStyle::kRun);
      if (Status st = EnsureImage(**eng, run_flags->opts.image, run_flags->pull, run_flags->platform); !st.ok()) {
        return Fail(st, ExitStyle::kRun);
      }
      if (run_flags->opts.persistent) return RunPersistent(**eng, run_flags->opts, *replace, *detach, *detach_keys);
      auto c = (*eng)->Create(run_flags->opts);
      if (!c.ok()) return Fail(c.status(), ExitStyle::kRun);
      // A container whose command never ran is removed: `run` leaves nothing half-made.
      int rc = StartAndMaybeAttach(**eng, *c, !*detach, /*remove_on_failure=*/true, *detach_keys);
      if (rc == 0 && *detach) std::printf("%s\n", c->id.c_str());
      return rc;
    };
  });

  auto create_flags = std::make_shared<CreateFlags>();
  auto create_replace = std::make_shared<bool>(false);
  CLI::App* create = app.add_subcommand("create", "Create a new container");
  AddCreateFlags(create, *create_flags);
  create->add_flag("--persistent", create_flags->opts.persistent,
                   "Reuse the container of this --name when its configuration is the same");
  create->add_flag("--replace", *create_replace,
                   "With --persistent: replace a container of this name whose configuration differs");
  create->callback([&ctx, create, create_flags, create_replace] {
    ctx.action = [&ctx, create, create_flags, create_replace]() -> int {
      if (Status st = FinishCreateFlags(create, *create_flags); !st.ok()) return Fail(st, ExitStyle::kRun);
      if (*create_replace && !create_flags->opts.persistent) {
        return Fail(Status::InvalidArgument("--replace needs --persistent"), ExitStyle::kRun);
      }
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status(), ExitStyle::kRun);
      if (Status st = EnsureImage(**eng, create_flags->opts.image, create_flags->pull, create_flags->platform); !st.ok()) {
        return Fail(st, ExitStyle::kRun);
      }
      auto c = [&]() -> Result<engine::Container> {
        if (!create_flags->opts.persistent) return (*eng)->Create(create_flags->opts);
        BD_ASSIGN_OR_RETURN(engine::Engine::Persistent p, (*eng)->CreatePersistent(create_flags->opts, *create_replace));
        return p.container;
      }();
      if (!c.ok()) return Fail(c.status(), ExitStyle::kRun);
      std::printf("%s\n", c->id.c_str());
      return 0;
    };
  });

  auto attach = std::make_shared<bool>(false);
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* start = app.add_subcommand("start", "Start one or more stopped containers");
  start->add_flag("-a,--attach", *attach, "Attach stdout/stderr and wait for the exit");
  start->add_option("containers", *refs, "Containers")->required();
  start->callback([&ctx, attach, refs] {
    ctx.action = [&ctx, attach, refs]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      if (*attach && refs->size() != 1) {
        return Fail(Status::InvalidArgument("you cannot start and attach multiple containers"));
      }
      int rc = 0;
      for (const std::string& ref : *refs) {
        auto c = (*eng)->containers().Find(ref);
        if (!c.ok()) {
          rc = Fail(c.status());
          continue;
        }
        int r = StartAndMaybeAttach(**eng, *c, *attach, false);
        if (*attach) return r;
        if (r != 0) rc = r;
        else std::printf("%s\n", ref.c_str());
      }
      return rc;
    };
  });
}

}  // namespace bd::cli
