// What basic-runtime's commands share: flags as runc reads them, the logger behind --log and
// --debug, the state store, the process's stdio, and the helpers more than one command uses.
// Each command is a file of its own (cmd_*.cc); main.cc reads the global flags and dispatches.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "ociruntime/state.h"
#include "os/error.h"
#include "os/process.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/spec.h"

namespace bd::ociruntime {

// "basic-runtime version ...", with the commit and spec lines runc prints.
std::string VersionText();

// ---- logging: errors go to stderr and, with --log, to that file (text or JSON lines);
// with --debug, debug lines too (on stderr as well when there is no --log) ----

struct Logger {
  std::string path;
  bool json_format = false;
  bool debug = false;

  std::string Line(const char* level, const std::string& msg) const;
  void ToFile(const std::string& line) const {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, line.data(), line.size());
      ::close(fd);
    }
  }
  void Error(const std::string& msg) const {
    std::string text = "basic-runtime: " + msg + "\n";
    (void)!::write(STDERR_FILENO, text.data(), text.size());
    if (!path.empty()) ToFile(Line("error", msg));
  }
  void Warn(const std::string& msg) const {
    std::string text = "basic-runtime: warning: " + msg + "\n";
    (void)!::write(STDERR_FILENO, text.data(), text.size());
    if (!path.empty()) ToFile(Line("warning", msg));
  }
  void Debug(const std::string& msg) const {
    if (!debug) return;
    std::string line = Line("debug", msg);
    if (path.empty()) {
      (void)!::write(STDERR_FILENO, line.data(), line.size());
    } else {
      ToFile(line);
    }
  }
};

// ---- arguments ----

struct FlagDef {
  std::vector<std::string> names;  // without dashes: {"bundle", "b"}
  bool takes_value;
};

struct Args {
  std::map<std::string, std::vector<std::string>> values;  // by first name
  std::set<std::string> bools;
  std::vector<std::string> positional;

  bool Has(const std::string& n) const { return bools.count(n) || values.count(n); }
  std::string Get(const std::string& n, std::string def = "") const {
    auto it = values.find(n);
    return it == values.end() ? def : it->second.back();
  }
  std::vector<std::string> All(const std::string& n) const {
    auto it = values.find(n);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

// Parses flags from argv[i..] until the first argument that is not a flag; the rest are
// positional. Boolean flags take "=true"/"=false".
Result<Args> ParseFlags(const std::vector<std::string>& argv, size_t i,
                        const std::vector<FlagDef>& defs, size_t* next = nullptr);

struct Global {
  StateStore store{"/run/basic-runtime"};
  Logger log;
  bool systemd_cgroup = false;
};

std::vector<std::string> SplitFields(const std::string& line);
Status WritePidFile(const std::string& path, pid_t pid);
// --pidfd-socket: a pidfd of the process, sent over the unix socket at `path`.
Status SendPidfd(const std::string& path, pid_t pid);
// Sends `sig` to the container's process, never to a recycled pid.
Status SignalProcess(pid_t pid, uint64_t start_time, int sig);
void SignalCgroup(const runtime::Spec& spec, int sig);

// The process's standard streams: this process's own, and with a terminal either the
// caller's console socket or, for `run` and `exec` without one, a socket pair whose end
// receives the master this process then relays.
class Stdio {
 public:
  Status Open(bool terminal, const std::string& console_path, int preserve_fds) {
    io_.stdin_fd = STDIN_FILENO;
    io_.stdout_fd = STDOUT_FILENO;
    io_.stderr_fd = STDERR_FILENO;
    io_.preserve_fds = preserve_fds;
    if (!terminal) return {};
    if (!console_path.empty()) {
      auto console = os::ConnectUnix(console_path);
      if (!console.ok()) return console.status().WithContext("console socket");
      console_ = std::move(*console);
      io_.console_socket = console_.get();
      return {};
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return os::ErrnoStatus("socketpair");
    ours_.Reset(sv[0]);
    io_.terminal_onlcr = false;  // as runc's own console: lines end in "\n", not "\r\n"
    console_.Reset(sv[1]);
    io_.console_socket = console_.get();
    return {};
  }
  const runtime::LaunchIo& io() const { return io_; }
  // Once the process has started: the master to relay, when the console is ours.
  UniqueFd TakeMaster() {
    if (!ours_) return {};
    console_.Reset();
    auto master = os::RecvFd(ours_.get());
    return master.ok() ? std::move(*master) : UniqueFd();
  }

 private:
  runtime::LaunchIo io_;
  UniqueFd console_;  // the end the process sends its master on
  UniqueFd ours_;
};

// Waits for `child` (the container's process, or exec's helper) to exit. Without a terminal,
// the signals this process receives go to `process`; with `master`, keys carry them and the
// terminal is relayed, raw, with resizes copied to it.
int WaitForwarding(os::ChildProcess& child, pid_t process, UniqueFd master);
// Prints `st` (and logs it with --log) and returns runc's failure exit code.
int Fail(const Global& g, const Status& st);
// The container a command names: between 1 and `max_args` arguments, the first its id.
Result<ContainerState> Target(const Global& g, const Args& a, std::string_view usage, size_t max_args = 1);
// poststart and poststop hooks: a failure is a warning and the lifecycle goes on, as the
// runtime spec says.
void RunLateHooks(const Global& g, const std::vector<runtime::Hook>& hooks, const char* kind,
                  const ContainerState& s, const char* status);
// Frees what a container holds on the host: remaining processes, its cgroup, its state; then
// its poststop hooks run.
Status Destroy(const Global& g, const ContainerState& s);
// The flags of `create` and `run`.
extern const std::vector<FlagDef> kCreateFlags;
Result<int> PreserveFds(const Args& a);

// The commands, one file each.
int CreateOrRun(Global& g, const Args& a, bool run);           // cmd_create.cc
int Start(Global& g, const Args& a);                           // cmd_create.cc
int State(Global& g, const Args& a);                           // cmd_lifecycle.cc
int Kill(Global& g, const Args& a);                            // cmd_lifecycle.cc
int Delete(Global& g, const Args& a);                          // cmd_lifecycle.cc
int PauseResume(Global& g, const Args& a, bool pause);         // cmd_lifecycle.cc
int Exec(Global& g, const Args& a);                            // cmd_exec.cc
int Spec(Global& g, const Args& a);                            // cmd_spec.cc
int Features(Global& g, const Args& a);                        // cmd_spec.cc
int Ps(Global& g, const Args& a);                              // cmd_ps.cc
int List(Global& g, const Args& a);                            // cmd_ps.cc
int Update(Global& g, const Args& a);                          // cmd_update.cc
int Events(Global& g, const Args& a);                          // cmd_events.cc
int CheckpointRestore(Global& g, const Args& a, const char* command);  // cmd_checkpoint.cc

}  // namespace bd::ociruntime
