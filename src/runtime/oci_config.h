// OCI runtime bundles: a `config.json` (runtime-spec 1.x) read into a Spec, an OCI process
// (what `exec --process` takes) read into a Process, and the default config `spec` writes.
// Pure over strings, except that a seccomp section is compiled with libseccomp.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"
#include "runtime/spec.h"

namespace bd::runtime {

struct OciBundle {
  Spec spec;
  std::map<std::string, std::string> annotations;
};

// `bundle_dir` resolves a relative root.path and relative bind sources; `id` names the
// container and, without linux.cgroupsPath, its cgroup. `systemd_cgroup` reads a cgroupsPath
// of the "slice:prefix:name" form (placed as slice/prefix-name.scope in the cgroupfs tree).
// Features this runtime does not implement (AppArmor profiles, seccomp notify, ...) are refused
// by name.
Result<OciBundle> ParseOciConfig(std::string_view config, const std::string& bundle_dir,
                                 const std::string& id, bool systemd_cgroup = false);

// An OCI `process` object, as `exec --process` takes it.
struct OciProcess {
  Process process;
  bool has_capabilities = false;  // otherwise the container's apply
};
Result<OciProcess> ParseOciProcess(std::string_view process_json);

// The config.json `spec` writes: busybox-friendly `sh` with a terminal, rootfs "rootfs",
// the default namespaces, mounts, masked and read-only paths.
std::string DefaultOciConfig();

}  // namespace bd::runtime
