// The last steps of a container process, its first or an exec's: streams, terminal, limits, user,
// capabilities, seccomp, the start gate, execve (see launch_internal.h).
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <memory>

#include "base/strings.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/hooks.h"
#include "runtime/idmap.h"
#include "runtime/launch.h"
#include "runtime/launch_internal.h"
#include "runtime/security.h"
#include "runtime/user.h"

namespace bd::runtime {

namespace {

// Set in a container's process once `start` released it: nobody reads the report channel any
// more, so a failure is told on the process's stderr (the container's log) instead.
bool g_released = false;

// The container's own pseudo-terminal: master from its /dev/ptmx (inside its devpts), the slave
// owned by the process's user becomes stdio and controlling terminal, the master goes out on
// `console_socket`.
Status SetUpTerminal(int console_socket, uid_t uid, bool onlcr, uint16_t rows, uint16_t cols) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return os::ErrnoStatus("open /dev/ptmx in the container");
  if (::unlockpt(master.get()) < 0) return os::ErrnoStatus("unlockpt");
  char name[64];
  if (::ptsname_r(master.get(), name, sizeof name) != 0) return os::ErrnoStatus("ptsname");
  UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return os::ErrnoStatus("open " + std::string(name));
  if (::fchown(slave.get(), uid, 5 /* tty */) < 0 && errno != EPERM) {
    return os::ErrnoStatus("chown " + std::string(name));
  }
  if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) return os::ErrnoStatus("set controlling terminal");
  if (rows || cols) {  // consoleSize
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    if (::ioctl(slave.get(), TIOCSWINSZ, &ws) < 0) return os::ErrnoStatus("set the console size");
  }
  if (!onlcr) {
    termios t;
    if (::tcgetattr(slave.get(), &t) < 0) return os::ErrnoStatus("tcgetattr");
    t.c_oflag &= ~static_cast<tcflag_t>(ONLCR);
    if (::tcsetattr(slave.get(), TCSANOW, &t) < 0) return os::ErrnoStatus("tcsetattr");
  }
  for (int fd = 0; fd <= 2; ++fd) {
    if (::dup2(slave.get(), fd) < 0) return os::ErrnoStatus("dup terminal");
  }
  return os::SendFd(console_socket, master.get());
}

// Resource limits and the OOM score, while the process still holds its capabilities.
Status ApplyLimits(const Process& proc) {
  BD_RETURN_IF_ERROR(SetRlimitsAndOomScore(0, proc));
  // Real-time policies and the RT I/O class need capabilities the process may be about to lose.
  if (proc.scheduler) {
    struct {
      uint32_t size, policy;
      uint64_t flags;
      int32_t nice;
      uint32_t priority;
      uint64_t runtime, deadline, period;
    } attr{48, static_cast<uint32_t>(proc.scheduler->policy), proc.scheduler->flags, proc.scheduler->nice,
           static_cast<uint32_t>(proc.scheduler->priority), proc.scheduler->runtime, proc.scheduler->deadline,
           proc.scheduler->period};
    if (::syscall(SYS_sched_setattr, 0, &attr, 0) < 0) return os::ErrnoStatus("set the scheduler (process.scheduler)");
  }
  if (proc.io_priority && ::syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, *proc.io_priority) < 0) {
    return os::ErrnoStatus("set the I/O priority (process.ioPriority)");
  }
  return {};
}

// The start gate of a created container: says "ready" on the report channel, then blocks opening
// the FIFO (reached through the O_PATH descriptor taken before pivot_root) until `start`
// opens its other end, and hands it one byte.
Status AwaitStart(int gate_fd, int report_fd) {
  ChildReport ready{};
  ready.exit_code = kReady;
  if (os::RetryEintr([&] { return ::write(report_fd, &ready, sizeof ready); }) < 0) {
    return os::ErrnoStatus("report ready");
  }
  std::string path = "/proc/self/fd/" + std::to_string(gate_fd);
  UniqueFd fifo(os::RetryEintr([&] { return ::open(path.c_str(), O_WRONLY | O_CLOEXEC); }));
  if (!fifo) return os::ErrnoStatus("open the start FIFO");
  if (os::RetryEintr([&] { return ::write(fifo.get(), "0", 1); }) != 1) {
    return os::ErrnoStatus("write the start FIFO");
  }
  g_released = true;
  return {};
}

