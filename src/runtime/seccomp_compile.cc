// Compiling seccomp profiles (Docker's JSON format) into BPF with libseccomp. Only the engine
// links this; the shim loads the compiled program with a plain syscall.
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "base/unique_fd.h"
#include "os/error.h"
#include "os/fs.h"
#include "runtime/security.h"
#include "runtime/oci_export.h"

namespace bd::runtime {

using nlohmann::json;

const std::string& DefaultSeccompProfile() {
  // Namespace flags of clone(2): creating namespaces needs CAP_SYS_ADMIN.
  static const std::string kProfile = [] {
    json deny = json::array();
    auto rule = [&](std::vector<std::string> names, std::vector<std::string> unless_caps,
                    int err = EPERM) {
      json r = {{"names", names}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", err}};
      if (!unless_caps.empty()) r["excludes"] = {{"caps", unless_caps}};
      deny.push_back(std::move(r));
    };
    rule({"mount", "umount", "umount2", "pivot_root", "setns", "unshare", "fsconfig", "fsmount",
          "fsopen", "fspick", "open_tree", "move_mount", "mount_setattr", "quotactl",
          "quotactl_fd", "lookup_dcookie", "bpf", "fanotify_init", "perf_event_open"},
         {"CAP_SYS_ADMIN"});
    rule({"clone3"}, {"CAP_SYS_ADMIN"}, ENOSYS);  // callers fall back to clone, checked below
    for (unsigned long flag : {0x00020000UL /*NEWNS*/, 0x02000000UL /*NEWCGROUP*/,
                               0x04000000UL /*NEWUTS*/, 0x08000000UL /*NEWIPC*/,
                               0x10000000UL /*NEWUSER*/, 0x20000000UL /*NEWPID*/,
                               0x40000000UL /*NEWNET*/}) {
      deny.push_back({{"names", {"clone"}},
                      {"action", "SCMP_ACT_ERRNO"},
                      {"errnoRet", EPERM},
                      {"args", {{{"index", 0}, {"value", flag}, {"valueTwo", flag},
                                 {"op", "SCMP_CMP_MASKED_EQ"}}}},
                      {"excludes", {{"caps", {"CAP_SYS_ADMIN"}}}}});
    }
    rule({"init_module", "finit_module", "delete_module", "create_module", "get_kernel_syms",
          "query_module"},
         {"CAP_SYS_MODULE"});
    rule({"reboot", "kexec_load", "kexec_file_load"}, {"CAP_SYS_BOOT"});
    rule({"settimeofday", "stime", "clock_settime", "clock_adjtime"}, {"CAP_SYS_TIME"});
    rule({"process_vm_readv", "process_vm_writev", "kcmp"}, {"CAP_SYS_PTRACE"});
    rule({"iopl", "ioperm"}, {"CAP_SYS_RAWIO"});
    rule({"acct"}, {"CAP_SYS_PACCT"});
    rule({"mbind", "set_mempolicy", "move_pages"}, {"CAP_SYS_NICE"});
    rule({"syslog"}, {"CAP_SYSLOG"});
    rule({"open_by_handle_at"}, {"CAP_DAC_READ_SEARCH"});
    rule({"keyctl", "add_key", "request_key", "uselib", "userfaultfd", "nfsservctl", "ustat",
          "sysfs", "vm86", "vm86old", "_sysctl", "vhangup", "swapon", "swapoff"},
         {});
    json profile = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", std::move(deny)}};
    return profile.dump(2);
  }();
  return kProfile;
}

namespace {

Result<uint32_t> ParseAction(const std::string& action, int errno_ret) {
  if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(static_cast<uint32_t>(errno_ret));
  if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(static_cast<uint32_t>(errno_ret));
  if (action == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  return Status::InvalidArgument("seccomp profile: unknown action \"" + action + "\"");
}

Result<scmp_compare> ParseOp(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return Status::InvalidArgument("seccomp profile: unknown operator \"" + op + "\"");
}

std::string NativeArch() {
#if defined(__x86_64__)
  return "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
  return "SCMP_ARCH_AARCH64";
#else
  return "";
#endif
}

// The architectures a profile names ("SCMP_ARCH_X86", or Docker's archMap entry for this
// machine with its sub-architectures).
std::vector<std::string> ProfileArchitectures(const json& p) {
  std::vector<std::string> arches;
  if (p.contains("architectures")) arches = p["architectures"].get<std::vector<std::string>>();
  for (const json& m : p.value("archMap", json::array())) {
    if (m.value("architecture", "") != NativeArch()) continue;
    arches.push_back(m.value("architecture", ""));
    for (const json& sub : m.value("subArchitectures", json::array())) arches.push_back(sub.get<std::string>());
  }
  return arches;
}

// Adds them to the filter, so that their calls are filtered instead of killed.
Status AddArchitectures(scmp_filter_ctx ctx, const json& p) {
  for (const std::string& name : ProfileArchitectures(p)) {
    std::string lower = name.rfind("SCMP_ARCH_", 0) == 0 ? name.substr(10) : name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    uint32_t arch = seccomp_arch_resolve_name(lower.c_str());
    if (arch == 0) return Status::InvalidArgument("seccomp profile: unknown architecture \"" + name + "\"");
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) {
      return Status::InvalidArgument("seccomp profile: architecture " + name + ": " + std::strerror(-rc));
    }
  }
  return {};
}

// True when a rule's includes/excludes admit it for these capabilities and this architecture.
bool RuleApplies(const json& rule, const std::set<std::string>& caps) {
  auto lists = [&](const char* key, const char* field) -> std::vector<std::string> {
    if (!rule.contains(key) || !rule[key].is_object() || !rule[key].contains(field) ||
        !rule[key][field].is_array()) {
      return {};
    }
    return rule[key][field].get<std::vector<std::string>>();
  };
  for (const auto& c : lists("includes", "caps")) {
    if (!caps.count(c)) return false;
  }
  auto inc_arch = lists("includes", "arches");
  if (!inc_arch.empty()) {
    bool found = false;
    for (const auto& a : inc_arch) found |= a == NativeArch() || "SCMP_ARCH_" + a == NativeArch();
    if (!found) return false;
  }
  for (const auto& c : lists("excludes", "caps")) {
    if (caps.count(c)) return false;
  }
  for (const auto& a : lists("excludes", "arches")) {
    if (a == NativeArch() || "SCMP_ARCH_" + a == NativeArch()) return false;
  }
  return true;
}

Result<std::string> BuildSeccomp(std::string_view profile,
                                 const std::vector<std::string>& cap_list) {
  json p = json::parse(profile, nullptr, false);
  if (p.is_discarded() || !p.is_object()) {
    return Status::InvalidArgument("seccomp profile is not a JSON object");
  }
  std::set<std::string> caps(cap_list.begin(), cap_list.end());
  try {
    int default_errno = p.value("defaultErrnoRet", EPERM);
    BD_ASSIGN_OR_RETURN(uint32_t def, ParseAction(p.value("defaultAction", ""), default_errno));
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx) return Status::Internal("seccomp_init failed");
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> owner(ctx, seccomp_release);
    // no_new_privs is set by the caller, explicitly, before loading.
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    BD_RETURN_IF_ERROR(AddArchitectures(ctx, p));
    const json empty = json::array();
    const json& rules = p.contains("syscalls") && p["syscalls"].is_array() ? p["syscalls"] : empty;
    for (const json& r : rules) {
      if (!r.is_object()) return Status::InvalidArgument("seccomp profile: syscall rule is not an object");
      if (!RuleApplies(r, caps)) continue;
      std::vector<std::string> names;
      if (r.contains("names")) names = r["names"].get<std::vector<std::string>>();
      if (r.contains("name")) names.push_back(r["name"].get<std::string>());
      BD_ASSIGN_OR_RETURN(uint32_t action,
                          ParseAction(r.value("action", ""), r.value("errnoRet", EPERM)));
      std::vector<scmp_arg_cmp> args;
      for (const json& a : r.value("args", json::array())) {
        BD_ASSIGN_OR_RETURN(scmp_compare op, ParseOp(a.value("op", "")));
        unsigned index = a.value("index", 0u);
        if (index > 5) return Status::InvalidArgument("seccomp profile: argument index > 5");
        args.push_back({index, op, a.value("value", uint64_t{0}), a.value("valueTwo", uint64_t{0})});
      }
      if (action == def) continue;  // libseccomp refuses rules equal to the default
      // libseccomp takes one comparison per argument in a rule. Several on one argument mean
      // "any of them" (runc's reading): one rule per comparison.
      std::set<unsigned> seen;
      bool repeated = false;
      for (const scmp_arg_cmp& a : args) repeated |= !seen.insert(a.arg).second;
      std::vector<std::vector<scmp_arg_cmp>> variants;
      if (repeated) {
        for (const scmp_arg_cmp& a : args) variants.push_back({a});
      } else {
        variants.push_back(args);
      }
      for (const std::string& name : names) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) continue;  // not a call on this architecture or kernel
        for (const auto& v : variants) {
          int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(v.size()),
                                          v.empty() ? nullptr : v.data());
          if (rc < 0 && rc != -EACCES) {
            return Status::InvalidArgument("seccomp profile: rule for " + name + ": " +
                                           std::strerror(-rc));
          }
        }
      }
    }
    // Export the program through a memfd: libseccomp writes BPF only to a descriptor.
    UniqueFd mem(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
    if (!mem) return os::ErrnoStatus("memfd_create");
    if (int rc = seccomp_export_bpf(ctx, mem.get()); rc < 0) {
      return os::ErrnoStatus(-rc, "export seccomp program");
    }
    if (::lseek(mem.get(), 0, SEEK_SET) < 0) return os::ErrnoStatus("seek");
    BD_ASSIGN_OR_RETURN(std::string program, os::ReadAll(mem.get()));
    if (program.empty() || program.size() % sizeof(sock_filter) != 0) {
      return Status::Internal("seccomp program has a bad size");
    }
    return program;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("seccomp profile: ") + e.what());
  }
}

}  // namespace

