// A container of an OCI runtime (run --runtime crun|runc|basic-runtime|NAME), as its shim sees
// it: the shim writes the bundle (config.json from the container's runtime spec), and an
// executor plugin (docs/plugins.md, type executor) runs the runtime's create, start and delete.
// The shim keeps its part: the container's stdio (handed over as /proc/SHIM/fd/N paths), its
// log, its exit (the process's pidfd, then the executor's wait) and its records.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "engine/containers/store.h"
#include "engine/paths.h"
#include "engine/plugins/manager.h"
#include "engine/runtimes/runtimes.h"
#include "runtime/launch.h"
#include "runtime/spec.h"

namespace bd::store {
class Db;
}

namespace bd::shim {

// What a config.json for `spec` says beyond the spec itself: the user resolved against the
// image's /etc/passwd and /etc/group (upper layer first), the seccomp section from the
// container's profile.
Result<std::string> BundleConfig(const engine::ContainerConfig& config, const runtime::Spec& spec);

class OciTask {
 public:
  // Writes the bundle and has the executor create and start the container, its stdio on `io`'s
  // descriptors. Failures caused by the command (not found, not executable) carry their
  // CommandFailure, as runtime::Launch's do.
  static Result<std::unique_ptr<OciTask>> Launch(const engine::Paths& paths, store::Db* db,
                                                 const engine::Container& c, const runtime::Spec& spec,
                                                 const runtime::LaunchIo& io);
  ~OciTask();  // deletes the container from the runtime (forced) unless Delete did

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  // With a terminal: the connection on which the runtime sent the terminal's master.
  int console() const { return console_.get(); }
  // Once pidfd() is readable: the exit code the executor recorded.
  Result<int> Wait();
  Status Delete();

 private:
  OciTask() = default;
  Result<std::string> Call(const char* capability, std::string_view extra = "{}");  // a JSON object

  std::unique_ptr<engine::PluginManager> plugins_;
  std::string plugin_;
  engine::Paths paths_;
  engine::RuntimeInfo runtime_;
  std::string id_;
  pid_t pid_ = 0;
  UniqueFd pidfd_;
  UniqueFd console_;
  bool created_ = false;
};

}  // namespace bd::shim
