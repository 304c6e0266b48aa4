#include "runtime/mount_plan.h"

#include <sys/mount.h>

#include <cstdio>

namespace bd::runtime {

Result<std::vector<MountStep>> PlanRootfs(const Spec& spec) {
  std::vector<MountStep> plan;
  // Nothing mounted from here on propagates back to the host (linux.rootfsPropagation may ask
  // for another type; "shared" keeps the host's peer groups). With "shared" or "unbindable" the
  // rootfs' parent mount is then made private, as the bind and pivot_root need. "unbindable"
  // applies to / alone, as runc's, or no bind source on it could be bound.
  MountStep prop{MountStep::Kind::kPropagation};
  prop.path = "/";
  prop.propagation = spec.rootfs_propagation ? spec.rootfs_propagation : static_cast<unsigned long>(MS_SLAVE);
  prop.private_parent = prop.propagation == MS_SHARED || prop.propagation == MS_UNBINDABLE;
  plan.push_back(prop);
  MountStep root{MountStep::Kind::kRootfs};
  root.path = spec.rootfs;
  if (spec.overlay) {
    BD_ASSIGN_OR_RETURN(root.overlay_data, OverlayData(*spec.overlay));
  }
  plan.push_back(root);
  std::vector<std::string> deferred_ro;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const Mount& m = spec.mounts[i];
    BD_RETURN_IF_ERROR(ValidateProcMount(m));
    MountStep s{m.type == "cgroup" || m.type == "cgroup2" ? MountStep::Kind::kCgroup : MountStep::Kind::kMount};
    s.path = m.destination;
    s.index = static_cast<int>(i);
    s.flags = ParseMountOptions(m.options);
    s.bind = s.kind == MountStep::Kind::kMount && (s.flags.bind || m.type == "bind");
    if (m.destination == "/dev" && m.type == "tmpfs" && (s.flags.flags & MS_RDONLY)) {
      s.flags.flags &= ~static_cast<unsigned long>(MS_RDONLY);  // the device nodes go in first
      deferred_ro.push_back(m.destination);
    }
    plan.push_back(s);
  }
  plan.push_back({MountStep::Kind::kDevices, "/dev"});
  if (!spec.devices.empty()) plan.push_back({MountStep::Kind::kSpecDevices});
  for (const std::string& p : deferred_ro) plan.push_back({MountStep::Kind::kReadOnly, p});
  if (!spec.sysctl.empty()) plan.push_back({MountStep::Kind::kSysctls, "/proc/sys"});
  for (const std::string& p : spec.masked_paths) plan.push_back({MountStep::Kind::kMask, p});
  for (const std::string& p : spec.readonly_paths) plan.push_back({MountStep::Kind::kReadOnlyPath, p});
  if (!spec.process.cwd.empty() && spec.process.cwd != "/") {
    plan.push_back({MountStep::Kind::kWorkingDir, spec.process.cwd});
  }
  return plan;
}

std::string DescribeStep(const MountStep& s) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%lx", s.kind == MountStep::Kind::kPropagation ? s.propagation : s.flags.flags);
  switch (s.kind) {
    case MountStep::Kind::kPropagation:
      return std::string("propagation of / ") + hex + (s.private_parent ? ", the rootfs' parent private" : "");
    case MountStep::Kind::kRootfs:
      return (s.overlay_data.empty() ? "bind the rootfs " : "overlay on ") + s.path;
    case MountStep::Kind::kMount:
      return std::string(s.bind ? "bind" : "mount") + " on " + s.path + " flags=" + hex +
             (s.flags.recursive ? " recursive" : "") + (s.flags.tmpcopyup ? " tmpcopyup" : "") +
             (s.flags.data.empty() ? "" : " data=" + s.flags.data);
    case MountStep::Kind::kCgroup:
      return "cgroups on " + s.path + " flags=" + hex;
    case MountStep::Kind::kDevices:
      return "devices in /dev";
    case MountStep::Kind::kSpecDevices:
      return "the spec's devices";
    case MountStep::Kind::kReadOnly:
      return "read-only " + s.path + " (after its devices)";
    case MountStep::Kind::kSysctls:
      return "sysctls";
    case MountStep::Kind::kMask:
      return "mask " + s.path;
    case MountStep::Kind::kReadOnlyPath:
      return "read-only path " + s.path;
    case MountStep::Kind::kWorkingDir:
      return "working directory " + s.path;
  }
  return "?";
}

}  // namespace bd::runtime
