// exec.
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "cli/cli.h"

namespace bd::cli {

void RegisterExec(CLI::App& app, Context& ctx) {
  struct Flags {
    engine::Engine::ExecOptions opts;
    bool tty = false;
    bool interactive = false;
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
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      engine::SessionIo io{f->interactive ? STDIN_FILENO : -1, STDOUT_FILENO, STDERR_FILENO};
      struct winsize ws = {};
      if (f->tty && ::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {  // the terminal's size from the start
        io.rows = ws.ws_row;
        io.cols = ws.ws_col;
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
