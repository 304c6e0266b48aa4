// Capsules on containers: the `capsule` port-layer component (mounted live into a running
// container's mount namespace), attach/detach through one Commit, and the capsules a
// container gets back when it starts.
#include <nlohmann/json.hpp>

#include <cstdlib>

#include <set>

#include "base/crash_point.h"
#include "base/log.h"
#include "base/strings.h"
#include "os/fs.h"
#include "engine/engine.h"
#include "runtime/live_mount.h"

namespace bd::engine {

using nlohmann::json;

namespace {

constexpr std::string_view kCapsulesDir = "/capsules";

std::string MountPoint(const std::string& name, const std::string& version) {
  return std::string(kCapsulesDir) + "/" + name + "/" + version;
}

std::string ElementId(const Capsule& c) { return "capsule:" + c.Ref(); }

// The propagation fallback (no new mount API, or BASIC_DOCKER_CAPSULE_MOUNT=propagation): the
// container's /capsules is a slave of a shared host directory and attaches mount there.
bool UsePropagation() {
  const char* forced = std::getenv("BASIC_DOCKER_CAPSULE_MOUNT");
  return (forced && std::string_view(forced) == "propagation") || !runtime::LiveMountSupported();
}

}  // namespace

// One capsule on one container. Absent: not recorded; Joined: recorded (comes back at the
// next start); Bound: also mounted in the running container.
class CapsuleComponent : public portlayer::Component {
 public:
  explicit CapsuleComponent(Engine* engine) : engine_(engine) {}
  std::string_view Name() const override { return "capsule"; }

