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

// A unix socket pair of `type`, close-on-exec. The report channel is SOCK_SEQPACKET, so that a
// report keeps its bounds and can carry a descriptor (the child's end closes on exec, as a
// pipe's would); the sync channel SOCK_STREAM, so that writing to a process that already died
// is an error, not SIGPIPE.
Status MakeSocketPair(int type, UniqueFd (&ends)[2]) {
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) return os::ErrnoStatus("socketpair");
  ends[0].Reset(sv[0]);
  ends[1].Reset(sv[1]);
  return {};
}

// A kSeccompFd report's descriptor handed to the seccomp agent, for process `pid` of a container
// in `status`.
Status HandOverSeccompFd(const Spec& spec, pid_t pid, std::string_view status, const UniqueFd& passed) {
  if (!passed) return Status::Internal("the seccomp notify descriptor did not arrive");
  return SendToSeccompAgent(spec, pid, status, passed.get());
}

// One report from a container process, and the descriptor it carried, if any, in `*passed`.
// 0 once the process exec'd (its end closed).
ssize_t ReadReport(int report_fd, ChildReport* r, UniqueFd* passed) {
  std::vector<UniqueFd> fds;
  auto n = os::RecvMessage(report_fd, r, sizeof *r, &fds);
  if (!n.ok()) return -1;
  if (!fds.empty()) *passed = std::move(fds.front());
  return static_cast<ssize_t>(*n);
}

// The Status a child reported before it could exec.
Status ReportStatus(ChildReport* r) {
  r->message[sizeof r->message - 1] = '\0';
  switch (static_cast<Code>(r->code)) {
    case Code::kNotFound: return Status::NotFound(r->message);
    case Code::kPermissionDenied: return Status::PermissionDenied(r->message);
    case Code::kInvalidArgument: return Status::InvalidArgument(r->message);
    default: return Status::Internal(r->message);
  }
}

