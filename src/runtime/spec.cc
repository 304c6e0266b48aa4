#include "runtime/spec.h"

#include <sys/mount.h>

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

namespace bd::runtime {

using nlohmann::json;

namespace {

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

json MappingsToJson(const std::vector<IdMapping>& maps) {
  json out = json::array();
  for (const IdMapping& m : maps) {
    out.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  }
  return out;
}

std::vector<IdMapping> MappingsFromJson(const json& maps) {
  std::vector<IdMapping> out;
  for (const json& m : maps) {
    out.push_back({m.at("containerID").get<uint32_t>(), m.at("hostID").get<uint32_t>(),
                   m.at("size").get<uint32_t>()});
  }
  return out;
}

// The hook lists under their OCI names.
template <typename H>
auto HookLists(H& h) {
  return std::array{std::pair{"prestart", &h.prestart},
                    std::pair{"createRuntime", &h.create_runtime},
                    std::pair{"createContainer", &h.create_container},
                    std::pair{"startContainer", &h.start_container},
                    std::pair{"poststart", &h.poststart},
                    std::pair{"poststop", &h.poststop}};
}

}  // namespace

std::string SpecToJson(const Spec& s) {
  json j;
  j["ociVersion"] = "1.0.2";
  j["id"] = s.id;
  j["process"] = {{"args", s.process.args},
                  {"env", s.process.env},
                  {"cwd", s.process.cwd},
                  {"user", s.process.user},
                  {"terminal", s.process.terminal},
                  {"capabilities", {{"bounding", s.process.capabilities}}},
                  {"noNewPrivileges", s.process.no_new_privileges}};
  // The fields below appear only when set, keeping the engine's stored specs small.
  json& p = j["process"];
  // Apart from "capabilities": specs stored before these sets existed wrote an "effective"
  // equal to the bounding set there, which must keep meaning "root only".
  if (s.process.effective_caps || s.process.permitted_caps || !s.process.inheritable_caps.empty() ||
      !s.process.ambient_caps.empty()) {
    json& sets = p["capabilitySets"];
    if (s.process.effective_caps) sets["effective"] = *s.process.effective_caps;
    if (s.process.permitted_caps) sets["permitted"] = *s.process.permitted_caps;
    sets["inheritable"] = s.process.inheritable_caps;
    sets["ambient"] = s.process.ambient_caps;
  }
  if (s.process.numeric_user) {
    p["numericUser"] = {{"uid", s.process.numeric_user->uid},
                        {"gid", s.process.numeric_user->gid},
                        {"additionalGids", s.process.numeric_user->additional_gids}};
  }
  if (s.process.umask) p["umask"] = *s.process.umask;
  if (!s.process.rlimits.empty()) {
    json rl = json::array();
    for (const Rlimit& r : s.process.rlimits) {
      rl.push_back({{"resource", r.resource}, {"soft", r.soft}, {"hard", r.hard}});
    }
    p["rlimits"] = std::move(rl);
  }
  if (s.process.oom_score_adj) p["oomScoreAdj"] = *s.process.oom_score_adj;
  if (s.process.scheduler) {
    const Scheduler& sc = *s.process.scheduler;
    p["scheduler"] = {{"policy", sc.policy}, {"nice", sc.nice}, {"priority", sc.priority}, {"flags", sc.flags},
                      {"runtime", sc.runtime}, {"deadline", sc.deadline}, {"period", sc.period}};
  }
  if (s.process.io_priority) p["ioPriority"] = *s.process.io_priority;
  if (!s.process.cpu_affinity_initial.empty() || !s.process.cpu_affinity_final.empty()) {
    p["execCPUAffinity"] = {{"initial", s.process.cpu_affinity_initial}, {"final", s.process.cpu_affinity_final}};
  }
  if (s.process.console_height || s.process.console_width) {
    p["consoleSize"] = {{"height", s.process.console_height}, {"width", s.process.console_width}};
  }
  if (!s.domainname.empty()) j["domainname"] = s.domainname;
  if (s.personality) j["personality"] = *s.personality;
  if (s.rootfs_propagation) j["rootfsPropagation"] = s.rootfs_propagation;
  j["hostname"] = s.hostname;
  j["root"] = {{"path", s.rootfs}, {"readonly", s.readonly_rootfs}};
  if (s.overlay) {
    j["overlay"] = {{"lowerDirs", s.overlay->lower_dirs},
                    {"upperDir", s.overlay->upper_dir},
                    {"workDir", s.overlay->work_dir}};
  }
  json mounts = json::array();
  for (const Mount& m : s.mounts) {
    json mount = {{"destination", m.destination}, {"type", m.type}, {"source", m.source}, {"options", m.options}};
    if (!m.uid_mappings.empty()) mount["uidMappings"] = MappingsToJson(m.uid_mappings);
    if (!m.gid_mappings.empty()) mount["gidMappings"] = MappingsToJson(m.gid_mappings);
    mounts.push_back(std::move(mount));
  }
  j["mounts"] = std::move(mounts);
  json ns = json::array();
  for (const auto& n : s.namespaces) ns.push_back({{"type", n}});
  j["linux"] = {{"namespaces", std::move(ns)},
                {"maskedPaths", s.masked_paths},
                {"readonlyPaths", s.readonly_paths},
                {"seccompProgram", HexEncode(s.seccomp_program)},
                {"seccompFlags", s.seccomp_flags},
                {"seccompListener", s.seccomp_listener},
                {"seccompListenerMetadata", s.seccomp_listener_metadata},
                {"cgroupsPath", s.cgroup_name},
                {"resources",
                 {{"memory", {{"limit", s.limits.memory_bytes}}},
                  {"cpu", {{"quota", s.limits.cpu_quota_us}, {"period", s.limits.cpu_period_us}}},
                  {"pids", {{"limit", s.limits.pids_max}}}}}};
  json& l = j["linux"];
  if (s.limits.allowed_devices) l["resources"]["allowedDevices"] = *s.limits.allowed_devices;
  if (!s.limits.oci_resources.empty()) l["resources"]["oci"] = s.limits.oci_resources;
  if (!s.limits.device_rules.empty()) {
    json rules = json::array();
    for (const auto& [allow, rule] : s.limits.device_rules) rules.push_back({{"allow", allow}, {"rule", rule}});
    l["resources"]["deviceRules"] = std::move(rules);
  }
  if (s.limits.all_hierarchies) l["resources"]["allHierarchies"] = true;
  if (!s.join_namespaces.empty()) {
    json joined = json::array();
    for (const auto& n : s.join_namespaces) joined.push_back({{"type", n.type}, {"path", n.path}});
    l["joinNamespaces"] = std::move(joined);
  }
  if (!s.devices.empty()) {
    json devices = json::array();
    for (const Device& d : s.devices) {
      devices.push_back({{"path", d.path}, {"type", std::string(1, d.type)}, {"major", d.major},
                         {"minor", d.minor}, {"fileMode", d.mode}, {"uid", d.uid}, {"gid", d.gid}});
    }
    l["devices"] = std::move(devices);
  }
  if (!s.sysctl.empty()) {
    json sysctl = json::object();
    for (const auto& [k, v] : s.sysctl) sysctl[k] = v;
    l["sysctl"] = std::move(sysctl);
  }
  if (!s.uid_mappings.empty()) l["uidMappings"] = MappingsToJson(s.uid_mappings);
  if (!s.gid_mappings.empty()) l["gidMappings"] = MappingsToJson(s.gid_mappings);
  if (!s.time_offsets.empty()) {
    json offsets = json::object();
    for (const TimeOffset& t : s.time_offsets) offsets[t.clock] = {{"secs", t.secs}, {"nanosecs", t.nanosecs}};
    l["timeOffsets"] = std::move(offsets);
  }
  if (s.hooks.Any()) {
    json hooks = {{"bundle", s.hooks.bundle}, {"annotations", s.hooks.annotations}};
    for (const auto& [name, list] : HookLists(s.hooks)) {
      if (list->empty()) continue;
      json out = json::array();
      for (const Hook& h : *list) {
        out.push_back({{"path", h.path}, {"args", h.args}, {"env", h.env}, {"timeout", h.timeout_s}});
      }
      hooks[name] = std::move(out);
    }
    j["hooks"] = std::move(hooks);
  }
  if (!s.start_fifo.empty()) j["startFifo"] = s.start_fifo;
  return j.dump();
}

Result<Spec> SpecFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("runtime spec: not JSON");
  try {
    Spec s;
    s.id = j.value("id", "");
    const json& p = j.at("process");
    s.process.args = p.at("args").get<std::vector<std::string>>();
    s.process.env = p.value("env", std::vector<std::string>{});
    s.process.cwd = p.value("cwd", "/");
    s.process.user = p.value("user", "");
    s.process.terminal = p.value("terminal", false);
    if (p.contains("capabilities")) {
      s.process.capabilities = p["capabilities"].value("bounding", std::vector<std::string>{});
    }
    if (p.contains("capabilitySets")) {
      const json& c = p["capabilitySets"];
      if (c.contains("effective")) s.process.effective_caps = c["effective"].get<std::vector<std::string>>();
      if (c.contains("permitted")) s.process.permitted_caps = c["permitted"].get<std::vector<std::string>>();
      s.process.inheritable_caps = c.value("inheritable", std::vector<std::string>{});
      s.process.ambient_caps = c.value("ambient", std::vector<std::string>{});
    }
    s.process.no_new_privileges = p.value("noNewPrivileges", false);
    if (p.contains("numericUser")) {
      const json& u = p["numericUser"];
      s.process.numeric_user = NumericUser{u.at("uid").get<uint32_t>(), u.at("gid").get<uint32_t>(),
                                           u.value("additionalGids", std::vector<uint32_t>{})};
    }
    if (p.contains("umask")) s.process.umask = p["umask"].get<uint32_t>();
    for (const json& r : p.value("rlimits", json::array())) {
      s.process.rlimits.push_back({r.at("resource").get<int>(), r.at("soft").get<uint64_t>(),
                                   r.at("hard").get<uint64_t>()});
    }
    if (p.contains("oomScoreAdj")) s.process.oom_score_adj = p["oomScoreAdj"].get<int>();
    if (p.contains("scheduler")) {
      const json& sc = p["scheduler"];
      s.process.scheduler = Scheduler{sc.value("policy", 0), sc.value("nice", 0), sc.value("priority", 0),
                                      sc.value("flags", uint64_t{0}), sc.value("runtime", uint64_t{0}),
                                      sc.value("deadline", uint64_t{0}), sc.value("period", uint64_t{0})};
    }
    if (p.contains("ioPriority")) s.process.io_priority = p["ioPriority"].get<int>();
    if (p.contains("execCPUAffinity")) {
      s.process.cpu_affinity_initial = p["execCPUAffinity"].value("initial", "");
      s.process.cpu_affinity_final = p["execCPUAffinity"].value("final", "");
    }
    if (p.contains("consoleSize")) {
      s.process.console_height = p["consoleSize"].value("height", uint16_t{0});
      s.process.console_width = p["consoleSize"].value("width", uint16_t{0});
    }
    s.domainname = j.value("domainname", "");
    if (j.contains("personality")) s.personality = j["personality"].get<unsigned long>();
    s.rootfs_propagation = j.value("rootfsPropagation", 0UL);
    s.start_fifo = j.value("startFifo", "");
    s.hostname = j.value("hostname", "");
    s.rootfs = j.at("root").at("path").get<std::string>();
    s.readonly_rootfs = j.at("root").value("readonly", false);
    if (j.contains("overlay")) {
      const json& o = j["overlay"];
      s.overlay = Overlay{o.at("lowerDirs").get<std::vector<std::string>>(),
                          o.at("upperDir").get<std::string>(), o.at("workDir").get<std::string>()};
    }
    for (const json& m : j.value("mounts", json::array())) {
      s.mounts.push_back({m.at("destination").get<std::string>(), m.value("type", ""),
                          m.value("source", ""),
                          m.value("options", std::vector<std::string>{}),
                          MappingsFromJson(m.value("uidMappings", json::array())),
                          MappingsFromJson(m.value("gidMappings", json::array()))});
    }
    if (j.contains("linux")) {
      const json& l = j["linux"];
      for (const json& n : l.value("namespaces", json::array())) {
        s.namespaces.push_back(n.at("type").get<std::string>());
      }
      s.masked_paths = l.value("maskedPaths", std::vector<std::string>{});
      s.readonly_paths = l.value("readonlyPaths", std::vector<std::string>{});
      auto program = HexDecode(l.value("seccompProgram", ""));
      if (!program) return Status::InvalidArgument("runtime spec: seccompProgram is not hex");
      s.seccomp_program = std::move(*program);
      s.seccomp_flags = l.value("seccompFlags", 0u);
      s.seccomp_listener = l.value("seccompListener", "");
      s.seccomp_listener_metadata = l.value("seccompListenerMetadata", "");
      s.cgroup_name = l.value("cgroupsPath", "");
      if (l.contains("resources")) {
        const json& r = l["resources"];
        if (r.contains("memory")) s.limits.memory_bytes = r["memory"].value("limit", int64_t{0});
        if (r.contains("cpu")) {
          s.limits.cpu_quota_us = r["cpu"].value("quota", int64_t{0});
          s.limits.cpu_period_us = r["cpu"].value("period", int64_t{100000});
        }
        if (r.contains("pids")) s.limits.pids_max = r["pids"].value("limit", int64_t{0});
        s.limits.oci_resources = r.value("oci", "");
        s.limits.all_hierarchies = r.value("allHierarchies", false);
        for (const json& d : r.value("deviceRules", json::array())) {
          s.limits.device_rules.emplace_back(d.at("allow").get<bool>(), d.at("rule").get<std::string>());
        }
        if (r.contains("allowedDevices")) {
          s.limits.allowed_devices = r["allowedDevices"].get<std::vector<std::string>>();
        }
      }
      for (const json& n : l.value("joinNamespaces", json::array())) {
        s.join_namespaces.push_back({n.at("type").get<std::string>(), n.at("path").get<std::string>()});
      }
      for (const json& d : l.value("devices", json::array())) {
        std::string type = d.at("type").get<std::string>();
        s.devices.push_back({d.at("path").get<std::string>(), type.empty() ? 'c' : type[0],
                             d.value("major", int64_t{0}), d.value("minor", int64_t{0}),
                             d.value("fileMode", 0666u), d.value("uid", 0u), d.value("gid", 0u)});
      }
      const json sysctl = l.value("sysctl", json::object());
      for (const auto& [k, v] : sysctl.items()) {
        s.sysctl.emplace_back(k, v.get<std::string>());
      }
      s.uid_mappings = MappingsFromJson(l.value("uidMappings", json::array()));
      s.gid_mappings = MappingsFromJson(l.value("gidMappings", json::array()));
      const json offsets = l.value("timeOffsets", json::object());
      for (const auto& [clock, v] : offsets.items()) {
        s.time_offsets.push_back({clock, v.value("secs", int64_t{0}), v.value("nanosecs", 0u)});
      }
    }
    if (j.contains("hooks")) {
      const json& h = j["hooks"];
      s.hooks.bundle = h.value("bundle", "");
      s.hooks.annotations = h.value("annotations", std::map<std::string, std::string>{});
      for (const auto& [name, list] : HookLists(s.hooks)) {
        for (const json& e : h.value(name, json::array())) {
          list->push_back({e.at("path").get<std::string>(), e.value("args", std::vector<std::string>{}),
                           e.value("env", std::vector<std::string>{}), e.value("timeout", 0)});
        }
      }
    }
    if (s.process.args.empty()) return Status::InvalidArgument("runtime spec: empty process.args");
    return s;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("runtime spec: ") + e.what());
  }
}

