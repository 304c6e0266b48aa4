// Plugins compiled into the engine, registered on the manager against the same contract as
// plugin binaries (docs/plugins.md) and preferred by its lookups.
#pragma once

#include "engine/plugins/manager.h"

namespace bd::engine {

// builtin-file: capsule-source/fetch-file (file:// URIs); builtin-executor: executor/runtimes
// (the runtimes `run --runtime` knows, and the default).
void RegisterBuiltinPlugins(PluginManager& m);

}  // namespace bd::engine