// The clone flag of a namespace type as the OCI spec names it; 0 for an unknown one.
int CloneFlagOf(std::string_view type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

unsigned long NamespaceFlags(const std::vector<std::string>& names) {
  unsigned long flags = 0;
  for (const auto& n : names) {
    // "cgroup" and "time" are unshared by the child (see ChildMain); "user" is made by the
    // clone of Launch's helper (see CloneWithUserNamespace).
    if (n != "cgroup" && n != "user" && n != "time") flags |= static_cast<unsigned long>(CloneFlagOf(n));
  }
  return flags;
}

// clone3 with `args`, the child born in the cgroup2 directory of `plan` when it has one and
// `into` (CloneIntoCgroupOf); `plan` is left with the procs files the child still has to join
// itself. A kernel that refuses CLONE_INTO_CGROUP gets the plain clone and the whole plan.
long Clone3IntoCgroup(clone_args& args, bool into, CgroupPlan* plan) {
  CloneIntoCgroup target = into ? CloneIntoCgroupOf(*plan) : CloneIntoCgroup{};
  if (target.dir) {
    clone_args with = args;
    with.flags |= CLONE_INTO_CGROUP;
    with.cgroup = static_cast<uint64_t>(target.dir.get());
    long pid = ::syscall(SYS_clone3, &with, sizeof with);
    if (pid >= 0) {
      if (pid == 0) plan->procs_files = std::move(target.other_procs_files);
      return pid;
    }
    if (errno == ENOMEM || errno == EAGAIN) return pid;
  }
  return ::syscall(SYS_clone3, &args, sizeof args);
}

// A new time namespace's clock offsets: written before any process is in it (this one enters
// it at exec, its children at once).
Status EnterTimeNamespace(const Spec& spec) {
  if (::unshare(CLONE_NEWTIME) < 0) return os::ErrnoStatus("unshare time namespace");
  if (spec.time_offsets.empty()) return {};
  std::string text;
  for (const TimeOffset& t : spec.time_offsets) {
    text += t.clock + " " + std::to_string(t.secs) + " " + std::to_string(t.nanosecs) + "\n";
  }
  return os::WriteExisting("/proc/self/timens_offsets", text).WithContext("write the time namespace's offsets");
}

// `sync_fd`: with a user namespace or hooks, the end on which the runtime's SyncMessage and its
// go-ahead after the create hooks arrive; -1 otherwise.
[[noreturn]] void ChildMain(const Spec& spec, const CgroupPlan& cgroup, const LaunchIo& io,
                            const std::vector<int>& join_fds, const std::vector<int>& idmapped,
                            const NamespaceId& caller_mnt, int report_fd, int sync_fd) {
  auto fail = [&](const Status& st) { Fail(report_fd, kExitEngineFailed, st); };
  ResetProcess(io, report_fd);
  if (!spec.process.cpu_affinity_initial.empty()) {
    if (Status st = SetCpuAffinity(spec.process.cpu_affinity_initial); !st.ok()) fail(st);
  }
  bool user_namespace = HasNamespace(spec, "user");
  // The start FIFO, reached through this descriptor once the host's paths are gone. Opened
  // first: in a user namespace the state directory is out of reach once the process is the
  // container's root.
  UniqueFd gate;
  if (!spec.start_fifo.empty()) {
    gate.Reset(::open(spec.start_fifo.c_str(), O_PATH | O_CLOEXEC));
    if (!gate) fail(os::ErrnoStatus("open the start FIFO `" + spec.start_fifo + "`"));
  }
  SyncMessage sync{};
  if (sync_fd >= 0 &&
      os::RetryEintr([&] { return ::read(sync_fd, &sync, sizeof sync); }) != static_cast<ssize_t>(sizeof sync)) {
    ::_exit(kExitEngineFailed);  // the runtime gave up on this process
  }
  // Before the switch to the namespace's root, which may no longer write its own /proc files.
  if (NewNamespace(spec, "time")) {
    if (Status st = EnterTimeNamespace(spec); !st.ok()) fail(st);
  }
  if (user_namespace) {
    // The maps are written: become the namespace's root, so that what is made from here on
    // belongs to the mapped ids.
    if (::setresgid(0, 0, 0) < 0 || ::setresuid(0, 0, 0) < 0) {
      fail(os::ErrnoStatus("become root in the user namespace (does the config map uid and gid 0?)"));
    }
  }
  // Namespaces given by path are joined first (a pid namespace was joined by Launch).
  for (size_t i = 0; i < spec.join_namespaces.size(); ++i) {
    if (join_fds[i] >= 0 && ::setns(join_fds[i], 0) < 0) {
      fail(os::ErrnoStatus("join " + spec.join_namespaces[i].type + " namespace `" +
                           spec.join_namespaces[i].path + "`"));
    }
  }
  // Join the cgroups first, then make the cgroup namespace: rooted at the container's own
  // cgroup (v2 refuses moves across a cgroup namespace boundary). With a user namespace the
  // runtime moved this process already.
  if (!cgroup.procs_files.empty() && !user_namespace) {
    if (Status st = JoinCgroup(cgroup); !st.ok()) fail(st);
  }
  bool cgroup_namespace = NewNamespace(spec, "cgroup");
  if (cgroup_namespace && ::unshare(CLONE_NEWCGROUP) < 0) {
    fail(os::ErrnoStatus("unshare cgroup namespace"));
  }

  if (Status st = SetUpRootfs(spec, idmapped, caller_mnt, cgroup_namespace, user_namespace); !st.ok()) fail(st);
  if (!spec.hostname.empty() &&
      ::sethostname(spec.hostname.data(), spec.hostname.size()) < 0) {
    fail(os::ErrnoStatus("sethostname"));
  }
  if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0) {
    fail(os::ErrnoStatus("setdomainname"));
  }
  LoopbackUp();
  // The create hooks, before pivot_root: the runtime's own (prestart, createRuntime) while this
  // process waits, then createContainer here, in the container's namespaces.
  if (!spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty()) {
    ChildReport ask{};
    ask.exit_code = kRunHooks;
    char go = 0;
    if (os::RetryEintr([&] { return ::write(report_fd, &ask, sizeof ask); }) != static_cast<ssize_t>(sizeof ask) ||
        os::RetryEintr([&] { return ::read(sync_fd, &go, 1); }) != 1) {
      ::_exit(kExitEngineFailed);  // a hook failed: the runtime reports it and reaps this process
    }
  }
  if (!spec.hooks.create_container.empty()) {
    Status st = RunHooks(spec.hooks.create_container, "createContainer", HookState(spec, sync.host_pid, "creating"));
    if (!st.ok()) fail(st);
  }
  if (Status st = PivotInto(spec.rootfs); !st.ok()) fail(st);
  if (spec.readonly_rootfs &&
      ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) < 0) {
    fail(os::ErrnoStatus("remount / read-only"));
  }

  ExecProcess(spec.process, spec, report_fd, io, gate.get(), sync.host_pid);
}

