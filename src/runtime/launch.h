// Starting a container process from a Spec: new namespaces (clone3), the overlay root mounted
// inside the container's own mount namespace (the host never sees it), the spec's mounts,
// a minimal /dev, pivot_root, the user, then exec. Launch returns once the process has exec'd
// or failed; the returned ChildProcess owns the container's pid (killed and reaped if dropped).
// Call from a single-threaded process (the shim): the child runs between clone and exec.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "os/process.h"
#include "runtime/spec.h"

namespace bd::runtime {

struct LaunchIo {
  int stdin_fd = -1;  // -1: /dev/null
  int stdout_fd = -1;
  int stderr_fd = -1;
  // With process.terminal: a unix socket on which the process sends the master of the
  // pseudo-terminal it makes from the container's own /dev/ptmx (its stdio is the slave).
  int console_socket = -1;
  // With a terminal: whether output "\n" becomes "\r\n" (ONLCR, the terminal default).
  bool terminal_onlcr = true;
  // Descriptors 3 .. 3+preserve_fds-1 stay open in the process (socket activation).
  int preserve_fds = 0;
};

// A namespace as the kernel names it: the device and inode of /proc/PID/ns/TYPE.
struct NamespaceId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NamespaceId&) const = default;
};
Result<NamespaceId> MountNamespaceOf(const std::string& proc_dir);  // "/proc/self", "/proc/1"
// FailedPrecondition unless the calling process is in a mount namespace other than `caller`'s
// and the one /proc/1 is in. Every container process checks this before its first mount.
Status CheckPrivateMountNamespace(const NamespaceId& caller);

// Docker's exit codes for a container that never ran its command.
inline constexpr int kExitEngineFailed = 125;
inline constexpr int kExitCannotInvoke = 126;
inline constexpr int kExitNotFound = 127;

// The status's CommandFailure as one of those codes (125 when the command is not the cause),
// and back.
int ExitCodeOf(CommandFailure f);
CommandFailure CommandFailureOfExitCode(int code);

// A failure whose cause is the command (not found, not executable) says so in its
// CommandFailure. With spec.start_fifo, returns once the process is set up and waiting on the
// FIFO (see StartGated) instead of once it has exec'd.
Result<os::ChildProcess> Launch(const Spec& spec, const LaunchIo& io);

// A process started in a running container by ExecIn.
struct ExecStarted {
  os::ChildProcess helper;  // in the host's pid namespace; exits with the process's status
  pid_t pid = 0;            // the process itself, as the host sees it
  // Of a gated exec until ReleaseExec: the gate's write end and the process's report channel.
  UniqueFd gate, report;
};

// Runs `process` in the namespaces of the process behind `target_pidfd` (the container's first
// process), with the security settings of `spec` (capabilities, no_new_privs, seccomp).
// Returns once it has exec'd or failed. Unless `detach`, the helper waits for it and exits
// with its status; detached, the helper exits at once and the process runs on alone.
// Call from a single-threaded process: joining a mount namespace needs it.
// With `gated`, returns once the process is set up to its last step (user, capabilities,
// PATH lookup done; a failure of those is returned here) and waits for ReleaseExec; dropping
// the ExecStarted instead ends it without running anything.
Result<ExecStarted> ExecIn(int target_pidfd, const Spec& spec, const Process& process,
                           const LaunchIo& io, bool detach, bool gated = false);

// Lets a process that a gated ExecIn prepared exec, and returns once it has, or how it failed
// (as ExecIn would have returned it).
Status ReleaseExec(ExecStarted& started);

// Releases a process that Launch left waiting on `fifo`: opens the FIFO for reading and waits
// for the process's word, or fails if the process behind `pidfd` exits first.
Status StartGated(const std::string& fifo, int pidfd);

// Finds `file` on the PATH of `env` ("K=V"; the default PATH without one), as execvp would;
// errors read as runc's (`exec: "/x": stat /x: no such file or directory`).
Result<std::string> LookPath(const std::string& file, const std::vector<std::string>& env);

// Exit status of a wait(2) status word as a shell reports it (128+signal when killed).
int ExitCodeFromWaitStatus(int status);

}  // namespace bd::runtime
