// The image store: OCI images (manifest, config, layers) in the blob store, their names and
// layers in the state database, each layer unpacked once under layers/<diff_id> and shared
// read-only by every container. Not thread-safe; one ImageStore per Db connection.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/filter.h"
#include "engine/paths.h"
#include "engine/images/reference.h"
#include "registry/auth.h"
#include "registry/hosts.h"
#include "store/archive.h"
#include "store/blob_store.h"
#include "store/db.h"

namespace bd::registry {
struct Session;
}  // namespace bd::registry

namespace bd::engine {

// The parts of an OCI image config a container takes its defaults from.
struct ImageConfig {
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
};

struct Image {
  std::string id;  // digest of the config
  std::string manifest_digest;
  std::vector<std::string> tags;      // "repository:tag"
  std::vector<std::string> repo_digests;  // "repository@sha256:..." (pulled or pushed there)
  std::vector<std::string> diff_ids;  // base layer first
  int64_t size = 0;
  int64_t stored_at = 0;
  std::string created;  // from the config
  std::string architecture;
  std::string os;
  ImageConfig config;
  std::string config_json;
};

// What a pull reports as it goes, per layer (`id`: the blob digest's first 12 hex digits),
// as Docker's progress display shows it.
struct PullProgress {
  // A push reports kDownloading as its upload and kMounted for a blob mounted from another
  // repository.
  enum class Phase { kWaiting, kExists, kDownloading, kVerifying, kExtracting, kDone, kMounted };
  std::string id;
  Phase phase = Phase::kWaiting;
  int64_t current = 0;  // bytes so far (kDownloading)
  int64_t total = 0;    // the layer's size, when known
};

struct PullOptions {
  std::string platform;  // "os/arch[/variant]"; "" is this machine's
  // Called as layers advance and with status lines ("latest: Pulling from library/busybox");
  // one at a time (from the download threads).
  std::function<void(const PullProgress&)> progress;
  std::function<void(const std::string&)> message;
};

struct PullResult {
  std::string image_id;
  std::string digest;  // the repository's digest of what was pulled (an index's, if one)
  std::string name;    // "busybox:latest" or "busybox@sha256:..."
  bool downloaded = false;  // false: the image was already here ("Image is up to date")
};

struct PushResult {
  std::string tag;
  std::string digest;  // of the manifest, as the registry now has it
  int64_t size = 0;    // of the manifest
};

// A platform as `--platform` takes it: "linux/amd64", "linux/arm64/v8".
struct Platform {
  std::string os, architecture, variant;
  std::string ToString() const;
};
Result<Platform> ParsePlatform(std::string_view text);
Platform HostPlatform();

class ImageStore {
 public:
  ImageStore(Paths paths, store::Db* db, store::BlobStore* blobs)
      : paths_(std::move(paths)), db_(db), blobs_(blobs) {}

  // Finds an image by "name[:tag]", full id, or unique id prefix (at least 4 hex digits).
  Result<Image> Resolve(std::string_view ref);
  Result<std::vector<Image>> List();
  // Those `f` selects (kImageFilterKeys: dangling, label, before, since, reference; with
  // reference=, only the matching tags are left in each image). engine/lists.cc.
  Result<std::vector<Image>> List(const ListFilter& f);

  // Like `docker import`: the tar read from `fd` (any compression) becomes a one-layer image
  // tagged `ref` (may be empty: untagged). Returns the image id.
  // `created` (unix ns) is the image's creation time; 0 means now.
  Result<std::string> Import(int fd, std::string_view ref, const ImageConfig& config,
                             std::string_view created_by, int64_t created = 0);
  // Like `docker load`: a `docker save` archive or an OCI image layout archive. Returns one line
  // per loaded image ("Loaded image: busybox:latest" or "Loaded image ID: sha256:...").
  Result<std::vector<std::string>> Load(int fd);
  // Like `docker save`: the images `refs` name, as they are stored, as a tar written to `sink`:
  // `format` "oci" (an OCI image layout) or "docker" (the same with Docker's manifest.json).
  // engine/images/save.cc.
  Status Save(const std::vector<std::string>& refs, std::string_view format, const store::ByteSink& sink);
  // Like `docker rmi`. Returns lines such as "Untagged: x:latest" and "Deleted: sha256:...".
  Result<std::vector<std::string>> Remove(std::string_view ref, bool force);

