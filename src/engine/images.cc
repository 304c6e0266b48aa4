#include "engine/images.h"

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
#include "engine/containers.h"
#include "engine/daemon_config.h"
#include "engine/events.h"
#include "engine/gc.h"
#include "engine/reference.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "store/archive.h"

namespace bd::engine {

using nlohmann::json;

namespace {

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

}  // namespace

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
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT image_id FROM image_tags WHERE name = ?"));
  st.BindAll(parsed->Canonical());
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("No such image: " + parsed->Canonical());
  return Load(st.Text(0));
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
                            const std::vector<std::string>& tags) {
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
          " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id"));
      BD_RETURN_IF_ERROR(ts.BindAll(tag, id).Run());
    }
    return {};
  });
}

namespace {

std::string ManifestJson(const std::string& config_digest, int64_t config_size,
                         const std::vector<std::pair<std::string, int64_t>>& layer_blobs,
                         const std::vector<std::string>& media_types) {
  json layers = json::array();
  for (size_t i = 0; i < layer_blobs.size(); ++i) {
    layers.push_back({{"mediaType", media_types[i]},
                      {"digest", layer_blobs[i].first},
                      {"size", layer_blobs[i].second}});
  }
  json m = {{"schemaVersion", 2},
            {"mediaType", kMediaManifest},
            {"config",
             {{"mediaType", kMediaConfig}, {"digest", config_digest}, {"size", config_size}}},
            {"layers", std::move(layers)}};
  return m.dump();
}

}  // namespace

Result<std::string> ImageStore::Import(int fd, std::string_view ref, const ImageConfig& config,
                                       std::string_view created_by, int64_t created_at) {
  std::vector<std::string> tags;
  if (!ref.empty()) {
    BD_ASSIGN_OR_RETURN(ImageRef parsed, ParseImageRef(ref));
    if (!parsed.digest.empty()) {
      return Status::InvalidArgument("cannot import to a digest reference: " + std::string(ref));
    }
    tags.push_back(parsed.Canonical());
  }
  // Held from the first scratch file until the records are in: gc never takes our work.
  BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
  BD_ASSIGN_OR_RETURN(store::BlobWriter blob, blobs_->NewWriter());
  BD_ASSIGN_OR_RETURN(std::string diff_id,
                      UnpackLayer(fd, "", [&](std::string_view d) { return blob.Write(d); }));
  BD_ASSIGN_OR_RETURN(store::BlobInfo layer_blob, blob.Commit(diff_id));

  std::string created = FormatRfc3339Nano(created_at > 0 ? created_at : NowNanos());
  json cfg_obj = json::object();
  if (!config.env.empty()) cfg_obj["Env"] = config.env;
  if (!config.entrypoint.empty()) cfg_obj["Entrypoint"] = config.entrypoint;
  if (!config.cmd.empty()) cfg_obj["Cmd"] = config.cmd;
  if (!config.working_dir.empty()) cfg_obj["WorkingDir"] = config.working_dir;
  if (!config.user.empty()) cfg_obj["User"] = config.user;
  if (!config.labels.empty()) cfg_obj["Labels"] = config.labels;
  json cfg = {{"created", created},
              {"architecture", HostArch()},
              {"os", "linux"},
              {"config", std::move(cfg_obj)},
              {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}},
              {"history", {{{"created", created}, {"created_by", std::string(created_by)}}}}};
  std::string config_json = cfg.dump();
  BD_ASSIGN_OR_RETURN(store::BlobInfo config_blob, blobs_->Put(config_json));
  std::string manifest = ManifestJson(config_blob.digest, config_blob.size,
                                      {{layer_blob.digest, layer_blob.size}},
                                      {std::string(kMediaLayerTar)});
  BD_ASSIGN_OR_RETURN(store::BlobInfo manifest_blob, blobs_->Put(manifest));
  BD_RETURN_IF_ERROR(Register(config_json, manifest_blob.digest,
                              {{diff_id, layer_blob.digest, std::string(kMediaLayerTar),
                                layer_blob.size}},
                              tags));
  EmitImageEvents("import", config_blob.digest, tags);
  return config_blob.digest;
}

