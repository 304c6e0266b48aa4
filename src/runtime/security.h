// Process hardening for containers: capability sets, masked and read-only paths, and seccomp
// profiles in Docker's JSON format compiled with libseccomp. The pure parts (capability
// arithmetic, profile parsing and validation) run anywhere; Apply* act on the calling process
// and are called in the container's child between setup and exec. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::runtime {

// Docker's default capability set, as "CAP_*" names.
std::vector<std::string> DefaultCapabilities();
// Every capability this kernel knows that the calling process may still hold (its bounding
// set): what --privileged and --cap-add ALL grant.
std::vector<std::string> AllCapabilities();
// "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all give "CAP_NET_ADMIN"; unknown names fail.
Result<std::string> NormalizeCapability(std::string_view name);
// Applies --cap-add / --cap-drop ("ALL" allowed in either) to `base`. Drops win over the base
// set, adds win over drops of ALL, as in Docker.
Result<std::vector<std::string>> AdjustCapabilities(std::vector<std::string> base,
                                                    const std::vector<std::string>& add,
                                                    const std::vector<std::string>& drop);

std::vector<std::string> DefaultMaskedPaths();
std::vector<std::string> DefaultReadonlyPaths();

// The default seccomp profile: allow everything except calls that reach beyond the container
// (mounting, namespaces, kernel keyrings, modules, clocks, reboot, ...), each re-allowed when
// the container holds the capability that governs it. Docker's profile format.
const std::string& DefaultSeccompProfile();

// Parses and compiles `profile` for this machine's architecture and the container's
// capabilities into a classic BPF program (raw sock_filter instructions). Done once, when a
// container is created; every start then loads the program as is.
Result<std::string> CompileSeccompProfile(std::string_view profile,
                                          const std::vector<std::string>& caps);
// Loads a program from CompileSeccompProfile into the calling process with the filter
// `flags` (SECCOMP_FILTER_FLAG_*). Set no_new_privs first (or hold CAP_SYS_ADMIN). With
// `listener` (a program with SCMP_ACT_NOTIFY rules), returns the notify descriptor whose
// reader answers those calls; otherwise an empty one.
Result<UniqueFd> LoadSeccompProgram(std::string_view program, unsigned flags = 0, bool listener = false);

// Drops every capability not in `caps` from the bounding set.
Status DropBoundingSet(const std::vector<std::string>& caps);
// Sets effective and permitted to `caps` and clears inheritable and ambient.
Status SetCapabilities(const std::vector<std::string>& caps);
// Sets effective, permitted and inheritable as given and raises `ambient` (each must be in
// permitted and inheritable; one that is not is skipped with a warning).
Status SetCapabilitySets(const std::vector<std::string>& effective,
                         const std::vector<std::string>& permitted,
                         const std::vector<std::string>& inheritable,
                         const std::vector<std::string>& ambient);

}  // namespace bd::runtime
