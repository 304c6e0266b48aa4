#include <signal.h>
#include <unistd.h>

#include <optional>

#include "cli/cli.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"

namespace bd::cli {

Result<engine::ExitOutcome> DriveExec(engine::ExecSession& s, bool interactive, bool detached) {
  if (detached) return s.Wait();
  os::SignalForwarder forward({s.pid(), 0, s.terminal()});
  if (s.terminal() >= 0) {
    std::optional<os::RawMode> raw;
    if (interactive) raw.emplace(STDIN_FILENO);
    os::CopyWindowSize(STDIN_FILENO, s.terminal());
    os::RelayTerminal(s.terminal(), interactive);
  }
  return s.Wait();
}

Result<engine::ExitOutcome> DriveAttach(engine::AttachSession& s) {
  std::optional<os::RawMode> raw;
  if (s.input() && s.tty()) raw.emplace(STDIN_FILENO);
  // With a terminal, keys carry the signals and the shim reads the new size from the CLI's
  // terminal at SIGWINCH; without, the signals go to the container.
  os::SignalForwarder forward({s.tty() ? 0 : s.pid(), s.tty() ? s.shim_pid() : 0, -1});
  return s.Wait();
}

Result<engine::ExitOutcome> DriveTask(engine::TaskSession& s, const engine::Container& c) {
  std::optional<os::RawMode> raw;
  if (c.config.tty && c.config.open_stdin) raw.emplace(STDIN_FILENO);
  ::signal(SIGPIPE, SIG_IGN);
  // The builtin runtime's process is its shim's child; an OCI runtime's is its keeper's.
  pid_t shim = c.config.runtime.empty() ? os::ReadProcessStat(s.pid()).ppid : s.ShimPid();
  os::SignalForwarder forward({c.config.tty ? 0 : s.pid(), c.config.tty && shim > 1 ? shim : 0, -1});
  return s.Wait();
}

}  // namespace bd::cli
