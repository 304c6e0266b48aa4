// basic-runtime: the OCI runtime command line (as runc has it) over basic-docker's runtime
// library. A client such as podman/conmon calls `create`, then `start`, `state`, `kill`,
// `exec`, `delete`; `run` does create and start in one go. Flags are read as runc reads them:
// global ones before the command, the command's own before its arguments, `-x`, `--x`,
// `--x value` and `--x=value` alike.
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
#include "ociruntime/state.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"
#include "runtime/cgroups.h"
#include "ociruntime/events.h"
#include "runtime/cgroup_resources.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/oci_config.h"
#include "runtime/security.h"

namespace bd::ociruntime {
namespace {

using nlohmann::json;

#ifndef BD_GIT_COMMIT
#define BD_GIT_COMMIT "unknown"
#endif

std::string VersionText() {
  const scmp_version* v = seccomp_version();
  return "basic-runtime version 0.1.0\ncommit: " BD_GIT_COMMIT "\nspec: 1.0.2\nlibseccomp: " +
         std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro) + "\n";
}

// ---- logging: errors go to stderr and, with --log, to that file (text or JSON lines);
// with --debug, debug lines too (on stderr as well when there is no --log) ----

struct Logger {
  std::string path;
  bool json_format = false;
  bool debug = false;