// The container process of a config with a user namespace, made by a helper: the helper joins
// the namespaces given by path with the host's privileges (a network namespace the host owns
// cannot be joined from inside a new user namespace), then the user namespace to join, if any,
// then clones the process with the new namespaces, CLONE_NEWUSER among them so that the kernel
// makes the user namespace first and every other one owned by it. CLONE_PARENT makes the
// process the caller's child, as with the direct clone. With `cgroup`, the helper is born in
// (or joins) the container's cgroups first and the process inherits them: cheaper than the
// caller writing its pid (see JoinCgroup). Returns its pid.
Result<pid_t> CloneWithUserNamespace(const Spec& spec, const std::vector<int>& join_fds, int report_fd,
                                     const CgroupPlan* cgroup, const std::function<void()>& child_main) {
  UniqueFd pid_pipe[2];
  BD_RETURN_IF_ERROR(os::MakePipe(pid_pipe));
  CgroupPlan helper_cgroup = cgroup ? *cgroup : CgroupPlan{};
  clone_args helper_args{};
  helper_args.exit_signal = SIGCHLD;
  pid_t helper = static_cast<pid_t>(Clone3IntoCgroup(helper_args, cgroup != nullptr, &helper_cgroup));
  if (helper < 0) return os::ErrnoStatus("fork");
  if (helper == 0) {
    pid_pipe[0].Reset();
    if (Status st = JoinCgroup(helper_cgroup); !st.ok()) Fail(report_fd, kExitEngineFailed, st);
    int user_fd = -1;
    for (size_t i = 0; i < spec.join_namespaces.size(); ++i) {
      const NamespacePath& n = spec.join_namespaces[i];
      if (n.type == "user") {
        user_fd = join_fds[i];
        continue;
      }
      if (::setns(join_fds[i], CloneFlagOf(n.type)) < 0) {
        Fail(report_fd, kExitEngineFailed, os::ErrnoStatus("join " + n.type + " namespace `" + n.path + "`"));
      }
    }
    if (user_fd >= 0 && ::setns(user_fd, CLONE_NEWUSER) < 0) {
      Fail(report_fd, kExitEngineFailed, os::ErrnoStatus("join the user namespace"));
    }
    clone_args args{};
    args.flags = NamespaceFlags(spec.namespaces) | (NewNamespace(spec, "user") ? CLONE_NEWUSER : 0) | CLONE_PARENT;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) Fail(report_fd, kExitEngineFailed, os::ErrnoStatus("clone3 into new namespaces"));
    if (pid == 0) {
      pid_pipe[1].Reset();
      child_main();
    }
    pid_t out = static_cast<pid_t>(pid);
    (void)!::write(pid_pipe[1].get(), &out, sizeof out);
    ::_exit(0);
  }
  pid_pipe[1].Reset();
  pid_t pid = 0;
  ssize_t got = os::RetryEintr([&] { return ::read(pid_pipe[0].get(), &pid, sizeof pid); });
  int status = 0;
  while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof pid)) return Status::Unavailable("");  // the helper reported why
  return pid;
}

}  // namespace

Result<NamespaceId> MountNamespaceOf(const std::string& proc_dir) {
  struct stat st;
  std::string path = proc_dir + "/ns/mnt";
  if (::stat(path.c_str(), &st) < 0) return os::ErrnoStatus("stat `" + path + "`");
  return NamespaceId{st.st_dev, st.st_ino};
}

Status CheckPrivateMountNamespace(const NamespaceId& caller) {
  BD_ASSIGN_OR_RETURN(NamespaceId self, MountNamespaceOf("/proc/self"));
  bool shared = self == caller;
  // pid 1 as this /proc shows it: the machine's (or the enclosing sandbox's) init.
  if (auto init = MountNamespaceOf("/proc/1"); init.ok()) shared = shared || self == *init;
  if (shared) {
    return Status::FailedPrecondition(
        "refusing to mount: the container process is in its caller's (or the host's) mount "
        "namespace; the config must create or join a private one");
  }
  return {};
}

