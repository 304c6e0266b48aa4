// basic-runtime exec.
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

int Exec(Global& g, const Args& a) {
  // Any failure of exec itself exits 255 (runc's and ssh's convention), so a caller can tell
  // it from the command's own exit status.
  auto fail = [&](const Status& st) {
    g.log.Error("exec failed: " + st.message());
    return 255;
  };
  auto s = Target(g, a, "exec [OPTIONS] CONTAINER COMMAND [ARG...]", SIZE_MAX);
  if (!s.ok()) return fail(s.status());
  std::string status = StatusOf(g.store, *s);
  if (status == "stopped") return fail(Status::FailedPrecondition("cannot exec in a stopped container"));
  if (status == "paused" && !a.Has("ignore-paused")) {
    return fail(Status::FailedPrecondition("cannot exec in a paused container (use --ignore-paused to override)"));
  }
  runtime::Spec spec = s->spec;  // security settings of the container, the process replaced
  runtime::Process proc = spec.process;
  if (a.Has("process")) {
    auto text = os::ReadFile(a.Get("process"));
    if (!text.ok()) return fail(text.status());
    auto p = runtime::ParseOciProcess(*text);
    if (!p.ok()) return fail(p.status());
    proc = std::move(p->process);
    if (!p->has_capabilities) {
      proc.capabilities = spec.process.capabilities;
      proc.effective_caps = spec.process.effective_caps;
      proc.permitted_caps = spec.process.permitted_caps;
      proc.inheritable_caps = spec.process.inheritable_caps;
      proc.ambient_caps = spec.process.ambient_caps;
    }
  } else {
    if (a.positional.size() < 2) return fail(Status::InvalidArgument("exec requires a command"));
    proc.args.assign(a.positional.begin() + 1, a.positional.end());
    for (const std::string& e : a.All("env")) proc.env.push_back(e);
    if (a.Has("cwd")) proc.cwd = a.Get("cwd");
    proc.terminal = a.Has("tty");
    proc.rlimits.clear();  // the container's limits are inherited through the namespace join
    if (a.Has("user")) {
      auto parts = Split(a.Get("user"), ':');
      auto uid = ParseInt(parts[0]);
      auto gid = parts.size() > 1 ? ParseInt(parts[1]) : std::optional<int64_t>(0);
      if (!uid || !gid || *uid < 0 || *gid < 0) {
        return fail(Status::InvalidArgument("--user takes UID[:GID], not \"" + a.Get("user") + "\""));
      }
      proc.numeric_user = runtime::NumericUser{static_cast<uint32_t>(*uid), static_cast<uint32_t>(*gid), {}};
    }
    for (const std::string& gid : a.All("additional-gids")) {
      auto n = ParseInt(gid);
      if (!n || *n < 0) return fail(Status::InvalidArgument("invalid additional gid \"" + gid + "\""));
      if (!proc.numeric_user) proc.numeric_user = runtime::NumericUser{};
      proc.numeric_user->additional_gids.push_back(static_cast<uint32_t>(*n));
    }
    for (const std::string& cap : a.All("cap")) {
      auto name = runtime::NormalizeCapability(cap);
      if (!name.ok()) return fail(name.status());
      // As runc's exec --cap: bounding, effective and permitted.
      proc.capabilities.push_back(*name);
      if (proc.effective_caps) proc.effective_caps->push_back(*name);
      if (proc.permitted_caps) proc.permitted_caps->push_back(*name);
    }
    if (a.Has("no-new-privs")) proc.no_new_privileges = true;
  }
  spec.process.capabilities = proc.capabilities;
  spec.process.no_new_privileges = proc.no_new_privileges || s->spec.process.no_new_privileges;
  // --cgroup [CONTROLLER:]PATH: the process joins sub-cgroups of the container's, which must
  // exist.
  if (a.Has("cgroup")) {
    auto dirs = runtime::SubCgroupDirs(runtime::PlanFor(spec), a.All("cgroup"));
    if (!dirs.ok()) return fail(dirs.status());
    for (const std::string& d : *dirs) {
      if (!os::IsDir(d)) return fail(Status::NotFound("--cgroup: `" + d + "` does not exist"));
    }
    proc.cgroup_dirs = *dirs;
  }
  bool detach = a.Has("detach");
  std::string console_path = a.Get("console-socket");
  if (proc.terminal && detach && console_path.empty()) {
    return fail(Status::InvalidArgument("a terminal needs --console-socket when detached"));
  }
  auto preserve = PreserveFds(a);
  if (!preserve.ok()) return fail(preserve.status());
  Stdio stdio;
  if (Status st = stdio.Open(proc.terminal, console_path, *preserve); !st.ok()) return fail(st);
  auto pidfd = os::PidfdOpen(s->pid);
  if (!pidfd.ok() || !os::ProcessMatches(s->pid, s->start_time)) {
    return fail(Status::FailedPrecondition("container not running"));
  }
  auto started = runtime::ExecIn(pidfd->get(), spec, proc, stdio.io(), detach);
  if (!started.ok()) return fail(started.status());
  if (Status st = WritePidFile(a.Get("pid-file"), started->pid); !st.ok()) return fail(st);
  if (Status st = SendPidfd(a.Get("pidfd-socket"), started->pid); !st.ok()) return fail(st);
  if (detach) {
    (void)started->helper.Wait();  // exits at once; the process runs on under the subreaper
    return 0;
  }
  // Signals go to the exec'd process itself; the helper only reports its exit.
  return WaitForwarding(started->helper, started->pid, stdio.TakeMaster());
}

}  // namespace bd::ociruntime
