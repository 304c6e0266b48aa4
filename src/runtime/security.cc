#include "runtime/security.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <cerrno>
#include <set>

#include "base/unique_fd.h"
#include "base/log.h"
#include "os/error.h"
#include "os/fs.h"

namespace bd::runtime {

std::vector<std::string> DefaultCapabilities() {
  return {"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",
          "CAP_MKNOD",  "CAP_NET_RAW",      "CAP_SETGID",     "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",   "CAP_AUDIT_WRITE"};
}

std::vector<std::string> AllCapabilities() {
  std::vector<std::string> out;
  for (cap_value_t c = 0; c < static_cast<cap_value_t>(cap_max_bits()); ++c) {
    if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1) continue;
    char* name = cap_to_name(c);
    if (!name) continue;
    std::string n = name;
    cap_free(name);
    if (n.rfind("cap_", 0) != 0) continue;  // unnamed on this libcap: skip
    std::transform(n.begin(), n.end(), n.begin(), ::toupper);
    out.push_back(n);
  }
  return out;
}

Result<std::string> NormalizeCapability(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), ::toupper);
  if (n.rfind("CAP_", 0) != 0) n = "CAP_" + n;
  std::string lower = n;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  cap_value_t v;
  if (cap_from_name(lower.c_str(), &v) != 0 || v >= static_cast<cap_value_t>(cap_max_bits())) {
    return Status::InvalidArgument("unknown capability \"" + std::string(name) + "\"");
  }
  return n;
}

Result<std::vector<std::string>> AdjustCapabilities(std::vector<std::string> base,
                                                    const std::vector<std::string>& add,
                                                    const std::vector<std::string>& drop) {
  auto is_all = [](const std::string& s) {
    std::string u = s;
    std::transform(u.begin(), u.end(), u.begin(), ::toupper);
    return u == "ALL" || u == "CAP_ALL";
  };
  std::set<std::string> caps(base.begin(), base.end());
  for (const std::string& d : drop) {
    if (is_all(d)) {
      caps.clear();
      continue;
    }
    BD_ASSIGN_OR_RETURN(std::string n, NormalizeCapability(d));
    caps.erase(n);
  }
  for (const std::string& a : add) {
    if (is_all(a)) {
      for (auto& c : AllCapabilities()) caps.insert(c);
      continue;
    }
    BD_ASSIGN_OR_RETURN(std::string n, NormalizeCapability(a));
    caps.insert(n);
  }
  return std::vector<std::string>(caps.begin(), caps.end());
}

std::vector<std::string> DefaultMaskedPaths() {
  return {"/proc/asound",        "/proc/acpi",        "/proc/kcore",       "/proc/keys",
          "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
          "/proc/scsi",          "/sys/firmware",     "/sys/devices/virtual/powercap"};
}

std::vector<std::string> DefaultReadonlyPaths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

Result<UniqueFd> LoadSeccompProgram(std::string_view program, unsigned flags, bool listener) {
  if (program.empty() || program.size() % sizeof(sock_filter) != 0 ||
      program.size() / sizeof(sock_filter) > 0xffff) {
    return Status::InvalidArgument("malformed seccomp program");
  }
  sock_fprog prog{static_cast<unsigned short>(program.size() / sizeof(sock_filter)),
                  reinterpret_cast<sock_filter*>(const_cast<char*>(program.data()))};
  if (listener) {
    // The kernel refuses TSYNC beside NEW_LISTENER; a container process has one thread anyway.
    flags = (flags & ~SECCOMP_FILTER_FLAG_TSYNC) | SECCOMP_FILTER_FLAG_NEW_LISTENER;
  }
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return os::ErrnoStatus("load seccomp program");
  return listener ? UniqueFd(static_cast<int>(rc)) : UniqueFd();
}

namespace {

Result<std::vector<cap_value_t>> CapValues(const std::vector<std::string>& caps) {
  std::vector<cap_value_t> out;
  for (const auto& c : caps) {
    std::string lower = c;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    cap_value_t v;
    if (cap_from_name(lower.c_str(), &v) != 0) {
      return Status::InvalidArgument("unknown capability \"" + c + "\"");
    }
    out.push_back(v);
  }
  return out;
}

}  // namespace

Status DropBoundingSet(const std::vector<std::string>& caps) {
  BD_ASSIGN_OR_RETURN(std::vector<cap_value_t> keep, CapValues(caps));
  for (cap_value_t c = 0; c < static_cast<cap_value_t>(cap_max_bits()); ++c) {
    if (std::find(keep.begin(), keep.end(), c) != keep.end()) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
      return os::ErrnoStatus("drop capability " + std::to_string(c) + " from the bounding set");
    }
  }
  return {};
}

Status SetCapabilities(const std::vector<std::string>& caps) {
  BD_ASSIGN_OR_RETURN(std::vector<cap_value_t> values, CapValues(caps));
  cap_t state = cap_init();  // all clear
  if (!state) return os::ErrnoStatus("cap_init");
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> owner(state, cap_free);
  if (!values.empty() &&
      (cap_set_flag(state, CAP_EFFECTIVE, static_cast<int>(values.size()), values.data(), CAP_SET) < 0 ||
       cap_set_flag(state, CAP_PERMITTED, static_cast<int>(values.size()), values.data(), CAP_SET) < 0)) {
    return os::ErrnoStatus("cap_set_flag");
  }
  if (cap_set_proc(state) < 0) return os::ErrnoStatus("set capabilities");
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  return {};
}

Status SetCapabilitySets(const std::vector<std::string>& effective,
                         const std::vector<std::string>& permitted,
                         const std::vector<std::string>& inheritable,
                         const std::vector<std::string>& ambient) {
  cap_t state = cap_init();
  if (!state) return os::ErrnoStatus("cap_init");
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> owner(state, cap_free);
  for (const auto& [flag, names] : {std::pair{CAP_EFFECTIVE, &effective}, std::pair{CAP_PERMITTED, &permitted},
                                    std::pair{CAP_INHERITABLE, &inheritable}}) {
    BD_ASSIGN_OR_RETURN(std::vector<cap_value_t> values, CapValues(*names));
    if (!values.empty() && cap_set_flag(state, flag, static_cast<int>(values.size()), values.data(), CAP_SET) < 0) {
      return os::ErrnoStatus("cap_set_flag");
    }
  }
  if (cap_set_proc(state) < 0) return os::ErrnoStatus("set capabilities");
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  BD_ASSIGN_OR_RETURN(std::vector<cap_value_t> raise, CapValues(ambient));
  for (size_t i = 0; i < raise.size(); ++i) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, raise[i], 0, 0) < 0) {
      log::Warn("cannot raise ambient capability {}: {}", ambient[i], std::strerror(errno));
    }
  }
  return {};
}

}  // namespace bd::runtime
