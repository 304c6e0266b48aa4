// Where things live under the data root. See docs/architecture.md for the full layout.
#pragma once

#include <string>
#include <string_view>

#include "base/digest.h"

namespace bd::engine {

struct Paths {
  std::string root;  // /var/lib/basic-docker unless --root or BASIC_DOCKER_ROOT

  std::string Db() const { return root + "/state.db"; }
  // The engine's settings, in Docker's daemon.json shape ("log-opts").
  std::string DaemonConfig() const { return root + "/daemon.json"; }
  // Registries: where they are and how to reach them (registry/hosts.h), and the logins
  // (Docker's config.json shape, 0600; registry/auth.h).
  std::string RegistriesConf() const { return root + "/registries.conf"; }
  static std::string SystemRegistriesConf() { return "/etc/basic-docker/registries.conf"; }
  std::string Credentials() const { return root + "/config.json"; }
  std::string Layers() const { return root + "/layers"; }
  std::string Layer(std::string_view diff_id) const {
    return Layers() + "/" + std::string(DigestHex(diff_id));
  }
  std::string Containers() const { return root + "/containers"; }
  std::string Container(std::string_view id) const { return Containers() + "/" + std::string(id); }
  std::string Tmp() const { return root + "/tmp"; }
  // Directories being removed are renamed here first (os::RemoveOutOfSight).
  std::string Trash() const { return root + "/trash"; }
  // A container's shared /capsules directory, in the propagation fallback only.
  std::string ContainerCapsules(std::string_view id) const { return Container(id) + "/capsules"; }
  std::string Volumes() const { return root + "/volumes"; }
  // The shim's attach socket. Under /run (short: unix socket paths hold 108 bytes), root-only.
  static std::string RunDir() { return "/run/basic-docker"; }
  static std::string AttachSocket(std::string_view id) {
    return RunDir() + "/" + std::string(id) + ".sock";
  }
  // Capsules: unpacked trees by content digest; secrets apart, in a root-only directory.
  std::string Capsules() const { return root + "/capsules"; }
  std::string CapsuleTree(std::string_view content_digest, bool secret) const {
    return Capsules() + (secret ? "/secrets/" : "/trees/") + std::string(DigestHex(content_digest));
  }
  // Held shared by every writer of blobs and trees, exclusively by garbage collection.
  std::string StoreLock() const { return root + "/store.lock"; }
  std::string VolumeData(std::string_view name) const {
    return Volumes() + "/" + std::string(name) + "/_data";
  }
};

}  // namespace bd::engine