Result<ExecStarted> ExecIn(int target_pidfd, const Spec& spec, const Process& process,
                           const LaunchIo& io, bool detach, bool gated) {
  auto fail = [](Status st, int code = kExitEngineFailed) -> Status {
    return st.WithCommandFailure(CommandFailureOfExitCode(code));
  };
  if (process.args.empty()) return fail(Status::InvalidArgument("no command given"));
  UniqueFd report[2], pid_pipe[2], gate[2];
  if (Status st = MakeSocketPair(SOCK_SEQPACKET, report); !st.ok()) return fail(st);
  if (Status st = os::MakePipe(pid_pipe); !st.ok()) return fail(st);
  if (gated) {
    if (Status st = os::MakePipe(gate); !st.ok()) return fail(st);
  }
  // Every namespace of the container, made or joined: the pidfd's setns enters them together
  // (a user namespace first, as the kernel orders them).
  unsigned long flags = 0;
  for (const std::string& n : spec.namespaces) flags |= static_cast<unsigned long>(CloneFlagOf(n));
  for (const NamespacePath& n : spec.join_namespaces) flags |= static_cast<unsigned long>(CloneFlagOf(n.type));
  CgroupPlan cgroup = PlanFor(spec);
  if (!process.cgroup_dirs.empty()) {
    cgroup.procs_files.clear();
    for (const std::string& d : process.cgroup_dirs) cgroup.procs_files.push_back(d + "/cgroup.procs");
  }
  clone_args helper_args{};
  helper_args.exit_signal = SIGCHLD;
  pid_t parent = ::getpid();
  pid_t helper = static_cast<pid_t>(Clone3IntoCgroup(helper_args, true, &cgroup));
  if (helper < 0) return fail(os::ErrnoStatus("fork"));
  if (helper == 0) {
    report[0].Reset();
    pid_pipe[0].Reset();
    gate[1].Reset();  // only the caller holds it: its end closing is the process's end
    if (process.die_with_parent) {
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) Fail(report[1].get(), kExitEngineFailed, os::ErrnoStatus("set the parent-death signal"));
      if (::getppid() != parent) ::_exit(kExitEngineFailed);  // the parent died before the line above
    }
    // The container's cgroups first: joining its cgroup namespace would forbid the move.
    if (Status st = JoinCgroup(cgroup); !st.ok()) Fail(report[1].get(), kExitEngineFailed, st);
    if (::setns(target_pidfd, static_cast<int>(flags)) < 0) {
      Fail(report[1].get(), kExitEngineFailed, os::ErrnoStatus("join the container's namespaces"));
    }
    pid_t pid = ::fork();  // only children enter the joined pid namespace
    if (pid < 0) Fail(report[1].get(), kExitEngineFailed, os::ErrnoStatus("fork"));
    if (pid == 0) {
      pid_pipe[1].Reset();
      ResetProcess(io, report[1].get());
      if (!process.cpu_affinity_initial.empty()) {
        if (Status st = SetCpuAffinity(process.cpu_affinity_initial); !st.ok()) Fail(report[1].get(), kExitEngineFailed, st);
      }
      ExecProcess(process, spec, report[1].get(), io, -1, 0, gate[0] ? gate[0].get() : -1);
    }
    report[1].Reset();
    gate[0].Reset();
    (void)!::write(pid_pipe[1].get(), &pid, sizeof pid);
    pid_pipe[1].Reset();
    if (detach) ::_exit(0);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(ExitCodeFromWaitStatus(status));
  }
  report[1].Reset();
  pid_pipe[1].Reset();
  gate[0].Reset();
  auto helper_pidfd = os::PidfdOpen(helper);  // a child: its pid cannot be recycled yet
  ExecStarted out{os::ChildProcess(helper, helper_pidfd.ok() ? std::move(*helper_pidfd) : UniqueFd()), 0};
  ssize_t got = os::RetryEintr([&] { return ::read(pid_pipe[0].get(), &out.pid, sizeof out.pid); });
  ChildReport r{};
  ssize_t n;
  for (;;) {
    UniqueFd passed;
    n = ReadReport(report[0].get(), &r, &passed);
    if (n != static_cast<ssize_t>(sizeof r) || r.exit_code != kSeccompFd) break;
    Status st = got == sizeof out.pid ? HandOverSeccompFd(spec, out.pid, "running", passed)
                                      : Status::Internal("the exec helper sent no pid");
    if (!st.ok()) {
      if (auto pidfd = os::PidfdOpen(out.pid); pidfd.ok()) ::syscall(SYS_pidfd_send_signal, pidfd->get(), SIGKILL, nullptr, 0);
      (void)out.helper.Wait();
      return fail(st);
    }
  }
  if (n == 0 && got == sizeof out.pid && !gated) return out;  // exec'd: its end of the channel closed
  if (gated && n == static_cast<ssize_t>(sizeof r) && r.exit_code == kReady && got == sizeof out.pid) {
    out.gate = std::move(gate[1]);
    out.report = std::move(report[0]);
    return out;  // waiting for ReleaseExec
  }
  gate[1].Reset();
  (void)out.helper.Wait();
  if (n != static_cast<ssize_t>(sizeof r)) {
    return fail(Status::Internal("exec helper died before the process started"));
  }
  return fail(ReportStatus(&r), r.exit_code);
}

