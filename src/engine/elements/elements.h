// The engine's port-layer components, one file each: rootfs (the container's directories and
// /etc files), task (its process under its shim) and capsule (one capsule recorded on it and
// mounted live). Each element's configuration is the component's own struct below; volume,
// network and exec elements join them here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/capsules/store.h"
#include "engine/containers/store.h"
#include "engine/engine.h"
#include "engine/paths.h"
#include "portlayer/portlayer.h"

namespace bd::engine {

// rootfs: what the container's /etc/hostname, /etc/hosts and /etc/resolv.conf are made from.
struct RootfsConfig : portlayer::ElementConfig {
  std::string hostname;
  std::string network;  // "none" or "host"
};
std::shared_ptr<const RootfsConfig> RootfsConfigOf(const Container& c);

// task: how to start (the caller's stdio, and where the session goes) and how to stop.
struct TaskConfig : portlayer::ElementConfig {
  const AttachIo* io = nullptr;     // start attached: output (and -i input) through the shim
  std::optional<int> stop_timeout;  // seconds between SIGTERM and SIGKILL; unset: the container's
  std::string runtime;              // the container's (ContainerConfig::runtime): picks its shim
  // Receives the session of a start (its channel to the shim, which reports the exit).
  std::shared_ptr<std::unique_ptr<TaskSession>> session = std::make_shared<std::unique_ptr<TaskSession>>();
};

// capsule: which capsule, and the container as the caller already read it (one Commit then
// reads the database once per element, not thrice).
struct CapsuleConfig : portlayer::ElementConfig {
  Capsule capsule;
  std::optional<Container> container;
};

inline constexpr std::string_view kCapsulesDir = "/capsules";
// Where a capsule appears in a container: /capsules/NAME/VERSION.
std::string MountPoint(const std::string& name, const std::string& version);
std::string CapsuleElementId(const Capsule& c);  // "capsule:NAME:VERSION"
portlayer::Element CapsuleElement(const Capsule& c, portlayer::Level desired,
                                  std::optional<Container> container = std::nullopt);
// The propagation fallback (no new mount API, or BASIC_DOCKER_CAPSULE_MOUNT=propagation): the
// container's /capsules is a slave of a shared host directory and attaches mount there.
bool UsePropagation();

std::unique_ptr<portlayer::Component> MakeRootfsComponent(const Paths* paths);
std::unique_ptr<portlayer::Component> MakeTaskComponent(Engine* engine);
// The shim binary: BASIC_DOCKER_SHIM, or basic-docker-shim beside this executable. It
// supervises containers (the task component) and exec --once runs (engine/exec_once.h). A
// container of an OCI runtime gets basic-docker-shim-dynamic, the same code linked dynamically
// (it loads libcurl to call the executor plugin).
std::string ShimPath(bool external_runtime = false);
std::unique_ptr<portlayer::Component> MakeCapsuleComponent(Engine* engine);

}  // namespace bd::engine