void ImageStore::EmitImageEvents(const std::string& action, const std::string& id,
                                 const std::vector<std::string>& tags) {
  EventLog events(db_);
  (void)events.Emit("image", action, id, tags.empty() ? std::map<std::string, std::string>{}
                                                       : std::map<std::string, std::string>{{"name", tags[0]}});
  for (const std::string& t : tags) (void)events.Emit("image", "tag", id, {{"name", t}});
}

Result<std::vector<std::string>> ImageStore::Load(int fd) {
  BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
  BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "load-"));
  store::UnpackOptions opts;
  opts.preserve_owner = false;
  BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths_));
  opts.min_free_bytes = daemon.storage_reserve;
  auto unpacked = store::UnpackTar(fd, tmp.path(), opts);
  if (!unpacked.ok()) return unpacked.status().WithContext("load");
  if (os::Exists(tmp.path() + "/index.json") && os::Exists(tmp.path() + "/oci-layout")) {
    return LoadOciLayout(tmp.path());
  }
  if (os::Exists(tmp.path() + "/manifest.json")) return LoadDockerArchive(tmp.path());
  return Status::InvalidArgument(
      "load: the archive is neither a docker save archive (manifest.json) nor an OCI image "
      "layout (oci-layout, index.json)");
}

namespace {

// Opens `rel` (a path named inside an archive) beneath `dir` without leaving it.
Result<UniqueFd> OpenInside(const std::string& dir, const std::string& rel) {
  BD_ASSIGN_OR_RETURN(std::string clean, store::CleanEntryPath(rel));
  BD_ASSIGN_OR_RETURN(UniqueFd root, os::Open(dir, O_RDONLY | O_DIRECTORY));
  auto fd = os::OpenInRoot(root.get(), clean, O_RDONLY);
  if (!fd.ok()) return Status::InvalidArgument("archive names `" + rel + "`, which it does not hold");
  return fd;
}

Result<std::string> ReadInside(const std::string& dir, const std::string& rel) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, OpenInside(dir, rel));
  return os::ReadAll(fd.get());
}

}  // namespace

Result<std::string> ImageStore::LoadOneImage(const std::string& dir,
                                             const std::string& config_path,
                                             const std::vector<std::string>& layer_paths,
                                             const std::vector<std::string>& media_types,
                                             const std::vector<std::string>& blob_digests,
                                             const std::vector<std::string>& tags) {
  BD_ASSIGN_OR_RETURN(std::string config_json, ReadInside(dir, config_path));
  Image parsed;
  BD_RETURN_IF_ERROR(ParseImageConfig(config_json, &parsed).WithContext(config_path));
  if (parsed.diff_ids.size() != layer_paths.size()) {
    return Status::InvalidArgument("image config lists " + std::to_string(parsed.diff_ids.size()) +
                                   " layers but the manifest has " +
                                   std::to_string(layer_paths.size()));
  }
  std::vector<LayerInput> layers;
  std::vector<std::pair<std::string, int64_t>> blobs;
  for (size_t i = 0; i < layer_paths.size(); ++i) {
    {
      BD_ASSIGN_OR_RETURN(UniqueFd fd, OpenInside(dir, layer_paths[i]));
      auto diff = UnpackLayer(fd.get(), parsed.diff_ids[i], nullptr);
      if (!diff.ok()) return diff.status().WithContext("layer " + layer_paths[i]);
    }
    BD_ASSIGN_OR_RETURN(std::string clean, store::CleanEntryPath(layer_paths[i]));
    std::optional<std::string_view> expected;
    if (!blob_digests[i].empty()) expected = blob_digests[i];
    BD_ASSIGN_OR_RETURN(store::BlobInfo blob,
                        blobs_->AdoptFile(os::JoinPath(dir, clean), expected));
    layers.push_back({parsed.diff_ids[i], blob.digest, media_types[i], blob.size});
    blobs.emplace_back(blob.digest, blob.size);
  }
  BD_ASSIGN_OR_RETURN(store::BlobInfo config_blob, blobs_->Put(config_json));
  std::string manifest = ManifestJson(config_blob.digest, config_blob.size, blobs, media_types);
  BD_ASSIGN_OR_RETURN(store::BlobInfo manifest_blob, blobs_->Put(manifest));
  BD_RETURN_IF_ERROR(Register(config_json, manifest_blob.digest, layers, tags));
  EmitImageEvents("load", config_blob.digest, tags);
  return config_blob.digest;
}

