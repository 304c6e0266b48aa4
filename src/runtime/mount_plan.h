// The mounts of a container's root as data. PlanRootfs decides from the spec alone what is
// mounted beneath the root and in which order (propagation, the root itself, the spec's mounts
// with their options parsed, /dev's nodes, sysctls, masked and read-only paths, the working
// directory): pure, so every decision is unit-tested without root. SetUpRootfs
// (rootfs_linux.cc) applies the plan step by step, as cgroups are planned and then applied.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/spec.h"

namespace bd::runtime {

struct MountStep {
  enum class Kind {
    kPropagation,   // / to `propagation` (recursively, unless unbindable); then, with
                    // `private_parent`, the rootfs' parent mount private
    kRootfs,        // the overlay (`overlay_data`), or a recursive bind of the rootfs on itself
    kMount,         // spec.mounts[index], `flags` parsed from its options
    kCgroup,        // a cgroup or cgroup2 mount, spec.mounts[index]
    kDevices,       // the default nodes and links of /dev (when the root has a /dev)
    kSpecDevices,   // spec.devices
    kReadOnly,      // `path` remounted read-only (a read-only /dev tmpfs, once its nodes are in)
    kSysctls,       // spec.sysctl, through the container's /proc
    kMask,          // `path` hidden (a read-only tmpfs over a directory, /dev/null over a file)
    kReadOnlyPath,  // `path` bound onto itself read-only
    kWorkingDir,    // `path` made if missing, while the root is writable
  };
  Kind kind;
  std::string path;      // the container path the step acts on
  int index = -1;        // kMount, kCgroup: the position in spec.mounts (idmapped trees go by it)
  MountFlags flags;      // kMount, kCgroup
  bool bind = false;     // kMount: a bind mount (type "bind" or a bind option)
  unsigned long propagation = 0;  // kPropagation
  bool private_parent = false;    // kPropagation
  std::string overlay_data;       // kRootfs; empty: bind the rootfs
};

// The plan for `spec`; InvalidArgument for what no step may do (a mount over /proc that is
// not proc, overlay paths overlayfs cannot take).
Result<std::vector<MountStep>> PlanRootfs(const Spec& spec);

// One line per step, as debug output and tests show it ("mount tmpfs on /dev flags=0x2
// (read-only after its devices)").
std::string DescribeStep(const MountStep& s);

}  // namespace bd::runtime
