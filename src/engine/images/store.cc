#include "engine/images/store.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "base/crash_point.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/containers/store.h"
#include "engine/daemon_config.h"
#include "engine/diagnostics.h"
#include "engine/events.h"
#include "engine/gc.h"
#include "engine/images/internal.h"
#include "engine/images/reference.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "store/archive.h"

namespace bd::engine::image_json {

using nlohmann::json;

std::string HostArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
  utsname u;
  uname(&u);
  return u.machine;
#endif
}

std::vector<std::string> StringList(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return out;
  for (const json& v : j[key]) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

json ParseJson(std::string_view text) { return json::parse(text, nullptr, false); }

}  // namespace bd::engine::image_json

namespace bd::engine {

using nlohmann::json;
using image_json::HostArch;
using image_json::ParseJson;
using image_json::StringList;

Status ParseImageConfig(std::string_view text, Image* image) {
  json j = ParseJson(text);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("image config is not a JSON object");
  }
  image->created = j.value("created", "");
  image->architecture = j.value("architecture", "");
  image->os = j.value("os", "");
  const json empty = json::object();
  const json& c = j.contains("config") && j["config"].is_object() ? j["config"] : empty;
  image->config.env = StringList(c, "Env");
  image->config.entrypoint = StringList(c, "Entrypoint");
  image->config.cmd = StringList(c, "Cmd");
  image->config.working_dir = c.contains("WorkingDir") && c["WorkingDir"].is_string()
                                  ? c["WorkingDir"].get<std::string>() : "";
  image->config.user = c.contains("User") && c["User"].is_string() ? c["User"].get<std::string>()
                                                                   : "";
  image->config.labels.clear();
  if (c.contains("Labels") && c["Labels"].is_object()) {
    for (const auto& [k, v] : c["Labels"].items()) {
      if (v.is_string()) image->config.labels[k] = v.get<std::string>();
    }
  }
  image->diff_ids.clear();
  if (j.contains("rootfs") && j["rootfs"].is_object()) image->diff_ids = StringList(j["rootfs"], "diff_ids");
  for (const std::string& d : image->diff_ids) {
    BD_RETURN_IF_ERROR(ValidateDigest(d).WithContext("image config rootfs.diff_ids"));
  }
  return {};
}

std::string BusyboxPath() {
  if (const char* p = std::getenv("BASIC_DOCKER_BUSYBOX"); p && *p) return p;
  return "/bin/busybox";
}

Result<Image> ImageStore::Load(const std::string& id) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT manifest_digest, config, size, created_at FROM images WHERE id = ?"));
  st.BindAll(id);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("No such image: " + id);
  Image img;
  img.id = id;
  img.manifest_digest = st.Text(0);
  img.config_json = st.Text(1);
  img.size = st.Int(2);
  img.stored_at = st.Int(3);
  BD_RETURN_IF_ERROR(ParseImageConfig(img.config_json, &img));
  BD_ASSIGN_OR_RETURN(auto tags, db_->Prepare(
      "SELECT name FROM image_tags WHERE image_id = ? ORDER BY name"));
  tags.BindAll(id);
  while (true) {
    BD_ASSIGN_OR_RETURN(bool more, tags.Step());
    if (!more) break;
    img.tags.push_back(tags.Text(0));
  }
  BD_ASSIGN_OR_RETURN(img.repo_digests, RepoDigests(id));
  BD_ASSIGN_OR_RETURN(auto layers, db_->Prepare(
      "SELECT diff_id FROM image_layers WHERE image_id = ? ORDER BY position"));
  layers.BindAll(id);
  img.diff_ids.clear();
  while (true) {
    BD_ASSIGN_OR_RETURN(bool more, layers.Step());
    if (!more) break;
    img.diff_ids.push_back(layers.Text(0));
  }
  return img;
}

Result<Image> ImageStore::Resolve(std::string_view ref) {
  std::string_view hexpart = ref.substr(0, 7) == "sha256:" ? ref.substr(7) : ref;
  bool maybe_id = hexpart.size() >= 4 && hexpart.size() <= 64 &&
                  hexpart.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (maybe_id) {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM images WHERE id >= ? AND id < ?"));
    std::string lo = "sha256:" + std::string(hexpart);
    st.BindAll(lo, lo + "\x7f");
    std::vector<std::string> ids;
    while (true) {
      BD_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ids.push_back(st.Text(0));
    }
    if (ids.size() == 1) return Load(ids[0]);
    if (ids.size() > 1) {
      return Status::InvalidArgument("image id prefix " + std::string(hexpart) + " is ambiguous");
    }
  }
  auto parsed = ParseImageRef(ref);
  if (!parsed.ok()) return parsed.status();
  // A name with a digest is found by the repository digest a pull recorded.
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      parsed->digest.empty() ? "SELECT image_id FROM image_tags WHERE name = ?"
                             : "SELECT image_id FROM image_repo_digests WHERE name = ?"));
  st.BindAll(parsed->Canonical());
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("No such image: " + parsed->Canonical());
  std::string id = st.Text(0);
  return Load(id);
}

