// Capsules on containers: attach/detach through one Commit of capsule elements
// (elements/capsule.cc), and the capsules a container gets back when it starts.
#include <set>

#include "base/log.h"
#include "base/strings.h"
#include "engine/elements/elements.h"
#include "engine/engine.h"
#include "runtime/live_mount.h"

namespace bd::engine {

Result<portlayer::CommitResult> Engine::AttachCapsule(const std::string& ref, const Capsule& capsule) {
  return Tracked(ops_, "capsule", "attach", capsule.name + ":" + capsule.version + " on " + ref, [&]() -> Result<portlayer::CommitResult> {
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    if (!c.Running()) {
      return Status::FailedPrecondition("container " + c.name +
                                        " is not running: capsules attach to running containers "
                                        "(start it, or use run --capsule)");
    }
    BD_ASSIGN_OR_RETURN(std::vector<Capsule> closure, capsules_.Closure(capsule));
    for (const Capsule& k : closure) BD_RETURN_IF_ERROR(capsules_.Tree(k).status());  // before any mount
    portlayer::Handle h(c.id, c.version);
    for (const Capsule& k : closure) h.Join(CapsuleElement(k, portlayer::Level::kBound, c));
    // No transaction around the Commit: each record is committed on its own before its mount
    // (the intent survives a kill), and the write lock is never held across mount syscalls. The
    // next `start` turns the records into the container's mounts (SyncCapsuleMounts).
    Status st;
    portlayer::CommitResult r = CommitOrError(h, &st);
    for (const Capsule& k : closure) {
      if (r.Results().at(CapsuleElementId(k)) == portlayer::Outcome::kSuccess) {
        (void)events_.Emit("capsule", "attach", k.Ref(), {{"container", c.id}, {"name", c.name}});
      }
    }
    return r;
  }, &current_op_);
}

Status Engine::DetachCapsule(const std::string& ref, const Capsule& capsule,
                             portlayer::CommitResult* result) {
  return Tracked(ops_, "capsule", "detach", capsule.name + ":" + capsule.version + " on " + ref, [&]() -> Status {
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    portlayer::Handle h(c.id, c.version);
    h.Join(CapsuleElement(capsule, portlayer::Level::kJoined, c));
    BD_RETURN_IF_ERROR(h.Leave(CapsuleElementId(capsule)));
    Status st;
    portlayer::CommitResult r = CommitOrError(h, &st);
    if (r.Results().at(CapsuleElementId(capsule)) == portlayer::Outcome::kSuccess) {
      (void)events_.Emit("capsule", "detach", capsule.Ref(), {{"container", c.id}, {"name", c.name}});
    }
    if (result) *result = r;
    return st;
  }, &current_op_);
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
  Container now = c;
  return SyncCapsuleMounts(&now);
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

Status Engine::SyncCapsuleMounts(Container* c) {
  BD_ASSIGN_OR_RETURN(runtime::Spec spec, runtime::SpecFromJson(c->spec_json));
  BD_ASSIGN_OR_RETURN(spec, SpecWithCapsules(std::move(spec), c->id, capsules_, paths_));
  std::string text = runtime::SpecToJson(spec);
  if (text == c->spec_json) return {};
  BD_RETURN_IF_ERROR(containers_.SetSpec(c->id, text));
  BD_ASSIGN_OR_RETURN(*c, containers_.Get(c->id));  // its version moved on
  return {};
}

Status Engine::RemoveCapsule(const Capsule& capsule, bool force) {
  return Tracked(ops_, "capsule", "rm", capsule.name + ":" + capsule.version, [&]() -> Status {
    BD_RETURN_IF_ERROR(ReconcileAllCapsules());
    BD_ASSIGN_OR_RETURN(Capsule now, capsules_.Get(capsule.name, capsule.version));
    if (force) {
      for (const std::string& id : now.attached_to) BD_RETURN_IF_ERROR(DetachCapsule(id, now, nullptr));
    }
    return capsules_.Remove(now.name, now.version);
  }, &current_op_);
}

Result<GcReport> Engine::CollectGarbage(bool dry_run) {
  return Tracked(ops_, "gc", "collect", dry_run ? "dry run" : "all", [&]() -> Result<GcReport> {
    BD_RETURN_IF_ERROR(ReconcileAllCapsules());
    return engine::CollectGarbage(paths_, db_.get(), blobs_, dry_run, /*wait=*/true);
  }, &current_op_);
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
