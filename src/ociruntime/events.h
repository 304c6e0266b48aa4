// `events`: a container's resource usage as runc's events print it (type "stats" with cgroup
// figures, type "oom" when the kernel's OOM killer struck), read from its cgroups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/cgroups.h"

namespace bd::ociruntime {

// The "data" object of a stats event: cpu, memory, pids, blkio, hugetlb (runc's field names).
std::string StatsJson(const runtime::CgroupPlan& plan);

// One event line: {"type":TYPE,"id":ID[,"data":DATA]} and a newline.
std::string EventLine(std::string_view type, const std::string& id, const std::string& data_json = "");

// A Go duration as --interval takes it ("5s", "250ms", "1m30s"), in milliseconds.
std::optional<int64_t> ParseDurationMs(std::string_view text);

}  // namespace bd::ociruntime