Result<std::vector<std::string>> ImageStore::LoadDockerArchive(const std::string& dir) {
  BD_ASSIGN_OR_RETURN(std::string text, ReadInside(dir, "manifest.json"));
  json m = ParseJson(text);
  if (m.is_discarded() || !m.is_array()) {
    return Status::InvalidArgument("load: manifest.json is not a JSON array");
  }
  std::vector<std::string> out;
  for (const json& entry : m) {
    if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string()) {
      return Status::InvalidArgument("load: manifest.json entry without Config");
    }
    std::vector<std::string> layer_paths = StringList(entry, "Layers");
    std::vector<std::string> tags;
    for (const std::string& t : StringList(entry, "RepoTags")) {
      BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(t));
      tags.push_back(ref.Canonical());
    }
    std::vector<std::string> media(layer_paths.size(), std::string(kMediaLayerTar));
    BD_ASSIGN_OR_RETURN(std::string id,
                        LoadOneImage(dir, entry["Config"].get<std::string>(), layer_paths, media,
                                     std::vector<std::string>(layer_paths.size()), tags));
    if (tags.empty()) out.push_back("Loaded image ID: " + id);
    for (const auto& t : tags) out.push_back("Loaded image: " + t);
  }
  return out;
}

Result<std::vector<std::string>> ImageStore::LoadOciLayout(const std::string& dir) {
  auto blob_path = [](const std::string& digest) -> Result<std::string> {
    BD_RETURN_IF_ERROR(ValidateDigest(digest));
    return "blobs/sha256/" + std::string(DigestHex(digest));
  };
  auto read_verified = [&](const std::string& digest) -> Result<std::string> {
    BD_ASSIGN_OR_RETURN(std::string path, blob_path(digest));
    BD_ASSIGN_OR_RETURN(std::string data, ReadInside(dir, path));
    if (Sha256Digest(data) != digest) {
      return Status::InvalidArgument("blob " + digest + " does not match its digest");
    }
    return data;
  };
  BD_ASSIGN_OR_RETURN(std::string index_text, ReadInside(dir, "index.json"));
  json index = ParseJson(index_text);
  if (index.is_discarded() || !index.is_object() || !index.contains("manifests")) {
    return Status::InvalidArgument("load: index.json has no manifests");
  }
  std::vector<std::string> out;
  std::string arch = HostArch();
  // Walks descriptors, descending into nested indexes, keeping manifests for this platform.
  std::function<Status(const json&, std::string)> visit = [&](const json& desc,
                                                              std::string name) -> Status {
    if (!desc.is_object() || !desc.contains("digest")) {
      return Status::InvalidArgument("load: descriptor without digest");
    }
    std::string digest = desc.value("digest", "");
    std::string media = desc.value("mediaType", "");
    if (desc.contains("annotations") && desc["annotations"].is_object()) {
      const json& a = desc["annotations"];
      if (a.contains("io.containerd.image.name")) {
        name = a.value("io.containerd.image.name", "");
      } else if (a.contains("org.opencontainers.image.ref.name")) {
        std::string ref_name = a.value("org.opencontainers.image.ref.name", "");
        // A bare tag names no repository: the image loads untagged.
        if (ref_name.find_first_of(":/") != std::string::npos) name = ref_name;
      }
    }
    if (desc.contains("platform") && desc["platform"].is_object()) {
      const json& p = desc["platform"];
      if (p.value("os", "linux") != "linux" || p.value("architecture", arch) != arch) return {};
    }
    BD_ASSIGN_OR_RETURN(std::string text, read_verified(digest));
    json doc = ParseJson(text);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument("load: blob " + digest + " is not JSON");
    }
    if (media.empty()) media = doc.value("mediaType", "");
    if (media == kMediaIndex || media == kMediaDockerManifestList || doc.contains("manifests")) {
      for (const json& d : doc["manifests"]) BD_RETURN_IF_ERROR(visit(d, name));
      return {};
    }
    if (!doc.contains("config") || !doc.contains("layers")) {
      return Status::InvalidArgument("load: manifest " + digest + " lacks config or layers");
    }
    std::vector<std::string> layer_paths, layer_media, layer_digests;
    for (const json& l : doc["layers"]) {
      std::string ld = l.value("digest", "");
      BD_ASSIGN_OR_RETURN(std::string path, blob_path(ld));
      layer_paths.push_back(path);
      layer_digests.push_back(ld);  // checked when the blob is adopted into the store
      layer_media.push_back(l.value("mediaType", std::string(kMediaLayerTar)));
    }
    std::string config_digest = doc["config"].value("digest", "");
    BD_RETURN_IF_ERROR(read_verified(config_digest).status());
    BD_ASSIGN_OR_RETURN(std::string config_path, blob_path(config_digest));
    std::vector<std::string> tags;
    if (!name.empty()) {
      BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(name));
      tags.push_back(ref.Canonical());
    }
    BD_ASSIGN_OR_RETURN(std::string id,
                        LoadOneImage(dir, config_path, layer_paths, layer_media, layer_digests,
                                     tags));
    if (tags.empty()) out.push_back("Loaded image ID: " + id);
    for (const auto& t : tags) out.push_back("Loaded image: " + t);
    return {};
  };
  for (const json& d : index["manifests"]) BD_RETURN_IF_ERROR(visit(d, ""));
  if (out.empty()) {
    return Status::NotFound("load: the OCI layout holds no image for linux/" + arch);
  }
  return out;
}

