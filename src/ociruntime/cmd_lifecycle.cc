// basic-runtime state, kill, delete, pause and resume.
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

int State(Global& g, const Args& a) {
  auto s = Target(g, a, "state CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  std::string out = StateJson(g.store, *s);
  (void)os::WriteAll(STDOUT_FILENO, out);
  return 0;
}

int Kill(Global& g, const Args& a) {
  auto s = Target(g, a, "kill [--all] CONTAINER [SIGNAL]", 2);
  if (!s.ok()) return Fail(g, s.status());
  std::string name = a.positional.size() == 2 ? a.positional[1] : "SIGTERM";
  // Signal 0 sends nothing and only asks whether the process is there, as with kill(2).
  auto sig = name == "0" ? Result<int>(0) : os::ParseSignal(name);
  if (!sig.ok()) return Fail(g, sig.status());
  // Without a pid namespace of its own, the container's other processes would outlive its
  // first: every process of its cgroup is signalled, as with --all (runc's rule), and --all
  // goes on working once the first process is gone.
  if (a.Has("all") || !runtime::HasNamespace(s->spec, "pid")) {
    if (!a.Has("all") && StatusOf(g.store, *s) == "stopped" && runtime::CgroupProcesses(runtime::PlanFor(s->spec)).empty()) {
      return Fail(g, Status::FailedPrecondition("container not running"));
    }
    SignalCgroup(s->spec, *sig);
    return 0;
  }
  if (StatusOf(g.store, *s) == "stopped") return Fail(g, Status::FailedPrecondition("container not running"));
  Status st = SignalProcess(s->pid, s->start_time, *sig);
  return st.ok() ? 0 : Fail(g, st);
}

int Delete(Global& g, const Args& a) {
  auto s = Target(g, a, "delete [--force] CONTAINER");
  // Forced, a container that is not there is already deleted: quiet success, as runc.
  if (!s.ok() && a.Has("force") && s.status().code() == Code::kNotFound) return 0;
  if (!s.ok()) return Fail(g, s.status());
  std::string status = StatusOf(g.store, *s);
  if ((status == "running" || status == "paused") && !a.Has("force")) {
    return Fail(g, Status::FailedPrecondition("cannot delete container " + s->id + " that is not stopped: " + status));
  }
  Status st = Destroy(g, *s);
  return st.ok() ? 0 : Fail(g, st);
}

int PauseResume(Global& g, const Args& a, bool pause) {
  auto s = Target(g, a, pause ? "pause CONTAINER" : "resume CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  std::string status = StatusOf(g.store, *s);
  if (status != (pause ? "running" : "paused")) {
    return Fail(g, Status::FailedPrecondition("container is " + status + ", not " + (pause ? "running" : "paused")));
  }
  Status st = runtime::FreezeCgroup(runtime::PlanFor(s->spec), pause);
  return st.ok() ? 0 : Fail(g, st);
}

}  // namespace bd::ociruntime
