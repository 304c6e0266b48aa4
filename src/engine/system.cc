#include "engine/system.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "engine/daemon_config.h"
#include "engine/engine.h"
#include "engine/runtimes/runtimes.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/cgroups.h"

namespace bd::engine {

Result<std::vector<DiskUsageRow>> DiskUsage(Engine& engine) {
  const Paths& paths = engine.paths();
  BD_ASSIGN_OR_RETURN(std::vector<Container> containers, engine.containers().List());
  BD_ASSIGN_OR_RETURN(std::vector<Image> images, engine.images().List());
  BD_ASSIGN_OR_RETURN(std::vector<Volume> volumes, engine.volumes().List());
  BD_ASSIGN_OR_RETURN(std::vector<Capsule> capsules, engine.capsules().List());
  std::set<std::string> used_images;
  for (const Container& c : containers) used_images.insert(c.image_id);

  DiskUsageRow img{"Images"};
  std::map<std::string, bool> layers;  // diff_id -> used by an image a container has
  for (const Image& i : images) {
    ++img.total;
    bool used = used_images.count(i.id) > 0;
    img.active += used ? 1 : 0;
    for (const std::string& d : i.diff_ids) layers[d] = layers[d] || used;
  }
  for (const auto& [diff_id, used] : layers) {
    int64_t bytes = os::DiskUsage(paths.Layer(diff_id));
    img.size += bytes;
    if (!used) img.reclaimable += bytes;
  }

  DiskUsageRow ctr{"Containers"};
  for (const Container& c : containers) {
    ++ctr.total;
    int64_t bytes = os::DiskUsage(paths.Container(c.id) + "/upper");
    ctr.size += bytes;
    if (c.Running()) ++ctr.active;
    else ctr.reclaimable += bytes;
  }

  DiskUsageRow vol{"Local Volumes"};
  for (const Volume& v : volumes) {
    ++vol.total;
    int64_t bytes = os::DiskUsage(v.mountpoint);
    vol.size += bytes;
    if (!v.used_by.empty()) ++vol.active;
    else vol.reclaimable += bytes;
  }

  DiskUsageRow cap{"Capsules"};
  for (const Capsule& k : capsules) {
    ++cap.total;
    cap.size += k.blob_size;
    if (!k.attached_to.empty()) ++cap.active;
    else cap.reclaimable += k.blob_size;
  }
  BD_ASSIGN_OR_RETURN(ExecRecordStore::Usage records, engine.exec_records().DiskUsage());
  DiskUsageRow rec{"Exec Records", records.total, records.running, records.bytes, records.reclaimable};
  return std::vector<DiskUsageRow>{img, ctr, vol, cap, rec};
}

Result<SystemInfo> Info(Engine& engine) {
  SystemInfo info;
  BD_ASSIGN_OR_RETURN(std::vector<Container> containers, engine.containers().List());
  for (const Container& c : containers) {
    ++info.containers;
    if (c.Paused()) ++info.paused;
    else if (c.Active()) ++info.running;
    else ++info.stopped;
  }
  BD_ASSIGN_OR_RETURN(std::vector<Image> images, engine.images().List());
  info.images = static_cast<int64_t>(images.size());
  BD_ASSIGN_OR_RETURN(std::vector<Volume> volumes, engine.volumes().List());
  info.volumes = static_cast<int64_t>(volumes.size());
  BD_ASSIGN_OR_RETURN(std::vector<Capsule> capsules, engine.capsules().List());
  info.capsules = static_cast<int64_t>(capsules.size());
  info.server_version = "0.1.0";
  info.storage_driver = "overlay2";
  info.logging_driver = "cri-file";  // a rotated CRI-format file per container (docs/architecture.md)
  info.cgroup_driver = "cgroupfs";
  switch (runtime::DetectCgroupLayout("/sys/fs/cgroup")) {
    case runtime::CgroupLayout::kV2: info.cgroup_version = "2"; break;
    case runtime::CgroupLayout::kV1: info.cgroup_version = "1"; break;
    case runtime::CgroupLayout::kNone: info.cgroup_version = ""; break;
  }
  utsname u{};
  if (::uname(&u) == 0) {
    info.kernel_version = u.release;
    info.architecture = u.machine;
  }
  if (auto os_release = os::ReadFile("/etc/os-release"); os_release.ok()) {
    for (const std::string& line : Split(*os_release, '\n')) {
      if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      info.operating_system = v;
    }
  }
  info.docker_root_dir = engine.paths().root;
  info.default_runtime = std::string(kBuiltinRuntime);
  if (auto daemon = LoadDaemonConfig(engine.paths()); daemon.ok()) {
    info.default_runtime = DefaultRuntimeName(*daemon);
    for (const RuntimeInfo& r : KnownRuntimes(*daemon, os::SelfExeDir())) info.runtimes.push_back({r.name, r.path});
  }
  info.ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  info.mem_total = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE);
  info.security_options = {"name=seccomp,profile=builtin", "name=no-new-privileges"};
  return info;
}

std::string InfoJson(const SystemInfo& i) {
  nlohmann::json j = {{"Containers", i.containers},
                      {"ContainersRunning", i.running},
                      {"ContainersPaused", i.paused},
                      {"ContainersStopped", i.stopped},
                      {"Images", i.images},
                      {"Volumes", i.volumes},
                      {"Capsules", i.capsules},
                      {"ServerVersion", i.server_version},
                      {"Driver", i.storage_driver},
                      {"LoggingDriver", i.logging_driver},
                      {"CgroupDriver", i.cgroup_driver},
                      {"CgroupVersion", i.cgroup_version},
                      {"KernelVersion", i.kernel_version},
                      {"OperatingSystem", i.operating_system},
                      {"OSType", "linux"},
                      {"Architecture", i.architecture},
                      {"NCPU", i.ncpu},
                      {"MemTotal", i.mem_total},
                      {"DockerRootDir", i.docker_root_dir},
                      {"DefaultRuntime", i.default_runtime},
                      {"Runtimes", [&] {
                         nlohmann::json r = nlohmann::json::object();
                         for (const auto& [name, path] : i.runtimes) r[name] = {{"path", path}};
                         return r;
                       }()},
                      {"SecurityOptions", i.security_options}};
  return j.dump();
}

}  // namespace bd::engine
