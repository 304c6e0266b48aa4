// Images into the store from a file: `import` of one layer, `load` of a docker save archive or
// an OCI image layout.
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

namespace bd::engine {

using nlohmann::json;
using image_json::HostArch;
using image_json::ParseJson;
using image_json::StringList;

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
  return Tracked(OperationLog::Of(paths_.root), "image", "import", ref.empty() ? "(untagged)" : std::string(ref), [&]() -> Result<std::string> {
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
  });
}

void ImageStore::EmitImageEvents(const std::string& action, const std::string& id,
                                 const std::vector<std::string>& tags) {
  EventLog events(db_);
  (void)events.Emit("image", action, id, tags.empty() ? std::map<std::string, std::string>{}
                                                       : std::map<std::string, std::string>{{"name", tags[0]}});
  for (const std::string& t : tags) (void)events.Emit("image", "tag", id, {{"name", t}});
}

Result<std::vector<std::string>> ImageStore::Load(int fd) {
  return Tracked(OperationLog::Of(paths_.root), "image", "load", "archive", [&]() -> Result<std::vector<std::string>> {
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
  });
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

}  // namespace bd::engine