Status ReleaseExec(ExecStarted& started) {
  if (!started.gate || !started.report) return Status::FailedPrecondition("the exec was not gated, or was released already");
  ssize_t wrote = os::RetryEintr([&] { return ::write(started.gate.get(), "1", 1); });
  int err = errno;  // before the wait below can change it
  started.gate.Reset();
  if (wrote != 1) {
    (void)started.helper.Wait();
    return os::ErrnoStatus(err, "release the prepared exec");
  }
  ChildReport r{};
  UniqueFd passed;
  ssize_t n = ReadReport(started.report.get(), &r, &passed);
  started.report.Reset();
  if (n == 0) return {};  // exec'd: its end of the channel closed
  (void)started.helper.Wait();
  if (n != static_cast<ssize_t>(sizeof r)) return Status::Internal("exec helper died before the process started");
  return ReportStatus(&r).WithCommandFailure(CommandFailureOfExitCode(r.exit_code));
}

Status StartGated(const std::string& fifo, int pidfd) {
  // Non-blocking: opening for reading must not hang when the process is already gone.
  UniqueFd fd(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return os::ErrnoStatus("open the start FIFO `" + fifo + "`");
  pollfd fds[2] = {{fd.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, pidfd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os::ErrnoStatus("poll the start FIFO");
    if (fds[0].revents & POLLIN) {
      char c;
      if (os::RetryEintr([&] { return ::read(fd.get(), &c, 1); }) == 1) return {};
    }
    // No writer yet shows up as POLLHUP on a FIFO opened without one: wait for it.
    if (fds[1].revents & POLLIN) {
      return Status::FailedPrecondition("the container process exited before it was started");
    }
    if (fds[0].revents & POLLHUP) {
      ::usleep(1000);  // the writer has not opened its end yet
    }
  }
}

int ExitCodeFromWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

int ExitCodeOf(CommandFailure f) {
  switch (f) {
    case CommandFailure::kNotFound: return kExitNotFound;
    case CommandFailure::kCannotRun: return kExitCannotInvoke;
    case CommandFailure::kNone: break;
  }
  return kExitEngineFailed;
}

CommandFailure CommandFailureOfExitCode(int code) {
  if (code == kExitNotFound) return CommandFailure::kNotFound;
  if (code == kExitCannotInvoke) return CommandFailure::kCannotRun;
  return CommandFailure::kNone;
}

Result<os::ChildProcess> Launch(const Spec& spec, const LaunchIo& io) {
  auto fail = [](Status st, int code = kExitEngineFailed) -> Status {
    return st.WithCommandFailure(CommandFailureOfExitCode(code));
  };
  if (spec.process.args.empty()) return fail(Status::InvalidArgument("no command given"));
  UniqueFd report[2];
  if (Status st = MakeSocketPair(SOCK_SEQPACKET, report); !st.ok()) return fail(st);
  CgroupPlan cgroup = PlanFor(spec);
  if (!spec.cgroup_name.empty() && cgroup.layout == CgroupLayout::kNone) {
    return fail(Status::Unavailable("no cgroup hierarchy under " + CgroupRoot()));
  }
  if (Status st = ApplyCgroupPlan(cgroup); !st.ok()) {
    (void)RemoveCgroup(cgroup);
    return fail(st.WithContext("create the container's cgroup"));
  }
  // A cgroup that is already frozen would freeze the process in the middle of its setup and
  // this call with it: thawed for the setup, frozen again once the process is set up (the
  // container is then paused, as with runc).
  bool was_frozen = !cgroup.dirs.empty() && CgroupFrozen(cgroup);
  if (was_frozen) {
    if (Status st = FreezeCgroup(cgroup, false); !st.ok()) return fail(st.WithContext("thaw the container's cgroup"));
  }
  auto refreeze = [&] {
    if (was_frozen) (void)FreezeCgroup(cgroup, true);
  };

  // Namespaces joined by path: opened here. Without a user namespace, a pid namespace must be
  // entered before the clone (it applies to children) and the others are joined by the child;
  // with one, CloneWithUserNamespace's helper joins them all.
  bool user_namespace = HasNamespace(spec, "user");
  std::vector<UniqueFd> join_owned;
  std::vector<int> join_fds;
  for (const NamespacePath& n : spec.join_namespaces) {
    UniqueFd fd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      (void)RemoveCgroup(cgroup);
      return fail(os::ErrnoStatus("open " + n.type + " namespace `" + n.path + "`"));
    }
    // The path must hold a namespace of the type it is given as (an ipc namespace is no
    // cgroup namespace): asked of the kernel, not guessed from the path.
    int actual = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (actual < 0 || actual != CloneFlagOf(n.type)) {
      (void)RemoveCgroup(cgroup);
      return fail(actual < 0 ? os::ErrnoStatus("`" + n.path + "` is not a namespace")
                             : Status::InvalidArgument("`" + n.path + "` is not a " + n.type + " namespace"));
    }
    if (n.type == "pid" && !user_namespace) {
      if (::setns(fd.get(), CLONE_NEWPID) < 0) {
        (void)RemoveCgroup(cgroup);
        return fail(os::ErrnoStatus("join pid namespace `" + n.path + "`"));
      }
      join_fds.push_back(-1);
    } else {
      join_fds.push_back(fd.get());
    }
    join_owned.push_back(std::move(fd));
  }

  // Idmapped mounts need the host's privileges: detached and mapped here, attached by the child.
  auto idmapped = IdmappedMounts::Prepare(spec);
  if (!idmapped.ok()) {
    (void)RemoveCgroup(cgroup);
    return fail(idmapped.status());
  }
  std::vector<int> idmapped_fds = idmapped->fds();
  // Read before the clone: inside a new pid namespace the caller is out of sight.
  auto caller_mnt = MountNamespaceOf("/proc/self");
  if (!caller_mnt.ok()) {
    (void)RemoveCgroup(cgroup);
    return fail(caller_mnt.status());
  }
  // The sync socket: the process waits on it for the runtime's part (user namespace maps, cgroups,
  // its pid for the hooks' state, the go-ahead after the create hooks).
  bool sync = user_namespace || spec.hooks.Any();
  UniqueFd sync_pipe[2];
  if (sync) {
    if (Status st = MakeSocketPair(SOCK_STREAM, sync_pipe); !st.ok()) {
      (void)RemoveCgroup(cgroup);
      return fail(st);
    }
  }
  int child_sync = sync ? sync_pipe[0].get() : -1;
  // With a user namespace, the clone helper moves into the cgroups and the process inherits
  // them; not with an initial CPU affinity, which applies before the process is in its cgroup.
  bool helper_joins_cgroup = user_namespace && spec.process.cpu_affinity_initial.empty();
  os::ChildProcess child;
  if (!user_namespace) {
    int pidfd = -1;
    clone_args args{};
    args.flags = NamespaceFlags(spec.namespaces) | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    // Not born in the cgroup with an initial CPU affinity: that one applies before the process
    // is in its cgroup (and its cpuset).
    CgroupPlan child_cgroup = cgroup;
    long pid = Clone3IntoCgroup(args, spec.process.cpu_affinity_initial.empty(), &child_cgroup);
    if (pid < 0) {
      (void)RemoveCgroup(cgroup);
      return fail(os::ErrnoStatus("clone3 into new namespaces"));
    }
    if (pid == 0) {
      report[0].Reset();
      sync_pipe[1].Reset();
      ChildMain(spec, child_cgroup, io, join_fds, idmapped_fds, *caller_mnt, report[1].get(), child_sync);
    }
    child = os::ChildProcess(static_cast<pid_t>(pid), UniqueFd(pidfd));
  } else {
    std::vector<int> joined(join_fds.size(), -1);  // the helper joined them
    auto pid = CloneWithUserNamespace(spec, join_fds, report[1].get(), helper_joins_cgroup ? &cgroup : nullptr, [&] {
      report[0].Reset();
      sync_pipe[1].Reset();
      ChildMain(spec, cgroup, io, joined, idmapped_fds, *caller_mnt, report[1].get(), child_sync);
    });
    if (!pid.ok()) {
      report[1].Reset();
      ChildReport r{};
      ssize_t n = os::RetryEintr([&] { return ::read(report[0].get(), &r, sizeof r); });
      (void)RemoveCgroup(cgroup);
      if (n == static_cast<ssize_t>(sizeof r)) return fail(ReportStatus(&r), r.exit_code);
      return fail(pid.status().message().empty() ? Status::Internal("the clone helper died") : pid.status());
    }
    auto pidfd = os::PidfdOpen(*pid);  // our child (CLONE_PARENT): its pid cannot be recycled yet
    child = os::ChildProcess(*pid, pidfd.ok() ? std::move(*pidfd) : UniqueFd());
  }
  report[1].Reset();
  sync_pipe[0].Reset();
  auto abandon = [&](Status st, int code = kExitEngineFailed) -> Status {
    sync_pipe[1].Reset();
    (void)child.Signal(SIGKILL);
    (void)child.Wait();
    (void)RemoveCgroup(cgroup);
    return fail(std::move(st), code);
  };
  if (sync) {
    if (user_namespace) {
      if (NewNamespace(spec, "user")) {
        if (Status st = WriteIdMaps(child.pid(), spec.uid_mappings, spec.gid_mappings); !st.ok()) return abandon(st);
      }
      if (Status st = SetRlimitsAndOomScore(child.pid(), spec.process); !st.ok()) return abandon(st);
      if (!cgroup.procs_files.empty() && !helper_joins_cgroup) {
        if (Status st = JoinCgroup(cgroup, child.pid()); !st.ok()) return abandon(st);
      }
    }
    SyncMessage m{child.pid()};
    // If it died before reading, its report below says why.
    (void)os::RetryEintr([&] { return ::send(sync_pipe[1].get(), &m, sizeof m, MSG_NOSIGNAL); });
  }
  ChildReport r{};
  ssize_t n;
  for (;;) {
    UniqueFd passed;
    n = ReadReport(report[0].get(), &r, &passed);
    if (n == static_cast<ssize_t>(sizeof r) && r.exit_code == kSeccompFd) {
      if (Status st = HandOverSeccompFd(spec, child.pid(), "creating", passed); !st.ok()) return abandon(st);
      continue;
    }
    if (n != static_cast<ssize_t>(sizeof r) || r.exit_code != kRunHooks) break;
    std::string state = HookState(spec, child.pid(), "creating");
    Status st = RunHooks(spec.hooks.prestart, "prestart", state);
    if (st.ok()) st = RunHooks(spec.hooks.create_runtime, "createRuntime", state);
    if (!st.ok()) return abandon(st);
    if (os::RetryEintr([&] { return ::send(sync_pipe[1].get(), "1", 1, MSG_NOSIGNAL); }) != 1) break;
  }
  sync_pipe[1].Reset();
  if (n == 0 || (n == static_cast<ssize_t>(sizeof r) && r.exit_code == kReady)) {
    refreeze();
    return child;  // exec'd (its end of the channel closed), or set up and waiting to be started
  }
  auto waited = child.Wait();
  int status = waited.ok() ? *waited : 0;
  (void)RemoveCgroup(cgroup);
  if (n != static_cast<ssize_t>(sizeof r)) {
    return fail(Status::Internal("container process died during setup (status " +
                                 std::to_string(ExitCodeFromWaitStatus(status)) + ")"));
  }
  return fail(ReportStatus(&r), r.exit_code);
}

}  // namespace bd::runtime