  Result<portlayer::Level> Observe(const portlayer::Handle& h, const portlayer::Element& e) override {
    BD_ASSIGN_OR_RETURN(Capsule c, Lookup(h, e));
    BD_ASSIGN_OR_RETURN(Container ctr, ContainerOf(h));
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
    BD_ASSIGN_OR_RETURN(Container ctr, ContainerOf(h));
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
  // The caller may hand over what it already read (handle context "capsule.container" and
  // "capsule.capsules"): one Commit then reads the database once per element, not thrice.
  Result<Container> ContainerOf(const portlayer::Handle& h) {
    if (auto* c = static_cast<const Container*>(h.Context("capsule.container"))) return *c;
    return engine_->containers().Get(h.container_id());
  }
  Result<Capsule> Lookup(const portlayer::Handle& h, const portlayer::Element& e) {
    if (auto* known = static_cast<const std::map<std::string, Capsule>*>(h.Context("capsule.capsules"))) {
      if (auto it = known->find(e.id); it != known->end()) return it->second;
    }
    json j = json::parse(e.config, nullptr, false);
    if (!j.is_object()) return Status::Internal("bad capsule element " + e.id);
    return engine_->capsules().Get(j.value("name", ""), j.value("version", ""));
  }
  Engine* engine_;
};

std::unique_ptr<portlayer::Component> MakeCapsuleComponent(Engine* engine) {
  return std::make_unique<CapsuleComponent>(engine);
}

namespace {

portlayer::Element CapsuleElement(const Capsule& c, portlayer::Level desired) {
  return {ElementId(c), "capsule", json{{"name", c.name}, {"version", c.version}}.dump(), desired};
}

}  // namespace

Result<portlayer::CommitResult> Engine::AttachCapsule(const std::string& ref, const Capsule& capsule) {
  BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
  if (!c.Running()) {
    return Status::FailedPrecondition("container " + c.name +
                                      " is not running: capsules attach to running containers "
                                      "(start it, or use run --capsule)");
  }
  BD_ASSIGN_OR_RETURN(std::vector<Capsule> closure, capsules_.Closure(capsule));
  for (const Capsule& k : closure) BD_RETURN_IF_ERROR(capsules_.Tree(k).status());  // before any mount
  portlayer::Handle h(c.id);
  std::map<std::string, Capsule> known;
  for (const Capsule& k : closure) {
    h.Join(CapsuleElement(k, portlayer::Level::kBound));
    known[ElementId(k)] = k;
  }
  h.SetContext("capsule.container", &c);
  h.SetContext("capsule.capsules", &known);
  // No transaction around the Commit: each record is committed on its own before its mount
  // (the intent survives a kill), and the write lock is never held across mount syscalls. The
  // next `start` turns the records into the container's mounts (SyncCapsuleMounts).
  Status st;
  portlayer::CommitResult r = CommitOrError(h, &st);
  for (const Capsule& k : closure) {
    if (r.Results().at(ElementId(k)) == portlayer::Outcome::kSuccess) {
      (void)events_.Emit("capsule", "attach", k.Ref(), {{"container", c.id}, {"name", c.name}});
    }
  }
  return r;
}

Status Engine::DetachCapsule(const std::string& ref, const Capsule& capsule,
                             portlayer::CommitResult* result) {
  BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
  portlayer::Handle h(c.id);
  h.Join(CapsuleElement(capsule, portlayer::Level::kJoined));
  BD_RETURN_IF_ERROR(h.Leave(ElementId(capsule)));
  std::map<std::string, Capsule> known = {{ElementId(capsule), capsule}};
  h.SetContext("capsule.container", &c);
  h.SetContext("capsule.capsules", &known);
  Status st;
  portlayer::CommitResult r = CommitOrError(h, &st);
  if (r.Results().at(ElementId(capsule)) == portlayer::Outcome::kSuccess) {
    (void)events_.Emit("capsule", "detach", capsule.Ref(), {{"container", c.id}, {"name", c.name}});
  }
  if (result) *result = r;
  return st;
}

Status Engine::RecordCapsules(const Container& c, const std::vector<std::string>& refs) {
  for (const std::string& text : refs) {
    BD_ASSIGN_OR_RETURN(CapsuleRef ref, ParseCapsuleRef(text));
    BD_ASSIGN_OR_RETURN(Capsule capsule, capsules_.Get(ref.name, ref.version));
    BD_ASSIGN_OR_RETURN(std::vector<Capsule> closure, capsules_.Closure(capsule));
    for (const Capsule& k : closure) {
      BD_RETURN_IF_ERROR(capsules_.Tree(k).status());
      BD_RETURN_IF_ERROR(capsules_.RecordAttachment(c.id, k));
      (void)events_.Emit("capsule", "attach", k.Ref(), {{"container", c.id}, {"name", c.name}});
    }
  }
  return SyncCapsuleMounts(c);
}

Result<runtime::Spec> SpecWithCapsules(runtime::Spec spec, const std::string& container_id,
                                       CapsuleStore& capsules, const Paths& paths) {
  std::erase_if(spec.mounts, [](const runtime::Mount& m) {
    return m.destination == kCapsulesDir || m.destination.rfind(std::string(kCapsulesDir) + "/", 0) == 0;
  });
  BD_ASSIGN_OR_RETURN(std::vector<CapsuleRef> recorded, capsules.AttachedTo(container_id));
  if (UsePropagation()) {
    // The recorded capsules are mounted under the shared directory on the host, where they
    // stay across stops; the container sees them through its slave /capsules.
    std::string shared = paths.ContainerCapsules(container_id);
    BD_RETURN_IF_ERROR(runtime::PrepareSharedDir(shared));
    spec.mounts.push_back({std::string(kCapsulesDir), "bind", shared, {"rbind", "rslave"}});
    for (const CapsuleRef& r : recorded) {
      BD_ASSIGN_OR_RETURN(Capsule k, capsules.Get(r.name, r.version));
      BD_ASSIGN_OR_RETURN(std::string tree, capsules.Tree(k));
      Status st = runtime::AttachSharedMount(shared, std::string(kCapsulesDir),
                                             {tree, MountPoint(k.name, k.version), k.secret});
      if (!st.ok() && st.code() != Code::kAlreadyExists) return st;
    }
    return spec;
  }
  // Mount points live on a small tmpfs of their own: live attaches work under a read-only
  // root, and making and removing them never touches the container's disk (on a filesystem
  // mounted with `discard`, an rmdir there costs a synchronous discard).
  spec.mounts.push_back({std::string(kCapsulesDir), "tmpfs", "tmpfs",
                         {"nosuid", "nodev", "noexec", "mode=755", "size=1m", "nr_inodes=4k"}});
  for (const CapsuleRef& r : recorded) {
    BD_ASSIGN_OR_RETURN(Capsule k, capsules.Get(r.name, r.version));
    if (k.secret) continue;  // secrets go in from memory, after start (ReconcileCapsules)
    BD_ASSIGN_OR_RETURN(std::string tree, capsules.Tree(k));
    spec.mounts.push_back({MountPoint(k.name, k.version), "bind", tree, {"rbind", "ro", "nosuid", "nodev"}});
  }
  return spec;
}

Status Engine::SyncCapsuleMounts(const Container& c) {
  BD_ASSIGN_OR_RETURN(Container now, containers_.Get(c.id));
  BD_ASSIGN_OR_RETURN(runtime::Spec spec, runtime::SpecFromJson(now.spec_json));
  BD_ASSIGN_OR_RETURN(spec, SpecWithCapsules(std::move(spec), c.id, capsules_, paths_));
  std::string text = runtime::SpecToJson(spec);
  if (text == now.spec_json) return {};
  return containers_.SetSpec(c.id, text);
}

Status Engine::RemoveCapsule(const Capsule& capsule, bool force) {
  BD_RETURN_IF_ERROR(ReconcileAllCapsules());
  BD_ASSIGN_OR_RETURN(Capsule now, capsules_.Get(capsule.name, capsule.version));
  if (force) {
    for (const std::string& id : now.attached_to) BD_RETURN_IF_ERROR(DetachCapsule(id, now, nullptr));
  }
  return capsules_.Remove(now.name, now.version);
}

Result<GcReport> Engine::CollectGarbage(bool dry_run) {
  BD_RETURN_IF_ERROR(ReconcileAllCapsules());
  return engine::CollectGarbage(paths_, db_.get(), blobs_, dry_run, /*wait=*/true);
}

Status Engine::ReconcileAllCapsules() {
  // Every running container, not only those with records: a mount that a killed attach left
  // unrecorded must be found before rm or gc deletes what it shows.
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare("SELECT id FROM containers WHERE state IN ('running', 'paused')"));
  std::vector<std::string> ids;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ids.push_back(st.Text(0));
  }
  for (const std::string& id : ids) {
    auto c = containers_.Get(id);
    if (!c.ok()) continue;
    if (Status rs = ReconcileCapsules(*c); !rs.ok()) {
      log::Warn("capsules of {}: {}", c->name, rs.ToString());
    }
  }
  return {};
}

