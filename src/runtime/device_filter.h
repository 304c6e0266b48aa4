// Device access on cgroup v2, which has no devices controller: a container's device rules as a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to its cgroup. Rules read as the v1 controller's
// ("a", "c 1:3 rwm", "b *:* m", allow or deny) and apply in order: "a" resets every device to
// allowed or denied, and for any device the last rule that matches it decides. An allow rule
// matches a request whose access it wholly grants; a deny rule one that asks for any access it
// names.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace bd::runtime {

using DeviceRules = std::vector<std::pair<bool, std::string>>;  // {allow, rule}

// The program's raw instructions (struct bpf_insn, 8 bytes each). Fails on a malformed rule.
Result<std::string> CompileDeviceFilter(const DeviceRules& rules);

// Loads the program for `rules` and attaches it to the cgroup v2 directory `dir`.
Status AttachDeviceFilter(const std::string& dir, const DeviceRules& rules);

}  // namespace bd::runtime
