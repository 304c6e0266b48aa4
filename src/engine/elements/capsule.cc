// The capsule element: one capsule on one container. Absent: not recorded; Joined: recorded
// (it comes back at the next start); Bound: also mounted in the running container.
#include <cstdlib>

#include "base/crash_point.h"
#include "engine/elements/elements.h"
#include "engine/engine.h"
#include "os/fs.h"
#include "runtime/live_mount.h"

namespace bd::engine {

std::string MountPoint(const std::string& name, const std::string& version) {
  return std::string(kCapsulesDir) + "/" + name + "/" + version;
}

std::string CapsuleElementId(const Capsule& c) { return "capsule:" + c.Ref(); }

bool UsePropagation() {
  const char* forced = std::getenv("BASIC_DOCKER_CAPSULE_MOUNT");
  return (forced && std::string_view(forced) == "propagation") || !runtime::LiveMountSupported();
}

namespace {

class CapsuleComponent : public portlayer::Component {
 public:
  explicit CapsuleComponent(Engine* engine) : engine_(engine) {}
  std::string_view Name() const override { return "capsule"; }

  Result<portlayer::Level> Observe(const portlayer::Handle& h, const portlayer::Element& e) override {
    BD_ASSIGN_OR_RETURN(Capsule c, Lookup(h, e));
    BD_ASSIGN_OR_RETURN(Container ctr, ContainerOf(h, e));
    bool mounted = false;
    if (ctr.Running() && ctr.pid > 0) {
      BD_ASSIGN_OR_RETURN(mounted, runtime::IsMountedIn(ctr.pid, MountPoint(c.name, c.version)));
    }
    bool recorded = false;
    BD_ASSIGN_OR_RETURN(std::vector<CapsuleRef> refs, engine_->capsules().AttachedTo(ctr.id));
    for (const CapsuleRef& r : refs) recorded |= r.name == c.name && r.version == c.version;
    // Mounted but not recorded (a crash between the two): Absent, so that an attach adopts
    // the mount and records it.
    if (mounted && recorded) return portlayer::Level::kBound;
    return recorded ? portlayer::Level::kJoined : portlayer::Level::kAbsent;
  }

  Status Apply(portlayer::Handle& h, const portlayer::Element& e, portlayer::Level from,
               portlayer::Level to) override {
    BD_ASSIGN_OR_RETURN(Capsule c, Lookup(h, e));
    BD_ASSIGN_OR_RETURN(Container ctr, ContainerOf(h, e));
    std::string target = MountPoint(c.name, c.version);
    bool attaching = to == portlayer::Level::kBound && from != portlayer::Level::kBound;
    if (attaching && (!ctr.Running() || ctr.pid <= 0)) {
      return Status::FailedPrecondition("container " + ctr.name + " is not running");
    }
    // The record comes before the mount and goes after the unmount: a kill between the two
    // leaves a record (the intent, which the next reconciliation carries out or rm and gc
    // respect), never a mount that nothing knows of.
    bool recorded_now = false;
    if (from == portlayer::Level::kAbsent && to != portlayer::Level::kAbsent) {
      BD_RETURN_IF_ERROR(engine_->capsules().RecordAttachment(ctr.id, c));
      recorded_now = true;
      CrashPoint("capsule-attach.after-record");
    }
    if (attaching) {
      Status st = [&]() -> Status {
        BD_ASSIGN_OR_RETURN(std::string tree, engine_->capsules().Tree(c));
        Status mounted = Mount(ctr, {tree, target, c.secret});
        if (mounted.code() == Code::kAlreadyExists) {
          // Adopt the mount a crash left unrecorded.
          BD_ASSIGN_OR_RETURN(bool ours, runtime::IsMountedIn(ctr.pid, target));
          return ours ? Status() : mounted;
        }
        return mounted;
      }();
      if (!st.ok()) {
        if (recorded_now) (void)engine_->capsules().ForgetAttachment(ctr.id, c.name, c.version);
        return st;
      }
    }
    if (from == portlayer::Level::kBound && to != portlayer::Level::kBound && ctr.Running()) {
      Status st = Unmount(ctr, target);
      if (!st.ok() && st.code() != Code::kNotFound) return st;
    }
    if (to == portlayer::Level::kAbsent && from != portlayer::Level::kAbsent) {
      return engine_->capsules().ForgetAttachment(ctr.id, c.name, c.version);
    }
    return {};
  }

 private:
  // A container started in the propagation fallback has its shared host directory.
  std::string SharedDir(const Container& ctr) {
    std::string dir = engine_->paths().ContainerCapsules(ctr.id);
    return os::IsDir(dir) ? dir : "";
  }
  Status Mount(const Container& ctr, const runtime::LiveMount& m) {
    std::string shared = SharedDir(ctr);
    if (!shared.empty()) return runtime::AttachSharedMount(shared, std::string(kCapsulesDir), m);
    return runtime::AttachLiveMount(ctr.pid, m);
  }
  Status Unmount(const Container& ctr, const std::string& target) {
    std::string shared = SharedDir(ctr);
    if (!shared.empty()) return runtime::DetachSharedMount(shared, std::string(kCapsulesDir), target);
    return runtime::DetachLiveMount(ctr.pid, target, std::string(kCapsulesDir));
  }
  // The container as the caller read it, when it handed it over.
  Result<Container> ContainerOf(const portlayer::Handle& h, const portlayer::Element& e) {
    if (const auto* config = e.Config<CapsuleConfig>(); config && config->container) return *config->container;
    return engine_->containers().Get(h.container_id());
  }
  Result<Capsule> Lookup(const portlayer::Handle&, const portlayer::Element& e) {
    const auto* config = e.Config<CapsuleConfig>();
    if (!config) return Status::Internal("capsule element `" + e.id + "` has no capsule configuration");
    return config->capsule;
  }
  Engine* engine_;
};

}  // namespace

std::unique_ptr<portlayer::Component> MakeCapsuleComponent(Engine* engine) {
  return std::make_unique<CapsuleComponent>(engine);
}

portlayer::Element CapsuleElement(const Capsule& c, portlayer::Level desired, std::optional<Container> container) {
  auto config = std::make_shared<CapsuleConfig>();
  config->capsule = c;
  config->container = std::move(container);
  return {CapsuleElementId(c), "capsule", std::move(config), desired};
}

}  // namespace bd::engine
