// User namespace maps written from outside, and idmapped mounts: a bind source detached with
// open_tree and given a user namespace's mapping (mount_setattr MOUNT_ATTR_IDMAP), for the
// container process to attach in its own mount namespace with move_mount.
#pragma once

#include <sys/types.h>

#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "runtime/spec.h"

namespace bd::runtime {

// Writes the uid_map and gid_map of process `pid`'s user namespace (an empty list is left
// unwritten); when the caller is not root, setgroups is denied first, as the kernel requires.
Status WriteIdMaps(pid_t pid, const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids);

// The detached idmapped mounts of a spec, one per mount (empty where a mount is not idmapped).
// Made with the host's privileges (MOUNT_ATTR_IDMAP needs them), before the container process
// is cloned; the process inherits the descriptors.
class IdmappedMounts {
 public:
  static Result<IdmappedMounts> Prepare(const Spec& spec);
  // The detached tree of spec.mounts[index], or -1.
  int fd(size_t index) const { return index < fds_.size() && fds_[index] ? fds_[index].get() : -1; }
  std::vector<int> fds() const;

 private:
  std::vector<UniqueFd> fds_;
};

}  // namespace bd::runtime
