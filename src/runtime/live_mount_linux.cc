#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
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

namespace {

// What the helper does inside the container, prepared by the parent: no allocation, no
// library state, only system calls on ready-made arguments (the helper shares the parent's
// memory, see RunInContainer).
struct ContainerOp {
  int ns_fd = -1;
  int root_fd = -1;
  int tree_fd = -1;                 // attach: the detached mount to move in
  const char* target = nullptr;
  std::vector<const char*> dirs;    // attach: made in order; detach: removed in order
  int err = 0;                      // errno of the failing step
  const char* step = "";
};

int ContainerOpMain(void* arg) {
  auto* op = static_cast<ContainerOp*>(arg);
  auto fail = [&](const char* step) {
    op->err = errno;
    op->step = step;
    return 1;
  };
  if (::setns(op->ns_fd, CLONE_NEWNS) < 0) return fail("join the container's mount namespace");
  if (::fchdir(op->root_fd) < 0 || ::chroot(".") < 0 || ::chdir("/") < 0) return fail("enter the container's root");
  if (op->tree_fd >= 0) {
    for (const char* d : op->dirs) {
      if (::mkdir(d, 0755) < 0 && errno != EEXIST) return fail("make the mount point");
    }
    if (::move_mount(op->tree_fd, "", AT_FDCWD, op->target, MOVE_MOUNT_F_EMPTY_PATH) < 0) return fail("move_mount");
    return 0;
  }
  if (::umount2(op->target, MNT_DETACH) < 0) return fail("unmount");
  for (const char* d : op->dirs) {
    if (::rmdir(d) < 0) break;  // best effort: a read-only root keeps them
  }
  return 0;
}

// Runs `op` in a helper that shares this process's memory and waits for it (CLONE_VM |
// CLONE_VFORK, as posix_spawn does): no page tables are copied, so it costs a few tens of
// microseconds instead of a fork's half millisecond. It does not share the filesystem
// context, so it may join another mount namespace and chroot without touching ours.
Status RunInContainer(pid_t pid, ContainerOp* op) {
  std::string proc = "/proc/" + std::to_string(pid);
  UniqueFd ns(::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd root(::open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ns || !root) return os::ErrnoStatus("open the container's namespace (is it running?)");
  op->ns_fd = ns.get();
  op->root_fd = root.get();
  alignas(16) static thread_local char stack[64 * 1024];
  pid_t child = ::clone(ContainerOpMain, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, op);
  if (child < 0) return os::ErrnoStatus("start the mount helper");
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (op->err) return os::ErrnoStatus(op->err, std::string(op->step) + " " + op->target);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Status::Internal("the mount helper failed");
  return {};
}

// "/capsules/a/1.0" -> {"/capsules", "/capsules/a", "/capsules/a/1.0"}.
std::vector<std::string> Prefixes(const std::string& path) {
  std::vector<std::string> out;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') out.push_back(path.substr(0, i));
  }
  return out;
}

}  // namespace

Status AttachLiveMount(pid_t pid, const LiveMount& m) {
  if (m.target.empty() || m.target[0] != '/' || m.target.find("/../") != std::string::npos) {
    return Status::InvalidArgument("mount target `" + m.target + "` is not a clean absolute path");
  }
  if (!LiveMountSupported()) {
    return Status::Unavailable("this kernel lacks open_tree/move_mount/mount_setattr (Linux 5.12+)");
  }
  BD_ASSIGN_OR_RETURN(bool mounted, IsMountedIn(pid, m.target));
  if (mounted) return Status::AlreadyExists("something is already mounted at " + m.target);
  // The clone is made here, in the host's namespace, where the source lives.
  BD_ASSIGN_OR_RETURN(UniqueFd tree, DetachedMount(m));
  std::vector<std::string> dirs = Prefixes(m.target);
  ContainerOp op;
  op.tree_fd = tree.get();
  op.target = m.target.c_str();
  for (const std::string& d : dirs) op.dirs.push_back(d.c_str());
  return RunInContainer(pid, &op);
}

Status DetachLiveMount(pid_t pid, const std::string& target, const std::string& keep_parent) {
  BD_ASSIGN_OR_RETURN(bool mounted, IsMountedIn(pid, target));
  if (!mounted) return Status::NotFound("nothing is mounted at " + target);
  std::vector<std::string> dirs;
  for (std::string dir = target; dir.size() > keep_parent.size() && dir != "/"; dir = os::Dirname(dir)) {
    dirs.push_back(dir);
  }
  ContainerOp op;
  op.target = target.c_str();
  for (const std::string& d : dirs) op.dirs.push_back(d.c_str());
  return RunInContainer(pid, &op);
}

