// Control groups for containers, on cgroup v2 or on v1 controllers (hybrid hosts such as this
// project's CI mount v1 controllers plus an unused v2 hierarchy: v1 is used there).
// Pure planning (PlanCgroup) decides directories and file writes from the layout and limits;
// a small applier performs them, so tests point the plan at a temporary directory.
// Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::runtime {

enum class CgroupLayout { kNone, kV1, kV2 };

// kV2 when `root` is a cgroup2 mount (root/cgroup.controllers), kV1 when it holds v1
// controller directories, kNone otherwise.
CgroupLayout DetectCgroupLayout(const std::string& root);

struct CgroupLimits {
  int64_t memory_bytes = 0;     // 0: unlimited
  int64_t cpu_quota_us = 0;     // 0: unlimited; with cpu_period_us, e.g. 150000/100000 = 1.5 CPUs
  int64_t cpu_period_us = 100000;
  int64_t pids_max = 0;         // 0: unlimited
  // The v1 devices controller: when set, every device is denied except these rules
  // ("c 1:3 rwm", "c 136:* rwm"). On v2, a BPF device program with the same rules.
  std::optional<std::vector<std::string>> allowed_devices;
  // Or, from an OCI config with deny rules of its own: every rule in order (true: allow).
  std::vector<std::pair<bool, std::string>> device_rules;
  // An OCI config's linux.resources (JSON), applied after the fields above: every resource runc
  // applies (see ResourceWrites).
  std::string oci_resources;
  // Join every hierarchy the host mounts (v1 controllers, named ones, the unified one), as runc
  // does, not only those the limits use. OCI runtime containers; the engine joins its few.
  bool all_hierarchies = false;
};

// The device rules a container gets by default: null, zero, full, random, urandom, tty,
// console, ptmx, its own pseudo-terminals, and mknod of any node (opening one is what counts).
std::vector<std::string> DefaultAllowedDevices();

struct CgroupWrite {
  std::string file;
  std::string value;
};

struct CgroupPlan {
  CgroupLayout layout = CgroupLayout::kNone;
  std::string root;                      // the hierarchies' root the plan was made under
  std::vector<std::string> dirs;         // the container's cgroup directories (one per v1 controller)
  std::vector<std::string> create;       // directories to create, parents first
  std::vector<CgroupWrite> writes;       // in order: enabling controllers, then limits
  std::vector<std::string> procs_files;  // cgroup.procs of each dir: write a pid to join
  bool must_be_empty = false;  // refuse a cgroup that already has processes (runc's rule)
  // v2: the device rules ({allow, "c 1:3 rwm"}, in order) of a BPF program attached to dirs[0].
  std::vector<std::pair<bool, std::string>> device_filter;
  Status error;                // why the limits cannot be applied here (ApplyCgroupPlan fails)
};

// `name` is the container's cgroup below each hierarchy, e.g. "basic-docker/<id>".
CgroupPlan PlanCgroup(CgroupLayout layout, const std::string& root, const std::string& name,
                      const CgroupLimits& limits);

// The container's directory in the hierarchy that holds a controller; empty `dir` when no
// mounted hierarchy has it. `v2`: that hierarchy is cgroup2 (a hybrid host binds hugetlb there).
struct ControllerDir {
  std::string dir;
  bool v2 = false;
};
// The plan's directory for `controller`: v2's single one, or the v1 hierarchy named after it
// (alone or joint, "cpu,cpuacct"); on a hybrid host a controller bound to the unified
// hierarchy is found there. An empty `controller` asks for the unified directory.
ControllerDir ControllerDirOf(const CgroupPlan& plan, std::string_view controller);

// The directories an exec with runc's `--cgroup [CONTROLLER[,CONTROLLER]:]PATH` flags (each may
// repeat) joins, one per hierarchy of the plan: the container's directory, or PATH below it. A
// PATH alone applies to every hierarchy; with controllers, to the v1 hierarchies holding them.
Result<std::vector<std::string>> SubCgroupDirs(const CgroupPlan& plan, const std::vector<std::string>& flags);

// Creates the directories and writes the limits. A new cpuset cgroup gets its parent's cpus and
// mems first (v1 leaves them empty, and an empty cpuset cannot be joined).
Status ApplyCgroupPlan(const CgroupPlan& plan);
// Writes `writes` in order. A v1 memory limit refused because the current memory+swap limit is
// below it is written again after the memory+swap limit that follows it.
Status WriteCgroupFiles(const std::vector<CgroupWrite>& writes);
// Moves `pid` (0: the caller, which must be single-threaded) into the container's cgroups.
Status JoinCgroup(const CgroupPlan& plan, pid_t pid = 0);
// What clone3's CLONE_INTO_CGROUP needs to start a process in the plan's cgroup2 directory
// (pure v2, or a hybrid host's unified hierarchy): that directory, opened, and the plan's other
// procs files, which the process still joins itself. Being born there spares the cgroup.procs
// write, which takes the kernel's global threadgroup lock. No directory: nothing to clone into.
struct CloneIntoCgroup {
  UniqueFd dir;
  std::vector<std::string> other_procs_files;
};
CloneIntoCgroup CloneIntoCgroupOf(const CgroupPlan& plan);
// Removes the container's cgroup directories; missing ones are fine.
Status RemoveCgroup(const CgroupPlan& plan);

struct CgroupStats {
  int64_t memory_usage = 0;
  int64_t memory_limit = 0;  // 0: unlimited
  int64_t cpu_usage_ns = 0;
  int64_t pids = 0;
  int64_t oom_kills = 0;
};
Result<CgroupStats> ReadCgroupStats(const CgroupPlan& plan);
// How many times the OOM killer has struck in the container's cgroup (0 when unknown).
int64_t CgroupOomKills(const CgroupPlan& plan);

// Freezes or thaws every process of the container and waits until the kernel says it is done.
Status FreezeCgroup(const CgroupPlan& plan, bool frozen);

// True when the container's cgroup is frozen (or freezing).
bool CgroupFrozen(const CgroupPlan& plan);

// The processes in the container's cgroup (its first hierarchy), e.g. for `ps` and `kill --all`.
std::vector<pid_t> CgroupProcesses(const CgroupPlan& plan);

// The hierarchy root: BASIC_DOCKER_CGROUP_ROOT or /sys/fs/cgroup.
std::string CgroupRoot();

}  // namespace bd::runtime
