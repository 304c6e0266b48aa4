// The plugin manager (docs/plugins.md): finds plugin binaries, asks each for its capabilities
// once per version of the file, starts one on its first use, shares the running instance with
// every caller (other threads and other processes alike), and starts it again after it idled
// out or failed. Built-in implementations register here against the same contract and are
// preferred by a lookup.
//
// Where plugins are found, first name wins: <data-root>/plugins/, the directories of
// BASIC_DOCKER_PLUGIN_PATH (colon-separated), and the directory of the engine's own binaries
// (its basic-docker-plugin-* files only). A file's plugin name is its name without the
// basic-docker-plugin- prefix.
//
// Thread-safe. Instances are recorded in the state database (table plugins) and started under
// a lock file per plugin, so eight first calls from eight processes start one instance.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/paths.h"
#include "plugin/contract.h"

namespace bd::store {
class Db;
}

namespace bd::engine {

// Defaults as DaemonConfig's.
struct PluginSettings {
  int64_t start_timeout_ms = 10'000;  // from start to its address line
  int64_t call_timeout_ms = 300'000;  // one call
  int64_t idle_timeout_ms = 60'000;   // passed to the plugin as idleTimeout
  int64_t log_limit = 1 << 20;        // bytes of a plugin's stderr kept
  std::vector<std::string> extra_dirs;  // searched after <data-root>/plugins (BASIC_DOCKER_PLUGIN_PATH)
  std::string bin_dir;                  // the engine's own binaries ("" : not searched)
};

// A plugin's name: 1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
bool ValidPluginName(std::string_view name);

struct PluginInfo {
  std::string name;
  std::string path;  // "" for a built-in
  bool builtin = false;
  plugin::Capabilities capabilities;
  std::string refused;  // why its capabilities were refused ("" : they were not)
  // "builtin", "stopped", "running", "unhealthy" (failed; restarted on the next call after
  // its backoff) or "invalid" (capabilities refused: never started).
  std::string state;
  pid_t pid = 0;
  std::string address;
  int64_t started_at = 0;  // unix ms
  int failures = 0;
  int64_t retry_at = 0;  // unix ms
  std::string last_error;
};

// Serves a built-in: the endpoint's body in, the answer's body out.
using BuiltinHandler = std::function<Result<std::string>(std::string_view type, std::string_view capability,
                                                         std::string_view body)>;

class PluginManager {
 public:
  PluginManager(Paths paths, store::Db* db, PluginSettings settings);
  ~PluginManager();
  PluginManager(const PluginManager&) = delete;
  PluginManager& operator=(const PluginManager&) = delete;

  // The settings from the environment (BASIC_DOCKER_PLUGIN_PATH) and daemon.json
  // ("plugin-start-timeout", "plugin-call-timeout", "plugin-idle-timeout"); `bin_dir` as given.
  static Result<PluginSettings> LoadSettings(const Paths& paths, std::string bin_dir);

  // Before any call; a built-in's name must not be taken by another built-in.
  void RegisterBuiltin(std::string name, plugin::Capabilities caps, BuiltinHandler handler);

  // Every plugin found and every built-in, by name. Asks new or changed binaries for their
  // capabilities.
  Result<std::vector<PluginInfo>> List();
  Result<PluginInfo> Inspect(std::string_view name);

  // The plugin to use for TYPE/CAPABILITY: a built-in if one has it, else the first found by
  // name. NotFound, naming what is there, when none has it.
  Result<std::string> Find(std::string_view type, std::string_view capability);

  // POST /v1/TYPE/CAPABILITY to plugin `name` (started if it is not running). A plugin's
  // error comes back with its code and message; a crash, hang or broken answer is an error
  // naming the plugin with the end of its stderr, and the plugin restarts on a later call.
  Result<std::string> Call(std::string_view name, std::string_view type, std::string_view capability,
                           std::string_view body);

  // Installs a plugin from an OCI image layout (a directory, or a tar of one) whose index lists
  // one manifest per platform, each with the binary as its layer (docs/plugins.md): picks the
  // one for this machine, verifies every digest, asks the binary for its capabilities, and
  // renames it into <data-root>/plugins/basic-docker-plugin-NAME. NAME: `name`, else the
  // layer's org.opencontainers.image.title without the prefix. The same binary again is a
  // no-op; another one under an installed name is AlreadyExists unless `replace`.
  struct Installed {
    std::string name, path, digest, platform;
    bool noop = false;
  };
  // `source` may also be a registry reference ("host:port/plugins/x:1"): the index there is
  // read and only this machine's manifest and binary are downloaded.
  Result<Installed> Install(const std::string& source, const std::string& name, bool replace);
  // Stops it and removes its file, record and log; only plugins in <data-root>/plugins.
  Status Remove(std::string_view name);

  // Stops the running instance (SIGTERM, then SIGKILL after 2 s). OK when none runs.
  Status Stop(std::string_view name);
  // The last `max_bytes` of its stderr log.
  Result<std::string> Logs(std::string_view name, int64_t max_bytes);

  const Paths& paths() const { return paths_; }
  // Where its instance listens and where its stderr goes.
  std::string SocketDir() const { return socket_dir_; }
  std::string LogPath(std::string_view name) const;

 private:
  Result<Installed> InstallFromRegistry(const std::string& ref, const std::string& name, bool replace);
  struct Found {
    std::string name, path, binary_id;
  };
  struct Instance {
    pid_t pid = 0;
    uint64_t pid_start = 0;
    std::string address;
  };
  Result<std::vector<Found>> Discover();
  Result<PluginInfo> Refresh(const Found& f);  // capabilities asked when the binary changed
  Result<PluginInfo> Load(std::string_view name);
  Result<Instance> Ensure(const PluginInfo& p);
  Result<Instance> Start(const PluginInfo& p);
  Status RecordFailure(std::string_view name, const std::string& error, bool kill_instance);
  // failures + 1, the backoff that follows from `failures` (the count before this one), no
  // instance. mu_ held.
  Status MarkFailed(std::string_view name, int failures, const std::string& error);
  void RecordSuccess(std::string_view name);
  void ForgetInstance(std::string_view name, const Instance& inst);
  void Reap();
  std::string TailOfLog(std::string_view name) const;

  Paths paths_;
  store::Db* db_;
  PluginSettings settings_;
  std::string socket_dir_;
  std::mutex mu_;  // the database connection, children_
  std::set<pid_t> children_;  // instances we started: reaped when they exit
  // The instance of each plugin that last answered here, with what it was started from: a
  // call goes straight to it while its binary is unchanged (a failed connect goes the long way).
  struct Warm {
    PluginInfo info;
    std::string binary_id;
    Instance instance;
  };
  std::map<std::string, Warm, std::less<>> warm_;
  struct Builtin {
    plugin::Capabilities caps;
    BuiltinHandler handler;
  };
  std::map<std::string, Builtin, std::less<>> builtins_;
};

}  // namespace bd::engine