namespace {

bool IsMountPoint(const std::string& path) {
  auto info = os::ReadFile("/proc/self/mountinfo");
  return info.ok() && MountedHere(*info, path);
}

Result<std::string> HostPath(const std::string& host_dir, const std::string& container_dir,
                             const std::string& target) {
  if (target.rfind(container_dir + "/", 0) != 0 || target.find("/../") != std::string::npos ||
      target.find("/./") != std::string::npos) {
    return Status::InvalidArgument("`" + target + "` is not below " + container_dir);
  }
  return host_dir + target.substr(container_dir.size());
}

}  // namespace

// Mounts are made read-only in a private staging directory and only then moved under the
// shared directory: propagation copies a mount with its flags, but a later remount of the
// original would not reach the copies.
std::string StagingDir(const std::string& host_dir) { return host_dir + ".staging"; }

Status PrepareSharedDir(const std::string& host_dir) {
  for (const auto& [dir, propagation] : {std::pair{host_dir, MS_SHARED},
                                         std::pair{StagingDir(host_dir), MS_PRIVATE}}) {
    BD_RETURN_IF_ERROR(os::MkdirAll(dir, 0700));
    if (!IsMountPoint(dir) && ::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) < 0) {
      return os::ErrnoStatus("bind `" + dir + "` onto itself");
    }
    if (::mount(nullptr, dir.c_str(), nullptr, propagation, nullptr) < 0) {
      return os::ErrnoStatus("set the propagation of `" + dir + "`");
    }
  }
  return {};
}

Status AttachSharedMount(const std::string& host_dir, const std::string& container_dir, const LiveMount& m) {
  BD_ASSIGN_OR_RETURN(std::string path, HostPath(host_dir, container_dir, m.target));
  if (IsMountPoint(path)) return Status::AlreadyExists("something is already mounted at " + m.target);
  BD_RETURN_IF_ERROR(os::MkdirAll(path, 0755));
  std::string stage = StagingDir(host_dir) + "/" + std::to_string(::getpid());
  BD_RETURN_IF_ERROR(os::MkdirAll(stage, 0700));
  unsigned long ro = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
  Status st;
  if (m.copy_to_memory) {
    if (::mount("tmpfs", stage.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0) {
      st = os::ErrnoStatus("mount a tmpfs at `" + stage + "`");
    } else {
      UniqueFd src(::open(m.source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      UniqueFd dst(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      st = !src || !dst ? os::ErrnoStatus("open for copy") : CopyTree(src.get(), dst.get());
      ro |= MS_NOEXEC;
    }
  } else if (::mount(m.source.c_str(), stage.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
    st = os::ErrnoStatus("bind `" + m.source + "`");
  }
  bool mounted = st.ok() || IsMountPoint(stage);
  if (st.ok() && ::mount(nullptr, stage.c_str(), nullptr, ro, nullptr) < 0) {
    st = os::ErrnoStatus("make the mount read-only");
  }
  if (st.ok() && ::mount(stage.c_str(), path.c_str(), nullptr, MS_MOVE, nullptr) < 0) {
    st = os::ErrnoStatus("move the mount to `" + path + "`");
  }
  if (!st.ok() && mounted) ::umount2(stage.c_str(), MNT_DETACH);
  ::rmdir(stage.c_str());
  return st;
}

Status DetachSharedMount(const std::string& host_dir, const std::string& container_dir,
                         const std::string& target) {
  BD_ASSIGN_OR_RETURN(std::string path, HostPath(host_dir, container_dir, target));
  if (::umount2(path.c_str(), MNT_DETACH) < 0) {
    if (errno == EINVAL || errno == ENOENT) return Status::NotFound("nothing is mounted at " + target);
    return os::ErrnoStatus("unmount `" + path + "`");
  }
  for (std::string dir = path; dir.size() > host_dir.size(); dir = os::Dirname(dir)) {
    if (::rmdir(dir.c_str()) < 0) break;
  }
  return {};
}

Status ReleaseSharedDir(const std::string& host_dir) {
  for (const std::string& dir : {host_dir, StagingDir(host_dir)}) {
    if (IsMountPoint(dir) && ::umount2(dir.c_str(), MNT_DETACH) < 0) {
      return os::ErrnoStatus("unmount `" + dir + "`");
    }
  }
  return {};
}

Result<bool> IsMountedIn(pid_t pid, const std::string& target) {
  BD_ASSIGN_OR_RETURN(std::string mountinfo, os::ReadFile("/proc/" + std::to_string(pid) + "/mountinfo"));
  return MountedHere(mountinfo, target);
}

Result<std::vector<std::string>> MountPointsIn(pid_t pid) {
  BD_ASSIGN_OR_RETURN(std::string mountinfo, os::ReadFile("/proc/" + std::to_string(pid) + "/mountinfo"));
  std::vector<std::string> out;
  for (const std::string& line : Split(mountinfo, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 4) out.push_back(f[4]);
  }
  return out;
}

}  // namespace bd::runtime
