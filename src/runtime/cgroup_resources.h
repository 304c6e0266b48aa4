// The OCI `linux.resources` object as cgroup file writes, on v1 and on v2: what `create` applies
// beyond the engine's few limits and what `update` changes. Pure: the caller says where each
// controller's directory is.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/cgroups.h"

namespace bd::runtime {

using ControllerDirs = std::function<ControllerDir(std::string_view controller)>;

// Every setting of `resources_json` (memory, cpu, pids, blockIO, hugepageLimits, network, rdma,
// unified) as writes in the order the kernel accepts them (a period before its quota). Fails,
// changing nothing, on a malformed or out-of-range value, on a setting whose controller is not
// mounted, and on `unified` where the container's cgroups are v1. `devices` is not handled
// here (see CgroupLimits::allowed_devices).
Result<std::vector<CgroupWrite>> ResourceWrites(std::string_view resources_json, const ControllerDirs& dirs);

// cgroup v1 cpu.shares as v2 cpu.weight (2..262144 onto 1..10000), as runc converts them.
int64_t SharesToWeight(int64_t shares);

}  // namespace bd::runtime
