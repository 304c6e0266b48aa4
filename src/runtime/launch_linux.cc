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
#include "runtime/security.h"
#include "runtime/user.h"

namespace bd::runtime {
namespace {

// What the child sends back when it cannot exec. A successful exec closes the channel instead.
struct ChildReport {
  int exit_code;  // kReady: set up and waiting on the start FIFO
  int code;  // bd::Code
  char message[1024];
};

constexpr int kReady = -1;
// Set up and about to pivot_root: the runtime runs its prestart and createRuntime hooks now
// and answers on the sync socket.
constexpr int kRunHooks = -2;
// The filter with SCMP_ACT_NOTIFY rules is on: its notify descriptor comes with the report
// (SCM_RIGHTS) for the runtime to hand to the seccomp agent.
constexpr int kSeccompFd = -3;

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

// A report with descriptor `fd` attached.
bool SendReport(int report_fd, const ChildReport& r, int fd) {
  return os::SendFds(report_fd, {fd}, std::string_view(reinterpret_cast<const char*>(&r), sizeof r)).ok();
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

// What the runtime tells a container process that waits for it (see Launch): its pid as the
// runtime sees it (for the hooks' state), once the runtime has done its part (user namespace
// maps written, cgroups joined).
struct SyncMessage {
  pid_t host_pid;
};

// Set in a container's process once `start` released it: nobody reads the report channel any
// more, so a failure is told on the process's stderr (the container's log) instead.
bool g_released = false;

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

Status MountAt(const char* src, int target_fd, const char* type, unsigned long flags,
               const char* data, const std::string& shown) {
  std::string target = "/proc/self/fd/" + std::to_string(target_fd);
  if (::mount(src, target.c_str(), type, flags, data) < 0) {
    int err = errno;  // kept for callers that retry on a particular errno
    Status st = os::ErrnoStatus(err, "mount " + std::string(type ? type : "bind") + " on `" + shown + "`");
    errno = err;
    return st;
  }
  return {};
}

// Creates `path` (a directory, or an empty file when `file`) beneath `root_fd`, resolving every
// existing component inside the root, and returns an O_PATH fd to it.
Result<UniqueFd> EnsureInRoot(int root_fd, const std::string& path, bool file) {
  auto existing = os::OpenInRoot(root_fd, path, O_PATH);
  if (existing.ok()) return existing;
  std::string parent = os::Dirname(path);
  std::string base = os::Basename(path);
  UniqueFd pfd;
  if (parent == "/" || parent == ".") {
    pfd.Reset(::fcntl(root_fd, F_DUPFD_CLOEXEC, 3));
  } else {
    BD_ASSIGN_OR_RETURN(UniqueFd p, EnsureInRoot(root_fd, parent, false));
    // Reopen as a real directory fd: O_PATH fds cannot be used with mkdirat on all kernels.
    BD_ASSIGN_OR_RETURN(pfd, os::OpenInRoot(root_fd, parent, O_RDONLY | O_DIRECTORY));
  }
  if (file) {
    int fd = ::openat(pfd.get(), base.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) return os::ErrnoStatus("create `" + path + "`");
    if (fd >= 0) ::close(fd);
  } else if (::mkdirat(pfd.get(), base.c_str(), 0755) < 0 && errno != EEXIST) {
    return os::ErrnoStatus("mkdir `" + path + "`");
  }
  return os::OpenInRoot(root_fd, path, O_PATH);
}

Status MountCgroups(int root_fd, const Mount& m, const MountFlags& f, bool own_namespace,
                    bool user_namespace);

// What every mount of one container shares.
struct MountContext {
  bool cgroup_namespace = false;
  bool user_namespace = false;  // the process is in a user namespace of its own
  std::vector<std::string> deferred_ro;  // to make read-only once the devices are in (a ro /dev)
  int detached = -1;  // the idmapped tree of the mount being made (IdmappedMounts), or -1
};

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000  // linux/statfs.h; glibc 2.36 does not name it
#endif

// The flags of the mount `fd` is on (statfs), as mount(2) flags: what a bind remount must keep.
unsigned long MountedFlags(int fd) {
  struct statfs st;
  if (::fstatfs(fd, &st) < 0) return 0;
  static constexpr std::pair<unsigned long, unsigned long> kMap[] = {
      {ST_RDONLY, MS_RDONLY},     {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},
      {ST_NOEXEC, MS_NOEXEC},     {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME},
      {ST_RELATIME, MS_RELATIME}, {ST_NOSYMFOLLOW, MS_NOSYMFOLLOW}};
  unsigned long out = 0;
  for (const auto& [st_flag, ms_flag] : kMap) {
    if (static_cast<unsigned long>(st.f_flags) & st_flag) out |= ms_flag;
  }
  return out;
}

// Remounts the bind mount at `path` with the options' flags. The source mount's flags that no
// option turned off are kept (a bind of a nosuid mount stays nosuid), as runc does; in a user
// namespace they are locked and could not be cleared anyway.
Status RemountBind(int root_fd, const std::string& path, const MountFlags& f) {
  BD_ASSIGN_OR_RETURN(UniqueFd mounted, os::OpenInRoot(root_fd, path, O_PATH));
  unsigned long current = MountedFlags(mounted.get());
  constexpr unsigned long kAtime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
  unsigned long keep = current & ~f.cleared & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NODIRATIME | MS_NOSYMFOLLOW);
  if (!(f.flags & kAtime) && !(f.cleared & kAtime)) keep |= current & kAtime;
  Status st = MountAt(nullptr, mounted.get(), nullptr, MS_REMOUNT | MS_BIND | f.flags | keep, nullptr, path);
  if (st.ok() || errno != EPERM) return st;
  // Locked by a user namespace: every flag of the source as it is, plus the options' own.
  return MountAt(nullptr, mounted.get(), nullptr, MS_REMOUNT | MS_BIND | (f.flags & ~kAtime) | current,
                 nullptr, path);
}

// Applies the recursive ("rro", ...) attributes to the tree mounted at `path`.
Status SetRecursiveAttributes(int root_fd, const std::string& path, const MountFlags& f) {
  if (!f.attr_set && !f.attr_clear) return {};
  BD_ASSIGN_OR_RETURN(UniqueFd mounted, os::OpenInRoot(root_fd, path, O_PATH));
  mount_attr attr{};
  attr.attr_set = f.attr_set;
  attr.attr_clr = f.attr_clear;
  if (::mount_setattr(mounted.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
    return os::ErrnoStatus("set recursive mount attributes on `" + path + "`");
  }
  return {};
}

// Copies the tree under `from` into `to` (directories, files, symlinks, with modes and owners):
// what a tmpcopyup tmpfs starts with.
Status CopyTree(int from, int to) {
  UniqueFd dup(::fcntl(from, F_DUPFD_CLOEXEC, 3));
  DIR* d = ::fdopendir(dup.get());
  if (!d) return os::ErrnoStatus("read directory for tmpcopyup");
  (void)dup.Release();
  std::unique_ptr<DIR, int (*)(DIR*)> dir(d, ::closedir);
  ::rewinddir(d);
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(from, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) return os::ErrnoStatus("stat for tmpcopyup");
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(to, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) return os::ErrnoStatus("mkdir for tmpcopyup");
      UniqueFd sub_from(::openat(from, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd sub_to(::openat(to, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub_from || !sub_to) return os::ErrnoStatus("open directory for tmpcopyup");
      BD_RETURN_IF_ERROR(CopyTree(sub_from.get(), sub_to.get()));
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlinkat(from, e->d_name, target, sizeof target - 1);
      if (n < 0) return os::ErrnoStatus("readlink for tmpcopyup");
      target[n] = '\0';
      if (::symlinkat(target, to, e->d_name) < 0) return os::ErrnoStatus("symlink for tmpcopyup");
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd in(::openat(from, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd out(::openat(to, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777));
      if (!in || !out) return os::ErrnoStatus("copy file for tmpcopyup");
      BD_ASSIGN_OR_RETURN(std::string data, os::ReadAll(in.get()));
      BD_RETURN_IF_ERROR(os::WriteAll(out.get(), data));
    } else {
      continue;  // device nodes, sockets and FIFOs are not copied
    }
    (void)::fchownat(to, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    if (!S_ISLNK(st.st_mode)) (void)::fchmodat(to, e->d_name, st.st_mode & 07777, 0);
  }
  return {};
}

Status DoMount(int root_fd, const Mount& m, MountContext* ctx) {
  BD_RETURN_IF_ERROR(ValidateProcMount(m));
  if (m.destination == "/proc" || m.destination == "/sys") {
    // A symlink there would carry the mount wherever the image points it.
    struct stat st;
    if (::fstatat(root_fd, m.destination.c_str() + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      return Status::InvalidArgument(m.destination + " in the root filesystem is a symlink: refused");
    }
  }
  MountFlags f = ParseMountOptions(m.options);
  if (m.destination == "/dev" && m.type == "tmpfs" && (f.flags & MS_RDONLY)) {
    f.flags &= ~static_cast<unsigned long>(MS_RDONLY);  // the device nodes go in first
    ctx->deferred_ro.push_back(m.destination);
  }
  if (m.type == "cgroup" || m.type == "cgroup2") {
    BD_RETURN_IF_ERROR(MountCgroups(root_fd, m, f, ctx->cgroup_namespace, ctx->user_namespace));
    return SetRecursiveAttributes(root_fd, m.destination, f);
  }
  bool bind = f.bind || m.type == "bind";
  bool file = false;
  if (bind) {
    struct stat st;
    if (::stat(m.source.c_str(), &st) < 0) return os::ErrnoStatus("bind source `" + m.source + "`");
    file = !S_ISDIR(st.st_mode);
  }
  BD_ASSIGN_OR_RETURN(UniqueFd target, EnsureInRoot(root_fd, m.destination, file));
  if (bind && ctx->detached >= 0) {  // idmapped: the tree the runtime detached and mapped
    if (::syscall(SYS_move_mount, ctx->detached, "", target.get(), "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
      return os::ErrnoStatus("attach the idmapped mount on `" + m.destination + "`");
    }
    if (f.flags || f.cleared) BD_RETURN_IF_ERROR(RemountBind(root_fd, m.destination, f));
  } else if (bind) {
    unsigned long flags = MS_BIND | (f.recursive ? MS_REC : 0);
    BD_RETURN_IF_ERROR(MountAt(m.source.c_str(), target.get(), nullptr, flags, nullptr,
                               m.destination));
    // Bind mounts take their flags only on a remount.
    if (f.flags || f.cleared) BD_RETURN_IF_ERROR(RemountBind(root_fd, m.destination, f));
  } else {
    // A tmpfs without mode= takes the mode of the directory it covers, as with runc.
    struct stat covered;
    bool keep_mode = m.type == "tmpfs" && f.data.find("mode=") == std::string::npos &&
                     ::fstat(target.get(), &covered) == 0;
    UniqueFd below;  // what a tmpcopyup tmpfs copies, reached under the new mount
    if (f.tmpcopyup && m.type == "tmpfs") {
      auto dir = os::OpenInRoot(root_fd, m.destination, O_RDONLY | O_DIRECTORY);
      if (dir.ok()) below = std::move(*dir);
    }
    const char* data = f.data.empty() ? nullptr : f.data.c_str();
    unsigned long flags = f.flags & ~(below ? static_cast<unsigned long>(MS_RDONLY) : 0UL);
    Status st = MountAt(m.source.c_str(), target.get(), m.type.c_str(), flags, data, m.destination);
    if (!st.ok() && ctx->user_namespace && m.type == "sysfs" && errno == EPERM) {
      // sysfs needs a network namespace owned by the container's user namespace; without one
      // the host's /sys is bound instead (read-only as asked), as runc does.
      st = MountAt("/sys", target.get(), nullptr, MS_BIND | MS_REC, nullptr, m.destination);
      if (st.ok()) st = RemountBind(root_fd, m.destination, f);
    } else if (!st.ok() && m.type == "devpts" && errno == EINVAL && f.data.find("gid=") != std::string::npos) {
      // A gid the user namespace does not map: devpts without it, as runc.
      std::string without;
      for (const std::string& o : Split(f.data, ',')) {
        if (o.rfind("gid=", 0) == 0) continue;
        if (!without.empty()) without.push_back(',');
        without += o;
      }
      st = MountAt(m.source.c_str(), target.get(), m.type.c_str(), flags, without.c_str(), m.destination);
    }
    BD_RETURN_IF_ERROR(st);
    if (below) {
      BD_ASSIGN_OR_RETURN(UniqueFd top, os::OpenInRoot(root_fd, m.destination, O_RDONLY | O_DIRECTORY));
      BD_RETURN_IF_ERROR(CopyTree(below.get(), top.get()).WithContext("tmpcopyup `" + m.destination + "`"));
      if (f.flags & MS_RDONLY) {
        BD_RETURN_IF_ERROR(MountAt(nullptr, top.get(), nullptr, MS_REMOUNT | f.flags, data, m.destination));
      }
    }
    if (keep_mode && !(f.flags & MS_RDONLY)) {
      BD_ASSIGN_OR_RETURN(UniqueFd mounted, os::OpenInRoot(root_fd, m.destination, O_RDONLY | O_DIRECTORY));
      if (::fchmod(mounted.get(), covered.st_mode & 07777) < 0) {
        return os::ErrnoStatus("chmod the tmpfs on `" + m.destination + "`");
      }
    }
  }
  BD_RETURN_IF_ERROR(SetRecursiveAttributes(root_fd, m.destination, f));
  if (f.propagation) {
    BD_ASSIGN_OR_RETURN(UniqueFd mounted, os::OpenInRoot(root_fd, m.destination, O_PATH));
    BD_RETURN_IF_ERROR(MountAt(nullptr, mounted.get(), nullptr, f.propagation, nullptr,
                               m.destination));
  }
  return {};
}

// The spec's own device nodes, made beneath the root with their owner and mode.
// In a user namespace, where mknod is not allowed: the host's node at `host_path` bound onto an
// empty file at `path`, as runc does.
Status BindDevice(int root_fd, const std::string& path, const std::string& host_path) {
  BD_ASSIGN_OR_RETURN(UniqueFd target, EnsureInRoot(root_fd, path, true));
  return MountAt(host_path.c_str(), target.get(), nullptr, MS_BIND, nullptr, path);
}

Status CreateSpecDevices(int root_fd, const std::vector<Device>& devices, bool user_namespace) {
  for (const Device& d : devices) {
    if (user_namespace) {
      BD_RETURN_IF_ERROR(BindDevice(root_fd, d.path, d.path));
      continue;
    }
    std::string parent = os::Dirname(d.path);
    BD_ASSIGN_OR_RETURN(UniqueFd p, EnsureInRoot(root_fd, parent, false));
    BD_ASSIGN_OR_RETURN(UniqueFd dir, os::OpenInRoot(root_fd, parent, O_RDONLY | O_DIRECTORY));
    std::string base = os::Basename(d.path);
    mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
    ::unlinkat(dir.get(), base.c_str(), 0);  // replace whatever the image has there
    if (::mknodat(dir.get(), base.c_str(), type | (d.mode & 07777),
                  makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor))) < 0) {
      return os::ErrnoStatus("mknod `" + d.path + "`");
    }
    if (::fchownat(dir.get(), base.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        ::fchmodat(dir.get(), base.c_str(), d.mode & 07777, 0) < 0) {
      return os::ErrnoStatus("set owner and mode of `" + d.path + "`");
    }
  }
  return {};
}

// Sysctls of the container's own namespaces, through its /proc (before it is made read-only).
Status WriteSysctls(int root_fd, const std::vector<std::pair<std::string, std::string>>& sysctl) {
  for (const auto& [key, value] : sysctl) {
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos) {
      return Status::InvalidArgument("invalid sysctl name `" + key + "`");
    }
    std::string path = "/proc/sys/" + key;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    BD_ASSIGN_OR_RETURN(UniqueFd fd, os::OpenInRoot(root_fd, path, O_WRONLY));
    if (Status st = os::WriteAll(fd.get(), value); !st.ok()) {
      return st.WithContext("sysctl " + key);
    }
  }
  return {};
}

// A `cgroup` mount: the container's view of its own cgroups. In a cgroup namespace a fresh
// mount is rooted at the container's cgroup; without one, the container's directories of the
// host's hierarchies are bound instead. cgroup2 where the host uses v2; on v1 a tmpfs holding
// one mount per hierarchy /proc/self/cgroup lists, as the host arranges them.
Status MountCgroups(int root_fd, const Mount& m, const MountFlags& f, bool own_namespace,
                    bool user_namespace) {
  BD_ASSIGN_OR_RETURN(UniqueFd target, EnsureInRoot(root_fd, m.destination, false));
  BD_ASSIGN_OR_RETURN(std::string self, os::ReadFile("/proc/self/cgroup"));
  std::string host_root = CgroupRoot();
  bool v2 = DetectCgroupLayout(host_root) == CgroupLayout::kV2;
  // v1 hierarchies cannot be mounted from a user namespace: their directories are bound.
  if (user_namespace && !v2) own_namespace = false;
  // One hierarchy mounted (or bound) at `point`: `name` under the host's root, `path` the
  // process's cgroup in it.
  auto mount_one = [&](int point, const std::string& type, const std::string& data,
                       const std::string& host_dir, const std::string& shown) -> Status {
    if (own_namespace) {
      return MountAt(type.c_str(), point, type.c_str(), f.flags, data.empty() ? nullptr : data.c_str(),
                     shown);
    }
    BD_RETURN_IF_ERROR(MountAt(host_dir.c_str(), point, nullptr, MS_BIND | MS_REC, nullptr, shown));
    return RemountBind(root_fd, shown, f);
  };
  auto lines = Split(self, '\n');
  if (v2) {
    for (const std::string& line : lines) {
      if (line.rfind("0::", 0) == 0) {
        return mount_one(target.get(), "cgroup2", "", host_root + line.substr(3), m.destination);
      }
    }
    return Status::NotFound("no cgroup2 entry in /proc/self/cgroup");
  }
  unsigned long tmpfs_flags = f.flags & ~static_cast<unsigned long>(MS_RDONLY);
  BD_RETURN_IF_ERROR(MountAt("tmpfs", target.get(), "tmpfs", tmpfs_flags, "mode=755", m.destination));
  BD_ASSIGN_OR_RETURN(UniqueFd dir, os::OpenInRoot(root_fd, m.destination, O_RDONLY | O_DIRECTORY));
  for (const std::string& line : lines) {
    auto fields = Split(line, ':');  // id:controllers:path
    if (fields.size() < 3) continue;
    const std::string& controllers = fields[1];
    std::string name = controllers, type = "cgroup", data = controllers;
    if (controllers.empty()) {
      name = "unified";
      type = "cgroup2";
      data.clear();
    } else if (controllers.rfind("name=", 0) == 0) {
      name = controllers.substr(5);
      data = "none," + controllers;
    }
    std::string host_dir = host_root + "/" + name + fields[2];
    if (!own_namespace && !os::Exists(host_dir)) continue;  // a hierarchy the host hides
    if (::mkdirat(dir.get(), name.c_str(), 0755) < 0 && errno != EEXIST) {
      return os::ErrnoStatus("mkdir cgroup mount point " + name);
    }
    std::string shown = m.destination + "/" + name;
    BD_ASSIGN_OR_RETURN(UniqueFd point, os::OpenInRoot(root_fd, shown, O_PATH));
    BD_RETURN_IF_ERROR(mount_one(point.get(), type, data, host_dir, shown));
    // "cpu,cpuacct" is also reachable as "cpu" and "cpuacct", as on the host.
    if (controllers.find(',') != std::string::npos) {
      for (const std::string& c : Split(controllers, ',')) ::symlinkat(name.c_str(), dir.get(), c.c_str());
    }
  }
  if (f.flags & MS_RDONLY) {
    BD_RETURN_IF_ERROR(MountAt(nullptr, dir.get(), nullptr, MS_REMOUNT | MS_RDONLY | tmpfs_flags,
                               "mode=755", m.destination));
  }
  return {};
}

Status CreateDevices(int root_fd, bool user_namespace) {
  auto dev = os::OpenInRoot(root_fd, "/dev", O_RDONLY | O_DIRECTORY);
  if (!dev.ok()) return {};  // no /dev mount requested
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  static constexpr Node kNodes[] = {{"null", 1, 3},    {"zero", 1, 5}, {"full", 1, 7},
                                    {"random", 1, 8},  {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const Node& n : kNodes) {
    if (user_namespace) {
      std::string path = std::string("/dev/") + n.name;
      BD_RETURN_IF_ERROR(BindDevice(root_fd, path, path));
      continue;
    }
    if (::mknodat(dev->get(), n.name, S_IFCHR | 0666, makedev(n.major, n.minor)) < 0 &&
        errno != EEXIST) {
      return os::ErrnoStatus(std::string("mknod /dev/") + n.name);
    }
    // The umask took bits from mknod's mode: every user may read and write these (as in
    // Docker and runc), or a service running as non-root cannot even open /dev/null.
    if (::fchmodat(dev->get(), n.name, 0666, 0) < 0) {
      return os::ErrnoStatus(std::string("chmod /dev/") + n.name);
    }
  }
  static constexpr std::pair<const char*, const char*> kLinks[] = {
      {"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"},
      {"stdout", "/proc/self/fd/1"},   {"stderr", "/proc/self/fd/2"},
      {"ptmx", "pts/ptmx"},            {"core", "/proc/kcore"}};
  for (const auto& [name, target] : kLinks) {
    if (::symlinkat(target, dev->get(), name) < 0 && errno != EEXIST) {
      return os::ErrnoStatus(std::string("symlink /dev/") + name);
    }
  }
  return {};
}

// Masks and read-only paths, resolved inside the root like every other mount target.
Status ProtectPaths(int root_fd, const Spec& spec) {
  for (const std::string& path : spec.masked_paths) {
    auto target = os::OpenInRoot(root_fd, path, O_PATH | O_NOFOLLOW);
    if (!target.ok()) continue;  // nothing there to hide
    struct stat st;
    if (::fstat(target->get(), &st) < 0) return os::ErrnoStatus("stat `" + path + "`");
    if (S_ISDIR(st.st_mode)) {
      BD_RETURN_IF_ERROR(MountAt("tmpfs", target->get(), "tmpfs", MS_RDONLY, nullptr, path));
    } else {
      BD_RETURN_IF_ERROR(MountAt("/dev/null", target->get(), nullptr, MS_BIND, nullptr, path));
    }
  }
  for (const std::string& path : spec.readonly_paths) {
    auto target = os::OpenInRoot(root_fd, path, O_PATH | O_NOFOLLOW);
    if (!target.ok()) continue;
    BD_RETURN_IF_ERROR(MountAt(("/proc/self/fd/" + std::to_string(target->get())).c_str(),
                               target->get(), nullptr, MS_BIND | MS_REC, nullptr, path));
    BD_ASSIGN_OR_RETURN(UniqueFd mounted, os::OpenInRoot(root_fd, path, O_PATH | O_NOFOLLOW));
    BD_RETURN_IF_ERROR(MountAt(nullptr, mounted.get(), nullptr,
                               MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                               nullptr, path));
  }
  return {};
}

void LoopbackUp() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ::ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  ::close(s);
}

// Only after CheckPrivateMountNamespace (ChildMain does it before its first mount).
Status PivotInto(const std::string& rootfs) {
  if (::chdir(rootfs.c_str()) < 0) return os::ErrnoStatus("chdir `" + rootfs + "`");
  // pivot_root(".", "."): the old root lands on top of the new one and is detached at once.
  if (::syscall(SYS_pivot_root, ".", ".") < 0) return os::ErrnoStatus("pivot_root");
  if (::umount2(".", MNT_DETACH) < 0) return os::ErrnoStatus("detach old root");
  if (::chdir("/") < 0) return os::ErrnoStatus("chdir /");
  return {};
}

}  // namespace

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

namespace {

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

// The last steps of every container process, shared by a container's first process and by
// `exec`: user from the container's /etc/passwd, working directory, capabilities,
// no_new_privs, seccomp, PATH lookup, exec. Runs inside the container's root.
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

// `host_pid`, for a container's first process: its pid as the runtime sees it, for the state
// its startContainer hooks read (they run last before exec, once `start` released it).
[[noreturn]] void ExecProcess(const Process& proc, const Spec& spec, int report_fd,
                              const LaunchIo& io, int gate_fd = -1, pid_t host_pid = 0) {
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

// The mount point `path` is on: the longest mount point in /proc/self/mountinfo above it.
std::string MountPointOf(const std::string& path) {
  std::string best = "/";
  auto info = os::ReadFile("/proc/self/mountinfo");
  if (!info.ok()) return best;
  for (const std::string& line : Split(*info, '\n')) {
    auto fields = Split(line, ' ');
    if (fields.size() < 5) continue;
    const std::string& mp = fields[4];
    bool above = mp == "/" || path == mp || (path.rfind(mp, 0) == 0 && path.size() > mp.size() && path[mp.size()] == '/');
    if (above && mp.size() > best.size()) best = mp;
  }
  return best;
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

  // The last line of defence: no code path mounts or pivots in the caller's mount namespace.
  if (Status st = CheckPrivateMountNamespace(caller_mnt); !st.ok()) fail(st);
  // Nothing mounted from here on propagates back to the host (linux.rootfsPropagation may ask
  // for another type; "shared" keeps the host's peer groups). With "shared" or "unbindable" the
  // rootfs' parent mount is then made private, as the bind and pivot_root need.
  // "unbindable" applies to / alone, as runc's, or no bind source on it could be bound.
  unsigned long propagation = spec.rootfs_propagation ? spec.rootfs_propagation : static_cast<unsigned long>(MS_SLAVE);
  if (::mount(nullptr, "/", nullptr, (propagation == MS_UNBINDABLE ? 0 : MS_REC) | propagation, nullptr) < 0) {
    fail(os::ErrnoStatus("set the propagation of /"));
  }
  if (propagation == MS_SHARED || propagation == MS_UNBINDABLE) {
    std::string parent = MountPointOf(os::Dirname(spec.rootfs));
    if (::mount(nullptr, parent.c_str(), nullptr, MS_PRIVATE, nullptr) < 0) {
      fail(os::ErrnoStatus("make the rootfs' parent mount `" + parent + "` private"));
    }
  }
  if (spec.overlay) {
    auto data = OverlayData(*spec.overlay);
    if (!data.ok()) fail(data.status());
    if (::mount("overlay", spec.rootfs.c_str(), "overlay", 0, data->c_str()) < 0) {
      fail(os::ErrnoStatus("mount overlay on `" + spec.rootfs + "`"));
    }
  } else if (::mount(spec.rootfs.c_str(), spec.rootfs.c_str(), nullptr, MS_BIND | MS_REC,
                     nullptr) < 0) {
    fail(os::ErrnoStatus("bind rootfs `" + spec.rootfs + "`"));
  }
  UniqueFd root(::open(spec.rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) fail(os::ErrnoStatus("open rootfs"));
  MountContext mounts;
  mounts.cgroup_namespace = cgroup_namespace;
  mounts.user_namespace = user_namespace;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    mounts.detached = i < idmapped.size() ? idmapped[i] : -1;
    Status st = DoMount(root.get(), spec.mounts[i], &mounts);
    if (!st.ok()) fail(st);
  }
  if (Status st = CreateDevices(root.get(), user_namespace); !st.ok()) fail(st);
  if (Status st = CreateSpecDevices(root.get(), spec.devices, user_namespace); !st.ok()) fail(st);
  for (const std::string& path : mounts.deferred_ro) {
    auto mounted = os::OpenInRoot(root.get(), path, O_PATH);
    if (!mounted.ok()) fail(mounted.status());
    if (Status st = MountAt(nullptr, mounted->get(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID, nullptr, path);
        !st.ok()) {
      fail(st);
    }
  }
  if (Status st = WriteSysctls(root.get(), spec.sysctl); !st.ok()) fail(st);
  if (Status st = ProtectPaths(root.get(), spec); !st.ok()) fail(st);
  if (!spec.hostname.empty() &&
      ::sethostname(spec.hostname.data(), spec.hostname.size()) < 0) {
    fail(os::ErrnoStatus("sethostname"));
  }
  if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0) {
    fail(os::ErrnoStatus("setdomainname"));
  }
  LoopbackUp();
  // A missing working directory is made now, inside the root, while it is still writable.
  if (!spec.process.cwd.empty() && spec.process.cwd != "/") {
    if (auto cwd = EnsureInRoot(root.get(), spec.process.cwd, false); !cwd.ok()) fail(cwd.status());
  }
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
                           const LaunchIo& io, bool detach) {
  auto fail = [](Status st, int code = kExitEngineFailed) -> Status {
    return st.WithCommandFailure(CommandFailureOfExitCode(code));
  };
  if (process.args.empty()) return fail(Status::InvalidArgument("no command given"));
  UniqueFd report[2], pid_pipe[2];
  if (Status st = MakeSocketPair(SOCK_SEQPACKET, report); !st.ok()) return fail(st);
  if (Status st = os::MakePipe(pid_pipe); !st.ok()) return fail(st);
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
  pid_t helper = static_cast<pid_t>(Clone3IntoCgroup(helper_args, true, &cgroup));
  if (helper < 0) return fail(os::ErrnoStatus("fork"));
  if (helper == 0) {
    report[0].Reset();
    pid_pipe[0].Reset();
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
      ExecProcess(process, spec, report[1].get(), io);
    }
    report[1].Reset();
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
  if (n == 0 && got == sizeof out.pid) return out;  // exec'd: its end of the channel closed
  (void)out.helper.Wait();
  if (n != static_cast<ssize_t>(sizeof r)) {
    return fail(Status::Internal("exec helper died before the process started"));
  }
  return fail(ReportStatus(&r), r.exit_code);
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
