// How the runtime tells programs outside a container about it: OCI lifecycle hooks (one program
// with the container's state on its stdin, within its timeout, and why it failed: its exit
// status and what it printed) and the seccomp agent (the notify descriptor of a process).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/spec.h"

namespace bd::runtime {

// The OCI state object hooks read: ociVersion, id, status, pid, bundle, annotations.
std::string HookState(const Spec& spec, pid_t pid, std::string_view status);

// Runs `hook` (path, argv, env exactly as given) with `state` on its stdin. Fails when it
// cannot start, exits non-zero, is killed, or outlives its timeout (it is then killed).
Status RunHook(const Hook& hook, std::string_view state);

// Runs `hooks` in order and stops at the first failure, which names the hook list (`kind`, as
// the spec names it) and the hook's index.
Status RunHooks(const std::vector<Hook>& hooks, std::string_view kind, std::string_view state);

// Hands the seccomp notify descriptor of process `pid` to the agent listening on
// spec.seccomp_listener: one connection, one message (the OCI container process state: fds,
// pid, listenerMetadata, the container's state with `status`), the descriptor in SCM_RIGHTS.
Status SendToSeccompAgent(const Spec& spec, pid_t pid, std::string_view status, int notify_fd);

}  // namespace bd::runtime
