#include "engine/runtimes/runtimes.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace bd::engine {

bool ValidRuntimeName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

namespace {

// `file` on the caller's PATH (the standard directories without one); "" when absent.
std::string FindOnPath(const std::string& file) {
  const char* env = std::getenv("PATH");
  std::string path = env && *env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& dir : Split(path, ':')) {
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = dir + "/" + file;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

std::vector<RuntimeInfo> KnownRuntimes(const DaemonConfig& config, const std::string& bin_dir) {
  std::vector<RuntimeInfo> out = {{std::string(kBuiltinRuntime), "", {}, "builtin"}};
  auto known = [&](std::string_view name) {
    for (const RuntimeInfo& r : out) {
      if (r.name == name) return true;
    }
    return false;
  };
  for (const auto& [name, rt] : config.runtimes) {
    std::string path = rt.path.find('/') == std::string::npos ? FindOnPath(rt.path) : rt.path;
    out.push_back({name, path.empty() ? rt.path : path, rt.args, "daemon.json"});
  }
  for (const char* name : {"crun", "runc"}) {
    if (known(name)) continue;
    if (std::string path = FindOnPath(name); !path.empty()) out.push_back({name, path, {}, "PATH"});
  }
  if (!known("basic-runtime") && !bin_dir.empty() && ::access((bin_dir + "/basic-runtime").c_str(), X_OK) == 0) {
    out.push_back({"basic-runtime", bin_dir + "/basic-runtime", {}, "engine"});
  }
  return out;
}

Result<RuntimeInfo> ResolveRuntime(const DaemonConfig& config, const std::string& bin_dir, std::string_view name) {
  std::string want = name.empty() ? (config.default_runtime.empty() ? std::string(kBuiltinRuntime) : config.default_runtime)
                                  : std::string(name);
  if (!ValidRuntimeName(want)) {
    return Status::InvalidArgument("invalid runtime name \"" + want + "\": 1-64 of [A-Za-z0-9_.-]");
  }
  std::vector<std::string> names;
  for (RuntimeInfo& r : KnownRuntimes(config, bin_dir)) {
    if (r.name == want) {
      if (!r.builtin() && ::access(r.path.c_str(), X_OK) != 0) {
        return Status::NotFound("runtime " + want + ": " + r.path + " is not there or not executable");
      }
      return std::move(r);
    }
    names.push_back(r.name);
  }
  return Status::NotFound("unknown runtime \"" + want + "\" (there are: " + Join(names, ", ") +
                          "; add others under \"runtimes\" in daemon.json)");
}

std::string ExecutorRequest(const Paths& paths, const RuntimeInfo& runtime, const std::string& id) {
  nlohmann::json j = {{"id", id},
                      {"runtime", {{"name", runtime.name}, {"path", runtime.path}, {"args", runtime.args}}},
                      {"stateRoot", RuntimeStateRoot(paths, runtime.name)}};
  return j.dump();
}

}  // namespace bd::engine
