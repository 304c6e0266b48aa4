// Named volumes: directories under volumes/<name>/_data, recorded in the state database with
// the containers that use them, so a volume in use is never removed. Not thread-safe; one
// VolumeStore per Db connection.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/filter.h"
#include "engine/paths.h"
#include "store/db.h"

namespace bd::engine {

struct Volume {
  std::string name;
  std::string mountpoint;
  int64_t created_at = 0;
  std::map<std::string, std::string> labels;
  std::vector<std::string> used_by;  // container ids
};

// Volume names as Docker takes them: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
Status ValidateVolumeName(std::string_view name);

class VolumeStore {
 public:
  VolumeStore(Paths paths, store::Db* db) : paths_(std::move(paths)), db_(db) {}

  // Creates the volume; an existing one is returned as it is (a NOOP, as in Docker).
  Result<Volume> Create(const std::string& name, const std::map<std::string, std::string>& labels);
  Result<Volume> Get(const std::string& name);
  Result<std::vector<Volume>> List();
  // Those `f` selects (kVolumeFilterKeys: name (a substring), label, dangling, driver).
  Result<std::vector<Volume>> List(const ListFilter& f);
  // Refuses while a container uses the volume.
  Status Remove(const std::string& name);
  // Records that `container_id` uses `name` (both must exist).
  Status Attach(const std::string& container_id, const std::string& name);

 private:
  Paths paths_;
  store::Db* db_;
};

}  // namespace bd::engine