Result<std::vector<Image>> ImageStore::List() {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM images ORDER BY created_at DESC"));
  std::vector<std::string> ids;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ids.push_back(st.Text(0));
  }
  std::vector<Image> out;
  for (const auto& id : ids) {
    BD_ASSIGN_OR_RETURN(Image img, Load(id));
    out.push_back(std::move(img));
  }
  return out;
}

std::vector<std::string> ImageStore::LayerDirs(const Image& image) const {
  std::vector<std::string> out;
  for (const auto& d : image.diff_ids) out.push_back(paths_.Layer(d));
  return out;
}

Result<std::string> ImageStore::UnpackLayer(int fd, std::string_view expected_diff_id,
                                            const store::ByteSink& tee) {
  if (!expected_diff_id.empty() && !tee && os::IsDir(paths_.Layer(expected_diff_id))) {
    return std::string(expected_diff_id);  // already unpacked, shared
  }
  BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "layer-"));
  ::chmod(tmp.path().c_str(), 0755);
  store::UnpackOptions opts;
  opts.overlay_whiteouts = true;
  BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths_));
  opts.min_free_bytes = daemon.storage_reserve;
  BD_ASSIGN_OR_RETURN(store::UnpackResult r, store::UnpackTar(fd, tmp.path(), opts, tee));
  if (!expected_diff_id.empty() && r.diff_id != expected_diff_id) {
    return Status::InvalidArgument("layer content " + r.diff_id +
                                   " does not match the image config's diff_id " +
                                   std::string(expected_diff_id));
  }
  std::string final_dir = paths_.Layer(r.diff_id);
  CrashPoint("import.before-rename");
  if (::rename(tmp.path().c_str(), final_dir.c_str()) == 0) {
    tmp.Release();
    BD_RETURN_IF_ERROR(os::FsyncDir(paths_.Layers()));
  } else if (errno != EEXIST && errno != ENOTEMPTY) {
    return os::ErrnoStatus("rename layer into `" + final_dir + "`");
  }  // else: another process unpacked the same layer first; ours is discarded
  return r.diff_id;
}

Status ImageStore::Register(const std::string& config_json, const std::string& manifest_digest,
                            const std::vector<LayerInput>& layers,
                            const std::vector<std::string>& tags,
                            const std::function<Status(const std::string& id)>& extra) {
  std::string id = Sha256Digest(config_json);
  int64_t size = 0;
  for (const auto& l : layers) size += os::DiskUsage(paths_.Layer(l.diff_id));
  return db_->WriteTxn([&]() -> Status {
    BD_ASSIGN_OR_RETURN(auto img, db_->Prepare(
        "INSERT OR IGNORE INTO images(id, manifest_digest, config, size, created_at)"
        " VALUES (?, ?, ?, ?, ?)"));
    BD_RETURN_IF_ERROR(img.BindAll(id, manifest_digest, config_json, size, NowNanos()).Run());
    for (size_t i = 0; i < layers.size(); ++i) {
      const LayerInput& l = layers[i];
      BD_ASSIGN_OR_RETURN(auto ls, db_->Prepare(
          "INSERT OR IGNORE INTO layers(diff_id, blob_digest, media_type, size) VALUES (?,?,?,?)"));
      BD_RETURN_IF_ERROR(ls.BindAll(l.diff_id, l.blob_digest, l.media_type, l.size).Run());
      BD_ASSIGN_OR_RETURN(auto il, db_->Prepare(
          "INSERT OR IGNORE INTO image_layers(image_id, position, diff_id) VALUES (?,?,?)"));
      BD_RETURN_IF_ERROR(il.BindAll(id, static_cast<int64_t>(i), l.diff_id).Run());
    }
    for (const auto& tag : tags) {
      BD_ASSIGN_OR_RETURN(auto ts, db_->Prepare(
          "INSERT INTO image_tags(name, image_id) VALUES (?, ?)"
          " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, manifest_digest = ''"));
      BD_RETURN_IF_ERROR(ts.BindAll(tag, id).Run());
    }
    return extra ? extra(id) : Status();
  });
}

Status ImageStore::DeleteRows(const std::string& id) {
  BD_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM images WHERE id = ?"));
  BD_RETURN_IF_ERROR(del.BindAll(id).Run());  // tags and layer lists go with it (cascade)
  BD_ASSIGN_OR_RETURN(auto orphans, db_->Prepare(
      "DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)"));
  return orphans.Run();
}

