// The inside of Launch and ExecIn, shared by the files that make a container process:
// launch_linux.cc (clone, namespaces, the runtime's end of the report channel), rootfs_linux.cc
// (mounts, devices, pivot_root) and exec_process_linux.cc (user, capabilities, seccomp, exec).
// Only for runtime/; everything here runs in a child between clone and execve unless it says
// otherwise.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/launch.h"
#include "runtime/spec.h"

namespace bd::runtime {

// What the child sends back when it cannot exec. A successful exec closes the channel instead.
struct ChildReport {
  int exit_code;  // kReady: set up and waiting on the start FIFO
  int code;  // bd::Code
  char message[1024];
};

constexpr int kReady = -1;
// Set up and about to pivot_root: the runtime runs its prestart and createRuntime hooks now
// and answers on the sync socket.
constexpr int kRunHooks = -2;
// The filter with SCMP_ACT_NOTIFY rules is on: its notify descriptor comes with the report
// (SCM_RIGHTS) for the runtime to hand to the seccomp agent.
constexpr int kSeccompFd = -3;

// What the runtime tells a container process that waits for it (see Launch): its pid as the
// runtime sees it (for the hooks' state), once the runtime has done its part (user namespace
// maps written, cgroups joined).
struct SyncMessage {
  pid_t host_pid;
};

// A report with descriptor `fd` attached.
bool SendReport(int report_fd, const ChildReport& r, int fd);
// Reports `st` on `fd` (or, once released, on stderr) and exits with `exit_code`.
[[noreturn]] void Fail(int fd, int exit_code, const Status& st);

// A clean signal state and the standard streams, first thing in every container process.
void ResetProcess(const LaunchIo& io, int report_fd);
// Pins the calling process to `list` ("0-3"); empty: every CPU.
Status SetCpuAffinity(const std::string& list);
// The rlimits and OOM score of `proc` on process `pid` (0: the caller). Also called by the
// runtime from outside, for a process in a user namespace.
Status SetRlimitsAndOomScore(pid_t pid, const Process& proc);
// The last steps of every container process, shared by a container's first process and by
// `exec`: user from the container's /etc/passwd, working directory, capabilities,
// no_new_privs, seccomp, PATH lookup, exec. Runs inside the container's root.
// With `gate_fd`, waits on the start FIFO first; `host_pid`, for a container's first process,
// is its pid as the runtime sees it (for the startContainer hooks' state). With `release_fd`
// (a pipe's read end, for a gated ExecIn), waits for ReleaseExec's byte last before exec.
[[noreturn]] void ExecProcess(const Process& proc, const Spec& spec, int report_fd, const LaunchIo& io,
                              int gate_fd = -1, pid_t host_pid = 0, int release_fd = -1);

// Everything mounted beneath the container's root before pivot_root (see rootfs_linux.cc).
// Refuses unless the process is in a mount namespace of its own (CheckPrivateMountNamespace).
Status SetUpRootfs(const Spec& spec, const std::vector<int>& idmapped, const NamespaceId& caller_mnt,
                   bool cgroup_namespace, bool user_namespace);
// The root made / (pivot_root), the old root detached.
Status PivotInto(const std::string& rootfs);
// The container's loopback interface up.
void LoopbackUp();

}  // namespace bd::runtime
