// Processes: detached spawning (for shims), pidfds, identity checks that survive pid reuse.
// Thread-safe; SpawnDetached forks, so call it before starting threads where possible.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::os {

struct FdMapping {
  int from;  // a descriptor in this process
  int to;    // the number it gets in the child
};

// Starts `argv` as a daemon: double fork, setsid, stdin on /dev/null, `fds` dup'ed into place and
// every other descriptor closed. Returns once the intermediate child is reaped, so no zombie is
// left with the caller. The daemon reports back on its own channels. `extra_env` ("K=V") is
// added to the caller's environment: what it holds stays out of every user's `ps`.
Status SpawnDetached(const std::vector<std::string>& argv, const std::vector<FdMapping>& fds,
                     const std::vector<std::string>& extra_env = {});

// Starts `argv` (argv[0] a path) as a child in a session of its own with a clean signal state:
// `fds` dup'ed into place (whatever their numbers), stdin, stdout and stderr on /dev/null
// unless mapped, every other descriptor closed. `env` null: the caller's environment.
Result<pid_t> SpawnInSession(const std::vector<std::string>& argv, const std::vector<FdMapping>& fds,
                             const std::vector<std::string>* env = nullptr);

Result<UniqueFd> PidfdOpen(pid_t pid);
// Waits until the process behind `pidfd` exits or `timeout_ms` passes (-1: forever).
// Returns true if it exited.
Result<bool> WaitPidfd(int pidfd, int timeout_ms);

// What /proc/PID/stat says of a process.
struct ProcessStat {
  char state = 0;           // 'R', 'S', 'Z' (zombie), ...
  pid_t ppid = 0;
  uint64_t start_time = 0;  // clock ticks since boot: what a recycled pid does not share
};
// Empty (state 0) when the process does not exist.
ProcessStat ReadProcessStat(pid_t pid);
uint64_t ProcessStartTime(pid_t pid);
// True if `pid` is alive (not a zombie) and started at `start_time`.
bool ProcessMatches(pid_t pid, uint64_t start_time);

// A child process owned by its creator: killed (SIGKILL) and reaped on destruction unless
// waited for or released. Move-only.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  ChildProcess(ChildProcess&& o) noexcept : pid_(std::exchange(o.pid_, 0)), pidfd_(std::move(o.pidfd_)) {}
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  // Reaps the child (blocking until it exits) and returns its wait(2) status.
  Result<int> Wait();
  // Sends `sig` through the pidfd, so a recycled pid is never hit.
  Status Signal(int sig);
  // Gives up ownership: the caller reaps the pid.
  pid_t Release();

 private:
  pid_t pid_ = 0;
  UniqueFd pidfd_;
};

// Creates a pipe; [0] is the read end. Both ends are O_CLOEXEC.
Status MakePipe(UniqueFd (&ends)[2]);

// For long-lived processes that go idle after start-up (the shim): drops the resident pages of
// the executable's read-only file mappings (code and constants: clean, so they come back from
// the page cache on demand) and returns free heap to the kernel.
void TrimResidentMemory();

// Passing a descriptor over a unix socket (SCM_RIGHTS): how a pseudo-terminal's master made
// inside a container reaches its shim or CLI.
// A connected unix stream socket to `path` (the shim's attach socket, a console socket).
Result<UniqueFd> ConnectUnix(const std::string& path);
Status SendFd(int socket, int fd);
Result<UniqueFd> RecvFd(int socket);
// Several at once (at most 8), e.g. a client's stdin, stdout and stderr. The message carries
// `payload` (at least one byte) beside them: on a stream socket a long one follows the first
// part; RecvFds returns up to 256 bytes of it in `*payload`.
Status SendFds(int socket, const std::vector<int>& fds, std::string_view payload = "F");
Result<std::vector<UniqueFd>> RecvFds(int socket, std::string* payload = nullptr);
// One message into `buf` (at most `size` bytes) and the descriptors that came with it, appended
// to `*fds`; the byte count, 0 at the end of the stream.
Result<size_t> RecvMessage(int socket, void* buf, size_t size, std::vector<UniqueFd>* fds);

// A program run to its end, or killed at its timeout (0 s: none): `path` with `args` (argv[0]
// included) and `env` exactly, `input` on its stdin, its stdout and stderr together (the first
// 4 KiB, trailing newlines trimmed). Signals are unblocked in it; other descriptors closed.
struct ProgramRun {
  int wait_status = 0;  // as wait(2) gives it
  bool timed_out = false;
  std::string output;
};
Result<ProgramRun> RunProgram(const std::string& path, std::vector<std::string> args, std::vector<std::string> env,
                              std::string_view input, int timeout_s);

// "KILL", "SIGKILL", "sigterm" or "9" -> the signal number.
Result<int> ParseSignal(std::string_view name);

// The directory holding the running executable, e.g. "/usr/local/bin".
std::string SelfExeDir();

}  // namespace bd::os
