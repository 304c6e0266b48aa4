// basic-runtime create, run and start.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/time.h"
#include "ociruntime/common.h"
#include "ociruntime/events.h"
#include "ociruntime/state.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"
#include "runtime/cgroup_resources.h"
#include "runtime/cgroups.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/oci_config.h"
#include "runtime/security.h"

namespace bd::ociruntime {

using nlohmann::json;

// `create` and `run`: the process is set up; gated (create) it waits for `start`.
int CreateOrRun(Global& g, const Args& a, bool run) {
  if (a.positional.size() != 1) {
    return Fail(g, Status::InvalidArgument(std::string("usage: ") + (run ? "run" : "create") + " [OPTIONS] CONTAINER"));
  }
  const std::string id = a.positional[0];
  auto fail = [&](const Status& st) { return Fail(g, st); };
  auto preserve = PreserveFds(a);
  if (!preserve.ok()) return fail(preserve.status());
  std::string bundle = a.Get("bundle", ".");
  if (bundle.empty() || bundle[0] != '/') {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) return fail(os::ErrnoStatus("getcwd"));
    bundle = bundle == "." ? std::string(cwd) : os::JoinPath(cwd, bundle);
  }
  auto config = os::ReadFile(bundle + "/config.json");
  if (!config.ok()) return fail(config.status().WithContext("read the bundle's config.json"));
  if (Status st = ValidateId(id); !st.ok()) return fail(st);
  auto parsed = runtime::ParseOciConfig(*config, bundle, id, g.systemd_cgroup);
  if (!parsed.ok()) return fail(parsed.status());
  runtime::Spec& spec = parsed->spec;
  g.log.Debug("config " + bundle + "/config.json: rootfs " + spec.rootfs + ", " +
              std::to_string(spec.mounts.size()) + " mounts, namespaces " + Join(spec.namespaces, ",") +
              ", cgroup " + spec.cgroup_name);
  bool detach = !run || a.Has("detach");
  std::string console_path = a.Get("console-socket");
  if (spec.process.terminal && detach && console_path.empty()) {
    return fail(Status::InvalidArgument("a terminal needs --console-socket when detached"));
  }
  auto reserved = g.store.Reserve(id);
  if (!reserved.ok()) return fail(reserved.status());
  // Until the state is saved, a failure leaves nothing behind.
  auto fail_unreserved = [&](const Status& st) {
    (void)g.store.Remove(id);
    return fail(st);
  };
  ContainerState state;
  state.id = id;
  state.bundle = bundle;
  state.created = FormatRfc3339Nano(NowNanos());
  state.annotations = parsed->annotations;
  state.spec = spec;
  // First a record without a process: while this command holds the lock it reads "creating";
  // if the command is killed half-way it reads "stopped", and `delete` frees the cgroup and
  // whatever process it left.
  if (Status st = g.store.Save(state); !st.ok()) return fail_unreserved(st);
  if (!run) {
    spec.start_fifo = g.store.Fifo(id);
    // Writable by the container's user whoever it is (the umask would take the bits away):
    // the process opens it, through its descriptor, after switching to that user.
    if (::mkfifo(spec.start_fifo.c_str(), 0622) < 0 || ::chmod(spec.start_fifo.c_str(), 0622) < 0) {
      return fail_unreserved(os::ErrnoStatus("mkfifo `" + spec.start_fifo + "`"));
    }
  }
  Stdio stdio;
  if (Status st = stdio.Open(spec.process.terminal, console_path, *preserve); !st.ok()) {
    return fail_unreserved(st);
  }
  auto child = runtime::Launch(spec, stdio.io());
  if (!child.ok()) return fail_unreserved(child.status());
  state.pid = child->pid();
  state.start_time = os::ProcessStartTime(state.pid);
  state.spec = spec;
  g.log.Debug("container " + id + " process " + std::to_string(state.pid) + (run ? " running" : " created"));
  Status st = g.store.Save(state);
  if (st.ok()) st = WritePidFile(a.Get("pid-file"), state.pid);
  if (st.ok()) st = SendPidfd(a.Get("pidfd-socket"), state.pid);
  if (!st.ok()) {
    (void)child->Signal(SIGKILL);
    (void)child->Wait();
    (void)Destroy(g, state);
    return fail(st);
  }
  if (run) RunLateHooks(g, spec.hooks.poststart, "poststart", state, "running");
  if (detach) {
    child->Release();  // the caller (or its subreaper) owns the process from here
    return 0;
  }
  int code = WaitForwarding(*child, child->pid(), stdio.TakeMaster());
  if (!a.Has("keep")) (void)Destroy(g, state);
  return code;
}

int Start(Global& g, const Args& a) {
  auto s = Target(g, a, "start CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  std::string status = StatusOf(g.store, *s);
  if (status != "created") return Fail(g, Status::FailedPrecondition("cannot start a container that is " + status));
  auto pidfd = os::PidfdOpen(s->pid);
  Status st = pidfd.ok() ? runtime::StartGated(g.store.Fifo(s->id), pidfd->get())
                         : pidfd.status();
  ::unlink(g.store.Fifo(s->id).c_str());
  if (!st.ok()) return Fail(g, st);
  RunLateHooks(g, s->spec.hooks.poststart, "poststart", *s, "running");
  return 0;
}

}  // namespace bd::ociruntime
