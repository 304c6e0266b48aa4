// basic-runtime events.
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

// `events`: with --stats one stats event; otherwise a stats event every --interval (5s) and an
// "oom" event whenever the OOM killer strikes, until the container stops.
int Events(Global& g, const Args& a) {
  auto s = Target(g, a, "events [--stats] [--interval DURATION] CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  auto interval = ParseDurationMs(a.Get("interval", "5s"));
  if (!interval || *interval <= 0) {
    return Fail(g, Status::InvalidArgument("invalid --interval \"" + a.Get("interval") + "\" (such as 5s or 500ms)"));
  }
  std::string status = StatusOf(g.store, *s);
  if (status == "stopped") return Fail(g, Status::FailedPrecondition("container " + s->id + " is not running"));
  runtime::CgroupPlan plan = runtime::PlanFor(s->spec);
  auto stats = [&] { return EventLine("stats", s->id, StatsJson(plan)); };
  if (a.Has("stats")) {
    (void)os::WriteAll(STDOUT_FILENO, stats());
    return 0;
  }
  ::signal(SIGPIPE, SIG_IGN);
  int64_t ooms = runtime::CgroupOomKills(plan);
  auto pidfd = os::PidfdOpen(s->pid);
  if (!pidfd.ok() || !os::ProcessMatches(s->pid, s->start_time)) return 0;
  auto next_stats = std::chrono::steady_clock::now();
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_stats) {
      if (!os::WriteAll(STDOUT_FILENO, stats()).ok()) return 0;  // the reader went away
      next_stats = now + std::chrono::milliseconds(*interval);
    }
    // OOM kills are looked for every 100 ms (or each interval, when shorter).
    int wait = static_cast<int>(std::min<int64_t>(*interval, 100));
    auto exited = os::WaitPidfd(pidfd->get(), wait);
    if (int64_t now_ooms = runtime::CgroupOomKills(plan); now_ooms > ooms) {
      ooms = now_ooms;
      if (!os::WriteAll(STDOUT_FILENO, EventLine("oom", s->id)).ok()) return 0;
    }
    if (exited.ok() && *exited) return 0;
  }
}

}  // namespace bd::ociruntime
