#include "runtime/oci_config.h"

#include <sys/mount.h>
#include <sys/resource.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "os/fs.h"
#include "runtime/cgroup_resources.h"
#include "runtime/security.h"

namespace bd::runtime {

using nlohmann::json;

namespace {

// The value `name` has in a table of {name, value} pairs; nullopt for a name it lacks.
template <typename V, size_t N>
std::optional<V> Lookup(const std::pair<std::string_view, V> (&table)[N], std::string_view name) {
  for (const auto& [key, value] : table) {
    if (key == name) return value;
  }
  return std::nullopt;
}

Result<int> RlimitFromName(std::string_view name) {
  static constexpr std::pair<std::string_view, int> kLimits[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  if (auto v = Lookup(kLimits, name)) return *v;
  return Status::InvalidArgument("unknown rlimit type \"" + std::string(name) + "\"");
}

// One capability set of an OCI config: unknown names are skipped with a warning, as runc does,
// so that configs written for newer kernels still run.
std::vector<std::string> CapabilitySet(const json& caps, const char* key) {
  std::vector<std::string> out;
  for (const json& c : caps.value(key, json::array())) {
    auto name = NormalizeCapability(c.get<std::string>());
    if (!name.ok()) {
      log::Warn("ignoring unknown or unavailable capability {}", c.get<std::string>());
      continue;
    }
    out.push_back(std::move(*name));
  }
  return out;
}

// The five sets, as runc applies them.
void Capabilities(const json& caps, Process* proc) {
  proc->capabilities = CapabilitySet(caps, caps.contains("bounding") ? "bounding" : "effective");
  proc->effective_caps = CapabilitySet(caps, "effective");
  proc->permitted_caps = CapabilitySet(caps, "permitted");
  proc->inheritable_caps = CapabilitySet(caps, "inheritable");
  proc->ambient_caps = CapabilitySet(caps, "ambient");
  for (const std::string& a : proc->ambient_caps) {
    if (std::find(proc->inheritable_caps.begin(), proc->inheritable_caps.end(), a) == proc->inheritable_caps.end()) {
      log::Warn("ambient capability {} is not in the inheritable set: it cannot be raised", a);
    }
  }
}

Result<Scheduler> SchedulerFromJson(const json& j) {
  static constexpr std::pair<std::string_view, int> kPolicies[] = {
      {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2}, {"SCHED_BATCH", 3},
      {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}};
  static constexpr std::pair<std::string_view, uint64_t> kFlags[] = {
      {"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},     {"SCHED_FLAG_DL_OVERRUN", 0x04},
      {"SCHED_FLAG_KEEP_POLICY", 0x08},   {"SCHED_FLAG_KEEP_PARAMS", 0x10}, {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
      {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
  Scheduler out;
  std::string policy = j.at("policy").get<std::string>();
  auto p = Lookup(kPolicies, policy);
  if (!p) return Status::InvalidArgument("process.scheduler: unknown policy \"" + policy + "\"");
  out.policy = *p;
  out.nice = j.value("nice", 0);
  out.priority = j.value("priority", 0);
  if (out.nice < -20 || out.nice > 19) return Status::InvalidArgument("process.scheduler.nice must be between -20 and 19");
  bool realtime = out.policy == 1 || out.policy == 2;
  if (realtime && (out.priority < 1 || out.priority > 99)) {
    return Status::InvalidArgument("process.scheduler.priority must be between 1 and 99 for " + policy);
  }
  if (!realtime && out.priority != 0) {
    return Status::InvalidArgument("process.scheduler.priority must be 0 for " + policy);
  }
  for (const json& f : j.value("flags", json::array())) {
    std::string name = f.get<std::string>();
    auto flag = Lookup(kFlags, name);
    if (!flag) return Status::InvalidArgument("process.scheduler: unknown flag \"" + name + "\"");
    out.flags |= *flag;
  }
  out.runtime = j.value("runtime", uint64_t{0});
  out.deadline = j.value("deadline", uint64_t{0});
  out.period = j.value("period", uint64_t{0});
  if (out.policy == 6 && (out.runtime == 0 || out.deadline == 0 || out.runtime > out.deadline ||
                          (out.period && out.deadline > out.period))) {
    return Status::InvalidArgument("process.scheduler: SCHED_DEADLINE needs runtime <= deadline <= period");
  }
  return out;
}

Result<int> IoPriorityFromJson(const json& j) {
  std::string cls = j.at("class").get<std::string>();
  int c = cls == "IOPRIO_CLASS_RT" ? 1 : cls == "IOPRIO_CLASS_BE" ? 2 : cls == "IOPRIO_CLASS_IDLE" ? 3 : 0;
  if (c == 0) return Status::InvalidArgument("process.ioPriority: unknown class \"" + cls + "\"");
  int level = j.value("priority", 0);
  if (level < 0 || level > 7) return Status::InvalidArgument("process.ioPriority.priority must be between 0 and 7");
  return c << 13 | level;
}

Result<OciProcess> ProcessFromJson(const json& p) {
  OciProcess out;
  Process& proc = out.process;
  proc.args = p.value("args", std::vector<std::string>{});
  if (proc.args.empty()) return Status::InvalidArgument("process.args must not be empty");
  if (p.contains("commandLine")) {
    return Status::InvalidArgument("process.commandLine is for Windows containers");
  }
  proc.env = p.value("env", std::vector<std::string>{});
  proc.cwd = p.value("cwd", "/");
  if (proc.cwd.empty() || proc.cwd[0] != '/') {
    return Status::InvalidArgument("process.cwd must be an absolute path, not `" + proc.cwd + "`");
  }
  proc.terminal = p.value("terminal", false);
  if (p.contains("user")) {
    const json& u = p["user"];
    if (u.contains("username")) return Status::InvalidArgument("process.user.username is for Windows");
    proc.numeric_user = NumericUser{u.value("uid", 0u), u.value("gid", 0u),
                                    u.value("additionalGids", std::vector<uint32_t>{})};
    if (u.contains("umask")) proc.umask = u["umask"].get<uint32_t>();
  } else {
    proc.numeric_user = NumericUser{};
  }
  if (p.contains("capabilities")) {
    Capabilities(p["capabilities"], &proc);
    out.has_capabilities = true;
  }
  for (const json& r : p.value("rlimits", json::array())) {
    BD_ASSIGN_OR_RETURN(int resource, RlimitFromName(r.at("type").get<std::string>()));
    proc.rlimits.push_back({resource, r.at("soft").get<uint64_t>(), r.at("hard").get<uint64_t>()});
  }
  proc.no_new_privileges = p.value("noNewPrivileges", false);
  if (p.contains("scheduler")) {
    BD_ASSIGN_OR_RETURN(proc.scheduler, SchedulerFromJson(p["scheduler"]));
  }
  if (p.contains("ioPriority")) {
    BD_ASSIGN_OR_RETURN(proc.io_priority, IoPriorityFromJson(p["ioPriority"]));
  }
  if (p.contains("execCPUAffinity")) {
    proc.cpu_affinity_initial = p["execCPUAffinity"].value("initial", "");
    proc.cpu_affinity_final = p["execCPUAffinity"].value("final", "");
    for (const std::string* list : {&proc.cpu_affinity_initial, &proc.cpu_affinity_final}) {
      if (!list->empty() && !ParseCpuList(*list)) {
        return Status::InvalidArgument("process.execCPUAffinity: invalid CPU list \"" + *list + "\"");
      }
    }
  }
  if (p.contains("consoleSize")) {
    proc.console_height = p["consoleSize"].value("height", uint16_t{0});
    proc.console_width = p["consoleSize"].value("width", uint16_t{0});
  }
  if (p.contains("oomScoreAdj")) proc.oom_score_adj = p["oomScoreAdj"].get<int>();
  // apparmorProfile and selinuxLabel: neither LSM is enforced by this runtime; a profile name
  // asks for confinement that would silently not happen, so it is refused.
  if (!p.value("apparmorProfile", "").empty()) {
    return Status::InvalidArgument("process.apparmorProfile: AppArmor is not supported");
  }
  return out;
}

// "c 1:3 rwm" from an OCI device cgroup rule; "a" for the all-devices wildcard.
std::string DeviceRule(const json& d) {
  auto num = [&](const char* key) {
    return d.contains(key) && d[key].is_number() ? std::to_string(d[key].get<int64_t>()) : "*";
  };
  std::string type = d.value("type", "a");
  if (type == "a") return "a";
  return type + " " + num("major") + ":" + num("minor") + " " + d.value("access", "rwm");
}

// The cgroup below each hierarchy: cgroupsPath without its leading slash, or a systemd
// "slice:prefix:name" placed where systemd would put it.
Result<std::string> CgroupName(const std::string& path, const std::string& id, bool systemd) {
  if (path.empty()) return "basic-runtime/" + id;
  if (systemd && path.find(':') != std::string::npos) {
    auto parts = Split(path, ':');
    if (parts.size() != 3) {
      return Status::InvalidArgument("cgroupsPath `" + path + "` is not slice:prefix:name");
    }
    std::string slice = parts[0].empty() ? "system.slice" : parts[0];
    return slice + "/" + parts[1] + "-" + parts[2] + ".scope";
  }
  std::string name(path);
  while (!name.empty() && name.front() == '/') name.erase(0, 1);
  if (name.empty()) return Status::InvalidArgument("cgroupsPath must name a cgroup below the root");
  for (const std::string& part : Split(name, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument("cgroupsPath `" + path + "` is not a clean path");
    }
  }
  return name;
}

// A uidMappings / gidMappings list: each line maps `size` ids, none of them empty or overflowing.
Result<std::vector<IdMapping>> IdMappings(const json& l, const char* key) {
  std::vector<IdMapping> out;
  for (const json& m : l.value(key, json::array())) {
    IdMapping map{m.at("containerID").get<uint32_t>(), m.at("hostID").get<uint32_t>(), m.at("size").get<uint32_t>()};
    if (map.size == 0 || uint64_t{map.container_id} + map.size > (uint64_t{1} << 32) ||
        uint64_t{map.host_id} + map.size > (uint64_t{1} << 32)) {
      return Status::InvalidArgument(std::string(key) + ": invalid mapping " + m.dump());
    }
    out.push_back(map);
  }
  if (out.size() > 340) return Status::InvalidArgument(std::string(key) + ": more than 340 lines");
  return out;
}

// Idmapped mounts: bind mounts with both maps, or with "idmap" / "ridmap" alone, which take
// the container's own user namespace maps.
Status CheckIdmappedMounts(Spec* s) {
  for (Mount& m : s->mounts) {
    MountFlags f = ParseMountOptions(m.options);
    bool mapped = !m.uid_mappings.empty() || !m.gid_mappings.empty();
    if (!mapped && !f.idmap) continue;
    std::string where = "mount on " + m.destination + ": ";
    if (m.type != "bind") return Status::InvalidArgument(where + "idmapped mounts need a bind mount");
    if (mapped && (m.uid_mappings.empty() || m.gid_mappings.empty())) {
      return Status::InvalidArgument(where + "an idmapped mount needs both uidMappings and gidMappings");
    }
    if (!mapped) {
      if (!NewNamespace(*s, "user") || s->uid_mappings.empty() || s->gid_mappings.empty()) {
        return Status::InvalidArgument(where + "\"idmap\" without mappings needs the container's own user namespace maps");
      }
      m.uid_mappings = s->uid_mappings;
      m.gid_mappings = s->gid_mappings;
    }
  }
  return {};
}

// The hooks object: each list of {path, args, env, timeout}.
Result<Hooks> HooksFromJson(const json& h) {
  Hooks out;
  if (!h.is_object()) return Status::InvalidArgument("hooks must be an object");
  std::pair<const char*, std::vector<Hook>*> lists[] = {
      {"prestart", &out.prestart},          {"createRuntime", &out.create_runtime},
      {"createContainer", &out.create_container}, {"startContainer", &out.start_container},
      {"poststart", &out.poststart},        {"poststop", &out.poststop}};
  for (const auto& [name, list] : lists) {
    for (const json& e : h.value(name, json::array())) {
      Hook hook{e.at("path").get<std::string>(), e.value("args", std::vector<std::string>{}),
                e.value("env", std::vector<std::string>{}), 0};
      if (hook.path.empty() || hook.path[0] != '/') {
        return Status::InvalidArgument(std::string("hooks.") + name + ": path `" + hook.path + "` is not absolute");
      }
      if (e.contains("timeout")) {
        hook.timeout_s = e["timeout"].get<int>();
        if (hook.timeout_s <= 0) return Status::InvalidArgument(std::string("hooks.") + name + ": timeout must be greater than zero");
      }
      list->push_back(std::move(hook));
    }
  }
  return out;
}

// linux.seccomp's filter flags and notify settings. Rules with SCMP_ACT_NOTIFY need a
// listenerPath (whose agent gets each process's notify descriptor), which is otherwise
// ignored, as the spec says.
Status ParseSeccompNotify(const json& sc, Spec* s) {
  static constexpr std::pair<std::string_view, unsigned> kFlags[] = {
      {"SECCOMP_FILTER_FLAG_TSYNC", 1}, {"SECCOMP_FILTER_FLAG_LOG", 2}, {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4},
      {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 32}};
  for (const json& f : sc.value("flags", json::array())) {
    std::string name = f.get<std::string>();
    auto flag = Lookup(kFlags, name);
    if (!flag) return Status::InvalidArgument("linux.seccomp: unknown flag \"" + name + "\"");
    s->seccomp_flags |= *flag;
  }
  if (sc.value("defaultAction", "") == "SCMP_ACT_NOTIFY") {
    return Status::InvalidArgument("linux.seccomp: SCMP_ACT_NOTIFY cannot be the default action");
  }
  bool notify = false;
  for (const json& r : sc.value("syscalls", json::array())) {
    if (!r.is_object() || r.value("action", "") != "SCMP_ACT_NOTIFY") continue;
    notify = true;
    // The process hands its notify descriptor to the runtime with sendmsg, after the filter is
    // on: a notified sendmsg would wait for an agent that never gets the descriptor.
    for (const json& n : r.value("names", json::array())) {
      if (n == "sendmsg") return Status::InvalidArgument("linux.seccomp: SCMP_ACT_NOTIFY cannot be used for sendmsg");
    }
  }
  std::string listener = sc.value("listenerPath", "");
  if (notify && listener.empty()) {
    return Status::InvalidArgument("linux.seccomp: SCMP_ACT_NOTIFY needs a listenerPath");
  }
  if (notify) {
    s->seccomp_listener = listener;
    s->seccomp_listener_metadata = sc.value("listenerMetadata", "");
  }
  return {};
}

Status ParseLinux(const json& l, const std::string& id, bool systemd_cgroup, Spec* s) {
  s->namespaces.clear();
  for (const json& n : l.value("namespaces", json::array())) {
    std::string type = n.at("type").get<std::string>();
    static constexpr std::string_view kKnown[] = {"pid", "network", "mount", "ipc", "uts", "cgroup", "user", "time"};
    if (std::find(std::begin(kKnown), std::end(kKnown), type) == std::end(kKnown)) {
      return Status::InvalidArgument("unknown namespace type \"" + type + "\"");
    }
    std::string path = n.value("path", "");
    if (HasNamespace(*s, type)) return Status::InvalidArgument("the " + type + " namespace is listed twice");
    if (path.empty()) {
      s->namespaces.push_back(type);
    } else {
      s->join_namespaces.push_back({type, path});
    }
  }
  auto has_ns = [&](const std::string& type) { return HasNamespace(*s, type); };
  auto new_ns = [&](const std::string& type) { return NewNamespace(*s, type); };
  // Without a mount namespace of its own the container would mount and pivot_root in the
  // caller's: refused, as runc does.
  if (!has_ns("mount")) {
    return Status::InvalidArgument(
        "unable to restrict sys entries without a private MNT namespace: the config must list "
        "a \"mount\" namespace");
  }
  BD_ASSIGN_OR_RETURN(s->uid_mappings, IdMappings(l, "uidMappings"));
  BD_ASSIGN_OR_RETURN(s->gid_mappings, IdMappings(l, "gidMappings"));
  if (new_ns("user")) {
    // As runc: a new user namespace needs both maps (without them nothing inside maps to root).
    if (s->uid_mappings.empty()) return Status::InvalidArgument("user namespaces enabled, but no uid mappings found");
    if (s->gid_mappings.empty()) return Status::InvalidArgument("user namespaces enabled, but no gid mappings found");
  } else if (!s->uid_mappings.empty() || !s->gid_mappings.empty()) {
    return Status::InvalidArgument("uid/gid mappings are set, but the config creates no user namespace");
  }
  if (l.contains("timeOffsets")) {
    if (!new_ns("time")) return Status::InvalidArgument("timeOffsets are set, but the config creates no time namespace");
    for (const auto& [clock, v] : l["timeOffsets"].items()) {
      if (clock != "monotonic" && clock != "boottime") {
        return Status::InvalidArgument("timeOffsets: unknown clock \"" + clock + "\" (monotonic or boottime)");
      }
      uint32_t ns = v.value("nanosecs", 0u);
      if (ns >= 1000000000u) return Status::InvalidArgument("timeOffsets." + clock + ".nanosecs must be below 1e9");
      s->time_offsets.push_back({clock, v.value("secs", int64_t{0}), ns});
    }
  }
  if (l.contains("resources")) {
    const json& r = l["resources"];
    // Every other resource as runc applies it, checked now so that a bad value fails here:
    // `unified` for its file names (whether the host is v2 is known at create), the rest as
    // on v1, whose checks are the stricter.
    json others = r;
    others.erase("devices");
    json unified = {{"unified", others.value("unified", json::object())}};
    json shaped = others;
    shaped.erase("unified");
    auto on = [](bool v2) { return [v2](std::string_view) { return ControllerDir{"/", v2}; }; };
    BD_RETURN_IF_ERROR(ResourceWrites(shaped.dump(), on(false)).status());
    BD_RETURN_IF_ERROR(ResourceWrites(unified.dump(), on(true)).status());
    s->limits.oci_resources = others.dump();
    // Device rules apply in order; a leading deny-all (what every engine sends) is the
    // restrictive baseline plus the standard devices; later allows add to it.
    // Any other deny rule: every rule in order, then the standard devices allowed, as runc.
    bool other_denies = false;
    for (const json& d : r.value("devices", json::array())) {
      if (!d.value("allow", false) && DeviceRule(d) != "a") other_denies = true;
    }
    if (other_denies) {
      for (const json& d : r.value("devices", json::array())) {
        s->limits.device_rules.emplace_back(d.value("allow", false), DeviceRule(d));
      }
      for (const std::string& rule : DefaultAllowedDevices()) s->limits.device_rules.emplace_back(true, rule);
    } else {
      bool restricted = false;
      std::vector<std::string> allowed = DefaultAllowedDevices();
      for (const json& d : r.value("devices", json::array())) {
        std::string rule = DeviceRule(d);
        if (!d.value("allow", false)) {
          restricted = true;
          allowed = DefaultAllowedDevices();
        } else if (rule != "a") {
          allowed.push_back(rule);
        } else {
          restricted = false;
        }
      }
      if (restricted) s->limits.allowed_devices = std::move(allowed);
    }
  }
  s->limits.all_hierarchies = true;
  BD_ASSIGN_OR_RETURN(s->cgroup_name,
                      CgroupName(l.value("cgroupsPath", ""), id, systemd_cgroup));
  const json sysctl = l.value("sysctl", json::object());
  for (const auto& [k, v] : sysctl.items()) {
    // A sysctl is written in the container's own namespace of its kind; without one it would
    // change the host's: refused, as runc does.
    std::string needs;
    if (k.rfind("net.", 0) == 0) needs = "network";
    else if (k.rfind("fs.mqueue.", 0) == 0 || k == "kernel.msgmax" || k == "kernel.msgmnb" ||
             k == "kernel.msgmni" || k == "kernel.sem" || k == "kernel.shmall" || k == "kernel.shmmax" ||
             k == "kernel.shmmni" || k == "kernel.shm_rmid_forced") needs = "ipc";
    else if (k == "kernel.hostname" || k == "kernel.domainname") needs = "uts";
    else return Status::InvalidArgument("sysctl \"" + k + "\" is not namespaced: not allowed in a container");
    if (!has_ns(needs)) {
      return Status::InvalidArgument("sysctl \"" + k + "\" needs a " + needs +
                                     " namespace, which the config does not give the container");
    }
    s->sysctl.emplace_back(k, v.get<std::string>());
  }
  for (const json& d : l.value("devices", json::array())) {
    std::string type = d.at("type").get<std::string>();
    if (type != "c" && type != "b" && type != "p" && type != "u") {
      return Status::InvalidArgument("device type \"" + type + "\" is not c, b, p or u");
    }
    std::string path = d.at("path").get<std::string>();
    if (path.empty() || path[0] != '/') return Status::InvalidArgument("device path must be absolute");
    s->devices.push_back({path, type == "u" ? 'c' : type[0], d.value("major", int64_t{0}),
                          d.value("minor", int64_t{0}), d.value("fileMode", 0666u),
                          d.value("uid", 0u), d.value("gid", 0u)});
  }
  if ((!s->hostname.empty() || !s->domainname.empty()) && !has_ns("uts")) {
    return Status::InvalidArgument("unable to set a hostname or domainname without a private UTS namespace");
  }
  if (l.contains("personality")) {
    std::string domain = l["personality"].value("domain", "");
    if (domain != "LINUX" && domain != "LINUX32") {
      return Status::InvalidArgument("linux.personality: unknown domain \"" + domain + "\" (LINUX or LINUX32)");
    }
    if (!l["personality"].value("flags", json::array()).empty()) {
      return Status::InvalidArgument("linux.personality.flags are not supported");
    }
    s->personality = domain == "LINUX32" ? 0x0008UL : 0UL;
  }
  if (l.contains("rootfsPropagation")) {
    static constexpr std::pair<std::string_view, unsigned long> kKinds[] = {
        {"shared", MS_SHARED}, {"slave", MS_SLAVE}, {"private", MS_PRIVATE}, {"unbindable", MS_UNBINDABLE}};
    std::string kind = l["rootfsPropagation"].get<std::string>();
    auto k = Lookup(kKinds, kind);
    if (!k) return Status::InvalidArgument("linux.rootfsPropagation: unknown value \"" + kind + "\"");
    s->rootfs_propagation = *k;
  }
  s->masked_paths = l.value("maskedPaths", std::vector<std::string>{});
  s->readonly_paths = l.value("readonlyPaths", std::vector<std::string>{});
  if (l.contains("seccomp")) {
    BD_RETURN_IF_ERROR(ParseSeccompNotify(l["seccomp"], s));
    // The OCI seccomp section is Docker's profile format without its capability filters.
    auto program = CompileSeccompProfile(l["seccomp"].dump(), s->process.capabilities);
    if (!program.ok()) return program.status().WithContext("linux.seccomp");
    s->seccomp_program = std::move(*program);
  }
  return {};
}

}  // namespace

Result<OciBundle> ParseOciConfig(std::string_view config, const std::string& bundle_dir,
                                 const std::string& id, bool systemd_cgroup) {
  json j = json::parse(config, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("config.json is not a JSON object");
  try {
    std::string version = j.value("ociVersion", "");
    if (version.rfind("1.", 0) != 0) {
      return Status::InvalidArgument("unsupported ociVersion \"" + version + "\" (1.x expected)");
    }
    OciBundle out;
    Spec& s = out.spec;
    s.id = id;
    if (j.contains("hooks")) {
      BD_ASSIGN_OR_RETURN(s.hooks, HooksFromJson(j["hooks"]));
    }
    if (!j.contains("process")) return Status::InvalidArgument("config.json has no process");
    BD_ASSIGN_OR_RETURN(OciProcess p, ProcessFromJson(j["process"]));
    s.process = std::move(p.process);
    if (!j.contains("root")) return Status::InvalidArgument("config.json has no root");
    std::string root = j["root"].at("path").get<std::string>();
    s.rootfs = root.empty() || root[0] == '/' ? root : os::JoinPath(bundle_dir, root);
    if (!os::IsDir(s.rootfs)) return Status::NotFound("root.path `" + s.rootfs + "` is not a directory");
    s.readonly_rootfs = j["root"].value("readonly", false);
    s.hostname = j.value("hostname", "");
    BD_RETURN_IF_ERROR(ValidateHostname(s.hostname));
    s.domainname = j.value("domainname", "");
    BD_RETURN_IF_ERROR(ValidateHostname(s.domainname).WithContext("domainname"));
    for (const json& m : j.value("mounts", json::array())) {
      Mount mount{m.at("destination").get<std::string>(), m.value("type", ""), m.value("source", ""),
                  m.value("options", std::vector<std::string>{})};
      if (mount.destination.empty()) return Status::InvalidArgument("a mount has an empty destination");
      // The spec allows a relative destination: relative to the container's root.
      if (mount.destination[0] != '/') mount.destination = "/" + mount.destination;
      bool bind = mount.type == "bind" ||
                  std::find(mount.options.begin(), mount.options.end(), "bind") != mount.options.end() ||
                  std::find(mount.options.begin(), mount.options.end(), "rbind") != mount.options.end();
      if (bind && !mount.source.empty() && mount.source[0] != '/') {
        mount.source = os::JoinPath(bundle_dir, mount.source);
      }
      if (bind) mount.type = "bind";
      BD_RETURN_IF_ERROR(ValidateProcMount(mount));
      BD_ASSIGN_OR_RETURN(mount.uid_mappings, IdMappings(m, "uidMappings"));
      BD_ASSIGN_OR_RETURN(mount.gid_mappings, IdMappings(m, "gidMappings"));
      s.mounts.push_back(std::move(mount));
    }
    const json annotations = j.value("annotations", json::object());
    for (const auto& [k, v] : annotations.items()) {
      out.annotations[k] = v.get<std::string>();
    }
    if (j.contains("linux")) {
      BD_RETURN_IF_ERROR(ParseLinux(j["linux"], id, systemd_cgroup, &s));
    } else {
      return Status::InvalidArgument("config.json has no linux section");
    }
    BD_RETURN_IF_ERROR(CheckIdmappedMounts(&s));
    // The state that hooks and the seccomp agent read names the bundle and its annotations.
    if (s.hooks.Any() || !s.seccomp_listener.empty()) {
      s.hooks.bundle = bundle_dir;
      s.hooks.annotations = out.annotations;
    }
    return out;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("config.json: ") + e.what());
  }
}

Result<OciProcess> ParseOciProcess(std::string_view process_json) {
  json j = json::parse(process_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("process is not a JSON object");
  try {
    return ProcessFromJson(j);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("process: ") + e.what());
  }
}

std::string DefaultOciConfig() {
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json mounts = json::array();
  for (const Mount& m : DefaultMounts()) {
    mounts.push_back({{"destination", m.destination}, {"type", m.type}, {"source", m.source},
                      {"options", m.options}});
  }
  mounts.push_back({{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
                    {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}});
  json namespaces = json::array();
  for (const std::string& n : DefaultNamespaces()) namespaces.push_back({{"type", n}});
  json config = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "basic-runtime"},
      {"mounts", std::move(mounts)},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces", std::move(namespaces)},
        {"maskedPaths", DefaultMaskedPaths()},
        {"readonlyPaths", DefaultReadonlyPaths()}}}};
  return config.dump(2) + "\n";
}

}  // namespace bd::runtime
