// The basic-docker command line: one file per verb registers its subcommand on the CLI11 app.
// Verbs return the process exit code; failures go through one table (ExitCodeOf).
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"

namespace CLI {
class App;
}

namespace bd::cli {

class Context {
 public:
  std::string root;
  std::string log_level;

  // Opens the engine on first use.
  Result<engine::Engine*> Engine();
  // The action chosen by the parsed subcommand.
  std::function<int()> action;

 private:
  std::unique_ptr<engine::Engine> engine_;
};

// The one table from a failure to the process's exit code. A container command that could not
// run gives Docker's 127 (not found) or 126 (cannot be run), whatever the verb; any other failure
// gives 125 for kRun (run, create, and the wait of an attached run, as Docker's do) and 1 for
// every other verb.
enum class ExitStyle { kPlain, kRun };
int ExitCodeOf(const Status& st, ExitStyle style = ExitStyle::kPlain);

// Prints "Error: <message>" to stderr and returns ExitCodeOf(st, style).
int Fail(const Status& st, ExitStyle style = ExitStyle::kPlain);

// Accepts "", "table" and "json" for --format.
Status CheckFormat(const std::string& format);

// Runs `fn` for each reference, printing the error of each that fails; returns 0 if all
// succeeded, else 1 (as `docker rm a b` does).
int ForEachRef(const std::vector<std::string>& refs,
               const std::function<Status(const std::string&)>& fn);

// "K=V" (or "K" for an empty value) from -l/--label into a map.
Result<std::map<std::string, std::string>> ParseLabels(const std::vector<std::string>& labels);

// --since / --until: seconds since the epoch, RFC 3339, or a duration before now ("10m", "2h",
// "30s"), as nanoseconds; "" is 0 (no bound).
Result<int64_t> ParseTimeBound(const std::string& text);

// Writes rows as left-aligned columns separated by at least three spaces (as `docker ps`).
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// The CLI's side of the engine's sessions (cli/session.cc): its own terminal in raw mode while
// a container's terminal has it, relayed to an exec's terminal, and the signals it receives
// forwarded (Docker's sig-proxy) or, with a terminal, window changes passed on.
Result<engine::ExitOutcome> DriveExec(engine::ExecSession& s, bool interactive, bool detached);
Result<engine::ExitOutcome> DriveAttach(engine::AttachSession& s);
Result<engine::ExitOutcome> DriveTask(engine::TaskSession& s, const engine::Container& c);
// A session's outcome as the CLI's exit code: the process's own, 0 when the user detached.
inline int ExitCodeOfOutcome(const engine::ExitOutcome& o) { return o.detached ? 0 : o.exit_code; }

// `pull` of `ref` with Docker's progress display on `out` (nothing but the name with `quiet`).
Status PullImage(engine::Engine& eng, const std::string& ref, const std::string& platform, bool quiet,
                 FILE* out);
// What `run` and `create` do before creating: `policy` "missing" pulls an image that is not
// here (saying so on stderr, as Docker does), "always" pulls, "never" only looks.
Status EnsureImage(engine::Engine& eng, const std::string& ref, const std::string& policy,
                   const std::string& platform);

void RegisterRun(CLI::App& app, Context& ctx);      // run, create, start
void RegisterRegistry(CLI::App& app, Context& ctx);  // pull, login, logout, tag
void RegisterPs(CLI::App& app, Context& ctx);       // ps
void RegisterLogs(CLI::App& app, Context& ctx);     // logs
void RegisterRm(CLI::App& app, Context& ctx);       // rm, wait
void RegisterInspect(CLI::App& app, Context& ctx);  // inspect
void RegisterImages(CLI::App& app, Context& ctx);   // images, rmi, import, load
void RegisterLifecycle(CLI::App& app, Context& ctx);  // stop, kill, restart
void RegisterExec(CLI::App& app, Context& ctx);       // exec
void RegisterExecRecords(CLI::App& app, Context& ctx);  // exec-records ls, inspect, rm, prune
void RegisterAttach(CLI::App& app, Context& ctx);     // attach
void RegisterStats(CLI::App& app, Context& ctx);      // stats, pause, unpause
void RegisterSystem(CLI::App& app, Context& ctx);     // system df, system info, info
void RegisterVolume(CLI::App& app, Context& ctx);     // volume create|ls|inspect|rm
void RegisterCapsule(CLI::App& app, Context& ctx);    // capsule create|ls|inspect|rm|...
void RegisterEvents(CLI::App& app, Context& ctx);     // events
void RegisterPlugin(CLI::App& app, Context& ctx);     // plugin ls|inspect|logs|call|stop|install|rm|check

int Main(int argc, char** argv);

}  // namespace bd::cli
