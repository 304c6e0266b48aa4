// Sessions: a started, attached or exec'd process as the engine hands it to its caller, with
// no terminal assumed. The caller gives descriptors (SessionIo, AttachIo) and gets back what a
// user-facing layer needs to drive the process: its pid, the master of its terminal, resize,
// signals, and the outcome as a value. Raw mode, relaying a terminal and forwarding the
// caller's own signals are the caller's business (cli/session.cc for the CLI; the API server
// relays over its connection). A session belongs to the Engine that made it and must not
// outlive it.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "engine/diagnostics.h"

namespace bd::runtime {
struct ExecStarted;
}

namespace bd::engine {

class Engine;

// The caller's ends of a process's standard streams. -1: none (no input; output discarded).
// With a terminal (exec -t), its first size; 0: the terminal's default until Resize.
struct SessionIo {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  unsigned short rows = 0, cols = 0;
};

// Where an attached container's output goes and, when the container keeps stdin open (-i),
// where its input comes from (stdin_fd -1: none).
struct AttachIo {
  int stdout_fd = -1;
  int stderr_fd = -1;
  int stdin_fd = -1;
  std::string detach_keys;  // Docker's --detach-keys spelling; "" for Ctrl-P Ctrl-Q
};

// How a process ended.
struct ExitOutcome {
  int exit_code = 0;        // as a shell reports it: 128+N when killed by signal N
  int signal = 0;           // the signal that ended it, 0 when it exited
  bool oom_killed = false;  // the kernel's OOM killer ended it (its cgroup's limit)
  bool detached = false;    // the caller detached (Docker's detach keys); the process runs on
};
// An exit code as the shim and the shell report it: 128+N is signal N.
ExitOutcome OutcomeOfExitCode(int code);

// The channel to a started container's shim: it reports the exit when the container ends.
class TaskSession {
 public:
  TaskSession(Engine* eng, std::string id, UniqueFd fd, pid_t pid)
      : eng_(eng), id_(std::move(id)), fd_(std::move(fd)), pid_(pid) {}
  pid_t pid() const { return pid_; }
  // The container's shim, from its record (0 when unknown): SIGWINCH goes there.
  pid_t ShimPid() const;
  int fd() const { return fd_.get(); }
  // The container's terminal (run -t) to `rows` x `cols` (Engine::ResizeTerminal).
  Status Resize(unsigned short rows, unsigned short cols);
  // Blocks until the shim reports the exit (after --rm cleanup, if any) or the detach.
  Result<ExitOutcome> Wait();

 private:
  Engine* eng_;
  std::string id_;
  UniqueFd fd_;
  pid_t pid_;
};

// A caller attached to a running container's stdio through its shim.
class AttachSession {
 public:
  pid_t pid() const { return pid_; }            // the container's first process
  pid_t shim_pid() const { return shim_pid_; }  // reads the window size from the caller's tty at SIGWINCH
  bool tty() const { return tty_; }             // the container has its own terminal
  bool input() const { return input_; }         // the caller's stdin goes in
  // The container's terminal to `rows` x `cols` (Engine::ResizeTerminal).
  Status Resize(unsigned short rows, unsigned short cols);
  Result<ExitOutcome> Wait();

 private:
  friend class Engine;
  AttachSession() = default;
  Engine* eng_ = nullptr;
  std::string id_;
  UniqueFd sock_;
  pid_t pid_ = 0, shim_pid_ = 0;
  bool tty_ = false, input_ = false;
  Operation op_;
};

// A command run in a running container (exec). Dropped without Wait, it waits (the command
// runs to its end and its exec_die is still recorded).
class ExecSession {
 public:
  ~ExecSession();
  ExecSession(const ExecSession&) = delete;
  ExecSession& operator=(const ExecSession&) = delete;

  pid_t pid() const { return pid_; }  // the command, as the host sees it
  const std::string& id() const { return exec_id_; }  // the execID of its events
  // The master of the command's terminal (exec -t): the caller relays it. -1 without.
  int terminal() const { return master_.get(); }
  Status Resize(unsigned short rows, unsigned short cols);
  // Sends `sig` to the command (never to a recycled pid).
  Status Signal(int sig);
  // Blocks until the command ends (at once when detached); records its exec_die event.
  Result<ExitOutcome> Wait();

 private:
  friend class Engine;
  ExecSession() = default;
  Engine* eng_ = nullptr;
  std::string container_id_, exec_id_;
  std::map<std::string, std::string> attributes_;  // of its events (the container's, at start)
  std::unique_ptr<runtime::ExecStarted> started_;
  pid_t pid_ = 0;
  UniqueFd pidfd_, master_;
  bool detached_ = false, waited_ = false;
  Operation op_;
};

}  // namespace bd::engine
