// What the engine holds on disk and what it runs on: `system df` and `info`, as Docker's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace bd::engine {

class Engine;

// One row of `system df`: how many of a kind, how many in use, the bytes they take and how
// many of those bytes removing the unused ones would free.
struct DiskUsageRow {
  std::string type;  // "Images", "Containers", "Local Volumes", "Capsules", "Exec Records"
  int64_t total = 0;
  int64_t active = 0;
  int64_t size = 0;
  int64_t reclaimable = 0;
};
// Images count each layer once (shared layers are stored once); an image is active while a
// container of it exists. Containers: their writable layers; active while running or paused.
// Volumes: active while a container uses them. Capsules: their compressed blobs; active while
// attached to a container. Exec records: what the state database holds of them (output, argv,
// environment); active while running, reclaimable by `exec-records prune` otherwise.
Result<std::vector<DiskUsageRow>> DiskUsage(Engine& engine);

struct SystemInfo {
  int64_t containers = 0, running = 0, paused = 0, stopped = 0;
  int64_t images = 0, volumes = 0, capsules = 0;
  std::string server_version, storage_driver, logging_driver, cgroup_driver, cgroup_version;
  std::string kernel_version, operating_system, architecture, docker_root_dir, default_runtime;
  int64_t ncpu = 0, mem_total = 0;
  std::vector<std::string> security_options;  // Docker's "name=seccomp,profile=builtin" form
  std::vector<std::pair<std::string, std::string>> runtimes;  // name, binary ("" : builtin)
};
Result<SystemInfo> Info(Engine& engine);
// Docker's /info JSON shape (the fields above under Docker's names).
std::string InfoJson(const SystemInfo& info);

}  // namespace bd::engine
