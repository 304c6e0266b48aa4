// Mounting into and out of a running container's mount namespace without restarting it:
// how capsules are attached live. The source is cloned detached (`open_tree`), made
// read-only (`mount_setattr`) and moved into the container (`move_mount`) by a forked helper
// that joins the container's mount namespace (setns needs a single-threaded process). Secret
// content goes into a new tmpfs made with `fsopen`/`fsmount` instead of a clone of the host's
// tree. The host's own mount table never changes. Linux 5.12 or later (mount_setattr).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/status.h"

namespace bd::runtime {

// True when this kernel has open_tree, move_mount and mount_setattr.
bool LiveMountSupported();

struct LiveMount {
  std::string source;  // a directory on the host
  std::string target;  // an absolute path inside the container, e.g. /capsules/libssl/1.1.1
  bool copy_to_memory = false;  // secrets: copied into a fresh read-only tmpfs
};

// Mounts `m` read-only (nosuid, nodev) into the mount namespace of `pid`, whose root is the
// container's root; creates the target directories inside it. Fails, changing nothing, if the
// target is already a mount point.
Status AttachLiveMount(pid_t pid, const LiveMount& m);
// Unmounts `target` in the container of `pid` and removes its now empty directories up to
// (not including) `keep_parent`.
Status DetachLiveMount(pid_t pid, const std::string& target, const std::string& keep_parent);
// True when `target` is a mount point in the mount namespace of `pid` (/proc/PID/mountinfo).
Result<bool> IsMountedIn(pid_t pid, const std::string& target);
// Every mount point in the mount namespace of `pid`, as that namespace names them.
Result<std::vector<std::string>> MountPointsIn(pid_t pid);

// The fallback for kernels without the new mount API (and for tests): the container's
// /capsules is a slave of a shared host directory, so mounts made under that directory on the
// host appear live in the container (mount propagation). Unlike the live mounts above, these
// are visible in the host's mount table.
//
// Makes `host_dir` a shared mount point (a bind mount of itself) if it is not one yet.
Status PrepareSharedDir(const std::string& host_dir);
// Mounts `m.source` read-only (or a tmpfs copy of it) at `host_dir` + `m.target`'s part below
// `container_dir`, e.g. host_dir/NAME/VERSION for /capsules/NAME/VERSION.
Status AttachSharedMount(const std::string& host_dir, const std::string& container_dir, const LiveMount& m);
Status DetachSharedMount(const std::string& host_dir, const std::string& container_dir,
                         const std::string& target);
// Unmounts `host_dir` and everything below it (before the directory is removed).
Status ReleaseSharedDir(const std::string& host_dir);

}  // namespace bd::runtime