std::optional<std::vector<int>> ParseCpuList(std::string_view list) {
  std::vector<int> out;
  size_t i = 0;
  auto number = [&]() -> std::optional<int> {
    size_t start = i;
    int n = 0;
    while (i < list.size() && list[i] >= '0' && list[i] <= '9' && i - start < 5) n = n * 10 + (list[i++] - '0');
    if (i == start) return std::nullopt;
    return n;
  };
  while (i < list.size()) {
    auto first = number();
    if (!first) return std::nullopt;
    int last = *first;
    if (i < list.size() && list[i] == '-') {
      ++i;
      auto l = number();
      if (!l || *l < *first) return std::nullopt;
      last = *l;
    }
    if (last >= 8192) return std::nullopt;
    for (int c = *first; c <= last; ++c) out.push_back(c);
    if (i < list.size()) {
      if (list[i] != ',' || i + 1 == list.size()) return std::nullopt;
      ++i;
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool NewNamespace(const Spec& spec, std::string_view type) {
  return std::find(spec.namespaces.begin(), spec.namespaces.end(), type) != spec.namespaces.end();
}

bool HasNamespace(const Spec& spec, std::string_view type) {
  return NewNamespace(spec, type) ||
         std::any_of(spec.join_namespaces.begin(), spec.join_namespaces.end(),
                     [&](const NamespacePath& n) { return n.type == type; });
}

CgroupPlan PlanFor(const Spec& spec) {
  if (spec.cgroup_name.empty()) return {};
  std::string root = CgroupRoot();
  return PlanCgroup(DetectCgroupLayout(root), root, spec.cgroup_name, spec.limits);
}

std::vector<Mount> DefaultMounts() {
  return {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
  };
}

std::vector<std::string> DefaultNamespaces() {
  return {"pid", "mount", "uts", "ipc", "network", "cgroup"};
}

MountFlags ParseMountOptions(const std::vector<std::string>& options) {
  struct Flag {
    const char* name;
    bool clear;
    unsigned long flag;
  };
  static constexpr Flag kFlags[] = {
      {"ro", false, MS_RDONLY},         {"rw", true, MS_RDONLY},
      {"nosuid", false, MS_NOSUID},     {"suid", true, MS_NOSUID},
      {"nodev", false, MS_NODEV},       {"dev", true, MS_NODEV},
      {"noexec", false, MS_NOEXEC},     {"exec", true, MS_NOEXEC},
      {"sync", false, MS_SYNCHRONOUS},  {"async", true, MS_SYNCHRONOUS},
      {"noatime", false, MS_NOATIME},   {"atime", true, MS_NOATIME},
      {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
      {"strictatime", false, MS_STRICTATIME},
      {"nodiratime", false, MS_NODIRATIME},
  };
  static constexpr std::pair<const char*, unsigned long> kPropagation[] = {
      {"private", MS_PRIVATE},          {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},            {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},              {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE},    {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  // The recursive forms (runc's "rro", "rnosuid", ...): mount_setattr attributes applied to
  // the whole tree with AT_RECURSIVE. `atime` ones replace the atime mode.
  struct Attr {
    const char* name;
    bool clear;
    uint64_t attr;
  };
  static constexpr Attr kRecursive[] = {
      {"rro", false, MOUNT_ATTR_RDONLY},          {"rrw", true, MOUNT_ATTR_RDONLY},
      {"rnosuid", false, MOUNT_ATTR_NOSUID},      {"rsuid", true, MOUNT_ATTR_NOSUID},
      {"rnodev", false, MOUNT_ATTR_NODEV},        {"rdev", true, MOUNT_ATTR_NODEV},
      {"rnoexec", false, MOUNT_ATTR_NOEXEC},      {"rexec", true, MOUNT_ATTR_NOEXEC},
      {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
      {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW}, {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
  };
  static constexpr std::pair<const char*, uint64_t> kRecursiveAtime[] = {
      {"rrelatime", MOUNT_ATTR_RELATIME}, {"rnoatime", MOUNT_ATTR_NOATIME},
      {"rstrictatime", MOUNT_ATTR_STRICTATIME},
  };
  MountFlags out;
  for (const std::string& opt : options) {
    bool recursive_attr = false;
    for (const Attr& a : kRecursive) {
      if (opt == a.name) {
        (a.clear ? out.attr_clear : out.attr_set) |= a.attr;
        (a.clear ? out.attr_set : out.attr_clear) &= ~a.attr;
        recursive_attr = true;
      }
    }
    for (const auto& [name, mode] : kRecursiveAtime) {
      if (opt == name) {
        out.attr_clear |= MOUNT_ATTR__ATIME;
        out.attr_set = (out.attr_set & ~static_cast<uint64_t>(MOUNT_ATTR__ATIME)) | mode;
        recursive_attr = true;
      }
    }
    if (opt == "ratime" || opt == "rnorelatime") {  // back to relatime, the kernel's default
      out.attr_clear |= MOUNT_ATTR__ATIME;
      out.attr_set &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
      recursive_attr = true;
    }
    if (recursive_attr) continue;
    if (opt == "idmap" || opt == "ridmap") {
      out.idmap = true;
      out.idmap_recursive = opt == "ridmap";
      continue;
    }
    if (opt == "tmpcopyup") {
      out.tmpcopyup = true;
      continue;
    }
    if (opt == "nosymfollow") {
      out.flags |= MS_NOSYMFOLLOW;
      continue;
    }
    if (opt == "symfollow") {
      out.flags &= ~static_cast<unsigned long>(MS_NOSYMFOLLOW);
      out.cleared |= MS_NOSYMFOLLOW;
      continue;
    }
    if (opt == "bind") {
      out.bind = true;
      continue;
    }
    if (opt == "rbind") {
      out.bind = out.recursive = true;
      continue;
    }
    bool known = false;
    for (const Flag& f : kFlags) {
      if (opt == f.name) {
        out.flags = f.clear ? out.flags & ~f.flag : out.flags | f.flag;
        out.cleared = f.clear ? out.cleared | f.flag : out.cleared & ~f.flag;
        known = true;
        break;
      }
    }
    for (const auto& [name, flag] : kPropagation) {
      if (!known && opt == name) {
        out.propagation |= flag;
        known = true;
      }
    }
    if (!known) {
      if (!out.data.empty()) out.data.push_back(',');
      out.data.append(opt);
    }
  }
  return out;
}

Result<std::string> OverlayData(const Overlay& o) {
  if (o.lower_dirs.empty()) return Status::InvalidArgument("overlay needs at least one lower dir");
  std::string data = "lowerdir=";
  auto check = [](const std::string& p) -> Status {
    if (p.find_first_of(",:") != std::string::npos) {
      return Status::InvalidArgument("overlay path `" + p + "` contains ',' or ':'");
    }
    return {};
  };
  for (size_t i = 0; i < o.lower_dirs.size(); ++i) {
    BD_RETURN_IF_ERROR(check(o.lower_dirs[i]));
    if (i) data.push_back(':');
    data.append(o.lower_dirs[i]);
  }
  BD_RETURN_IF_ERROR(check(o.upper_dir));
  BD_RETURN_IF_ERROR(check(o.work_dir));
  data.append(",upperdir=").append(o.upper_dir).append(",workdir=").append(o.work_dir);
  return data;
}

Status ValidateHostname(std::string_view hostname) {
  if (hostname.size() > 64) {
    return Status::InvalidArgument("the hostname is " + std::to_string(hostname.size()) +
                                   " bytes long; the kernel takes at most 64");
  }
  for (char ch : hostname) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c >= 0x7f || c == '/') {
      return Status::InvalidArgument("invalid hostname: only printable ASCII without spaces or '/' is allowed");
    }
  }
  return {};
}

Status ValidateProcMount(const Mount& m) {
  std::string dest = m.destination;
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  if (dest != "/proc" && dest.rfind("/proc/", 0) != 0) return {};
  if (dest == "/proc") {
    if (m.type == "proc") return {};
    return Status::InvalidArgument("cannot mount " + (m.type.empty() ? std::string("bind") : m.type) +
                                   " on /proc: only a proc filesystem may be mounted there");
  }
  static constexpr std::string_view kAllowed[] = {
      "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
      "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
      "/proc/sys/kernel/ns_last_pid"};
  for (std::string_view a : kAllowed) {
    if (dest == a) return {};
  }
  return Status::InvalidArgument("cannot mount on " + dest + ": mounts below /proc are refused");
}

}  // namespace bd::runtime
