// The other direction of oci_config.h: a Spec the engine built, written out as an OCI runtime
// bundle's config.json (runtime-spec 1.0.2) for an OCI runtime binary (crun, runc,
// basic-runtime) to run. What such a runtime cannot be told is filled in by the caller: the
// numeric user (resolved against the image), the seccomp section (from the profile, as the
// compiled program cannot be read back) and the root's path.
#pragma once

#include <string>

#include "base/status.h"
#include "runtime/spec.h"

namespace bd::runtime {

struct OciExport {
  NumericUser user;
  std::string home;          // HOME when the environment has none ("" : left unset)
  std::string seccomp_json;  // linux.seccomp (SeccompProfileForOci); "" : unconfined
  std::string root_path;     // root.path; "" : spec.rootfs
};

// InvalidArgument naming the setting for what a bundle cannot carry (a seccomp agent socket).
Result<std::string> OciConfigOf(const Spec& spec, const OciExport& extra);

// A profile in Docker's format (includes/excludes, archMap) as an OCI linux.seccomp object
// for a process with `caps`: the rules that apply kept, the conditions dropped, the
// architectures of this machine listed.
Result<std::string> SeccompProfileForOci(std::string_view profile, const std::vector<std::string>& caps);

}  // namespace bd::runtime