// The gate of a prepared exec (ExecIn with `gated`): says "ready" on the report channel, then
// waits for ReleaseExec's byte on the pipe `release_fd`. The pipe's end without one (the
// caller dropped the exec, or died) ends the process here, before it ran anything. Reports
// keep going to the channel: ReleaseExec reads how the exec went.
void AwaitRelease(int release_fd, int report_fd) {
  ChildReport ready{};
  ready.exit_code = kReady;
  if (os::RetryEintr([&] { return ::write(report_fd, &ready, sizeof ready); }) < 0) ::_exit(kExitEngineFailed);
  char c;
  if (os::RetryEintr([&] { return ::read(release_fd, &c, 1); }) != 1) ::_exit(kExitEngineFailed);
  ::close(release_fd);
}

}  // namespace

[[noreturn]] void Fail(int fd, int exit_code, const Status& st) {
  if (g_released) {
    std::string line = "basic-runtime: " + st.message() + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
  }
  ChildReport r{};
  r.exit_code = exit_code;
  r.code = static_cast<int>(st.code());
  std::snprintf(r.message, sizeof r.message, "%s", st.message().c_str());
  (void)!::write(fd, &r, sizeof r);
  ::_exit(exit_code);
}

// A report with descriptor `fd` attached.
bool SendReport(int report_fd, const ChildReport& r, int fd) {
  return os::SendFds(report_fd, {fd}, std::string_view(reinterpret_cast<const char*>(&r), sizeof r)).ok();
}

Result<std::string> LookPath(const std::string& file, const std::vector<std::string>& env) {
  if (file.empty()) return Status::NotFound("exec: no command");
  // Go's wording, as runc's errors read: `exec: "/x": stat /x: no such file or directory`.
  auto go_errno = [](int err) {
    std::string text = std::strerror(err);
    if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
  };
  auto check = [&](const std::string& p) -> Status {
    struct stat st;
    if (::stat(p.c_str(), &st) < 0) {
      int err = errno;
      std::string msg = "exec: \"" + p + "\": stat " + p + ": " + go_errno(err);
      if (err == ENOENT || err == ENOTDIR) return Status::NotFound(msg);
      return err == EACCES ? Status::PermissionDenied(msg) : Status::Internal(msg);
    }
    if (S_ISDIR(st.st_mode)) return Status::PermissionDenied("exec: \"" + p + "\": is a directory");
    if (::access(p.c_str(), X_OK) < 0) return os::ErrnoStatus("exec: \"" + p + "\"");
    return {};
  };
  if (file.find('/') != std::string::npos) {
    BD_RETURN_IF_ERROR(check(file));
    return file;
  }
  std::string path(FindEnv(env, "PATH").value_or(kDefaultPath));
  bool denied = false;
  for (const std::string& dir : Split(path, ':')) {
    std::string candidate = os::JoinPath(dir.empty() ? "." : dir, file);
    Status st = check(candidate);
    if (st.ok()) return candidate;
    if (st.code() == Code::kPermissionDenied) denied = true;
  }
  if (denied) return Status::PermissionDenied("exec: \"" + file + "\": permission denied");
  return Status::NotFound("exec: \"" + file + "\": executable file not found in $PATH");
}

// A clean signal state and the standard streams, first thing in every container process.
void ResetProcess(const LaunchIo& io, int report_fd) {
  auto fail = [&](const Status& st) { Fail(report_fd, kExitEngineFailed, st); };
  // The container starts with a clean signal state: whatever the shim blocked or ignored
  // (SIGUSR1 for its signalfd, SIGPIPE) would otherwise survive exec.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  ::umask(022);
  // Its own session and process group: a container never shares one with its shim (a
  // kill(0, ...) inside must not reach the shim).
  ::setsid();
  // Standard streams first, while the host's /dev/null is still reachable.
  int in = io.stdin_fd >= 0 ? io.stdin_fd : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0 || ::dup2(in, 0) < 0) fail(os::ErrnoStatus("stdin"));
  if (io.stdout_fd >= 0 && ::dup2(io.stdout_fd, 1) < 0) fail(os::ErrnoStatus("stdout"));
  if (io.stderr_fd >= 0 && ::dup2(io.stderr_fd, 2) < 0) fail(os::ErrnoStatus("stderr"));
}

