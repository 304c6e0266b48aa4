#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "base/strings.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/live_mount.h"

namespace bd::runtime {
namespace {

// Runs `fn` in a forked child; its Status comes back over a pipe.
Status InHelper(const std::function<Status()>& fn) {
  UniqueFd report[2];
  BD_RETURN_IF_ERROR(os::MakePipe(report));
  pid_t pid = ::fork();
  if (pid < 0) return os::ErrnoStatus("fork");
  if (pid == 0) {
    report[0].Reset();
    Status st = fn();
    if (!st.ok()) {
      std::string msg = std::to_string(static_cast<int>(st.code())) + " " + st.message();
      (void)!::write(report[1].get(), msg.data(), msg.size());
      ::_exit(1);
    }
    ::_exit(0);
  }
  report[1].Reset();
  auto msg = os::ReadAll(report[0].get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (!msg.ok() || msg->empty()) return Status::Internal("the mount helper died");
  size_t space = msg->find(' ');
  auto code = ParseInt(msg->substr(0, space)).value_or(static_cast<int>(Code::kInternal));
  std::string text = space == std::string::npos ? "" : msg->substr(space + 1);
  switch (static_cast<Code>(code)) {
    case Code::kNotFound: return Status::NotFound(text);
    case Code::kAlreadyExists: return Status::AlreadyExists(text);
    case Code::kFailedPrecondition: return Status::FailedPrecondition(text);
    case Code::kInvalidArgument: return Status::InvalidArgument(text);
    case Code::kPermissionDenied: return Status::PermissionDenied(text);
    case Code::kUnavailable: return Status::Unavailable(text);
    default: return Status::Internal(text);
  }
}

// Enters the mount namespace and the root of `pid` (call in a helper only).
Status EnterContainer(pid_t pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  UniqueFd ns(::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd root(::open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ns || !root) return os::ErrnoStatus("open the container's namespace (is it running?)");
  if (::setns(ns.get(), CLONE_NEWNS) < 0) return os::ErrnoStatus("join the container's mount namespace");
  if (::fchdir(root.get()) < 0 || ::chroot(".") < 0 || ::chdir("/") < 0) {
    return os::ErrnoStatus("enter the container's root");
  }
  return {};
}

// Mount points of the calling process's namespace, relative to its root.
bool MountedHere(const std::string& mountinfo, const std::string& target) {
  for (const std::string& line : Split(mountinfo, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 4 && f[4] == target) return true;
  }
  return false;
}

// Copies the tree under `src` into directory `dst` (a fresh tmpfs), keeping modes.
Status CopyTree(int src, int dst) {
  UniqueFd dup(::fcntl(src, F_DUPFD_CLOEXEC, 0));
  DIR* d = ::fdopendir(dup.get());
  if (!d) return os::ErrnoStatus("read the secret tree");
  (void)dup.Release();
  Status result;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      result = os::ErrnoStatus("stat " + name);
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst, name.c_str(), st.st_mode & 07777) < 0) {
        result = os::ErrnoStatus("mkdir " + name);
        break;
      }
      UniqueFd s(::openat(src, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd t(::openat(dst, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!s || !t) {
        result = os::ErrnoStatus("open " + name);
        break;
      }
      result = CopyTree(s.get(), t.get());
      if (!result.ok()) break;
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd s(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd t(::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          st.st_mode & 07777));
      if (!s || !t) {
        result = os::ErrnoStatus("copy " + name);
        break;
      }
      auto data = os::ReadAll(s.get());
      if (!data.ok()) {
        result = data.status();
        break;
      }
      result = os::WriteAll(t.get(), *data);
      if (!result.ok()) break;
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlinkat(src, name.c_str(), target, sizeof target - 1);
      if (n < 0) {
        result = os::ErrnoStatus("readlink " + name);
        break;
      }
      target[n] = '\0';
      if (::symlinkat(target, dst, name.c_str()) < 0) {
        result = os::ErrnoStatus("symlink " + name);
        break;
      }
    }
  }
  ::closedir(d);
  return result;
}

// A detached, read-only mount of `m.source` (or of a tmpfs holding a copy of it).
Result<UniqueFd> DetachedMount(const LiveMount& m) {
  UniqueFd tree;
  if (m.copy_to_memory) {
    UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
    if (!fs) return os::ErrnoStatus("fsopen tmpfs");
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
        ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) {
      return os::ErrnoStatus("create a tmpfs");
    }
    tree.Reset(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    if (!tree) return os::ErrnoStatus("fsmount tmpfs");
    UniqueFd src(::open(m.source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!src) return os::ErrnoStatus("open `" + m.source + "`");
    UniqueFd dst(::openat(tree.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dst) return os::ErrnoStatus("open the tmpfs");
    BD_RETURN_IF_ERROR(CopyTree(src.get(), dst.get()));
  } else {
    tree.Reset(::open_tree(AT_FDCWD, m.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (!tree) return os::ErrnoStatus("open_tree `" + m.source + "`");
  }
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.propagation = MS_PRIVATE;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
    return os::ErrnoStatus("make the mount read-only");
  }
  return tree;
}

}  // namespace

bool LiveMountSupported() {
  static const bool supported = [] {
    // Probe with invalid arguments: ENOSYS means the call does not exist.
    errno = 0;
    ::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0);
    bool setattr = errno != ENOSYS;
    errno = 0;
    ::syscall(SYS_open_tree, -1, "", 0);
    bool open_tree = errno != ENOSYS;
    return setattr && open_tree;
  }();
  return supported;
}

Status AttachLiveMount(pid_t pid, const LiveMount& m) {
  if (m.target.empty() || m.target[0] != '/') {
    return Status::InvalidArgument("mount target `" + m.target + "` is not absolute");
  }
  if (!LiveMountSupported()) {
    return Status::Unavailable("this kernel lacks open_tree/move_mount/mount_setattr (Linux 5.12+)");
  }
  return InHelper([&]() -> Status {
    // The clone is made in the host's namespace, where the source lives.
    // The container's mount table, as its first process sees it (the helper never enters
    // its pid namespace, so the container's /proc has no /proc/self for it).
    BD_ASSIGN_OR_RETURN(bool mounted, IsMountedIn(pid, m.target));
    if (mounted) return Status::AlreadyExists("something is already mounted at " + m.target);
    BD_ASSIGN_OR_RETURN(UniqueFd tree, DetachedMount(m));
    BD_RETURN_IF_ERROR(EnterContainer(pid));
    if (Status st = os::MkdirAll(m.target, 0755); !st.ok()) {
      return st.WithContext("make " + m.target + " in the container");
    }
    if (::move_mount(tree.get(), "", AT_FDCWD, m.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
      return os::ErrnoStatus("move_mount to " + m.target);
    }
    return {};
  });
}

Status DetachLiveMount(pid_t pid, const std::string& target, const std::string& keep_parent) {
  return InHelper([&]() -> Status {
    BD_RETURN_IF_ERROR(EnterContainer(pid));
    if (::umount2(target.c_str(), MNT_DETACH) < 0) {
      if (errno == EINVAL || errno == ENOENT) return Status::NotFound("nothing is mounted at " + target);
      return os::ErrnoStatus("unmount " + target);
    }
    // The empty directories go too (best effort: a read-only root keeps them).
    for (std::string dir = target; dir.size() > keep_parent.size() && dir != "/"; dir = os::Dirname(dir)) {
      if (::rmdir(dir.c_str()) < 0) break;
    }
    return {};
  });
}

Result<bool> IsMountedIn(pid_t pid, const std::string& target) {
  BD_ASSIGN_OR_RETURN(std::string mountinfo, os::ReadFile("/proc/" + std::to_string(pid) + "/mountinfo"));
  return MountedHere(mountinfo, target);
}

}  // namespace bd::runtime