Result<std::string> CompileSeccompProfile(std::string_view profile,
                                          const std::vector<std::string>& caps) {
  return BuildSeccomp(profile, caps);
}

Result<std::string> SeccompProfileForOci(std::string_view profile, const std::vector<std::string>& cap_list) {
  json p = json::parse(profile, nullptr, false);
  if (p.is_discarded() || !p.is_object()) {
    return Status::InvalidArgument("seccomp profile is not a JSON object");
  }
  std::set<std::string> caps(cap_list.begin(), cap_list.end());
  try {
    json out = {{"defaultAction", p.value("defaultAction", "")}};
    if (p.contains("defaultErrnoRet")) out["defaultErrnoRet"] = p["defaultErrnoRet"];
    if (std::vector<std::string> arches = ProfileArchitectures(p); !arches.empty()) out["architectures"] = arches;
    for (const char* key : {"flags", "listenerPath", "listenerMetadata"}) {
      if (p.contains(key)) out[key] = p[key];
    }
    json rules = json::array();
    for (const json& r : p.value("syscalls", json::array())) {
      if (!r.is_object()) return Status::InvalidArgument("seccomp profile: syscall rule is not an object");
      if (!RuleApplies(r, caps)) continue;
      json rule = r;
      rule.erase("includes");
      rule.erase("excludes");
      rule.erase("comment");
      if (rule.contains("name")) {
        json names = rule.value("names", json::array());
        names.push_back(rule["name"]);
        rule["names"] = std::move(names);
        rule.erase("name");
      }
      rules.push_back(std::move(rule));
    }
    out["syscalls"] = std::move(rules);
    return out.dump();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("seccomp profile: ") + e.what());
  }
}

}  // namespace bd::runtime
