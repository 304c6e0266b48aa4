#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "base/strings.h"
#include "os/error.h"
#include "os/fs.h"
#include "runtime/cgroup_resources.h"
#include "runtime/cgroups.h"
#include "runtime/device_filter.h"

namespace bd::runtime {
namespace {

// v1 controllers a container gets, where the host mounts them.
constexpr const char* kV1Controllers[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

int64_t ReadInt(const std::string& path) {
  auto s = os::ReadFile(path);
  if (!s.ok()) return 0;
  return ParseInt(TrimSpace(*s)).value_or(0);
}

// The value of `key` in a "key value" per line file (memory.stat, memory.events, cpu.stat).
int64_t ReadKey(const std::string& path, std::string_view key) {
  auto s = os::ReadFile(path);
  if (!s.ok()) return 0;
  for (const std::string& line : Split(*s, '\n')) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ' ') {
      return ParseInt(TrimSpace(std::string_view(line).substr(key.size() + 1))).value_or(0);
    }
  }
  return 0;
}

}  // namespace

std::vector<std::string> DefaultAllowedDevices() {
  return {"c *:* m",     "b *:* m",    "c 1:3 rwm",  "c 1:5 rwm",   "c 1:7 rwm",
          "c 1:8 rwm",   "c 1:9 rwm",  "c 5:0 rwm",  "c 5:1 rwm",   "c 5:2 rwm",
          "c 136:* rwm"};
}

std::string CgroupRoot() {
  if (const char* r = std::getenv("BASIC_DOCKER_CGROUP_ROOT"); r && *r) return r;
  return "/sys/fs/cgroup";
}

CgroupLayout DetectCgroupLayout(const std::string& root) {
  if (os::Exists(root + "/cgroup.controllers")) return CgroupLayout::kV2;
  for (const char* c : kV1Controllers) {
    if (os::Exists(root + "/" + c + "/cgroup.procs")) return CgroupLayout::kV1;
  }
  return CgroupLayout::kNone;
}

// "a/b/c" -> {"a", "a/b"}: the ancestors below the root, outermost first, all created if
// missing (as runc creates a cgroupsPath's parents).
std::vector<std::string> Ancestors(const std::string& name) {
  std::vector<std::string> out;
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    out.push_back(name.substr(0, slash));
  }
  return out;
}

