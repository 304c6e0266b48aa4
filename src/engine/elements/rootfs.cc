// The rootfs element: the container's directories (upper, work, merged) and the /etc files it
// is given, present or absent.
#include <unistd.h>

#include "base/crash_point.h"
#include "base/strings.h"
#include "engine/elements/elements.h"
#include "os/error.h"
#include "os/fs.h"
#include "runtime/live_mount.h"
#include "runtime/spec.h"

namespace bd::engine {
namespace {

// The files a container sees at /etc/hostname, /etc/hosts and /etc/resolv.conf. On the host's
// network they are the host's own (as Docker does); otherwise a loopback-only hosts file and
// the host's resolvers minus the loopback ones the container cannot reach.
Status WriteEtcFiles(const std::string& dir, const RootfsConfig& config) {
  const std::string& hostname = config.hostname;
  bool host_network = config.network == "host";
  BD_RETURN_IF_ERROR(os::WriteFile(dir + "/hostname", hostname + "\n"));
  if (host_network) {
    auto hosts = os::ReadFile("/etc/hosts");
    auto resolv = os::ReadFile("/etc/resolv.conf");
    BD_RETURN_IF_ERROR(os::WriteFile(dir + "/hosts", hosts.ok() ? *hosts : "127.0.0.1\tlocalhost\n"));
    return os::WriteFile(dir + "/resolv.conf", resolv.ok() ? *resolv : "");
  }
  BD_RETURN_IF_ERROR(os::WriteFile(dir + "/hosts",
                                   "127.0.0.1\tlocalhost\n"
                                   "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                   "127.0.1.1\t" + hostname + "\n"));
  std::string resolv;
  if (auto host = os::ReadFile("/etc/resolv.conf"); host.ok()) {
    // The host's loopback resolvers are unreachable from the container's own loopback.
    for (const std::string& line : Split(*host, '\n')) {
      std::string_view l = TrimSpace(line);
      if (l.rfind("nameserver", 0) == 0 &&
          (l.find(" 127.") != std::string_view::npos || l.find(" ::1") != std::string_view::npos)) {
        continue;
      }
      if (!l.empty()) resolv.append(l).push_back('\n');
    }
  }
  return os::WriteFile(dir + "/resolv.conf", resolv);
}

// The container's directories and files: present (kJoined/kBound alike) or absent.
class RootfsComponent : public portlayer::Component {
 public:
  explicit RootfsComponent(const Paths* paths) : paths_(paths) {}
  std::string_view Name() const override { return "rootfs"; }

  Result<portlayer::Level> Observe(const portlayer::Handle& h,
                                   const portlayer::Element& e) override {
    std::string dir = paths_->Container(h.container_id());
    // For a removal, any trace counts (a create killed halfway leaves a directory without
    // `upper`); for a create, only a complete one (with `upper`, made last).
    if (e.desired == portlayer::Level::kAbsent) {
      return os::Exists(dir) ? portlayer::Level::kJoined : portlayer::Level::kAbsent;
    }
    return os::IsDir(dir + "/upper") ? e.desired : portlayer::Level::kAbsent;
  }

  Status Apply(portlayer::Handle& h, const portlayer::Element& e, portlayer::Level from,
               portlayer::Level to) override {
    std::string dir = paths_->Container(h.container_id());
    if (to == portlayer::Level::kAbsent) {
      BD_RETURN_IF_ERROR(runtime::ReleaseSharedDir(dir + "/capsules"));  // propagation fallback
      // A shim that was killed leaves its socket behind.
      if (::unlink(Paths::AttachSocket(h.container_id()).c_str()) < 0 && errno != ENOENT) {
        return os::ErrnoStatus("remove the attach socket");
      }
      // Out of sight in one rename: a kill mid-removal leaves trash (swept at the next open),
      // never a half-removed directory that a retry would take for gone or for whole.
      return os::RemoveOutOfSight(dir, paths_->Trash());
    }
    if (from != portlayer::Level::kAbsent) return {};
    // `upper` comes last, by rename: Observe takes a directory with it for complete, and a
    // kill before that leaves one that the next Apply completes (every step is repeatable).
    BD_RETURN_IF_ERROR(os::MkdirAll(dir, 0700));
    CrashPoint("create.rootfs-partial");
    BD_RETURN_IF_ERROR(os::MkdirAll(dir + "/merged", 0755));
    BD_RETURN_IF_ERROR(os::MkdirAll(dir + "/work", 0700));
    const auto* config = e.Config<RootfsConfig>();
    if (!config) return Status::Internal("rootfs element `" + e.id + "` has no rootfs configuration");
    BD_RETURN_IF_ERROR(WriteEtcFiles(dir, *config));
    std::string partial = dir + "/upper.partial";
    BD_RETURN_IF_ERROR(os::MkdirAll(partial, 0755));
    if (::rename(partial.c_str(), (dir + "/upper").c_str()) < 0) {
      return os::ErrnoStatus("rename `" + partial + "`");
    }
    return {};
  }

 private:
  const Paths* paths_;
};

}  // namespace

std::shared_ptr<const RootfsConfig> RootfsConfigOf(const Container& c) {
  auto config = std::make_shared<RootfsConfig>();
  config->hostname = c.config.hostname.empty() ? c.id.substr(0, 12) : c.config.hostname;
  if (auto spec = runtime::SpecFromJson(c.spec_json); spec.ok()) config->hostname = spec->hostname;
  config->network = c.config.network;
  return config;
}

std::unique_ptr<portlayer::Component> MakeRootfsComponent(const Paths* paths) {
  return std::make_unique<RootfsComponent>(paths);
}

}  // namespace bd::engine
