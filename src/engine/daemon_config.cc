#include "engine/daemon_config.h"

#include <nlohmann/json.hpp>

#include "plugin/contract.h"

#include "engine/containers/store.h"
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
    } else {
      return Status::InvalidArgument(file + ": unknown setting \"" + key +
                                     "\" (log-opts, storage-reserve, exec-record-limit and plugin-start-timeout,"
                                     " plugin-call-timeout, plugin-idle-timeout are known)");
    }
  }
  return config;
}

}  // namespace bd::engine