Result<std::vector<std::string>> ImageStore::Remove(std::string_view ref, bool force) {
  return Tracked(OperationLog::Of(paths_.root), "image", "rm", std::string(ref), [&]() -> Result<std::vector<std::string>> {
    BD_ASSIGN_OR_RETURN(Image img, Resolve(ref));
    std::vector<std::string> out;
    auto parsed = ParseImageRef(ref);
    bool by_tag = parsed.ok() && std::find(img.tags.begin(), img.tags.end(),
                                           parsed->Canonical()) != img.tags.end();
    BD_ASSIGN_OR_RETURN(auto users, db_->Prepare(
        "SELECT name FROM containers WHERE image_id = ? ORDER BY state IN (" + ActiveStates() + ") DESC, name"));
    users.BindAll(img.id);
    BD_ASSIGN_OR_RETURN(std::vector<std::string> user_names, ContainerNames(users));
    bool used = !user_names.empty();
    BD_ASSIGN_OR_RETURN(auto active, db_->Prepare(
        "SELECT 1 FROM containers WHERE image_id = ? AND state IN (" + ActiveStates() + ")"));
    active.BindAll(img.id);
    BD_ASSIGN_OR_RETURN(bool used_running, active.Step());

    if (!by_tag && img.tags.size() > 1 && !force) {
      return Status::FailedPrecondition(
          "conflict: unable to delete " + std::string(DigestHex(img.id)).substr(0, 12) +
          " (must be forced) - image is referenced in multiple repositories");
    }
    std::vector<std::string> untag = by_tag ? std::vector<std::string>{parsed->Canonical()}
                                            : img.tags;
    bool last_name = untag.size() == img.tags.size();
    if (used && last_name && (!force || used_running)) {
      return Status::FailedPrecondition(
          "conflict: unable to remove " + std::string(ref) + (force && used_running ? " (cannot be forced)" : " (must force)") +
          " - container" + (user_names.size() > 1 ? "s " : " ") + NameList(user_names) +
          (user_names.size() > 1 ? " are" : " is") + " using its referenced image " +
          std::string(DigestHex(img.id)).substr(0, 12));
    }
    // Untagging and deleting are one transaction: a kill leaves the image as it was or gone,
    // never an untagged image that a retry by name no longer finds. Files are collected after.
    bool remove = last_name && !used;
    BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
      for (const auto& t : untag) {
        BD_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM image_tags WHERE name = ?"));
        BD_RETURN_IF_ERROR(del.BindAll(t).Run());
      }
      return remove ? DeleteRows(img.id) : Status();
    }));
    CrashPoint("rmi.after-commit");
    EventLog events(db_);
    for (const auto& t : untag) {
      out.push_back("Untagged: " + t);
      (void)events.Emit("image", "untag", img.id, {{"name", t}});
    }
    if (remove) {
      out.push_back("Deleted: " + img.id);
      (void)events.Emit("image", "delete", img.id, {});
      // Unreferenced blobs and layers go now, unless a writer is at work (then at the next gc).
      auto gc = CollectGarbage(paths_, db_, *blobs_, false, false);
      if (!gc.ok() && gc.status().code() != Code::kUnavailable) return gc.status();
    }
    return out;
  });
}

Status ImageStore::Tag(std::string_view source, std::string_view target) {
  BD_ASSIGN_OR_RETURN(Image img, Resolve(source));
  BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(target));
  if (!ref.digest.empty()) {
    return Status::InvalidArgument("refusing to create a tag with a digest reference: " + std::string(target));
  }
  // The new name sends what the old one would: the manifest it was pulled as.
  BD_ASSIGN_OR_RETURN(std::string manifest, ManifestOf(img, source));
  if (manifest == img.manifest_digest) manifest.clear();
  BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
    BD_ASSIGN_OR_RETURN(auto ts, db_->Prepare(
        "INSERT INTO image_tags(name, image_id, manifest_digest) VALUES (?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, manifest_digest = excluded.manifest_digest"));
    return ts.BindAll(ref.Canonical(), img.id, manifest).Run();
  }));
  EventLog events(db_);
  (void)events.Emit("image", "tag", img.id, {{"name", ref.Canonical()}});
  return {};
}

Result<std::string> ImageStore::ManifestOf(const Image& img, std::string_view ref) {
  auto parsed = ParseImageRef(ref);
  if (parsed.ok() && parsed->digest.empty()) {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT manifest_digest FROM image_tags WHERE name = ? AND image_id = ?"));
    st.BindAll(parsed->Canonical(), img.id);
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row && !st.Text(0).empty()) return st.Text(0);
  }
  return img.manifest_digest;
}

Result<std::vector<std::string>> ImageStore::RepoDigests(const std::string& image_id) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT name FROM image_repo_digests WHERE image_id = ? ORDER BY name"));
  st.BindAll(image_id);
  std::vector<std::string> out;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.Text(0));
  }
  return out;
}

Result<Image> ImageStore::ResolveOrBuiltin(std::string_view ref) {
  auto img = Resolve(ref);
  if (img.ok() || img.status().code() != Code::kNotFound) return img;
  auto parsed = ParseImageRef(ref);
  if (!parsed.ok() || parsed->repository != "busybox" || parsed->tag != "latest") return img;
  BD_RETURN_IF_ERROR(CreateBuiltinBusybox(parsed->Canonical()));
  return Resolve(ref);
}

}  // namespace bd::engine
