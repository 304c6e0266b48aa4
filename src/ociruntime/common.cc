// basic-runtime: what its commands share (see common.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/time.h"
#include "ociruntime/common.h"
#include "ociruntime/events.h"
#include "ociruntime/state.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"
#include "runtime/cgroup_resources.h"
#include "runtime/cgroups.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/oci_config.h"
#include "runtime/security.h"

namespace bd::ociruntime {

using nlohmann::json;

#ifndef BD_GIT_COMMIT
#define BD_GIT_COMMIT "unknown"
#endif

std::string VersionText() {
  const scmp_version* v = seccomp_version();
  return "basic-runtime version 0.1.0\ncommit: " BD_GIT_COMMIT "\nspec: 1.0.2\nlibseccomp: " +
         std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro) + "\n";
}

std::string Logger::Line(const char* level, const std::string& msg) const {
    std::string now = FormatRfc3339Nano(NowNanos());
    if (json_format) return json{{"level", level}, {"msg", msg}, {"time", now}}.dump() + "\n";
    return "time=\"" + now + "\" level=" + level + " msg=" + json(msg).dump() + "\n";
}

// Parses flags from argv[i..] until the first argument that is not a flag; the rest are
// positional. Boolean flags take "=true"/"=false".
Result<Args> ParseFlags(const std::vector<std::string>& argv, size_t i,
                        const std::vector<FlagDef>& defs, size_t* next) {
  Args out;
  for (; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagDef* def = nullptr;
    for (const FlagDef& d : defs) {
      if (std::find(d.names.begin(), d.names.end(), name) != d.names.end()) def = &d;
    }
    if (!def) return Status::InvalidArgument("flag provided but not defined: -" + name);
    const std::string& key = def->names.front();
    if (def->takes_value) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) return Status::InvalidArgument("flag needs an argument: -" + name);
        inline_value = argv[++i];
      }
      out.values[key].push_back(*inline_value);
    } else if (!inline_value || *inline_value == "true" || *inline_value == "1") {
      out.bools.insert(key);
    } else if (*inline_value != "false" && *inline_value != "0") {
      return Status::InvalidArgument("invalid boolean value \"" + *inline_value + "\" for -" + name);
    }
  }
  if (next) {  // the caller reads the rest itself
    *next = i;
    return out;
  }
  for (; i < argv.size(); ++i) out.positional.push_back(argv[i]);
  return out;
}


std::vector<std::string> SplitFields(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

Status WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return {};
  return os::WriteFileAtomic(path, std::to_string(pid), 0644);
}

// --pidfd-socket: a pidfd of the process, sent over the unix socket at `path`.
Status SendPidfd(const std::string& path, pid_t pid) {
  if (path.empty()) return {};
  BD_ASSIGN_OR_RETURN(UniqueFd pidfd, os::PidfdOpen(pid));
  auto socket = os::ConnectUnix(path);
  if (!socket.ok()) return socket.status().WithContext("--pidfd-socket");
  return os::SendFd(socket->get(), pidfd.get()).WithContext("send the pidfd on --pidfd-socket");
}

// Sends `sig` to the container's process, never to a recycled pid.
Status SignalProcess(pid_t pid, uint64_t start_time, int sig) {
  auto pidfd = os::PidfdOpen(pid);
  if (!pidfd.ok() || !os::ProcessMatches(pid, start_time)) {
    return Status::FailedPrecondition("container not running");
  }
  if (::syscall(SYS_pidfd_send_signal, pidfd->get(), sig, nullptr, 0) < 0) {
    return os::ErrnoStatus("signal the container's process");
  }
  return {};
}

void SignalCgroup(const runtime::Spec& spec, int sig) {
  for (pid_t pid : runtime::CgroupProcesses(runtime::PlanFor(spec))) ::kill(pid, sig);
}

// Waits for `child` (the container's process, or exec's helper) to exit. Without a terminal,
// the signals this process receives go to `process`; with `master`, keys carry them and the
// terminal is relayed, raw, with resizes copied to it.
int WaitForwarding(os::ChildProcess& child, pid_t process, UniqueFd master) {
  {
    os::SignalForwarder forward({master ? 0 : process, 0, master ? master.get() : -1});
    if (master) {
      os::RawMode raw(STDIN_FILENO);
      os::CopyWindowSize(STDIN_FILENO, master.get());
      os::RelayTerminal(master.get(), true, child.pidfd());
    }
    auto status = child.Wait();
    if (status.ok()) return runtime::ExitCodeFromWaitStatus(*status);
  }
  return 255;
}

// Prints `st` (and logs it with --log) and returns runc's failure exit code.
int Fail(const Global& g, const Status& st) {
  g.log.Error(st.message());
  return 1;
}

// The container a command names: between 1 and `max_args` arguments, the first its id.
Result<ContainerState> Target(const Global& g, const Args& a, std::string_view usage, size_t max_args) {
  if (a.positional.empty() || a.positional.size() > max_args) {
    return Status::InvalidArgument("usage: " + std::string(usage));
  }
  return g.store.Load(a.positional[0]);
}

// poststart and poststop hooks: a failure is a warning and the lifecycle goes on, as the
// runtime spec says.
void RunLateHooks(const Global& g, const std::vector<runtime::Hook>& hooks, const char* kind,
                  const ContainerState& s, const char* status) {
  if (hooks.empty()) return;
  Status st = runtime::RunHooks(hooks, kind, runtime::HookState(s.spec, s.pid, status));
  if (!st.ok()) g.log.Warn(st.message());
}

// Frees what a container holds on the host: remaining processes, its cgroup, its state; then
// its poststop hooks run.
Status Destroy(const Global& g, const ContainerState& s) {
  runtime::CgroupPlan plan = runtime::PlanFor(s.spec);
  SignalCgroup(s.spec, SIGKILL);
  if (runtime::CgroupFrozen(plan)) (void)runtime::FreezeCgroup(plan, false);
  if (auto pidfd = os::PidfdOpen(s.pid); pidfd.ok() && os::ProcessMatches(s.pid, s.start_time)) {
    (void)os::WaitPidfd(pidfd->get(), 5000);
  }
  for (int i = 0; i < 100 && !runtime::CgroupProcesses(plan).empty(); ++i) ::usleep(2000);
  Status st = runtime::RemoveCgroup(plan);
  if (Status rm = g.store.Remove(s.id); !rm.ok()) return rm;
  RunLateHooks(g, s.spec.hooks.poststop, "poststop", s, "stopped");
  return st;
}

const std::vector<FlagDef> kCreateFlags = {
    {{"bundle", "b"}, true},  {{"console-socket"}, true}, {{"pid-file"}, true},
    {{"no-pivot"}, false},    {{"no-new-keyring"}, false}, {{"preserve-fds"}, true},
    {{"detach", "d"}, false}, {{"keep"}, false}, {{"pidfd-socket"}, true}};

Result<int> PreserveFds(const Args& a) {
  std::string v = a.Get("preserve-fds", "0");
  auto n = ParseInt(v);
  if (!n || *n < 0 || *n > 1024) return Status::InvalidArgument("invalid --preserve-fds \"" + v + "\"");
  return static_cast<int>(*n);
}

}  // namespace bd::ociruntime
