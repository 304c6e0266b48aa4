#include "runtime/idmap.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <string>

#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"

namespace bd::runtime {
namespace {

std::string MapText(const std::vector<IdMapping>& maps) {
  std::string out;
  for (const IdMapping& m : maps) {
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  }
  return out;
}

// A user namespace with these maps, held by its descriptor: made by a child that does nothing
// but exist until the maps are written and the namespace is opened, then is killed.
Result<UniqueFd> MappedUserNamespace(const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids) {
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_NEWUSER | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return os::ErrnoStatus("clone a user namespace for an idmapped mount");
  if (pid == 0) {
    for (;;) ::pause();
  }
  os::ChildProcess holder(static_cast<pid_t>(pid), UniqueFd(pidfd));  // killed and reaped on return
  BD_RETURN_IF_ERROR(WriteIdMaps(holder.pid(), uids, gids));
  std::string path = "/proc/" + std::to_string(holder.pid()) + "/ns/user";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return os::ErrnoStatus("open `" + path + "`");
  return ns;
}

}  // namespace

Status WriteIdMaps(pid_t pid, const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids) {
  std::string dir = "/proc/" + std::to_string(pid);
  auto write = [&](const std::string& file, const std::string& data) {
    return os::WriteExisting(dir + "/" + file, data).WithContext("write " + file + " of the user namespace");
  };
  if (::geteuid() != 0) BD_RETURN_IF_ERROR(write("setgroups", "deny"));
  if (!uids.empty()) BD_RETURN_IF_ERROR(write("uid_map", MapText(uids)));
  if (!gids.empty()) BD_RETURN_IF_ERROR(write("gid_map", MapText(gids)));
  return {};
}

Result<IdmappedMounts> IdmappedMounts::Prepare(const Spec& spec) {
  IdmappedMounts out;
  std::map<std::string, UniqueFd> namespaces;  // one user namespace per distinct mapping
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const Mount& m = spec.mounts[i];
    if (m.uid_mappings.empty() || m.gid_mappings.empty()) continue;
    out.fds_.resize(spec.mounts.size());
    MountFlags f = ParseMountOptions(m.options);
    std::string key = MapText(m.uid_mappings) + "/" + MapText(m.gid_mappings);
    auto ns = namespaces.find(key);
    if (ns == namespaces.end()) {
      BD_ASSIGN_OR_RETURN(UniqueFd fd, MappedUserNamespace(m.uid_mappings, m.gid_mappings));
      ns = namespaces.emplace(key, std::move(fd)).first;
    }
    unsigned open_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (f.recursive ? AT_RECURSIVE : 0);
    UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, m.source.c_str(), open_flags)));
    if (!tree) return os::ErrnoStatus("open the source `" + m.source + "` of the idmapped mount on " + m.destination);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(ns->second.get());
    unsigned at = AT_EMPTY_PATH | (f.idmap_recursive ? AT_RECURSIVE : 0);
    if (::syscall(SYS_mount_setattr, tree.get(), "", at, &attr, sizeof attr) < 0) {
      int err = errno;
      std::string why = err == EINVAL ? " (its filesystem cannot be idmapped, or it is already idmapped)" : "";
      return os::ErrnoStatus(err, "idmap the mount of `" + m.source + "` on " + m.destination + why);
    }
    out.fds_[i] = std::move(tree);
  }
  return out;
}

std::vector<int> IdmappedMounts::fds() const {
  std::vector<int> out;
  for (size_t i = 0; i < fds_.size(); ++i) out.push_back(fd(i));
  return out;
}

}  // namespace bd::runtime
