// The engine's settings file, <data-root>/daemon.json, in Docker's daemon.json shape where
// Docker has the setting:
//   {"log-opts": {"max-size": "10m", "max-file": "3"},   // every new container's defaults
//    "storage-reserve": "1g"}                              // free disk an import must leave
// Absent: the defaults below. Read where it is needed (a few hundred bytes); pure otherwise.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "engine/containers/logfile.h"
#include "engine/paths.h"

namespace bd::engine {

struct DaemonConfig {
  LogLimits log;
  int64_t storage_reserve = 512ll << 20;  // bytes; 0: no reserve
};

// A malformed file or value is InvalidArgument naming the file and the key.
Result<DaemonConfig> LoadDaemonConfig(const Paths& paths);

}  // namespace bd::engine
