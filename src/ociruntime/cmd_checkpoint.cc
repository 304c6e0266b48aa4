// basic-runtime checkpoint and restore (through CRIU).
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

// `checkpoint` and `restore` go through CRIU (Debian's criu). Where it is missing, or where
// `criu check` says it cannot work with this kernel, they fail saying why in CRIU's own words.
int CheckpointRestore(Global& g, const Args& a, const char* command) {
  std::string usage = std::string(command) + " [OPTIONS] CONTAINER";
  if (std::string_view(command) == "checkpoint") {
    auto s = Target(g, a, usage);  // an unknown container is told as such first
    if (!s.ok()) return Fail(g, s.status());
    std::string status = StatusOf(g.store, *s);
    if (status != "running" && status != "paused") {
      return Fail(g, Status::FailedPrecondition("cannot checkpoint a container that is " + status));
    }
  } else if (a.positional.size() != 1) {
    return Fail(g, Status::InvalidArgument("usage: " + usage));
  } else if (Status st = ValidateId(a.positional[0]); !st.ok()) {
    return Fail(g, st);
  } else if (g.store.Load(a.positional[0]).ok()) {
    return Fail(g, Status::AlreadyExists("container \"" + a.positional[0] + "\" already exists"));
  }
  const char* path = std::getenv("PATH");
  auto found = runtime::LookPath("criu", path ? std::vector<std::string>{std::string("PATH=") + path} : std::vector<std::string>{});
  if (!found.ok()) {
    return Fail(g, Status::Unavailable(std::string(command) + " needs CRIU (the criu binary), which is not installed"));
  }
  const std::string& criu = *found;
  auto check = os::RunProgram(criu, {criu, "check"}, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "", 30);
  if (!check.ok()) return Fail(g, check.status().WithContext(std::string(command) + ": run `criu check`"));
  if (check->timed_out || !WIFEXITED(check->wait_status) || WEXITSTATUS(check->wait_status) != 0) {
    // CRIU's lines read "Error (criu/file.c:123): what": the first says what failed, the last why.
    std::vector<std::string> errors;
    for (const std::string& line : Split(check->output, '\n')) {
      if (line.rfind("Error", 0) != 0) continue;
      size_t colon = line.find("): ");
      errors.push_back(colon == std::string::npos ? line : line.substr(colon + 3));
    }
    std::string why = errors.empty() ? std::string(TrimSpace(check->output)) : errors.front();
    if (errors.size() > 1) why += "; " + errors.back();
    utsname u{};
    ::uname(&u);
    return Fail(g, Status::NotSupported(std::string(command) + ": CRIU (" + criu + ") cannot work with this kernel (" +
                                       u.release + "): criu check: " + (why.empty() ? "failed" : why)));
  }
  return Fail(g, Status::NotSupported(std::string(command) + " through CRIU is not implemented by basic-runtime yet"));
}

}  // namespace bd::ociruntime
