#include "engine/daemon_config.h"

#include <nlohmann/json.hpp>

#include "plugin/contract.h"

#include "engine/containers/store.h"
#include "engine/runtimes/runtimes.h"
#include "os/fs.h"

namespace bd::engine {

Result<int64_t> ParseByteSize(std::string_view text) {
  if (text == "0") return 0;
  return ParseMemorySize(text);
}

Result<DaemonConfig> LoadDaemonConfig(const Paths& paths) {
  DaemonConfig config;
  const std::string file = paths.DaemonConfig();
  auto text = os::ReadFile(file);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return config;
    return text.status();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument(file + " is not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "log-opts") {
      if (!value.is_object()) return Status::InvalidArgument(file + ": log-opts is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) return Status::InvalidArgument(file + ": log-opts." + k + " is not a string");
        BD_RETURN_IF_ERROR(ParseLogOpt(k + "=" + v.get<std::string>(), &config.log).WithContext(file));
      }
    } else if (key == "storage-reserve" || key == "exec-record-limit") {
      if (!value.is_string()) return Status::InvalidArgument(file + ": " + key + " is not a string");
      auto bytes = ParseByteSize(value.get<std::string>());
      if (!bytes.ok()) return bytes.status().WithContext(file + ": " + key);
      (key == "storage-reserve" ? config.storage_reserve : config.exec_output_limit) = *bytes;
    } else if (key == "plugin-start-timeout" || key == "plugin-call-timeout" || key == "plugin-idle-timeout") {
      auto ms = value.is_string() ? plugin::ParseDuration(value.get<std::string>())
                                  : Result<int64_t>(Status::InvalidArgument("not a duration string"));
      if (!ms.ok() || *ms <= 0) return Status::InvalidArgument(file + ": " + key + " must be a duration like \"10s\"");
      (key == "plugin-start-timeout" ? config.plugin_start_timeout_ms
       : key == "plugin-call-timeout" ? config.plugin_call_timeout_ms
                                      : config.plugin_idle_timeout_ms) = *ms;
    } else if (key == "default-runtime") {
      if (!value.is_string() || !ValidRuntimeName(value.get<std::string>())) {
        return Status::InvalidArgument(file + ": default-runtime must be a runtime's name");
      }
      config.default_runtime = value.get<std::string>();
    } else if (key == "runtimes") {
      if (!value.is_object()) return Status::InvalidArgument(file + ": runtimes is not an object");
      for (const auto& [name, rt] : value.items()) {
        std::string where = file + ": runtimes." + name;
        if (!ValidRuntimeName(name) || name == kBuiltinRuntime) {
          return Status::InvalidArgument(where + ": a runtime's name is 1-64 of [A-Za-z0-9_.-], not \"builtin\"");
        }
        if (!rt.is_object() || !rt.contains("path") || !rt["path"].is_string() || rt["path"].get<std::string>().empty()) {
          return Status::InvalidArgument(where + " needs a \"path\" (the runtime binary)");
        }
        ConfiguredRuntime c{rt["path"].get<std::string>(), {}};
        for (const auto& [k, v] : rt.items()) {
          if (k == "path") continue;
          if (k != "runtimeArgs" || !v.is_array()) {
            return Status::InvalidArgument(where + ": only \"path\" and \"runtimeArgs\" (an array of strings) are known");
          }
          for (const auto& a : v) {
            if (!a.is_string()) return Status::InvalidArgument(where + ".runtimeArgs must be strings");
            c.args.push_back(a.get<std::string>());
          }
        }
        config.runtimes[name] = std::move(c);
      }
    } else if (key == "insecure-registries" || key == "registry-mirrors" ||
               key == "max-concurrent-downloads" || key == "max-concurrent-uploads") {
      // Read (and checked) with registries.conf when a registry is used (registry/hosts.h).
    } else {
      return Status::InvalidArgument(file + ": unknown setting \"" + key +
                                     "\" (log-opts, storage-reserve, exec-record-limit, plugin-start-timeout,"
                                     " plugin-call-timeout, plugin-idle-timeout, default-runtime, runtimes, insecure-registries,"
                                     " registry-mirrors, max-concurrent-downloads and max-concurrent-uploads are known)");
    }
  }
  return config;
}

}  // namespace bd::engine
