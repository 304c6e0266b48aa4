#include "runtime/oci_export.h"

#include <sys/mount.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace bd::runtime {

using nlohmann::json;

namespace {

const char* RlimitName(int resource) {
  switch (resource) {
    case RLIMIT_CPU: return "RLIMIT_CPU";
    case RLIMIT_FSIZE: return "RLIMIT_FSIZE";
    case RLIMIT_DATA: return "RLIMIT_DATA";
    case RLIMIT_STACK: return "RLIMIT_STACK";
    case RLIMIT_CORE: return "RLIMIT_CORE";
    case RLIMIT_RSS: return "RLIMIT_RSS";
    case RLIMIT_NPROC: return "RLIMIT_NPROC";
    case RLIMIT_NOFILE: return "RLIMIT_NOFILE";
    case RLIMIT_MEMLOCK: return "RLIMIT_MEMLOCK";
    case RLIMIT_AS: return "RLIMIT_AS";
    case RLIMIT_LOCKS: return "RLIMIT_LOCKS";
    case RLIMIT_SIGPENDING: return "RLIMIT_SIGPENDING";
    case RLIMIT_MSGQUEUE: return "RLIMIT_MSGQUEUE";
    case RLIMIT_NICE: return "RLIMIT_NICE";
    case RLIMIT_RTPRIO: return "RLIMIT_RTPRIO";
    case RLIMIT_RTTIME: return "RLIMIT_RTTIME";
    default: return nullptr;
  }
}

json Mappings(const std::vector<IdMapping>& maps) {
  json out = json::array();
  for (const IdMapping& m : maps) {
    out.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  }
  return out;
}

// "c 1:3 rwm", "a *:* rwm", "c 136:* rwm" as a linux.resources.devices rule.
Result<json> DeviceRule(bool allow, const std::string& rule) {
  auto parts = Split(rule, ' ');
  auto numbers = parts.size() == 3 ? Split(parts[1], ':') : std::vector<std::string>{};
  if (parts.size() != 3 || parts[0].size() != 1 || numbers.size() != 2) {
    return Status::InvalidArgument("device rule \"" + rule + "\" is not TYPE MAJOR:MINOR ACCESS");
  }
  json r = {{"allow", allow}, {"type", parts[0]}, {"access", parts[2]}};
  const char* keys[] = {"major", "minor"};
  for (int i = 0; i < 2; ++i) {
    if (numbers[i] == "*") continue;
    auto n = ParseInt(numbers[i]);
    if (!n || *n < 0) return Status::InvalidArgument("device rule \"" + rule + "\": bad number");
    r[keys[i]] = *n;
  }
  return r;
}

Result<json> Resources(const CgroupLimits& l) {
  json r = json::object();
  if (l.memory_bytes > 0) r["memory"]["limit"] = l.memory_bytes;
  if (l.cpu_quota_us > 0) {
    r["cpu"]["quota"] = l.cpu_quota_us;
    r["cpu"]["period"] = l.cpu_period_us;
  }
  if (l.pids_max > 0) r["pids"]["limit"] = l.pids_max;
  json devices = json::array();
  if (l.allowed_devices) {
    devices.push_back({{"allow", false}, {"access", "rwm"}});
    for (const std::string& rule : *l.allowed_devices) {
      BD_ASSIGN_OR_RETURN(json d, DeviceRule(true, rule));
      devices.push_back(std::move(d));
    }
  }
  for (const auto& [allow, rule] : l.device_rules) {
    BD_ASSIGN_OR_RETURN(json d, DeviceRule(allow, rule));
    devices.push_back(std::move(d));
  }
  if (!devices.empty()) r["devices"] = std::move(devices);
  if (!l.oci_resources.empty()) {
    json extra = json::parse(l.oci_resources, nullptr, false);
    if (extra.is_object()) r.merge_patch(extra);
  }
  return r;
}

json HookJson(const runtime::Hook& h) {
  json j = {{"path", h.path}};
  if (!h.args.empty()) j["args"] = h.args;
  if (!h.env.empty()) j["env"] = h.env;
  if (h.timeout_s > 0) j["timeout"] = h.timeout_s;
  return j;
}

}  // namespace

