// Deterministic crash injection for tests and the crash soak: a named point in a multi-step
// operation where the process kills itself with SIGKILL when $BASIC_DOCKER_CRASH_AT names it
// (a comma-separated list). Unset, a point costs one cached load. Thread-safe.
#pragma once

#include <string_view>

namespace bd {

void CrashPoint(std::string_view name);

}  // namespace bd
