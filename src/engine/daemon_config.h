// The engine's settings file, <data-root>/daemon.json, in Docker's daemon.json shape where
// Docker has the setting:
//   {"log-opts": {"max-size": "10m", "max-file": "3"},   // every new container's defaults
//    "storage-reserve": "1g",                              // free disk an import must leave
//    "exec-record-limit": "1m",                            // bytes of each stream exec --once keeps
//    "plugin-start-timeout": "10s", "plugin-call-timeout": "5m", "plugin-idle-timeout": "1m",
//    "default-runtime": "crun",                            // run --runtime's default
//    "runtimes": {"NAME": {"path": "/usr/bin/x", "runtimeArgs": ["--debug"]}}}
// Absent: the defaults below. Read where it is needed (a few hundred bytes); pure otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/containers/logfile.h"
#include "engine/paths.h"

namespace bd::engine {

// An OCI runtime binary of daemon.json's "runtimes" (engine/runtimes/runtimes.h).
struct ConfiguredRuntime {
  std::string path;               // absolute, or a name looked up on PATH
  std::vector<std::string> args;  // runtimeArgs: global options before the command
};

struct DaemonConfig {
  LogLimits log;
  int64_t storage_reserve = 512ll << 20;  // bytes; 0: no reserve
  int64_t exec_output_limit = 1 << 20;    // bytes of each stream an exec --once record keeps
  int64_t plugin_start_timeout_ms = 10'000;   // a plugin's start to its address line
  int64_t plugin_call_timeout_ms = 300'000;   // one call of a plugin
  int64_t plugin_idle_timeout_ms = 60'000;    // a plugin exits after this long without calls
  std::string default_runtime;                 // "" : builtin
  std::map<std::string, ConfiguredRuntime> runtimes;
};

// A size as daemon.json and --record-limit take it: "0", or what ParseMemorySize reads.
Result<int64_t> ParseByteSize(std::string_view text);

// A malformed file or value is InvalidArgument naming the file and the key.
Result<DaemonConfig> LoadDaemonConfig(const Paths& paths);

}  // namespace bd::engine
