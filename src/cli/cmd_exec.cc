// exec.
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include <CLI/CLI.hpp>

#include "cli/cli.h"
#include "engine/daemon_config.h"
#include "engine/exec_once.h"
#include "engine/paths.h"
#include "os/fs.h"
#include "os/terminal.h"

namespace bd::cli {

namespace {

// exec --once: the run (or the replay) of a record, its exit code the recorded one.
template <typename Flags>
int RunOnce(engine::Engine& eng, const std::string& container, const Flags& f, const engine::SessionIo& io,
            std::shared_ptr<engine::ExecMonitor> early) {
  engine::ExecOnceOptions once{f.once, f.reset, -1, f.interactive, std::move(early)};
  if (!f.record_limit.empty()) {
    auto limit = engine::ParseByteSize(f.record_limit);
    if (!limit.ok()) return Fail(limit.status().WithContext("--record-limit"));
    once.output_limit = *limit;
  }
  auto session = eng.StartExecOnce(container, f.opts, once, io);
  if (!session.ok()) return Fail(session.status());
  std::optional<os::RawMode> raw;  // the monitor relays the keys to the command's terminal
  if ((*session)->runs_here() && f.tty && f.interactive && ::isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);
  auto r = (*session)->Wait();
  raw.reset();
  if (!r.ok()) return Fail(r.status());
  if (!r->error.empty()) std::fprintf(stderr, "Error: %s\n", r->error.c_str());
  if (!(*session)->runs_here() && (r->StdoutTruncated() || r->StderrTruncated())) {
    std::fprintf(stderr, "(exec --once %s: the record kept the first %lld bytes of each stream; the command wrote %lld and %lld)\n",
                 r->key.c_str(), static_cast<long long>(r->output_limit), static_cast<long long>(r->stdout_size),
                 static_cast<long long>(r->stderr_size));
  }
  return r->exit_code;
}

}  // namespace

void RegisterExec(CLI::App& app, Context& ctx) {
  struct Flags {
    engine::Engine::ExecOptions opts;
    bool tty = false;
    bool interactive = false;
    std::string once, record_limit;
    bool reset = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* exec = app.add_subcommand("exec", "Execute a command in a running container");
  exec->set_help_flag("--help", "Print this help");
  exec->add_flag("-d,--detach", f->opts.detach, "Run the command in the background");
  exec->add_flag("-i,--interactive", f->interactive, "Keep STDIN open");
  exec->add_flag("-t,--tty", f->tty, "Allocate a pseudo-TTY");
  exec->add_option("-e,--env", f->opts.env, "Set environment variables (K=V)")->allow_extra_args(false);
  exec->add_option("-w,--workdir", f->opts.working_dir, "Working directory inside the container");
  exec->add_option("-u,--user", f->opts.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  exec->add_option("--once", f->once,
                   "Run the command at most once per KEY in this container; later calls replay its result");
  exec->add_flag("--reset", f->reset, "With --once: drop a finished or interrupted record and run anew");
  exec->add_option("--record-limit", f->record_limit,
                   "With --once: bytes of each stream the record keeps (e.g. 64k, 4m; default 1m)");
  exec->prefix_command();
  exec->callback([&ctx, f, exec] {
    ctx.action = [&ctx, f, exec]() -> int {
      std::vector<std::string> rest = exec->remaining();
      if (rest.size() < 2) {
        return Fail(Status::InvalidArgument("\"exec\" requires a container and a command"));
      }
      if (rest[0].size() > 1 && rest[0][0] == '-') {
        return Fail(Status::InvalidArgument("unknown flag: " + rest[0]));
      }
      f->opts.tty = f->tty;
      f->opts.cmd.assign(rest.begin() + 1, rest.end());
      engine::SessionIo io{f->interactive ? STDIN_FILENO : -1, STDOUT_FILENO, STDERR_FILENO};
      struct winsize ws = {};
      if (f->tty && ::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {  // the terminal's size from the start
        io.rows = ws.ws_row;
        io.cols = ws.ws_col;
      }
      // exec --once on an existing data root: the monitor that may run it starts now, its
      // start overlapping ours (a replay stops it unused).
      std::shared_ptr<engine::ExecMonitor> early;
      if (exec->count("--once") && !ctx.root.empty() && ctx.root[0] == '/' &&
          os::Exists(engine::Paths{ctx.root}.Db())) {
        if (auto m = engine::ExecMonitor::Spawn(ctx.root, rest[0], io, f->interactive); m.ok()) early = *std::move(m);
      }
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      if (exec->count("--once")) return RunOnce(**eng, rest[0], *f, io, std::move(early));
      if (f->reset || !f->record_limit.empty()) {
        return Fail(Status::InvalidArgument("--reset and --record-limit go with --once KEY"));
      }
      auto session = (*eng)->StartExec(rest[0], f->opts, io);
      if (!session.ok()) return Fail(session.status());  // 126/127 when the command cannot run, else 1
      auto out = DriveExec(**session, f->interactive, f->opts.detach);
      if (!out.ok()) return Fail(out.status());
      return ExitCodeOfOutcome(*out);
    };
  });
}

void RegisterAttach(CLI::App& app, Context& ctx) {
  struct Flags {
    bool no_stdin = false;
    std::string detach_keys;
    std::string container;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* attach = app.add_subcommand(
      "attach", "Attach local standard input, output, and error streams to a running container");
  attach->add_flag("--no-stdin", f->no_stdin, "Do not attach STDIN");
  attach->add_option("--detach-keys", f->detach_keys,
                     "Key sequence that detaches, on a terminal (default ctrl-p,ctrl-q)");
  attach->add_option("container", f->container, "Container")->required();
  attach->callback([&ctx, f] {
    ctx.action = [&ctx, f]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      engine::AttachIo io{STDOUT_FILENO, STDERR_FILENO, f->no_stdin ? -1 : STDIN_FILENO, f->detach_keys};
      auto session = (*eng)->StartAttach(f->container, io);
      if (!session.ok()) return Fail(session.status());
      auto out = DriveAttach(**session);
      if (!out.ok()) return Fail(out.status());
      return ExitCodeOfOutcome(*out);  // detached: the container runs on
    };
  });
}

}  // namespace bd::cli
