// Starting plugin processes, shared by the manager and the conformance suite: what a plugin
// inherits (nothing but three descriptors and the contract's environment) and bounded reads
// of what it prints.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "plugin/contract.h"

namespace bd::engine {

int64_t PluginNowMs();

// PATH, LANG, BASIC_DOCKER_PLUGIN_NAME and (when given) BASIC_DOCKER_ROOT: all a plugin gets.
std::vector<std::string> PluginEnvironment(const std::string& name, const std::string& root);

// Starts `args` as a plugin process: a session of its own, nothing inherited but the three
// descriptors given, the environment only `env`. Stdin is /dev/null.
Result<pid_t> SpawnPlugin(const std::vector<std::string>& args, int out_fd, int err_fd,
                          const std::vector<std::string>& env);

// Reads from `fd` until EOF, a newline (when `line`), `max` bytes or the deadline (unix ms).
// False on the deadline.
bool ReadUntil(int fd, std::string* out, bool line, size_t max, int64_t deadline_ms);

// Runs `path capabilities` (5 s at most) and parses its answer: InvalidArgument (or
// DeadlineExceeded) saying why it is refused.
Result<plugin::Capabilities> AskCapabilities(const std::string& path, const std::string& name);

// For a child not reaped yet (its pid cannot have been reused).
void KillAndReap(pid_t pid);
// "exited with status N", "was killed by signal N".
std::string DescribeExit(int status);

}  // namespace bd::engine
