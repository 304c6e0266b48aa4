// Containers as the state database records them, and the pure step from a container's config
// and its image to the runtime spec the shim launches. ContainerStore is not thread-safe; each
// process (CLI, shim) has its own over its own Db connection.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/containers/state.h"
#include "engine/events.h"
#include "engine/images/store.h"
#include "engine/containers/logfile.h"
#include "engine/paths.h"
#include "runtime/spec.h"
#include "store/db.h"

namespace bd::engine {

// What the user asked for, merged with the image's defaults (Docker's Config + HostConfig).
struct ContainerConfig {
  std::string image_ref;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::string hostname;
  std::map<std::string, std::string> labels;
  bool auto_remove = false;
  // Security (Docker's HostConfig).
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  bool read_only = false;
  bool no_new_privileges = true;
  std::string seccomp = "default";  // "default", "unconfined", or a profile's JSON
  std::vector<std::string> security_opt;  // as given, for inspect
  // Restart policy: "no", "on-failure" (at most restart_max times when > 0), "always",
  // "unless-stopped".
  std::string restart = "no";
  int restart_max = 0;
  int stop_timeout = 10;  // seconds `stop` waits after SIGTERM before SIGKILL
  // Resources (cgroups); 0: unlimited.
  int64_t memory = 0;     // bytes
  int64_t nano_cpus = 0;  // 1e9 per CPU
  int64_t pids_limit = 0;
  std::vector<std::string> binds;  // -v as given: SOURCE:DEST[:OPTIONS]
  std::vector<std::string> tmpfs;  // --tmpfs as given: DEST[:OPTIONS]
  std::string network = "none";    // "none" (loopback only) or "host"
  bool init = false;               // --init: a small pid 1 runs the command
  bool open_stdin = false;         // -i: the container's stdin is a pipe kept open
  bool tty = false;                // -t: the container's stdio is its own pseudo-terminal
  LogLimits log;                   // --log-opt max-size / max-file
  bool persistent = false;         // run --persistent: found again by name and reused
  std::string runtime;             // an OCI runtime's name (engine/runtimes); "": builtin
};

// One -v: a host path (absolute) or a named volume, mounted at an absolute container path.
struct VolumeSpec {
  std::string source;  // host path, or volume name when `named`
  std::string destination;
  bool named = false;
  bool read_only = false;
  std::string propagation = "rprivate";
};
Result<VolumeSpec> ParseVolumeSpec(std::string_view text);

// Where --init's binary is: BASIC_DOCKER_INIT, or basic-docker-init beside this executable.
std::string InitPath();
inline constexpr std::string_view kInitInContainer = "/sbin/basic-docker-init";

// "512m", "1g", "4096", "1.5G" -> bytes (as docker --memory takes them).
Result<int64_t> ParseMemorySize(std::string_view text);
// "1.5" -> 1500000000 nano CPUs.
Result<int64_t> ParseCpus(std::string_view text);

// Parses --restart: "no", "always", "unless-stopped", "on-failure", "on-failure:N".
Status ParseRestartPolicy(std::string_view text, ContainerConfig* config);
// Whether a container that exited with `exit_code` after `restarts` restarts is started again.
bool ShouldRestart(const ContainerConfig& config, int exit_code, int restarts);

std::string ContainerConfigToJson(const ContainerConfig& c);
Result<ContainerConfig> ContainerConfigFromJson(std::string_view json);

// A persistent container's configuration hash: sha256 of its merged configuration (what
// ContainerConfigToJson holds, but for the image reference as typed) and the id of its image.
// `run --persistent` reuses a container only when the hash of what it asks for is this one.
std::string ConfigHash(const ContainerConfig& config, const std::string& image_id);
// What differs between two configurations, by field name ("Cmd", "Memory", "Image" when the
// image ids differ); for Env, the names of the variables that differ, never their values.
std::vector<std::string> ConfigDifferences(const ContainerConfig& have, const std::string& have_image,
                                           const ContainerConfig& want, const std::string& want_image);


struct Container {
  std::string id;
  std::string name;
  std::string image_id;
  std::string image_ref;
  ContainerConfig config;
  std::string spec_json;
  State state = State::kCreated;
  pid_t pid = 0;
  uint64_t pid_start = 0;  // start time of `pid`, see os::ProcessStartTime
  pid_t shim_pid = 0;
  uint64_t shim_start = 0;
  int exit_code = 0;
  std::string error;
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int restart_count = 0;
  bool stop_requested = false;
  bool oom_killed = false;
  // Moves on with every change of the record or of its attached capsules (port-layer handles
  // carry it: a commit against a changed container is a Conflict).
  int64_t version = 0;