  // Like `docker tag`: `target` (a name, not a digest) now also names the image `source` does.
  Status Tag(std::string_view source, std::string_view target);
  // The manifest `ref` (a name of `img`) stands for: the one its tag was pulled as, else the
  // image's own. Push and save send it.
  Result<std::string> ManifestOf(const Image& img, std::string_view ref);
  // The repository digests of an image ("busybox@sha256:..."), as RepoDigests.
  Result<std::vector<std::string>> RepoDigests(const std::string& image_id);

  // Like `docker pull`: the image `ref` names from its registry (mirrors first), for
  // `opts.platform`. Layers are downloaded in parallel (max-concurrent-downloads), each streamed
  // through sha256 and the unpacker at once; nothing becomes visible before its digest checks.
  // engine/images/pull.cc.
  Result<PullResult> Pull(std::string_view ref, const PullOptions& opts);
  // Like `docker push`: the image `ref` (repository:tag) names, its blobs and manifest as they
  // are stored, so the registry's digest is the one `images --digests` shows. engine/images/push.cc.
  Result<PushResult> Push(std::string_view ref, const PullOptions& opts);
  // The tags of `repository` on its registry (`pull -a`).
  Result<std::vector<std::string>> RemoteTags(std::string_view repository);

  // Resolves `ref`; when it is the built-in "busybox" image and missing, creates it first from
  // the host's static busybox.
  Result<Image> ResolveOrBuiltin(std::string_view ref);

  // Unpacked layer directories, base first.
  std::vector<std::string> LayerDirs(const Image& image) const;

 private:
  struct LayerInput {
    std::string diff_id;
    std::string blob_digest;
    std::string media_type;
    int64_t size = 0;
  };
  Result<Image> Load(const std::string& id);
  // `extra` runs inside the same transaction (a pull's repository digest and blob rows).
  Status Register(const std::string& config_json, const std::string& manifest_digest,
                  const std::vector<LayerInput>& layers, const std::vector<std::string>& tags,
                  const std::function<Status(const std::string& id)>& extra = nullptr);
  // Unpacks a layer tar read from `fd` into layers/<diff_id> unless already there. With
  // `expected_diff_id` set, the content must match it.
  Result<std::string> UnpackLayer(int fd, std::string_view expected_diff_id,
                                  const store::ByteSink& tee);
  Result<std::vector<std::string>> LoadDockerArchive(const std::string& dir);
  Result<std::vector<std::string>> LoadOciLayout(const std::string& dir);
  Result<std::string> LoadOneImage(const std::string& dir, const std::string& config_path,
                                   const std::vector<std::string>& layer_paths,
                                   const std::vector<std::string>& layer_media_types,
                                   const std::vector<std::string>& layer_blob_digests,
                                   const std::vector<std::string>& tags);
  // Inside a write transaction: the image's rows and the layer rows no other image uses.
  Status DeleteRows(const std::string& id);
  // Inside a write transaction: `name` (repository@digest) now names image `image_id`.
  Status RecordRepoDigest(const std::string& name, const std::string& image_id);
  Status CreateBuiltinBusybox(const std::string& tag);
  // `action` (import, load) of image `id`, then a tag event for each of `tags`.
  void EmitImageEvents(const std::string& action, const std::string& id, const std::vector<std::string>& tags);

  Paths paths_;
  store::Db* db_;
  store::BlobStore* blobs_;
};

// Media types.
inline constexpr std::string_view kMediaManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kMediaLayerGzip =
    "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kMediaDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

// registries.conf (system, then the data root's) and daemon.json's registry keys.
Result<registry::Registries> LoadRegistries(const Paths& paths);
// A session for `ref`'s repository at `ep`, with the login `creds` hold for its registry.
std::shared_ptr<registry::Session> NewRegistrySession(const registry::Endpoint& ep, const ImageRef& ref,
                                                      const registry::CredentialStore& creds, bool push);

// Parses an OCI image config JSON into `image` (config, created, architecture, os, diff_ids).
Status ParseImageConfig(std::string_view json, Image* image);

// Path of the static busybox the built-in image is made from (BASIC_DOCKER_BUSYBOX overrides).
std::string BusyboxPath();

}  // namespace bd::engine