// The hierarchies mounted under `root` (directories holding cgroup.procs; the "cpu" and
// "cpuacct" symlinks of a joint mount are skipped, their target is listed).
std::vector<std::string> MountedHierarchies(const std::string& root) {
  std::vector<std::string> out;
  auto names = os::ListDir(root);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    struct stat st;
    std::string dir = root + "/" + n;
    if (::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && os::Exists(dir + "/cgroup.procs")) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// Whether the caller is in the machine's own user namespace, whose uid_map maps every id.
bool InInitialUserNamespace() {
  auto map = os::ReadFile("/proc/self/uid_map");
  if (!map.ok()) return true;
  std::vector<std::string> fields;
  for (const std::string& f : Split(TrimSpace(*map), ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  return fields == std::vector<std::string>{"0", "0", "4294967295"};
}

// The limits' device rules in the order they apply: the deny-all baseline and its allows, or
// an OCI config's rules as given.
std::vector<std::pair<bool, std::string>> DeviceRulesOf(const CgroupLimits& limits) {
  if (!limits.allowed_devices) return limits.device_rules;
  std::vector<std::pair<bool, std::string>> rules = {{false, "a"}};
  for (const std::string& rule : *limits.allowed_devices) rules.emplace_back(true, rule);
  return rules;
}

// The v1 hierarchy a plan directory is in, as its mount point names it ("cpu,cpuacct").
std::string HierarchyOf(const CgroupPlan& plan, const std::string& dir) {
  if (dir.size() <= plan.root.size()) return "";
  std::string rest = dir.substr(plan.root.size() + 1);
  return rest.substr(0, rest.find('/'));
}

}  // namespace

ControllerDir ControllerDirOf(const CgroupPlan& plan, std::string_view controller) {
  if (plan.layout == CgroupLayout::kV2) return {plan.dirs.empty() ? "" : plan.dirs[0], true};
  const std::string& root = plan.root;
  for (const std::string& d : plan.dirs) {
    for (const std::string& c : Split(HierarchyOf(plan, d), ',')) {
      if (c == controller) return {d, false};
    }
  }
  for (const std::string& d : plan.dirs) {
    if (d.rfind(root + "/unified/", 0) != 0) continue;
    if (controller.empty()) return {d, true};
    auto enabled = os::ReadFile(root + "/unified/cgroup.controllers");
    if (enabled.ok()) {
      for (const std::string& c : Split(TrimSpace(*enabled), ' ')) {
        if (c == controller) return {d, true};
      }
    }
  }
  return {};
}

Result<std::vector<std::string>> SubCgroupDirs(const CgroupPlan& plan, const std::vector<std::string>& flags) {
  std::string every;                              // PATH for every hierarchy
  std::map<std::string, std::string> by_controller;  // CONTROLLER -> PATH
  for (const std::string& flag : flags) {
    size_t colon = flag.find(':');
    std::string path = colon == std::string::npos ? flag : flag.substr(colon + 1);
    while (!path.empty() && path.front() == '/') path.erase(0, 1);
    if (path.empty() || path.find("..") != std::string::npos) {
      return Status::InvalidArgument("--cgroup \"" + flag + "\" is not a sub-cgroup path");
    }
    if (colon == std::string::npos) {
      every = path;
      continue;
    }
    if (plan.layout == CgroupLayout::kV2) {
      return Status::InvalidArgument("--cgroup \"" + flag + "\": controllers are named on cgroup v1 only; give a PATH");
    }
    for (const std::string& c : Split(flag.substr(0, colon), ',')) {
      if (c.empty()) return Status::InvalidArgument("--cgroup \"" + flag + "\" names an empty controller");
      by_controller[c.rfind("name=", 0) == 0 ? c.substr(5) : c] = path;  // a named hierarchy's mount is its name
    }
  }
  std::vector<std::string> out;
  std::set<std::string> used;
  for (const std::string& d : plan.dirs) {
    std::string sub = every;
    for (const std::string& c : Split(HierarchyOf(plan, d), ',')) {
      if (auto it = by_controller.find(c); it != by_controller.end()) {
        sub = it->second;
        used.insert(c);
      }
    }
    out.push_back(sub.empty() ? d : d + "/" + sub);
  }
  for (const auto& [controller, path] : by_controller) {
    if (!used.count(controller)) {
      return Status::InvalidArgument("--cgroup: no cgroup hierarchy of the container has the " + controller + " controller");
    }
  }
  return out;
}

// An OCI config's resources as writes at the end of the plan; on a hybrid host, controllers of
// the unified hierarchy are enabled down to the container's cgroup first.
void AddResourceWrites(const std::string& root, const std::string& name, const CgroupLimits& limits,
                       CgroupPlan* plan) {
  if (limits.all_hierarchies) plan->must_be_empty = true;
  if (limits.oci_resources.empty()) return;
  std::vector<std::string> unified_controllers;
  auto writes = ResourceWrites(limits.oci_resources, [&](std::string_view c) {
    ControllerDir d = ControllerDirOf(*plan, c);
    if (d.v2 && plan->layout == CgroupLayout::kV1 && !c.empty()) unified_controllers.emplace_back(c);
    return d;
  });
  if (!writes.ok()) {
    plan->error = writes.status();
    return;
  }
  for (const std::string& c : unified_controllers) {
    std::string at = root + "/unified";
    plan->writes.push_back({at + "/cgroup.subtree_control", "+" + c});
    for (const std::string& a : Ancestors(name)) {
      at = root + "/unified/" + a;
      plan->writes.push_back({at + "/cgroup.subtree_control", "+" + c});
    }
  }
  plan->writes.insert(plan->writes.end(), writes->begin(), writes->end());
}

CgroupPlan PlanCgroup(CgroupLayout layout, const std::string& root, const std::string& name,
                      const CgroupLimits& limits) {
  CgroupPlan plan;
  plan.layout = layout;
  plan.root = root;
  std::vector<std::string> ancestors = Ancestors(name);
  auto write = [&](std::string file, std::string value) {
    plan.writes.push_back({std::move(file), std::move(value)});
  };
  if (layout == CgroupLayout::kV2) {
    std::string dir = root + "/" + name;
    plan.dirs = {dir};
    // Controllers reach a cgroup only when every ancestor enables them for its children.
    write(root + "/cgroup.subtree_control", "+memory +cpu +pids");
    for (const std::string& a : ancestors) {
      plan.create.push_back(root + "/" + a);
      write(root + "/" + a + "/cgroup.subtree_control", "+memory +cpu +pids");
    }
    plan.create.push_back(dir);
    if (limits.memory_bytes > 0) {
      write(dir + "/memory.max", std::to_string(limits.memory_bytes));
      write(dir + "/memory.swap.max", "0");
    }
    if (limits.cpu_quota_us > 0) {
      write(dir + "/cpu.max",
            std::to_string(limits.cpu_quota_us) + " " + std::to_string(limits.cpu_period_us));
    }
    if (limits.pids_max > 0) write(dir + "/pids.max", std::to_string(limits.pids_max));
    plan.procs_files = {dir + "/cgroup.procs"};
    // No devices controller on v2: the rules become a BPF device program on the cgroup.
    plan.device_filter = DeviceRulesOf(limits);
    AddResourceWrites(root, name, limits, &plan);
    return plan;
  }
  if (layout != CgroupLayout::kV1) return plan;
  std::vector<std::string> controllers(std::begin(kV1Controllers), std::end(kV1Controllers));
  if (limits.allowed_devices || !limits.device_rules.empty()) controllers.push_back("devices");
  if (limits.all_hierarchies) controllers = MountedHierarchies(root);
  for (const std::string& c : controllers) {
    std::string hierarchy = root + "/" + c;
    if (!os::Exists(hierarchy + "/cgroup.procs")) continue;  // not mounted on this host
    std::string dir = hierarchy + "/" + name;
    plan.dirs.push_back(dir);
    for (const std::string& a : ancestors) plan.create.push_back(hierarchy + "/" + a);
    plan.create.push_back(dir);
    plan.procs_files.push_back(dir + "/cgroup.procs");
    std::string_view ctl = c;
    if (ctl == "memory" && limits.memory_bytes > 0) {
      write(dir + "/memory.limit_in_bytes", std::to_string(limits.memory_bytes));
    } else if (ctl == "cpu" && limits.cpu_quota_us > 0) {
      write(dir + "/cpu.cfs_period_us", std::to_string(limits.cpu_period_us));
      write(dir + "/cpu.cfs_quota_us", std::to_string(limits.cpu_quota_us));
    } else if (ctl == "pids" && limits.pids_max > 0) {
      write(dir + "/pids.max", std::to_string(limits.pids_max));
    } else if (ctl == "devices") {
      for (const auto& [allow, rule] : DeviceRulesOf(limits)) write(dir + (allow ? "/devices.allow" : "/devices.deny"), rule);
    }
  }
  AddResourceWrites(root, name, limits, &plan);
  return plan;
}

Status ApplyCgroupPlan(const CgroupPlan& plan) {
  BD_RETURN_IF_ERROR(plan.error);
  for (const std::string& d : plan.create) {
    if (::mkdir(d.c_str(), 0755) < 0 && errno != EEXIST) return os::ErrnoStatus("mkdir cgroup `" + d + "`");
    // v1 cpuset: a new cgroup starts with no cpus and no mems.
    bool cpuset = plan.layout == CgroupLayout::kV1 && d.find("cpuset") != std::string::npos &&
                  os::Exists(d + "/cpuset.cpus");
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
      if (!cpuset) break;
      auto mine = os::ReadFile(d + "/" + file);
      if (!mine.ok() || !TrimSpace(*mine).empty()) continue;
      auto parent = os::ReadFile(os::Dirname(d) + "/" + file);
      if (!parent.ok()) continue;
      BD_RETURN_IF_ERROR(os::WriteExisting(d + "/" + file, *parent).WithContext("copy the parent's " + std::string(file)));
    }
  }
  if (plan.must_be_empty) {
    for (const std::string& f : plan.procs_files) {
      auto procs = os::ReadFile(f);
      if (procs.ok() && !TrimSpace(*procs).empty()) {
        return Status::FailedPrecondition("container's cgroup is not empty: `" + os::Dirname(f) +
                                          "` already has processes");
      }
    }
  }
  BD_RETURN_IF_ERROR(WriteCgroupFiles(plan.writes));
  if (!plan.device_filter.empty() && !plan.dirs.empty()) {
    Status st = AttachDeviceFilter(plan.dirs[0], plan.device_filter);
    // Without the host's privileges (rootless, in a user namespace of its own) there is no
    // BPF; such a container reaches only the devices bound into it anyway.
    if (!st.ok() && !(st.code() == Code::kPermissionDenied && !InInitialUserNamespace())) return st;
  }
  return {};
}

Status WriteCgroupFiles(const std::vector<CgroupWrite>& writes) {
  auto write = [](const CgroupWrite& w) {
    return os::WriteExisting(w.file, w.value).WithContext("write `" + w.value + "` to `" + w.file + "`");
  };
  for (size_t i = 0; i < writes.size(); ++i) {
    Status st = write(writes[i]);
    if (st.ok()) continue;
    bool limit_then_swap = i + 1 < writes.size() && os::Basename(writes[i].file) == "memory.limit_in_bytes" &&
                           writes[i + 1].file == os::Dirname(writes[i].file) + "/memory.memsw.limit_in_bytes";
    if (!limit_then_swap) return st;
    BD_RETURN_IF_ERROR(write(writes[i + 1]));
    BD_RETURN_IF_ERROR(write(writes[i]));
    ++i;
  }
  return {};
}

Status JoinCgroup(const CgroupPlan& plan, pid_t pid) {
  std::string value = std::to_string(pid);
  for (const std::string& f : plan.procs_files) {
    // A process writing "0" to a v1 `tasks` file moves only its calling thread, and the kernel
    // then skips the global threadgroup lock that every cgroup.procs write takes (a full RCU
    // grace period, 5-30 ms here, paid on each start and exec). The callers that join
    // themselves are single-threaded children, so the thread is the whole process.
    // (A hybrid host's unified hierarchy has no `tasks`: cgroup.procs there.)
    if (pid == 0 && plan.layout == CgroupLayout::kV1 && os::Basename(f) == "cgroup.procs") {
      Status st = os::WriteExisting(os::Dirname(f) + "/tasks", value);
      if (st.ok()) continue;
      if (st.code() != Code::kNotFound) return st.WithContext("join cgroup `" + f + "`");
    }
    if (Status st = os::WriteExisting(f, value); !st.ok()) return st.WithContext("join cgroup `" + f + "`");
  }
  return {};
}

CloneIntoCgroup CloneIntoCgroupOf(const CgroupPlan& plan) {
  CloneIntoCgroup out;
  ControllerDir unified = ControllerDirOf(plan, "");
  if (!unified.v2 || unified.dir.empty()) return out;
  std::string procs = unified.dir + "/cgroup.procs";
  if (std::find(plan.procs_files.begin(), plan.procs_files.end(), procs) == plan.procs_files.end()) return out;
  out.dir.Reset(::open(unified.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!out.dir) return out;
  for (const std::string& f : plan.procs_files) {
    if (f != procs) out.other_procs_files.push_back(f);
  }
  return out;
}

namespace {

// Removes the cgroup `dir` and every cgroup the container made below it, deepest first (a
// cgroup with children cannot go). Its files are the kernel's: only directories are removed.
Status RemoveCgroupTree(const std::string& dir) {
  // Most cgroups have no children: one rmdir, without stat-ing the hundred files of each.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
  if (auto names = os::ListDir(dir); names.ok()) {
    for (const std::string& n : *names) {
      std::string child = dir + "/" + n;
      struct stat st;
      if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        BD_RETURN_IF_ERROR(RemoveCgroupTree(child));
      }
    }
  }
  // The last processes may still be leaving: a few retries on EBUSY.
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
    if (errno != EBUSY || attempt >= 20) return os::ErrnoStatus("remove cgroup `" + dir + "`");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

Status RemoveCgroup(const CgroupPlan& plan) {
  Status result;
  for (const std::string& d : plan.dirs) {
    if (Status st = RemoveCgroupTree(d); !st.ok() && result.ok()) result = st;
  }
  return result;
}

int64_t CgroupOomKills(const CgroupPlan& plan) {
  if (plan.layout == CgroupLayout::kV2) return plan.dirs.empty() ? 0 : ReadKey(plan.dirs[0] + "/memory.events", "oom_kill");
  std::string mem = ControllerDirOf(plan, "memory").dir;
  return mem.empty() ? 0 : ReadKey(mem + "/memory.oom_control", "oom_kill");
}

Result<CgroupStats> ReadCgroupStats(const CgroupPlan& plan) {
  CgroupStats s;
  if (plan.layout == CgroupLayout::kV2) {
    const std::string& d = plan.dirs.at(0);
    s.memory_usage = ReadInt(d + "/memory.current");
    auto max = os::ReadFile(d + "/memory.max");
    s.memory_limit = max.ok() ? ParseInt(TrimSpace(*max)).value_or(0) : 0;
    s.cpu_usage_ns = ReadKey(d + "/cpu.stat", "usage_usec") * 1000;
    s.pids = ReadInt(d + "/pids.current");
    s.oom_kills = CgroupOomKills(plan);
    return s;
  }
  if (plan.layout != CgroupLayout::kV1) return Status::Unavailable("no cgroup hierarchy");
  std::string mem = ControllerDirOf(plan, "memory").dir;
  if (!mem.empty()) {
    s.memory_usage = ReadInt(mem + "/memory.usage_in_bytes");
    s.memory_limit = ReadInt(mem + "/memory.limit_in_bytes");
    if (s.memory_limit >= (int64_t{1} << 62)) s.memory_limit = 0;  // the v1 "unlimited" value
    s.oom_kills = CgroupOomKills(plan);
  }
  if (std::string cpu = ControllerDirOf(plan, "cpuacct").dir; !cpu.empty()) s.cpu_usage_ns = ReadInt(cpu + "/cpuacct.usage");
  if (std::string pids = ControllerDirOf(plan, "pids").dir; !pids.empty()) s.pids = ReadInt(pids + "/pids.current");
  return s;
}

Status FreezeCgroup(const CgroupPlan& plan, bool frozen) {
  std::string file, want;
  if (plan.layout == CgroupLayout::kV2) {
    file = plan.dirs.at(0) + "/cgroup.freeze";
    BD_RETURN_IF_ERROR(os::WriteExisting(file, frozen ? "1" : "0"));
    file = plan.dirs.at(0) + "/cgroup.events";
    want = frozen ? "frozen 1" : "frozen 0";
  } else {
    std::string dir = ControllerDirOf(plan, "freezer").dir;
    if (dir.empty()) return Status::Unavailable("the freezer cgroup controller is not mounted");
    file = dir + "/freezer.state";
    BD_RETURN_IF_ERROR(os::WriteExisting(file, frozen ? "FROZEN" : "THAWED"));
    want = frozen ? "FROZEN" : "THAWED";
  }
  for (int i = 0; i < 1000; ++i) {
    auto state = os::ReadFile(file);
    if (state.ok() && state->find(want) != std::string::npos) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Unavailable("the cgroup did not reach " + want);
}

bool CgroupFrozen(const CgroupPlan& plan) {
  if (plan.layout == CgroupLayout::kV2) {
    return ReadKey(plan.dirs.at(0) + "/cgroup.events", "frozen") == 1;
  }
  std::string dir = ControllerDirOf(plan, "freezer").dir;
  if (dir.empty()) return false;
  auto state = os::ReadFile(dir + "/freezer.state");
  return state.ok() && TrimSpace(*state) != "THAWED";
}

std::vector<pid_t> CgroupProcesses(const CgroupPlan& plan) {
  std::vector<pid_t> out;
  if (plan.procs_files.empty()) return out;
  auto procs = os::ReadFile(plan.procs_files.front());
  if (!procs.ok()) return out;
  for (const std::string& line : Split(*procs, '\n')) {
    if (auto pid = ParseInt(TrimSpace(line)); pid && *pid > 0) out.push_back(static_cast<pid_t>(*pid));
  }
  return out;
}

}  // namespace bd::runtime
