#include "engine/runtimes/runtimes.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "runtime/launch.h"

namespace bd::engine {

bool ValidRuntimeName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

namespace {

// `file` on the caller's PATH, as execvp finds it; "" when absent or found only through a
// relative PATH entry (the executor takes absolute paths).
std::string FindOnPath(const std::string& file) {
  std::vector<std::string> env;
  if (const char* path = std::getenv("PATH"); path && *path) env.push_back(std::string("PATH=") + path);
  std::string found = runtime::LookPath(file, env).value_or("");
  return found.rfind('/', 0) == 0 ? found : "";
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
  std::string want = name.empty() ? DefaultRuntimeName(config) : std::string(name);
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

std::string ExecutorRequest(const Paths& paths, const RuntimeInfo& runtime, const std::string& id,
                            std::string_view extra) {
  nlohmann::json j = nlohmann::json::parse(extra, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();  // the callers' own literals: always objects
  j["id"] = id;
  j["runtime"] = {{"name", runtime.name}, {"path", runtime.path}, {"args", runtime.args}};
  j["stateRoot"] = RuntimeStateRoot(paths, runtime.name);
  return j.dump();
}

}  // namespace bd::engine
