// basic-runtime: the OCI runtime command line (as runc has it) over basic-docker's runtime
// library. A client such as podman/conmon calls `create`, then `start`, `state`, `kill`,
// `exec`, `delete`; `run` does create and start in one go. Flags are read as runc reads them:
// global ones before the command, the command's own before its arguments, `-x`, `--x`,
// `--x value` and `--x=value` alike.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

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
#include "ociruntime/state.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"
#include "runtime/cgroups.h"
#include "ociruntime/events.h"
#include "runtime/cgroup_resources.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/oci_config.h"
#include "runtime/security.h"

#include "ociruntime/common.h"

namespace bd::ociruntime {
namespace {

using nlohmann::json;

// One line of usage per command, for `COMMAND --help` and `help COMMAND`.
const std::map<std::string, std::string>& CommandUsage() {
  static const std::map<std::string, std::string> kUsage = {
      {"create", "create [--bundle DIR] [--console-socket PATH] [--pid-file FILE] [--pidfd-socket PATH] [--preserve-fds N] [--no-pivot] CONTAINER"},
      {"run", "run [--bundle DIR] [--console-socket PATH] [--pid-file FILE] [--pidfd-socket PATH] [--detach] [--preserve-fds N] CONTAINER"},
      {"start", "start CONTAINER"},
      {"state", "state CONTAINER"},
      {"kill", "kill [--all] CONTAINER [SIGNAL]  (SIGNAL: a name or number, default SIGTERM; 0 probes)"},
      {"delete", "delete [--force] CONTAINER"},
      {"pause", "pause CONTAINER"},
      {"resume", "resume CONTAINER"},
      {"exec", "exec [--process FILE] [--tty] [--detach] [--console-socket PATH] [--env K=V] [--cwd DIR] "
               "[--user UID[:GID]] [--cap CAP] [--pid-file FILE] [--pidfd-socket PATH] [--cgroup PATH] [--preserve-fds N] CONTAINER [COMMAND ARG...]"},
      {"ps", "ps [--format table|json] CONTAINER [PS_ARGS...]"},
      {"events", "events [--stats] [--interval DURATION] CONTAINER"},
      {"checkpoint", "checkpoint [--image-path DIR] [--leave-running] CONTAINER (needs CRIU)"},
      {"restore", "restore [--image-path DIR] [--bundle DIR] [--detach] CONTAINER (needs CRIU)"},
      {"list", "list [--format table|json] [--quiet]"},
      {"spec", "spec [--bundle DIR] [--rootless]"},
      {"features", "features"},
      {"update", "update [-r FILE|-] [--memory SIZE] [--memory-reservation SIZE] [--memory-swap SIZE] "
                 "[--cpu-shares N] [--cpu-quota US] [--cpu-period US] [--cpu-rt-period US] [--cpu-rt-runtime US] "
                 "[--cpu-idle 0|1] [--cpuset-cpus LIST] "
                 "[--cpuset-mems LIST] [--pids-limit N] [--blkio-weight N] CONTAINER"},
      {"help", "help [COMMAND]"},
  };
  return kUsage;
}

constexpr const char kUsage[] =
    "usage: basic-runtime [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup]\n"
    "                     COMMAND [OPTIONS] ...\n"
    "commands: create, start, run, state, kill, delete, exec, ps, pause, resume, list, spec,\n"
    "          features, update, events, checkpoint, restore, help\n";

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  Global g;
  size_t next = 1;
  auto global = ParseFlags(args, 1,
                           {{{"root"}, true},
                            {{"log"}, true},
                            {{"log-format"}, true},
                            {{"debug"}, false},
                            {{"systemd-cgroup"}, false},
                            {{"rootless"}, true},
                            {{"criu"}, true},
                            {{"version", "v"}, false},
                            {{"help", "h"}, false}},
                           &next);
  if (!global.ok()) {
    g.log.Error(global.status().message());
    return 1;
  }
  if (global->Has("version")) {
    (void)os::WriteAll(STDOUT_FILENO, VersionText());
    return 0;
  }
  if (global->Has("help") || next >= args.size()) {
    (void)os::WriteAll(global->Has("help") ? STDOUT_FILENO : STDERR_FILENO, kUsage);
    return global->Has("help") ? 0 : 1;
  }
  g.store = StateStore(global->Get("root", "/run/basic-runtime"));
  g.log.path = global->Get("log");
  if (!g.log.path.empty()) {
    // A log that cannot be written is an error now, not silence later.
    UniqueFd probe(::open(g.log.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!probe) {
      std::string path = std::exchange(g.log.path, {});
      g.log.Error(os::ErrnoStatus("open the log `" + path + "`").message());
      return 1;
    }
  }
  std::string log_format = global->Get("log-format", "text");
  if (log_format != "text" && log_format != "json") {
    g.log.Error("invalid log format \"" + log_format + "\": use text or json");
    return 1;
  }
  g.log.json_format = log_format == "json";
  g.log.debug = global->Has("debug");
  g.systemd_cgroup = global->Has("systemd-cgroup");

  const std::string command = args[next];
  if (command == "help") {
    std::string topic = next + 1 < args.size() ? args[next + 1] : "";
    auto it = CommandUsage().find(topic);
    if (topic.empty() || it == CommandUsage().end()) {
      (void)os::WriteAll(STDOUT_FILENO, kUsage);
      return topic.empty() ? 0 : 1;
    }
    (void)os::WriteAll(STDOUT_FILENO, "usage: basic-runtime " + it->second + "\n");
    return 0;
  }
  for (size_t i = next + 1; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if ((args[i] == "--help" || args[i] == "-h") && CommandUsage().count(command)) {
      (void)os::WriteAll(STDOUT_FILENO, "usage: basic-runtime " + CommandUsage().at(command) + "\n");
      return 0;
    }
    if (!args[i].empty() && args[i][0] != '-') break;  // the container id: its own args follow
  }
  static const std::map<std::string, std::vector<FlagDef>> kFlags = {
      {"create", kCreateFlags},
      {"run", kCreateFlags},
      {"start", {}},
      {"state", {}},
      {"kill", {{{"all", "a"}, false}}},
      {"delete", {{{"force", "f"}, false}}},
      {"pause", {}},
      {"resume", {}},
      {"spec", {{{"bundle", "b"}, true}, {{"rootless"}, false}}},
      {"features", {}},
      {"update",
       {{{"r", "resources"}, true}, {{"memory", "m"}, true}, {{"memory-reservation"}, true},
        {{"memory-swap"}, true}, {{"kernel-memory"}, true}, {{"kernel-memory-tcp"}, true},
        {{"cpu-shares"}, true}, {{"cpu-quota"}, true}, {{"cpu-period"}, true},
        {{"cpu-rt-period"}, true}, {{"cpu-rt-runtime"}, true}, {{"cpuset-cpus"}, true},
        {{"cpuset-mems"}, true}, {{"pids-limit"}, true}, {{"blkio-weight"}, true}, {{"cpu-idle"}, true},
        {{"l3-cache-schema"}, true}, {{"mem-bw-schema"}, true}}},
      {"ps", {{{"format", "f"}, true}}},
      {"events", {{{"stats"}, false}, {{"interval"}, true}}},
      {"list", {{{"format", "f"}, true}, {{"quiet", "q"}, false}}},
      {"exec",
       {{{"console-socket"}, true}, {{"cwd"}, true}, {{"env", "e"}, true}, {{"tty", "t"}, false},
        {{"user", "u"}, true}, {{"additional-gids", "g"}, true}, {{"process", "p"}, true},
        {{"detach", "d"}, false}, {{"pid-file"}, true}, {{"process-label"}, true},
        {{"apparmor"}, true}, {{"no-new-privs"}, false}, {{"cap", "c"}, true},
        {{"preserve-fds"}, true}, {{"cgroup"}, true}, {{"ignore-paused"}, false}, {{"pidfd-socket"}, true}}},
      {"checkpoint", {{{"image-path"}, true}, {{"work-path"}, true}, {{"leave-running"}, false},
                      {{"tcp-established"}, false}, {{"file-locks"}, false}, {{"pre-dump"}, false}}},
      {"restore", {{{"image-path"}, true}, {{"work-path"}, true}, {{"bundle", "b"}, true},
                   {{"detach", "d"}, false}, {{"pid-file"}, true}, {{"console-socket"}, true}}},
  };
  auto defs = kFlags.find(command);
  if (defs == kFlags.end()) {
    g.log.Error("unknown command \"" + command + "\"");
    (void)os::WriteAll(STDERR_FILENO, kUsage);
    return 1;
  }
  auto a = ParseFlags(args, next + 1, defs->second);
  if (!a.ok()) {
    g.log.Error(a.status().message());
    return 1;
  }
  g.log.Debug("command " + command + " " + Join(a->positional, " ") + " (root " +
              global->Get("root", "/run/basic-runtime") + ")");
  if (command == "create") return CreateOrRun(g, *a, false);
  if (command == "run") return CreateOrRun(g, *a, true);
  if (command == "start") return Start(g, *a);
  if (command == "state") return State(g, *a);
  if (command == "kill") return Kill(g, *a);
  if (command == "delete") return Delete(g, *a);
  if (command == "pause") return PauseResume(g, *a, true);
  if (command == "resume") return PauseResume(g, *a, false);
  if (command == "exec") return Exec(g, *a);
  if (command == "spec") return Spec(g, *a);
  if (command == "features") return Features(g, *a);
  if (command == "update") return Update(g, *a);
  if (command == "ps") return Ps(g, *a);
  if (command == "events") return Events(g, *a);
  if (command == "checkpoint" || command == "restore") return CheckpointRestore(g, *a, command.c_str());
  return List(g, *a);
}

}  // namespace bd::ociruntime

int main(int argc, char** argv) { return bd::ociruntime::Main(argc, argv); }
