// Container runtimes: what `run --runtime NAME` and daemon.json's "default-runtime" name.
//   builtin        the engine's own runtime library, run in the container's shim (the default)
//   crun, runc     found on PATH
//   basic-runtime  the engine's own OCI runtime binary, beside basic-docker
//   NAME           daemon.json "runtimes": {"NAME": {"path": "/usr/bin/x", "runtimeArgs": [...]}}
// Every runtime but the builtin one is an OCI runtime binary with runc's command line, driven
// by an executor plugin (docs/plugins.md, type executor; basic-docker-plugin-oci ships with
// the engine) from a bundle the shim writes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/daemon_config.h"

namespace bd::engine {

inline constexpr std::string_view kBuiltinRuntime = "builtin";

struct RuntimeInfo {
  std::string name;
  std::string path;               // the binary; "" for the builtin runtime
  std::vector<std::string> args;  // global options given before the command (runtimeArgs)
  std::string source;             // "builtin", "daemon.json", "PATH", "engine"
  bool builtin() const { return name == kBuiltinRuntime; }
};

// A runtime's name: 1-64 of [A-Za-z0-9_.-], starting with a letter or digit.
bool ValidRuntimeName(std::string_view name);

// daemon.json's "default-runtime", else builtin.
inline std::string DefaultRuntimeName(const DaemonConfig& config) {
  return config.default_runtime.empty() ? std::string(kBuiltinRuntime) : config.default_runtime;
}

// Every runtime there is, the builtin one first; a configured name hides a found one.
std::vector<RuntimeInfo> KnownRuntimes(const DaemonConfig& config, const std::string& bin_dir);

// The runtime `name` stands for ("" : the default-runtime, else builtin). NotFound names the
// runtimes there are.
Result<RuntimeInfo> ResolveRuntime(const DaemonConfig& config, const std::string& bin_dir, std::string_view name);

// Where an OCI runtime keeps its state for the engine (its --root): <data-root>/runtimes/NAME.
inline std::string RuntimeStateRoot(const Paths& paths, std::string_view name) {
  return paths.root + "/runtimes/" + std::string(name);
}

// An executor call's body (docs/plugins.md): the members every call carries, {"id", "runtime":
// {name, path, args}, "stateRoot"}, and those of `extra`, a JSON object.
std::string ExecutorRequest(const Paths& paths, const RuntimeInfo& runtime, const std::string& id,
                            std::string_view extra = "{}");

}  // namespace bd::engine
