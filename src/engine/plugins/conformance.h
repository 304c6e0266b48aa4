// The plugin conformance suite (`basic-docker plugin check PATH`): what the manager relies on,
// checked against a plugin binary from outside, whatever language it is written in. Every
// step has a deadline: a plugin that hangs fails its check and is killed.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace bd::engine {

struct CheckResult {
  std::string name;
  bool passed = false;
  std::string detail;  // why it failed, or what was seen
};

// Runs every check against the executable at `path`, its sockets in `scratch_dir` (a
// directory of the caller's, 0700, short enough for a socket path).
std::vector<CheckResult> CheckPlugin(const std::string& path, const std::string& scratch_dir);

}  // namespace bd::engine