  std::string Line(const char* level, const std::string& msg) const {
    std::string now = FormatRfc3339Nano(NowNanos());
    if (json_format) return json{{"level", level}, {"msg", msg}, {"time", now}}.dump() + "\n";
    return "time=\"" + now + "\" level=" + level + " msg=" + json(msg).dump() + "\n";
  }
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
                        const std::vector<FlagDef>& defs, size_t* next = nullptr) {
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

struct Global {
  StateStore store{"/run/basic-runtime"};
  Logger log;
  bool systemd_cgroup = false;
};

// ---- helpers ----

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
Result<ContainerState> Target(const Global& g, const Args& a, std::string_view usage, size_t max_args = 1) {
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

// ---- commands ----

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

// `create` and `run`: the process is set up; gated (create) it waits for `start`.
int CreateOrRun(Global& g, const Args& a, bool run) {
  if (a.positional.size() != 1) {
    return Fail(g, Status::InvalidArgument(std::string("usage: ") + (run ? "run" : "create") + " [OPTIONS] CONTAINER"));
  }
  const std::string id = a.positional[0];
  auto fail = [&](const Status& st) { return Fail(g, st); };
  auto preserve = PreserveFds(a);
  if (!preserve.ok()) return fail(preserve.status());
  std::string bundle = a.Get("bundle", ".");
  if (bundle.empty() || bundle[0] != '/') {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) return fail(os::ErrnoStatus("getcwd"));
    bundle = bundle == "." ? std::string(cwd) : os::JoinPath(cwd, bundle);
  }
  auto config = os::ReadFile(bundle + "/config.json");
  if (!config.ok()) return fail(config.status().WithContext("read the bundle's config.json"));
  if (Status st = ValidateId(id); !st.ok()) return fail(st);
  auto parsed = runtime::ParseOciConfig(*config, bundle, id, g.systemd_cgroup);
  if (!parsed.ok()) return fail(parsed.status());
  runtime::Spec& spec = parsed->spec;
  g.log.Debug("config " + bundle + "/config.json: rootfs " + spec.rootfs + ", " +
              std::to_string(spec.mounts.size()) + " mounts, namespaces " + Join(spec.namespaces, ",") +
              ", cgroup " + spec.cgroup_name);
  bool detach = !run || a.Has("detach");
  std::string console_path = a.Get("console-socket");
  if (spec.process.terminal && detach && console_path.empty()) {
    return fail(Status::InvalidArgument("a terminal needs --console-socket when detached"));
  }
  auto reserved = g.store.Reserve(id);
  if (!reserved.ok()) return fail(reserved.status());
  // Until the state is saved, a failure leaves nothing behind.
  auto fail_unreserved = [&](const Status& st) {
    (void)g.store.Remove(id);
    return fail(st);
  };
  ContainerState state;
  state.id = id;
  state.bundle = bundle;
  state.created = FormatRfc3339Nano(NowNanos());
  state.annotations = parsed->annotations;
  state.spec = spec;
  // First a record without a process: while this command holds the lock it reads "creating";
  // if the command is killed half-way it reads "stopped", and `delete` frees the cgroup and
  // whatever process it left.
  if (Status st = g.store.Save(state); !st.ok()) return fail_unreserved(st);
  if (!run) {
    spec.start_fifo = g.store.Fifo(id);
    // Writable by the container's user whoever it is (the umask would take the bits away):
    // the process opens it, through its descriptor, after switching to that user.
    if (::mkfifo(spec.start_fifo.c_str(), 0622) < 0 || ::chmod(spec.start_fifo.c_str(), 0622) < 0) {
      return fail_unreserved(os::ErrnoStatus("mkfifo `" + spec.start_fifo + "`"));
    }
  }
  Stdio stdio;
  if (Status st = stdio.Open(spec.process.terminal, console_path, *preserve); !st.ok()) {
    return fail_unreserved(st);
  }
  auto child = runtime::Launch(spec, stdio.io());
  if (!child.ok()) return fail_unreserved(child.status());
  state.pid = child->pid();
  state.start_time = os::ProcessStartTime(state.pid);
  state.spec = spec;
  g.log.Debug("container " + id + " process " + std::to_string(state.pid) + (run ? " running" : " created"));
  Status st = g.store.Save(state);
  if (st.ok()) st = WritePidFile(a.Get("pid-file"), state.pid);
  if (st.ok()) st = SendPidfd(a.Get("pidfd-socket"), state.pid);
  if (!st.ok()) {
    (void)child->Signal(SIGKILL);
    (void)child->Wait();
    (void)Destroy(g, state);
    return fail(st);
  }
  if (run) RunLateHooks(g, spec.hooks.poststart, "poststart", state, "running");
  if (detach) {
    child->Release();  // the caller (or its subreaper) owns the process from here
    return 0;
  }
  int code = WaitForwarding(*child, child->pid(), stdio.TakeMaster());
  if (!a.Has("keep")) (void)Destroy(g, state);
  return code;
}

int Start(Global& g, const Args& a) {
  auto s = Target(g, a, "start CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  std::string status = StatusOf(g.store, *s);
  if (status != "created") return Fail(g, Status::FailedPrecondition("cannot start a container that is " + status));
  auto pidfd = os::PidfdOpen(s->pid);
  Status st = pidfd.ok() ? runtime::StartGated(g.store.Fifo(s->id), pidfd->get())
                         : pidfd.status();
  ::unlink(g.store.Fifo(s->id).c_str());
  if (!st.ok()) return Fail(g, st);
  RunLateHooks(g, s->spec.hooks.poststart, "poststart", *s, "running");
  return 0;
}

int State(Global& g, const Args& a) {
  auto s = Target(g, a, "state CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  std::string out = StateJson(g.store, *s);
  (void)os::WriteAll(STDOUT_FILENO, out);
  return 0;
}

int Kill(Global& g, const Args& a) {
  auto s = Target(g, a, "kill [--all] CONTAINER [SIGNAL]", 2);
  if (!s.ok()) return Fail(g, s.status());
  std::string name = a.positional.size() == 2 ? a.positional[1] : "SIGTERM";
  // Signal 0 sends nothing and only asks whether the process is there, as with kill(2).
  auto sig = name == "0" ? Result<int>(0) : os::ParseSignal(name);
  if (!sig.ok()) return Fail(g, sig.status());
  // Without a pid namespace of its own, the container's other processes would outlive its
  // first: every process of its cgroup is signalled, as with --all (runc's rule), and --all
  // goes on working once the first process is gone.
  if (a.Has("all") || !runtime::HasNamespace(s->spec, "pid")) {
    if (!a.Has("all") && StatusOf(g.store, *s) == "stopped" && runtime::CgroupProcesses(runtime::PlanFor(s->spec)).empty()) {
      return Fail(g, Status::FailedPrecondition("container not running"));
    }
    SignalCgroup(s->spec, *sig);
    return 0;
  }
  if (StatusOf(g.store, *s) == "stopped") return Fail(g, Status::FailedPrecondition("container not running"));
  Status st = SignalProcess(s->pid, s->start_time, *sig);
  return st.ok() ? 0 : Fail(g, st);
}

int Delete(Global& g, const Args& a) {
  auto s = Target(g, a, "delete [--force] CONTAINER");
  // Forced, a container that is not there is already deleted: quiet success, as runc.
  if (!s.ok() && a.Has("force") && s.status().code() == Code::kNotFound) return 0;
  if (!s.ok()) return Fail(g, s.status());
  std::string status = StatusOf(g.store, *s);
  if ((status == "running" || status == "paused") && !a.Has("force")) {
    return Fail(g, Status::FailedPrecondition("cannot delete container " + s->id + " that is not stopped: " + status));
  }
  Status st = Destroy(g, *s);
  return st.ok() ? 0 : Fail(g, st);
}

int PauseResume(Global& g, const Args& a, bool pause) {
  auto s = Target(g, a, pause ? "pause CONTAINER" : "resume CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  std::string status = StatusOf(g.store, *s);
  if (status != (pause ? "running" : "paused")) {
    return Fail(g, Status::FailedPrecondition("container is " + status + ", not " + (pause ? "running" : "paused")));
  }
  Status st = runtime::FreezeCgroup(runtime::PlanFor(s->spec), pause);
  return st.ok() ? 0 : Fail(g, st);
}

int Exec(Global& g, const Args& a) {
  // Any failure of exec itself exits 255 (runc's and ssh's convention), so a caller can tell
  // it from the command's own exit status.
  auto fail = [&](const Status& st) {
    g.log.Error("exec failed: " + st.message());
    return 255;
  };
  auto s = Target(g, a, "exec [OPTIONS] CONTAINER COMMAND [ARG...]", SIZE_MAX);
  if (!s.ok()) return fail(s.status());
  std::string status = StatusOf(g.store, *s);
  if (status == "stopped") return fail(Status::FailedPrecondition("cannot exec in a stopped container"));
  if (status == "paused" && !a.Has("ignore-paused")) {
    return fail(Status::FailedPrecondition("cannot exec in a paused container (use --ignore-paused to override)"));
  }
  runtime::Spec spec = s->spec;  // security settings of the container, the process replaced
  runtime::Process proc = spec.process;
  if (a.Has("process")) {
    auto text = os::ReadFile(a.Get("process"));
    if (!text.ok()) return fail(text.status());
    auto p = runtime::ParseOciProcess(*text);
    if (!p.ok()) return fail(p.status());
    proc = std::move(p->process);
    if (!p->has_capabilities) {
      proc.capabilities = spec.process.capabilities;
      proc.effective_caps = spec.process.effective_caps;
      proc.permitted_caps = spec.process.permitted_caps;
      proc.inheritable_caps = spec.process.inheritable_caps;
      proc.ambient_caps = spec.process.ambient_caps;
    }
  } else {
    if (a.positional.size() < 2) return fail(Status::InvalidArgument("exec requires a command"));
    proc.args.assign(a.positional.begin() + 1, a.positional.end());
    for (const std::string& e : a.All("env")) proc.env.push_back(e);
    if (a.Has("cwd")) proc.cwd = a.Get("cwd");
    proc.terminal = a.Has("tty");
    proc.rlimits.clear();  // the container's limits are inherited through the namespace join
    if (a.Has("user")) {
      auto parts = Split(a.Get("user"), ':');
      auto uid = ParseInt(parts[0]);
      auto gid = parts.size() > 1 ? ParseInt(parts[1]) : std::optional<int64_t>(0);
      if (!uid || !gid || *uid < 0 || *gid < 0) {
        return fail(Status::InvalidArgument("--user takes UID[:GID], not \"" + a.Get("user") + "\""));
      }
      proc.numeric_user = runtime::NumericUser{static_cast<uint32_t>(*uid), static_cast<uint32_t>(*gid), {}};
    }
    for (const std::string& gid : a.All("additional-gids")) {
      auto n = ParseInt(gid);
      if (!n || *n < 0) return fail(Status::InvalidArgument("invalid additional gid \"" + gid + "\""));
      if (!proc.numeric_user) proc.numeric_user = runtime::NumericUser{};
      proc.numeric_user->additional_gids.push_back(static_cast<uint32_t>(*n));
    }
    for (const std::string& cap : a.All("cap")) {
      auto name = runtime::NormalizeCapability(cap);
      if (!name.ok()) return fail(name.status());
      // As runc's exec --cap: bounding, effective and permitted.
      proc.capabilities.push_back(*name);
      if (proc.effective_caps) proc.effective_caps->push_back(*name);
      if (proc.permitted_caps) proc.permitted_caps->push_back(*name);
    }
    if (a.Has("no-new-privs")) proc.no_new_privileges = true;
  }
  spec.process.capabilities = proc.capabilities;
  spec.process.no_new_privileges = proc.no_new_privileges || s->spec.process.no_new_privileges;
  // --cgroup [CONTROLLER:]PATH: the process joins sub-cgroups of the container's, which must
  // exist.
  if (a.Has("cgroup")) {
    auto dirs = runtime::SubCgroupDirs(runtime::PlanFor(spec), a.All("cgroup"));
    if (!dirs.ok()) return fail(dirs.status());
    for (const std::string& d : *dirs) {
      if (!os::IsDir(d)) return fail(Status::NotFound("--cgroup: `" + d + "` does not exist"));
    }
    proc.cgroup_dirs = *dirs;
  }
  bool detach = a.Has("detach");
  std::string console_path = a.Get("console-socket");
  if (proc.terminal && detach && console_path.empty()) {
    return fail(Status::InvalidArgument("a terminal needs --console-socket when detached"));
  }
  auto preserve = PreserveFds(a);
  if (!preserve.ok()) return fail(preserve.status());
  Stdio stdio;
  if (Status st = stdio.Open(proc.terminal, console_path, *preserve); !st.ok()) return fail(st);
  auto pidfd = os::PidfdOpen(s->pid);
  if (!pidfd.ok() || !os::ProcessMatches(s->pid, s->start_time)) {
    return fail(Status::FailedPrecondition("container not running"));
  }
  auto started = runtime::ExecIn(pidfd->get(), spec, proc, stdio.io(), detach);
  if (!started.ok()) return fail(started.status());
  if (Status st = WritePidFile(a.Get("pid-file"), started->pid); !st.ok()) return fail(st);
  if (Status st = SendPidfd(a.Get("pidfd-socket"), started->pid); !st.ok()) return fail(st);
  if (detach) {
    (void)started->helper.Wait();  // exits at once; the process runs on under the subreaper
    return 0;
  }
  // Signals go to the exec'd process itself; the helper only reports its exit.
  return WaitForwarding(started->helper, started->pid, stdio.TakeMaster());
}

int Spec(Global& g, const Args& a) {
  std::string bundle = a.Get("bundle", ".");
  std::string path = os::JoinPath(bundle, "config.json");
  if (os::Exists(path)) return Fail(g, Status::AlreadyExists("File " + path + " exists. Remove it first"));
  Status st = os::WriteFileAtomic(path, runtime::DefaultOciConfig(), 0644);
  return st.ok() ? 0 : Fail(g, st);
}

int Ps(Global& g, const Args& a) {
  auto s = Target(g, a, "ps [--format table|json] CONTAINER [PS OPTIONS...]", SIZE_MAX);
  if (!s.ok()) return Fail(g, s.status());
  std::vector<pid_t> pids = runtime::CgroupProcesses(runtime::PlanFor(s->spec));
  std::string format = a.Get("format", "table");
  if (format == "json") {
    (void)os::WriteAll(STDOUT_FILENO, json(pids).dump() + "\n");
    return 0;
  }
  if (format != "table") {
    g.log.Error("invalid format option \"" + format + "\": use table or json");
    return 1;
  }
  // Table: ps(1) with the given options (default -ef), keeping the header and our processes.
  std::vector<std::string> ps_args = {"ps"};
  if (a.positional.size() > 1) {
    ps_args.insert(ps_args.end(), a.positional.begin() + 1, a.positional.end());
  } else {
    ps_args.push_back("-ef");
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& s2 : ps_args) argv.push_back(s2.data());
    argv.push_back(nullptr);
    ::execvp("ps", argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  UniqueFd rd(out[0]);
  auto text = os::ReadAll(rd.get());
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!text.ok() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    g.log.Error("ps failed");
    return 1;
  }
  auto lines = Split(*text, '\n');
  if (lines.empty()) return 0;
  size_t pid_col = 0;
  auto header = SplitFields(lines[0]);
  while (pid_col < header.size() && header[pid_col] != "PID") ++pid_col;
  if (pid_col == header.size()) {
    g.log.Error("no PID column in ps output");
    return 1;
  }
  std::string result = lines[0] + "\n";
  std::set<pid_t> wanted(pids.begin(), pids.end());
  for (size_t i = 1; i < lines.size(); ++i) {
    auto fields = SplitFields(lines[i]);
    if (fields.size() <= pid_col) continue;
    auto pid = ParseInt(fields[pid_col]);
    if (pid && wanted.count(static_cast<pid_t>(*pid))) result += lines[i] + "\n";
  }
  (void)os::WriteAll(STDOUT_FILENO, result);
  return 0;
}

// Columns as runc's tabwriter lays them out: each at least 12 wide, 3 spaces after the widest
// cell, the last unpadded.
std::string AlignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (width.size() <= i) width.resize(i + 1, 12);
      width[i] = std::max(width[i], row[i].size() + 3);
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(width[i] - row[i].size(), ' ');
    }
    out += "\n";
  }
  return out;
}

int List(Global& g, const Args& a) {
  std::string format = a.Get("format", "table");
  if (format != "table" && format != "json") {
    return Fail(g, Status::InvalidArgument("invalid format \"" + format + "\": use table or json"));
  }
  json all = json::array();
  std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  std::string quiet;
  for (const std::string& id : g.store.List()) {
    auto s = g.store.Load(id);
    if (!s.ok()) continue;
    quiet += id + "\n";
    std::string status = StatusOf(g.store, *s);
    pid_t pid = status == "stopped" ? 0 : s->pid;
    all.push_back({{"ociVersion", "1.0.2"}, {"id", id}, {"pid", pid}, {"status", status},
                   {"bundle", s->bundle}, {"rootfs", s->spec.rootfs}, {"created", s->created},
                   {"owner", "root"}});
    rows.push_back({id, std::to_string(pid), status, s->bundle, s->created, "root"});
  }
  std::string out = a.Has("quiet") ? quiet : format == "json" ? all.dump() + "\n" : AlignColumns(rows);
  (void)os::WriteAll(STDOUT_FILENO, out);
  return 0;
}

// "64m", "1g", "1024" (bytes), as runc's --memory takes them; -1 for unlimited.
Result<int64_t> ParseBytes(const std::string& text) {
  if (text == "-1") return -1;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 18) return Status::InvalidArgument("invalid size \"" + text + "\"");
  int64_t n = std::stoll(text.substr(0, i));
  std::string unit = text.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
  static constexpr std::pair<const char*, int> kShift[] = {{"", 0}, {"k", 10}, {"m", 20}, {"g", 30}, {"t", 40}};
  for (const auto& [u, shift] : kShift) {
    if (unit == u) return n << shift;
  }
  return Status::InvalidArgument("invalid size \"" + text + "\"");
}

// `update`: the resources of a running container, from flags or from `-r FILE` (the OCI
// linux.resources JSON, "-" for stdin); flags win over the file, as with runc.
int Update(Global& g, const Args& a) {
  auto s = Target(g, a, "update [OPTIONS] CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  if (StatusOf(g.store, *s) == "stopped") return Fail(g, Status::FailedPrecondition("container not running"));
  for (const char* refused : {"kernel-memory", "kernel-memory-tcp"}) {
    if (a.Has(refused)) return Fail(g, Status::InvalidArgument(std::string("--") + refused + " is not supported: kernel memory limits are gone from the kernel"));
  }
  if (a.Has("l3-cache-schema") || a.Has("mem-bw-schema")) {
    return Fail(g, Status::InvalidArgument("Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported"));
  }
  // The request as an OCI linux.resources object: the -r file, then the flags over it.
  json r = json::object();
  if (a.Has("r")) {
    std::string path = a.Get("r");
    auto text = path == "-" ? os::ReadAll(STDIN_FILENO) : os::ReadFile(path);
    if (!text.ok()) return Fail(g, text.status().WithContext("-r"));
    r = json::parse(*text, nullptr, false);
    if (!r.is_object()) return Fail(g, Status::InvalidArgument("-r: not a JSON object"));
    r.erase("devices");  // runc's update leaves device rules alone too
  }
  struct Flag {
    const char* flag;
    const char* section;
    const char* key;
    enum { kBytes, kNumber, kText } kind;
  };
  static constexpr Flag kFlagsToResources[] = {
      {"memory", "memory", "limit", Flag::kBytes},
      {"memory-reservation", "memory", "reservation", Flag::kBytes},
      {"memory-swap", "memory", "swap", Flag::kBytes},
      {"cpu-shares", "cpu", "shares", Flag::kNumber},
      {"cpu-quota", "cpu", "quota", Flag::kNumber},
      {"cpu-period", "cpu", "period", Flag::kNumber},
      {"cpu-rt-period", "cpu", "realtimePeriod", Flag::kNumber},
      {"cpu-rt-runtime", "cpu", "realtimeRuntime", Flag::kNumber},
      {"cpu-idle", "cpu", "idle", Flag::kNumber},
      {"cpuset-cpus", "cpu", "cpus", Flag::kText},
      {"cpuset-mems", "cpu", "mems", Flag::kText},
      {"pids-limit", "pids", "limit", Flag::kNumber},
      {"blkio-weight", "blockIO", "weight", Flag::kNumber},
  };
  for (const Flag& f : kFlagsToResources) {
    if (!a.Has(f.flag)) continue;
    std::string v = a.Get(f.flag);
    json value;
    if (f.kind == Flag::kText) {
      value = v;
    } else if (f.kind == Flag::kBytes) {
      auto n = ParseBytes(v);
      if (!n.ok()) return Fail(g, n.status().WithContext(std::string("--") + f.flag));
      value = *n;
    } else {
      auto n = ParseInt(v);
      if (!n) return Fail(g, Status::InvalidArgument(std::string("--") + f.flag + ": \"" + v + "\" is not a number"));
      value = *n;
    }
    r[f.section][f.key] = value;
  }
  if (r.empty()) return Fail(g, Status::InvalidArgument("update: nothing to update (see update --help)"));
  runtime::CgroupPlan plan = runtime::PlanFor(s->spec);
  auto writes = runtime::ResourceWrites(r.dump(), [&](std::string_view c) { return runtime::ControllerDirOf(plan, c); });
  if (!writes.ok()) return Fail(g, writes.status());
  // Every cgroup must be there before anything is written: nothing changes on an error.
  for (const runtime::CgroupWrite& w : *writes) {
    if (!os::IsDir(os::Dirname(w.file))) {
      return Fail(g, Status::FailedPrecondition("the container has no cgroup at `" + os::Dirname(w.file) +
                                                "`, so `" + os::Basename(w.file) + "` cannot be set"));
    }
  }
  Status st = runtime::WriteCgroupFiles(*writes);
  return st.ok() ? 0 : Fail(g, st);
}

// `events`: with --stats one stats event; otherwise a stats event every --interval (5s) and an
// "oom" event whenever the OOM killer strikes, until the container stops.
int Events(Global& g, const Args& a) {
  auto s = Target(g, a, "events [--stats] [--interval DURATION] CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  auto interval = ParseDurationMs(a.Get("interval", "5s"));
  if (!interval || *interval <= 0) {
    return Fail(g, Status::InvalidArgument("invalid --interval \"" + a.Get("interval") + "\" (such as 5s or 500ms)"));
  }
  std::string status = StatusOf(g.store, *s);
  if (status == "stopped") return Fail(g, Status::FailedPrecondition("container " + s->id + " is not running"));
  runtime::CgroupPlan plan = runtime::PlanFor(s->spec);
  auto stats = [&] { return EventLine("stats", s->id, StatsJson(plan)); };
  if (a.Has("stats")) {
    (void)os::WriteAll(STDOUT_FILENO, stats());
    return 0;
  }
  ::signal(SIGPIPE, SIG_IGN);
  int64_t ooms = runtime::CgroupOomKills(plan);
  auto pidfd = os::PidfdOpen(s->pid);
  if (!pidfd.ok() || !os::ProcessMatches(s->pid, s->start_time)) return 0;
  auto next_stats = std::chrono::steady_clock::now();
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_stats) {
      if (!os::WriteAll(STDOUT_FILENO, stats()).ok()) return 0;  // the reader went away
      next_stats = now + std::chrono::milliseconds(*interval);
    }
    // OOM kills are looked for every 100 ms (or each interval, when shorter).
    int wait = static_cast<int>(std::min<int64_t>(*interval, 100));
    auto exited = os::WaitPidfd(pidfd->get(), wait);
    if (int64_t now_ooms = runtime::CgroupOomKills(plan); now_ooms > ooms) {
      ooms = now_ooms;
      if (!os::WriteAll(STDOUT_FILENO, EventLine("oom", s->id)).ok()) return 0;
    }
    if (exited.ok() && *exited) return 0;
  }
}

// `checkpoint` and `restore` go through CRIU (Debian's criu). Where it is missing, or where
// `criu check` says it cannot work with this kernel, they fail saying why in CRIU's own words.
int CheckpointRestore(Global& g, const Args& a, const char* command) {
  std::string usage = std::string(command) + " [OPTIONS] CONTAINER";
  if (std::string_view(command) == "checkpoint") {
    auto s = Target(g, a, usage);  // an unknown container is told as such first
    if (!s.ok()) return Fail(g, s.status());
    std::string status = StatusOf(g.store, *s);
    if (status != "running" && status != "paused") {
      return Fail(g, Status::FailedPrecondition("cannot checkpoint a container that is " + status));
    }
  } else if (a.positional.size() != 1) {
    return Fail(g, Status::InvalidArgument("usage: " + usage));
  } else if (Status st = ValidateId(a.positional[0]); !st.ok()) {
    return Fail(g, st);
  } else if (g.store.Load(a.positional[0]).ok()) {
    return Fail(g, Status::AlreadyExists("container \"" + a.positional[0] + "\" already exists"));
  }
  const char* path = std::getenv("PATH");
  auto found = runtime::LookPath("criu", path ? std::vector<std::string>{std::string("PATH=") + path} : std::vector<std::string>{});
  if (!found.ok()) {
    return Fail(g, Status::Unavailable(std::string(command) + " needs CRIU (the criu binary), which is not installed"));
  }
  const std::string& criu = *found;
  auto check = os::RunProgram(criu, {criu, "check"}, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "", 30);
  if (!check.ok()) return Fail(g, check.status().WithContext(std::string(command) + ": run `criu check`"));
  if (check->timed_out || !WIFEXITED(check->wait_status) || WEXITSTATUS(check->wait_status) != 0) {
    // CRIU's lines read "Error (criu/file.c:123): what": the first says what failed, the last why.
    std::vector<std::string> errors;
    for (const std::string& line : Split(check->output, '\n')) {
      if (line.rfind("Error", 0) != 0) continue;
      size_t colon = line.find("): ");
      errors.push_back(colon == std::string::npos ? line : line.substr(colon + 3));
    }
    std::string why = errors.empty() ? std::string(TrimSpace(check->output)) : errors.front();
    if (errors.size() > 1) why += "; " + errors.back();
    utsname u{};
    ::uname(&u);
    return Fail(g, Status::NotSupported(std::string(command) + ": CRIU (" + criu + ") cannot work with this kernel (" +
                                       u.release + "): criu check: " + (why.empty() ? "failed" : why)));
  }
  return Fail(g, Status::NotSupported(std::string(command) + " through CRIU is not implemented by basic-runtime yet"));
}

// The OCI runtime features document (runtime-spec features.md): what this runtime accepts.
int Features(Global&, const Args&) {
  json seccomp_actions = {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_NOTIFY",
                          "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"};
  json seccomp_flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  json doc = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.0.2"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "mand",
        "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime",
        "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime",
        "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
        "ridmap", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
        "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "slave",
        "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", runtime::AllCapabilities()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", seccomp_actions},
          {"operators", {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                         "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                     "SCMP_ARCH_ARM"}},
          {"knownFlags", seccomp_flags},
          {"supportedFlags", seccomp_flags}}},
        {"mountExtensions", {{"idmap", {{"enabled", true}}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations", {{"basic-runtime.version", "0.1.0"}, {"basic-runtime.commit", BD_GIT_COMMIT}}}};
  (void)os::WriteAll(STDOUT_FILENO, doc.dump(4) + "\n");
  return 0;
}

// One line of usage per command, for `COMMAND --help` and `help COMMAND`.
const std::map<std::string, std::string>& CommandUsage() {
  static const std::map<std::string, std::string> kUsage = {
      {"create", "create [--bundle DIR] [--console-socket PATH] [--pid-file FILE] [--pidfd-socket PATH] [--preserve-fds N] [--no-pivot] CONTAINER"},
      {"run", "run [--bundle DIR] [--console-socket PATH] [--pid-file FILE] [--pidfd-socket PATH] [--detach] [--preserve-fds N] CONTAINER"},
      {"start", "start CONTAINER"},
      {"state", "state CONTAINER"},
      {"kill", "kill [--all] CONTAINER [SIGNAL]  (SIGNAL: a name or number, default SIGTERM; 0 probes)"},
      {"delete", "delete [--force] CONTAINER"},
      {"pause", "pause CONTAINER"},
      {"resume", "resume CONTAINER"},
      {"exec", "exec [--process FILE] [--tty] [--detach] [--console-socket PATH] [--env K=V] [--cwd DIR] "
               "[--user UID[:GID]] [--cap CAP] [--pid-file FILE] [--pidfd-socket PATH] [--cgroup PATH] [--preserve-fds N] CONTAINER [COMMAND ARG...]"},
      {"ps", "ps [--format table|json] CONTAINER [PS_ARGS...]"},
      {"events", "events [--stats] [--interval DURATION] CONTAINER"},
      {"checkpoint", "checkpoint [--image-path DIR] [--leave-running] CONTAINER (needs CRIU)"},
      {"restore", "restore [--image-path DIR] [--bundle DIR] [--detach] CONTAINER (needs CRIU)"},
      {"list", "list [--format table|json] [--quiet]"},
      {"spec", "spec [--bundle DIR] [--rootless]"},
      {"features", "features"},
      {"update", "update [-r FILE|-] [--memory SIZE] [--memory-reservation SIZE] [--memory-swap SIZE] "
                 "[--cpu-shares N] [--cpu-quota US] [--cpu-period US] [--cpu-rt-period US] [--cpu-rt-runtime US] "
                 "[--cpu-idle 0|1] [--cpuset-cpus LIST] "
                 "[--cpuset-mems LIST] [--pids-limit N] [--blkio-weight N] CONTAINER"},
      {"help", "help [COMMAND]"},
  };
  return kUsage;
}

constexpr const char kUsage[] =
    "usage: basic-runtime [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup]\n"
    "                     COMMAND [OPTIONS] ...\n"
    "commands: create, start, run, state, kill, delete, exec, ps, pause, resume, list, spec,\n"
    "          features, update, events, checkpoint, restore, help\n";

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  Global g;
  size_t next = 1;
  auto global = ParseFlags(args, 1,
                           {{{"root"}, true},
                            {{"log"}, true},
                            {{"log-format"}, true},
                            {{"debug"}, false},
                            {{"systemd-cgroup"}, false},
                            {{"rootless"}, true},
                            {{"criu"}, true},
                            {{"version", "v"}, false},
                            {{"help", "h"}, false}},
                           &next);
  if (!global.ok()) {
    g.log.Error(global.status().message());
    return 1;
  }
  if (global->Has("version")) {
    (void)os::WriteAll(STDOUT_FILENO, VersionText());
    return 0;
  }
  if (global->Has("help") || next >= args.size()) {
    (void)os::WriteAll(global->Has("help") ? STDOUT_FILENO : STDERR_FILENO, kUsage);
    return global->Has("help") ? 0 : 1;
  }
  g.store = StateStore(global->Get("root", "/run/basic-runtime"));
  g.log.path = global->Get("log");
  if (!g.log.path.empty()) {
    // A log that cannot be written is an error now, not silence later.
    UniqueFd probe(::open(g.log.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!probe) {
      std::string path = std::exchange(g.log.path, {});
      g.log.Error(os::ErrnoStatus("open the log `" + path + "`").message());
      return 1;
    }
  }
  std::string log_format = global->Get("log-format", "text");
  if (log_format != "text" && log_format != "json") {
    g.log.Error("invalid log format \"" + log_format + "\": use text or json");
    return 1;
  }
  g.log.json_format = log_format == "json";
  g.log.debug = global->Has("debug");
  g.systemd_cgroup = global->Has("systemd-cgroup");

  const std::string command = args[next];
  if (command == "help") {
    std::string topic = next + 1 < args.size() ? args[next + 1] : "";
    auto it = CommandUsage().find(topic);
    if (topic.empty() || it == CommandUsage().end()) {
      (void)os::WriteAll(STDOUT_FILENO, kUsage);
      return topic.empty() ? 0 : 1;
    }
    (void)os::WriteAll(STDOUT_FILENO, "usage: basic-runtime " + it->second + "\n");
    return 0;
  }
  for (size_t i = next + 1; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if ((args[i] == "--help" || args[i] == "-h") && CommandUsage().count(command)) {
      (void)os::WriteAll(STDOUT_FILENO, "usage: basic-runtime " + CommandUsage().at(command) + "\n");
      return 0;
    }
    if (!args[i].empty() && args[i][0] != '-') break;  // the container id: its own args follow
  }
  static const std::map<std::string, std::vector<FlagDef>> kFlags = {
      {"create", kCreateFlags},
      {"run", kCreateFlags},
      {"start", {}},
      {"state", {}},
      {"kill", {{{"all", "a"}, false}}},
      {"delete", {{{"force", "f"}, false}}},
      {"pause", {}},
      {"resume", {}},
      {"spec", {{{"bundle", "b"}, true}, {{"rootless"}, false}}},
      {"features", {}},
      {"update",
       {{{"r", "resources"}, true}, {{"memory", "m"}, true}, {{"memory-reservation"}, true},
        {{"memory-swap"}, true}, {{"kernel-memory"}, true}, {{"kernel-memory-tcp"}, true},
        {{"cpu-shares"}, true}, {{"cpu-quota"}, true}, {{"cpu-period"}, true},
        {{"cpu-rt-period"}, true}, {{"cpu-rt-runtime"}, true}, {{"cpuset-cpus"}, true},
        {{"cpuset-mems"}, true}, {{"pids-limit"}, true}, {{"blkio-weight"}, true}, {{"cpu-idle"}, true},
        {{"l3-cache-schema"}, true}, {{"mem-bw-schema"}, true}}},
      {"ps", {{{"format", "f"}, true}}},
      {"events", {{{"stats"}, false}, {{"interval"}, true}}},
      {"list", {{{"format", "f"}, true}, {{"quiet", "q"}, false}}},
      {"exec",
       {{{"console-socket"}, true}, {{"cwd"}, true}, {{"env", "e"}, true}, {{"tty", "t"}, false},
        {{"user", "u"}, true}, {{"additional-gids", "g"}, true}, {{"process", "p"}, true},
        {{"detach", "d"}, false}, {{"pid-file"}, true}, {{"process-label"}, true},
        {{"apparmor"}, true}, {{"no-new-privs"}, false}, {{"cap", "c"}, true},
        {{"preserve-fds"}, true}, {{"cgroup"}, true}, {{"ignore-paused"}, false}, {{"pidfd-socket"}, true}}},
      {"checkpoint", {{{"image-path"}, true}, {{"work-path"}, true}, {{"leave-running"}, false},
                      {{"tcp-established"}, false}, {{"file-locks"}, false}, {{"pre-dump"}, false}}},
      {"restore", {{{"image-path"}, true}, {{"work-path"}, true}, {{"bundle", "b"}, true},
                   {{"detach", "d"}, false}, {{"pid-file"}, true}, {{"console-socket"}, true}}},
  };
  auto defs = kFlags.find(command);
  if (defs == kFlags.end()) {
    g.log.Error("unknown command \"" + command + "\"");
    (void)os::WriteAll(STDERR_FILENO, kUsage);
    return 1;
  }
  auto a = ParseFlags(args, next + 1, defs->second);
  if (!a.ok()) {
    g.log.Error(a.status().message());
    return 1;
  }
  g.log.Debug("command " + command + " " + Join(a->positional, " ") + " (root " +
              global->Get("root", "/run/basic-runtime") + ")");
  if (command == "create") return CreateOrRun(g, *a, false);
  if (command == "run") return CreateOrRun(g, *a, true);
  if (command == "start") return Start(g, *a);
  if (command == "state") return State(g, *a);
  if (command == "kill") return Kill(g, *a);
  if (command == "delete") return Delete(g, *a);
  if (command == "pause") return PauseResume(g, *a, true);
  if (command == "resume") return PauseResume(g, *a, false);
  if (command == "exec") return Exec(g, *a);
  if (command == "spec") return Spec(g, *a);
  if (command == "features") return Features(g, *a);
  if (command == "update") return Update(g, *a);
  if (command == "ps") return Ps(g, *a);
  if (command == "events") return Events(g, *a);
  if (command == "checkpoint" || command == "restore") return CheckpointRestore(g, *a, command.c_str());
  return List(g, *a);
}

}  // namespace bd::ociruntime

int main(int argc, char** argv) { return bd::ociruntime::Main(argc, argv); }