Status ImageStore::DeleteRows(const std::string& id) {
  BD_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM images WHERE id = ?"));
  BD_RETURN_IF_ERROR(del.BindAll(id).Run());  // tags and layer lists go with it (cascade)
  BD_ASSIGN_OR_RETURN(auto orphans, db_->Prepare(
      "DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)"));
  return orphans.Run();
}

Result<std::vector<std::string>> ImageStore::Remove(std::string_view ref, bool force) {
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
}

namespace {

// True when the ELF file at `path` has no program interpreter, i.e. runs without a libc in the
// container.
bool IsStaticElf(const std::string& path) {
  auto data = os::ReadFile(path);
  if (!data.ok() || data->size() < sizeof(Elf64_Ehdr)) return false;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(data->data());
  if (std::string_view(reinterpret_cast<const char*>(eh->e_ident), 4) != "\177ELF" ||
      eh->e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  for (int i = 0; i < eh->e_phnum; ++i) {
    size_t off = eh->e_phoff + static_cast<size_t>(i) * eh->e_phentsize;
    if (off + sizeof(Elf64_Phdr) > data->size()) return false;
    const auto* ph = reinterpret_cast<const Elf64_Phdr*>(data->data() + off);
    if (ph->p_type == PT_INTERP) return false;
  }
  return true;
}

Result<std::vector<std::string>> BusyboxApplets(const std::string& busybox) {
  UniqueFd pipe[2];
  BD_RETURN_IF_ERROR(os::MakePipe(pipe));
  pid_t pid = ::fork();
  if (pid < 0) return os::ErrnoStatus("fork");
  if (pid == 0) {
    ::dup2(pipe[1].get(), 1);
    ::execl(busybox.c_str(), busybox.c_str(), "--list-full", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pipe[1].Reset();
  auto out = os::ReadAll(pipe[0].get());
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!out.ok()) return out.status();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable("`" + busybox + " --list-full` failed");
  }
  std::vector<std::string> applets;
  for (const std::string& line : Split(*out, '\n')) {
    std::string_view l = TrimSpace(line);
    if (!l.empty() && l != "bin/busybox") applets.emplace_back(l);
  }
  return applets;
}

}  // namespace

Status ImageStore::CreateBuiltinBusybox(const std::string& tag) {
  std::string busybox = BusyboxPath();
  struct stat st;
  if (::stat(busybox.c_str(), &st) < 0 || !IsStaticElf(busybox)) {
    return Status::Unavailable(
        "the built-in busybox image needs a static busybox at " + busybox +
        " (Debian: apt-get install busybox-static), or set BASIC_DOCKER_BUSYBOX");
  }
  BD_ASSIGN_OR_RETURN(std::vector<std::string> applets, BusyboxApplets(busybox));
  BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
  BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "busybox-"));
  std::string tar_path = tmp.path() + "/rootfs.tar";
  BD_ASSIGN_OR_RETURN(UniqueFd out, os::Open(tar_path, O_RDWR | O_CREAT | O_TRUNC, 0600));
  {
    store::TarBuilder tar([&](std::string_view d) { return os::WriteAll(out.get(), d); });
    // Fixed times: the same busybox always gives the same image id.
    store::TarBuilder::Meta dir{0755, 0, 0, st.st_mtime};
    std::set<std::string> dirs;
    for (const char* d : {"bin", "dev", "etc", "home", "proc", "root", "run", "sbin", "sys",
                          "tmp", "usr", "usr/bin", "usr/sbin", "var", "var/spool",
                          "var/spool/mail", "var/www"}) {
      store::TarBuilder::Meta m = dir;
      if (std::string_view(d) == "tmp") m.mode = 01777;
      if (std::string_view(d) == "root") m.mode = 0700;
      BD_RETURN_IF_ERROR(tar.AddDir(d, m));
      dirs.insert(d);
    }
    BD_RETURN_IF_ERROR(tar.AddFileFromDisk("bin/busybox", busybox, {0755, 0, 0, st.st_mtime}));
    for (const std::string& applet : applets) {
      std::string parent = os::Dirname(applet);
      if (parent != "." && !dirs.count(parent)) {
        BD_RETURN_IF_ERROR(tar.AddDir(parent, dir));
        dirs.insert(parent);
      }
      BD_RETURN_IF_ERROR(tar.AddSymlink(applet, "/bin/busybox", dir));
    }
    store::TarBuilder::Meta file{0644, 0, 0, st.st_mtime};
    BD_RETURN_IF_ERROR(tar.AddFile("etc/passwd",
                                   "root:x:0:0:root:/root:/bin/sh\n"
                                   "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                                   "nobody:x:65534:65534:nobody:/home:/bin/false\n",
                                   file));
    BD_RETURN_IF_ERROR(tar.AddFile("etc/group",
                                   "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwheel:x:10:root\n"
                                   "nogroup:x:65534:\n",
                                   file));
    BD_RETURN_IF_ERROR(tar.Finish());
  }
  if (::lseek(out.get(), 0, SEEK_SET) < 0) return os::ErrnoStatus("seek");
  ImageConfig config;
  config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  config.cmd = {"sh"};
  BD_ASSIGN_OR_RETURN(std::string id,
                      Import(out.get(), tag, config, "basic-docker built-in image from " + busybox,
                             static_cast<int64_t>(st.st_mtime) * 1'000'000'000));
  log::Info("created built-in image {} ({})", tag, id);
  return {};
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