Status Engine::ReconcileCapsules(const Container& c, bool secrets_only) {
  if (!c.Running() || c.pid <= 0) return {};
  BD_ASSIGN_OR_RETURN(std::vector<CapsuleRef> recorded, capsules_.AttachedTo(c.id));
  portlayer::Handle h(c.id);
  std::set<std::string> joined;
  for (const CapsuleRef& r : recorded) {
    BD_ASSIGN_OR_RETURN(Capsule k, capsules_.Get(r.name, r.version));
    if (secrets_only && !k.secret) continue;
    h.Join(CapsuleElement(k, portlayer::Level::kBound));
    joined.insert(MountPoint(k.name, k.version));
  }
  // Mounted at /capsules/NAME/VERSION but not recorded (an attach killed before this order of
  // steps existed, or a record lost): adopted, so the mount is known again.
  if (!secrets_only) {
    auto points = runtime::MountPointsIn(c.pid);
    for (const std::string& p : points.ok() ? *points : std::vector<std::string>()) {
      if (p.rfind(std::string(kCapsulesDir) + "/", 0) != 0 || joined.count(p)) continue;
      auto parts = Split(p.substr(kCapsulesDir.size() + 1), '/');
      if (parts.size() != 2) continue;
      auto k = capsules_.Get(parts[0], parts[1]);
      if (!k.ok()) continue;
      h.Join(CapsuleElement(*k, portlayer::Level::kBound));
      joined.insert(p);
    }
  }
  if (h.elements().empty()) return {};
  Status st;
  CommitOrError(h, &st);
  return st;
}

}  // namespace bd::engine