  std::vector<std::string> Args() const;  // entrypoint + cmd
  // Its process exists (running or frozen by pause).
  bool Running() const { return state == State::kRunning || state == State::kPaused; }
  bool Paused() const { return state == State::kPaused; }
  // Its shim is alive: running, paused, or between two runs under a restart policy.
  bool Active() const { return IsActive(state); }
};

// The attributes of a container's events, as Docker gives them: name, image, and its labels.
std::map<std::string, std::string> EventAttributes(const Container& c,
                                                   std::map<std::string, std::string> extra = {});

// "Uses X" across components: the names of the containers a query selects (its first column
// is containers.name), and that list for a message: "web, db" ("... and 3 more" past ten).
Result<std::vector<std::string>> ContainerNames(store::Statement& query);
std::string NameList(const std::vector<std::string>& names);

// User-facing options of `create` / `run` before they meet the image.
struct CreateOptions {
  std::string image;
  std::string name;                      // empty: generated
  std::vector<std::string> cmd;          // empty: the image's Cmd
  std::optional<std::string> entrypoint; // set: replaces the image's Entrypoint ("" clears it)
  std::vector<std::string> env;          // "K=V", or "K" to take K from the caller's environment
  std::string working_dir;
  std::string user;
  std::string hostname;
  std::map<std::string, std::string> labels;
  bool auto_remove = false;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  bool read_only = false;
  // "seccomp=unconfined", "seccomp=PROFILE.json", "no-new-privileges[=true|false]".
  std::vector<std::string> security_opt;
  std::string restart = "no";
  std::optional<int> stop_timeout;
  std::string memory;  // "512m"
  std::string cpus;    // "1.5"
  int64_t pids_limit = 0;
  std::vector<std::string> volumes;  // -v SOURCE:DEST[:OPTIONS]
  std::vector<std::string> tmpfs;    // --tmpfs DEST[:OPTIONS]
  std::vector<std::string> capsules; // --capsule NAME:VERSION, mounted at every start
  std::string network;               // "", "none" or "host"
  bool init = false;
  bool open_stdin = false;  // -i
  bool tty = false;         // -t
  std::vector<std::string> log_opts;  // --log-opt KEY=VALUE
  LogLimits log_defaults;             // the engine's (daemon.json "log-opts"), under log_opts
  bool persistent = false;            // --persistent (Engine::CreatePersistent)
  std::string runtime;                // --runtime NAME, resolved by the engine ("" : builtin)
};

// InvalidArgument when text the config holds is not UTF-8 or the hostname is not one.
Status ValidateConfigText(const ContainerConfig& c);

// Merges `opts` over the image's config. Fails when no command results, or on a bad
// capability name, security option or seccomp profile (read from its file here).
Result<ContainerConfig> MergeConfig(const CreateOptions& opts, const Image& image);

// Builds the runtime spec: overlay of the image's layers under the container's upper dir,
// the default mounts plus /etc/hostname, /etc/hosts and /etc/resolv.conf from the container dir,
// the security settings with the seccomp profile compiled. Fails only on a bad profile.
Result<runtime::Spec> BuildSpec(const std::string& id, const ContainerConfig& config,
                        const std::vector<std::string>& layer_dirs, const Paths& paths);

// The container's cgroup plan on this host, from its stored runtime spec.
Result<runtime::CgroupPlan> CgroupPlanOf(const Container& c);

// Sets `kv` ("K=V") in `env`, replacing an earlier value of K in place.
void SetEnv(std::vector<std::string>* env, const std::string& kv);

// A container process's environment as Docker makes it: PATH, HOSTNAME and, with a terminal,
// TERM=xterm, then the container's own variables (image and -e) over them.
std::vector<std::string> ContainerEnvironment(const ContainerConfig& config, const std::string& hostname, bool tty);

// Every change of a record's state is checked against the state machine (containers/state.h)
// in the UPDATE itself: a change the record's current state does not allow changes nothing and
// fails with FailedPrecondition. Each change records its Docker event (create, start, pause,
// unpause, oom, die, destroy) in the same transaction, so the event log and the records never
// disagree. Reads have no side effects: a record whose shim died stays as it was until
// Reconcile.
class ContainerStore {
 public:
  explicit ContainerStore(store::Db* db) : db_(db), events_(db) {}

