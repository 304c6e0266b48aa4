#include "engine/daemon_config.h"

#include <nlohmann/json.hpp>

#include "engine/containers/store.h"
#include "os/fs.h"

namespace bd::engine {

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
    } else if (key == "storage-reserve") {
      if (!value.is_string()) return Status::InvalidArgument(file + ": storage-reserve is not a string");
      std::string size = value.get<std::string>();
      if (size == "0") {
        config.storage_reserve = 0;
        continue;
      }
      auto bytes = ParseMemorySize(size);
      if (!bytes.ok()) return bytes.status().WithContext(file + ": storage-reserve");
      config.storage_reserve = *bytes;
    } else {
      return Status::InvalidArgument(file + ": unknown setting \"" + key + "\" (log-opts and storage-reserve are known)");
    }
  }
  return config;
}

}  // namespace bd::engine