// The rlimits and OOM score of `proc` on process `pid` (0: the caller). A process in a user
// namespace cannot raise them itself, so Launch also sets them from outside (same values: the
// process's own call then raises nothing).
Status SetRlimitsAndOomScore(pid_t pid, const Process& proc) {
  for (const Rlimit& r : proc.rlimits) {
    rlimit lim{static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    if (::prlimit(pid, static_cast<__rlimit_resource>(r.resource), &lim, nullptr) < 0) {
      return os::ErrnoStatus("set rlimit " + std::to_string(r.resource) + " to " +
                             std::to_string(r.soft) + ":" + std::to_string(r.hard));
    }
  }
  if (proc.oom_score_adj) {
    std::string proc_dir = pid == 0 ? "/proc/self" : "/proc/" + std::to_string(pid);
    BD_RETURN_IF_ERROR(os::WriteExisting(proc_dir + "/oom_score_adj", std::to_string(*proc.oom_score_adj)));
  }
  return {};
}

// Pins the calling process to `list` ("0-3"); an empty list means every CPU (the kernel keeps
// it within the cgroup's cpuset), so no container inherits the runtime's own mask.
Status SetCpuAffinity(const std::string& list) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (list.empty()) {
    for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &set);
  } else {
    auto cpus = ParseCpuList(list);
    if (!cpus) return Status::InvalidArgument("invalid CPU list \"" + list + "\"");
    for (int c : *cpus) {
      if (c < CPU_SETSIZE) CPU_SET(c, &set);
    }
  }
  if (::sched_setaffinity(0, sizeof set, &set) < 0 && !list.empty()) {
    return os::ErrnoStatus("set the CPU affinity to " + list);
  }
  return {};
}