  Status Insert(const Container& c);
  Result<Container> Get(const std::string& id);
  // By full id, exact name, or unique id prefix. Not found: "No such container: REF".
  Result<Container> Find(std::string_view ref);
  Result<std::vector<Container>> List();
  // Just the record's version, name and state (what a port-layer version check reads).
  struct Version {
    int64_t version = 0;
    std::string name;
    State state = State::kCreated;
  };
  Result<Version> VersionOf(const std::string& id);
  // Reconciles the record with the kernel: an active container whose shim is gone (killed, or
  // the host rebooted) is recorded exited and its leftover process and cgroups removed, since
  // the shim is the only one that would have recorded the exit. Updates `c`; true if it did.
  Result<bool> Reconcile(Container* c);
  // Reconcile for every active container; returns how many were out of step.
  Result<int> ReconcileAll();
  Status MarkRunning(const std::string& id, pid_t pid, pid_t shim_pid, uint64_t shim_start,
                     int64_t started_at);
  Status MarkExited(const std::string& id, int exit_code, const std::string& error,
                    int64_t finished_at, bool oom_killed = false);
  // Between runs under a restart policy: records the exit and counts the restart.
  Status MarkRestarting(const std::string& id, int exit_code, int64_t finished_at,
                        bool oom_killed = false);
  // running <-> paused.
  Status MarkPaused(const std::string& id, bool paused);
  // Set by `stop` (and `rm -f`) before signalling; cleared by `start`.
  Status SetStopRequested(const std::string& id, bool requested);
  // Replaces the runtime spec the shim launches (e.g. when attached capsules change).
  Status SetSpec(const std::string& id, const std::string& spec_json);
  Status Delete(const std::string& id);

 private:
  // Runs an UPDATE of `id`'s row to state `to` and records its event, in one transaction. The
  // SQL has `state = ?1` and `id = ?2`; `set_sql` (", a = ?3, ...") and then `where_sql`
  // (" AND b = ?N") take the further values in order. Only from `from` when given, else from
  // every state the machine allows; a refusal says why from the record as it was. A record
  // that `where_sql` alone excludes is left as it is, and that is no error.
  template <typename... Args>
  Status Transition(const std::string& id, std::optional<State> from, State to, const std::string& set_sql,
                    const std::string& where_sql, Args&&... values);
  // Docker's volume `mount` (before a container's start event) or `unmount` (after its die)
  // for each named volume of `c`.
  Status EmitVolumeEvents(const Container& c, const char* action);
  // The records the SQL after FROM selects ("WHERE ...", "ORDER BY ...").
  Result<std::vector<Container>> Select(std::string_view where_sql);
  store::Db* db_;
  EventLog events_;
};

}  // namespace bd::engine
