// A container's root made ready before pivot_root: propagation, the overlay, the spec's mounts,
// /dev, sysctls, masked and read-only paths (see launch_internal.h).
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
#include "runtime/mount_plan.h"
#include "runtime/security.h"
#include "runtime/user.h"


namespace bd::runtime {
namespace {

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

// One of the spec's mounts, as its step of the plan says (options parsed, a read-only /dev
// already turned into a later kReadOnly step).
Status DoMount(int root_fd, const Mount& m, const MountStep& step, MountContext* ctx) {
  if (m.destination == "/proc" || m.destination == "/sys") {
    // A symlink there would carry the mount wherever the image points it.
    struct stat st;
    if (::fstatat(root_fd, m.destination.c_str() + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      return Status::InvalidArgument(m.destination + " in the root filesystem is a symlink: refused");
    }
  }
  const MountFlags& f = step.flags;
  if (step.kind == MountStep::Kind::kCgroup) {
    BD_RETURN_IF_ERROR(MountCgroups(root_fd, m, f, ctx->cgroup_namespace, ctx->user_namespace));
    return SetRecursiveAttributes(root_fd, m.destination, f);
  }
  bool bind = step.bind;
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

// A masked path, resolved inside the root like every other mount target: a read-only tmpfs
// over a directory, /dev/null over anything else; nothing there, nothing to hide.
Status MaskPath(int root_fd, const std::string& path) {
  auto target = os::OpenInRoot(root_fd, path, O_PATH | O_NOFOLLOW);
  if (!target.ok()) return {};
  struct stat st;
  if (::fstat(target->get(), &st) < 0) return os::ErrnoStatus("stat `" + path + "`");
  if (S_ISDIR(st.st_mode)) return MountAt("tmpfs", target->get(), "tmpfs", MS_RDONLY, nullptr, path);
  return MountAt("/dev/null", target->get(), nullptr, MS_BIND, nullptr, path);
}

// A read-only path: bound onto itself, then remounted read-only, nosuid, nodev, noexec.
Status ReadOnlyPath(int root_fd, const std::string& path) {
  auto target = os::OpenInRoot(root_fd, path, O_PATH | O_NOFOLLOW);
  if (!target.ok()) return {};
  BD_RETURN_IF_ERROR(MountAt(("/proc/self/fd/" + std::to_string(target->get())).c_str(), target->get(), nullptr,
                             MS_BIND | MS_REC, nullptr, path));
  BD_ASSIGN_OR_RETURN(UniqueFd mounted, os::OpenInRoot(root_fd, path, O_PATH | O_NOFOLLOW));
  return MountAt(nullptr, mounted.get(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 nullptr, path);
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

}  // namespace

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

// Everything mounted for the container beneath its root, in the new mount namespace: the plan
// of PlanRootfs (runtime/mount_plan.h), applied step by step.
Status SetUpRootfs(const Spec& spec, const std::vector<int>& idmapped, const NamespaceId& caller_mnt,
                   bool cgroup_namespace, bool user_namespace) {
  // The last line of defence: no code path mounts or pivots in the caller's mount namespace.
  if (Status st = CheckPrivateMountNamespace(caller_mnt); !st.ok()) return st;
  BD_ASSIGN_OR_RETURN(std::vector<MountStep> plan, PlanRootfs(spec));
  UniqueFd root;
  MountContext mounts;
  mounts.cgroup_namespace = cgroup_namespace;
  mounts.user_namespace = user_namespace;
  for (const MountStep& step : plan) {
    Status st;
    switch (step.kind) {
      case MountStep::Kind::kPropagation:
        if (::mount(nullptr, "/", nullptr, (step.propagation == MS_UNBINDABLE ? 0 : MS_REC) | step.propagation,
                    nullptr) < 0) {
          return os::ErrnoStatus("set the propagation of /");
        }
        if (step.private_parent) {
          std::string parent = MountPointOf(os::Dirname(spec.rootfs));
          if (::mount(nullptr, parent.c_str(), nullptr, MS_PRIVATE, nullptr) < 0) {
            return os::ErrnoStatus("make the rootfs' parent mount `" + parent + "` private");
          }
        }
        break;
      case MountStep::Kind::kRootfs:
        if (!step.overlay_data.empty()) {
          if (::mount("overlay", spec.rootfs.c_str(), "overlay", 0, step.overlay_data.c_str()) < 0) {
            return os::ErrnoStatus("mount overlay on `" + spec.rootfs + "`");
          }
        } else if (::mount(spec.rootfs.c_str(), spec.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
          return os::ErrnoStatus("bind rootfs `" + spec.rootfs + "`");
        }
        root.Reset(::open(spec.rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root) return os::ErrnoStatus("open rootfs");
        break;
      case MountStep::Kind::kMount:
      case MountStep::Kind::kCgroup: {
        size_t i = static_cast<size_t>(step.index);
        mounts.detached = i < idmapped.size() ? idmapped[i] : -1;
        st = DoMount(root.get(), spec.mounts[i], step, &mounts);
        break;
      }
      case MountStep::Kind::kDevices:
        st = CreateDevices(root.get(), user_namespace);
        break;
      case MountStep::Kind::kSpecDevices:
        st = CreateSpecDevices(root.get(), spec.devices, user_namespace);
        break;
      case MountStep::Kind::kReadOnly: {
        BD_ASSIGN_OR_RETURN(UniqueFd mounted, os::OpenInRoot(root.get(), step.path, O_PATH));
        st = MountAt(nullptr, mounted.get(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID, nullptr, step.path);
        break;
      }
      case MountStep::Kind::kSysctls:
        st = WriteSysctls(root.get(), spec.sysctl);
        break;
      case MountStep::Kind::kMask:
        st = MaskPath(root.get(), step.path);
        break;
      case MountStep::Kind::kReadOnlyPath:
        st = ReadOnlyPath(root.get(), step.path);
        break;
      case MountStep::Kind::kWorkingDir:
        st = EnsureInRoot(root.get(), step.path, false).status();
        break;
    }
    if (!st.ok()) return st;
  }
  return {};
}

}  // namespace bd::runtime