// `host_pid`, for a container's first process: its pid as the runtime sees it, for the state
// its startContainer hooks read (they run last before exec, once `start` released it).
[[noreturn]] void ExecProcess(const Process& proc, const Spec& spec, int report_fd,
                              const LaunchIo& io, int gate_fd, pid_t host_pid, int release_fd) {
  auto fail = [&](const Status& st) { Fail(report_fd, kExitEngineFailed, st); };
  auto passwd = os::ReadFile("/etc/passwd");
  auto group = os::ReadFile("/etc/group");
  std::string user_spec = proc.user;
  if (proc.numeric_user) {
    user_spec = std::to_string(proc.numeric_user->uid) + ":" + std::to_string(proc.numeric_user->gid);
  }
  auto user = ResolveUser(user_spec, passwd.ok() ? *passwd : "", group.ok() ? *group : "");
  if (!user.ok()) fail(user.status());
  if (proc.numeric_user) {
    user->additional_gids.assign(proc.numeric_user->additional_gids.begin(),
                                 proc.numeric_user->additional_gids.end());
  }
  if (proc.umask) ::umask(static_cast<mode_t>(*proc.umask & 0777));
  // As runc sets up the environment: one entry per name (a later value replaces an earlier
  // one in its place), and a HOME that is unset or empty comes from the user's passwd entry.
  std::vector<std::string> env;
  for (const std::string& kv : proc.env) {
    std::string_view name = std::string_view(kv).substr(0, kv.find('='));
    auto same = std::find_if(env.begin(), env.end(), [&](const std::string& e) {
      return std::string_view(e).substr(0, e.find('=')) == name;
    });
    if (same != env.end()) *same = kv;
    else env.push_back(kv);
  }
  if (auto home = FindEnv(env, "HOME"); !home || home->empty()) {
    std::erase_if(env, [](const std::string& e) { return e.rfind("HOME=", 0) == 0; });
    env.push_back("HOME=" + user->home);
  }
  if (!FindEnv(env, "PATH")) env.push_back("PATH=" + std::string(kDefaultPath));
  // The first process's cwd was made before the root became read-only (ChildMain); an exec's
  // must exist, as with runc.
  if (::chdir(proc.cwd.c_str()) < 0) {
    fail(os::ErrnoStatus("chdir to cwd (\"" + proc.cwd + "\") set in config.json"));
  }
  if (proc.terminal) {
    if (io.console_socket < 0) fail(Status::InvalidArgument("a terminal needs a console socket"));
    if (Status st = SetUpTerminal(io.console_socket, user->uid, io.terminal_onlcr, proc.console_height,
                                  proc.console_width);
        !st.ok()) {
      fail(st);
    }
  }
  if (Status st = ApplyLimits(proc); !st.ok()) fail(st);
  // The filter, and with SCMP_ACT_NOTIFY rules its notify descriptor handed to the runtime
  // (for the agent) while the runtime still reads reports.
  auto load_seccomp = [&] {
    auto notify = LoadSeccompProgram(spec.seccomp_program, spec.seccomp_flags, !spec.seccomp_listener.empty());
    if (!notify.ok()) fail(notify.status());
    ChildReport r{};
    r.exit_code = kSeccompFd;
    if (*notify && !SendReport(report_fd, r, notify->get())) {
      fail(os::ErrnoStatus("hand the seccomp notify descriptor to the runtime"));
    }
  };
  // Without no_new_privs only CAP_SYS_ADMIN may load a filter, and the process is about to
  // lose it: the filter goes on now and also governs the remaining setup calls.
  bool seccomp_early = !spec.process.no_new_privileges && !spec.seccomp_program.empty();
  if (seccomp_early) load_seccomp();
  // Capabilities: the bounding set first (needs CAP_SETPCAP), then the user switch (needs
  // CAP_SETUID/SETGID, still effective), then the final sets. A non-root user keeps none:
  // switching away from uid 0 clears effective and permitted.
  if (Status st = DropBoundingSet(spec.process.capabilities); !st.ok()) fail(st);
  // Sets given explicitly (an OCI config) hold for any user, as with runc: the permitted set
  // is kept across the switch away from uid 0 (PR_SET_KEEPCAPS) and set again after it.
  bool explicit_sets = proc.effective_caps || proc.permitted_caps || !proc.ambient_caps.empty();
  if (explicit_sets && user->uid != 0 && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
    fail(os::ErrnoStatus("keep capabilities"));
  }
  if (::setgroups(user->additional_gids.size(), user->additional_gids.data()) < 0) {
    fail(os::ErrnoStatus("setgroups"));
  }
  if (::setresgid(user->gid, user->gid, user->gid) < 0) fail(os::ErrnoStatus("setgid"));
  if (::setresuid(user->uid, user->uid, user->uid) < 0) fail(os::ErrnoStatus("setuid"));
  if (explicit_sets) {
    Status st = SetCapabilitySets(proc.effective_caps.value_or(std::vector<std::string>{}),
                                  proc.permitted_caps.value_or(std::vector<std::string>{}),
                                  proc.inheritable_caps, proc.ambient_caps);
    if (!st.ok()) fail(st);
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  } else if (user->uid == 0) {
    if (Status st = SetCapabilities(spec.process.capabilities); !st.ok()) fail(st);
  }
  if (spec.process.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    fail(os::ErrnoStatus("set no_new_privs"));
  }
  // After the last change of credentials, which clears it: the helper's death (its own
  // follows its supervisor's) ends the process.
  if (proc.die_with_parent && ::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(os::ErrnoStatus("set the parent-death signal"));

  auto exe = LookPath(proc.args[0], env);
  if (!exe.ok()) {
    Fail(report_fd, exe.status().code() == Code::kNotFound ? kExitNotFound : kExitCannotInvoke,
         exe.status());
  }
  bool seccomp_late = !seccomp_early && !spec.seccomp_program.empty();
  if (seccomp_late && !spec.seccomp_listener.empty()) {  // nobody reads reports after the gate
    load_seccomp();
    seccomp_late = false;
  }
  if (gate_fd >= 0) {
    if (Status st = AwaitStart(gate_fd, report_fd); !st.ok()) fail(st);
  }
  if (release_fd >= 0) AwaitRelease(release_fd, report_fd);
  if (host_pid > 0 && !spec.hooks.start_container.empty()) {
    Status st = RunHooks(spec.hooks.start_container, "startContainer", HookState(spec, host_pid, "created"));
    if (!st.ok()) fail(st);
  }
  // Last before exec: from here on the profile filters every call the process makes.
  if (Status st = SetCpuAffinity(proc.cpu_affinity_final); !st.ok()) fail(st);
  if (spec.personality && ::personality(*spec.personality) < 0) fail(os::ErrnoStatus("set the personality"));
  if (seccomp_late) load_seccomp();
  std::vector<char*> argv, envp;
  for (const auto& a : proc.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Descriptors beyond the standard three (and those asked to be preserved) never leak into
  // the container.
  for (int fd = 3; fd < 3 + io.preserve_fds; ++fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  ::close_range(3 + static_cast<unsigned>(std::max(io.preserve_fds, 0)), ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(exe->c_str(), argv.data(), envp.data());
  int err = errno;
  Fail(report_fd, err == ENOENT ? kExitNotFound : kExitCannotInvoke,
       os::ErrnoStatus(err, "exec: \"" + proc.args[0] + "\""));
}

}  // namespace bd::runtime