Result<std::string> OciConfigOf(const Spec& spec, const OciExport& extra) {
  if (!spec.seccomp_listener.empty()) {
    return Status::InvalidArgument("a seccomp agent (listenerPath) cannot be handed to an OCI runtime here");
  }
  const Process& p = spec.process;
  json proc = {{"terminal", p.terminal}, {"cwd", p.cwd.empty() ? "/" : p.cwd}, {"args", p.args}};
  if (p.terminal && p.console_height && p.console_width) {
    proc["consoleSize"] = {{"height", p.console_height}, {"width", p.console_width}};
  }
  json user = {{"uid", extra.user.uid}, {"gid", extra.user.gid}};
  if (!extra.user.additional_gids.empty()) user["additionalGids"] = extra.user.additional_gids;
  if (p.umask) user["umask"] = *p.umask;
  proc["user"] = std::move(user);
  std::vector<std::string> env = p.env;
  bool has_home = false, has_path = false;
  for (const std::string& e : env) {
    has_home |= e.rfind("HOME=", 0) == 0 && e.size() > 5;
    has_path |= e.rfind("PATH=", 0) == 0;
  }
  if (!has_home && !extra.home.empty()) {
    std::erase_if(env, [](const std::string& e) { return e.rfind("HOME=", 0) == 0; });
    env.push_back("HOME=" + extra.home);
  }
  if (!has_path) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  proc["env"] = std::move(env);
  // The engine's sets: the bounding set, also effective and permitted for root (a non-root
  // user has none of those), unless the spec gives them.
  bool root = extra.user.uid == 0;
  std::vector<std::string> none;
  proc["capabilities"] = {
      {"bounding", p.capabilities},
      {"effective", p.effective_caps ? *p.effective_caps : root ? p.capabilities : none},
      {"permitted", p.permitted_caps ? *p.permitted_caps : root ? p.capabilities : none},
      {"inheritable", p.inheritable_caps},
      {"ambient", p.ambient_caps},
  };
  proc["noNewPrivileges"] = p.no_new_privileges;
  json rlimits = json::array();
  for (const Rlimit& r : p.rlimits) {
    const char* name = RlimitName(r.resource);
    if (!name) return Status::InvalidArgument("rlimit " + std::to_string(r.resource) + " has no OCI name");
    rlimits.push_back({{"type", name}, {"soft", r.soft}, {"hard", r.hard}});
  }
  if (!rlimits.empty()) proc["rlimits"] = std::move(rlimits);
  if (p.oom_score_adj) proc["oomScoreAdj"] = *p.oom_score_adj;

  json c = {{"ociVersion", "1.0.2"}, {"process", std::move(proc)}};
  c["root"] = {{"path", extra.root_path.empty() ? spec.rootfs : extra.root_path}, {"readonly", spec.readonly_rootfs}};
  if (!spec.hostname.empty()) c["hostname"] = spec.hostname;
  if (!spec.domainname.empty()) c["domainname"] = spec.domainname;
  json mounts = json::array();
  for (const Mount& m : spec.mounts) {
    json j = {{"destination", m.destination}, {"type", m.type}, {"source", m.source}};
    if (!m.options.empty()) {
      std::vector<std::string> options = m.options;
      std::erase(options, "");  // an unset propagation of a -v
      j["options"] = std::move(options);
    }
    if (!m.uid_mappings.empty()) j["uidMappings"] = Mappings(m.uid_mappings);
    if (!m.gid_mappings.empty()) j["gidMappings"] = Mappings(m.gid_mappings);
    mounts.push_back(std::move(j));
  }
  c["mounts"] = std::move(mounts);

  json linux = json::object();
  json namespaces = json::array();
  for (const std::string& ns : spec.namespaces) namespaces.push_back({{"type", ns}});
  for (const NamespacePath& ns : spec.join_namespaces) {
    namespaces.push_back({{"type", ns.type}, {"path", ns.path}});
  }
  linux["namespaces"] = std::move(namespaces);
  if (!spec.uid_mappings.empty()) linux["uidMappings"] = Mappings(spec.uid_mappings);
  if (!spec.gid_mappings.empty()) linux["gidMappings"] = Mappings(spec.gid_mappings);
  if (!spec.time_offsets.empty()) {
    for (const TimeOffset& t : spec.time_offsets) {
      linux["timeOffsets"][t.clock] = {{"secs", t.secs}, {"nanosecs", t.nanosecs}};
    }
  }
  if (!spec.cgroup_name.empty()) linux["cgroupsPath"] = "/" + spec.cgroup_name;
  BD_ASSIGN_OR_RETURN(linux["resources"], Resources(spec.limits));
  json devices = json::array();
  for (const Device& d : spec.devices) {
    devices.push_back({{"path", d.path}, {"type", std::string(1, d.type)}, {"major", d.major},
                       {"minor", d.minor}, {"fileMode", d.mode}, {"uid", d.uid}, {"gid", d.gid}});
  }
  if (!devices.empty()) linux["devices"] = std::move(devices);
  for (const auto& [key, value] : spec.sysctl) linux["sysctl"][key] = value;
  if (!spec.masked_paths.empty()) linux["maskedPaths"] = spec.masked_paths;
  if (!spec.readonly_paths.empty()) linux["readonlyPaths"] = spec.readonly_paths;
  if (!extra.seccomp_json.empty()) {
    json seccomp = json::parse(extra.seccomp_json, nullptr, false);
    if (!seccomp.is_object()) return Status::InvalidArgument("the seccomp section is not a JSON object");
    linux["seccomp"] = std::move(seccomp);
  }
  switch (spec.rootfs_propagation) {
    case MS_SHARED: linux["rootfsPropagation"] = "shared"; break;
    case MS_PRIVATE: linux["rootfsPropagation"] = "private"; break;
    case MS_UNBINDABLE: linux["rootfsPropagation"] = "unbindable"; break;
    case MS_SLAVE: linux["rootfsPropagation"] = "slave"; break;
    default: break;
  }
  if (spec.personality) {
    linux["personality"] = {{"domain", *spec.personality == 0x0008 ? "LINUX32" : "LINUX"}};
  }
  c["linux"] = std::move(linux);

  const Hooks& h = spec.hooks;
  std::pair<const char*, const std::vector<runtime::Hook>*> kinds[] = {
      {"prestart", &h.prestart},           {"createRuntime", &h.create_runtime},
      {"createContainer", &h.create_container}, {"startContainer", &h.start_container},
      {"poststart", &h.poststart},         {"poststop", &h.poststop}};
  for (const auto& [name, list] : kinds) {
    for (const runtime::Hook& hook : *list) c["hooks"][name].push_back(HookJson(hook));
  }
  if (!h.annotations.empty()) c["annotations"] = h.annotations;
  return c.dump(2);
}

}  // namespace bd::runtime
