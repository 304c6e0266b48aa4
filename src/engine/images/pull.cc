// `pull`: images from registries into the store.
//
// The manifest is negotiated (OCI or Docker, an index or list resolved to this platform), the
// config fetched and checked, then the layers are downloaded in parallel. Each layer's bytes
// go, as they arrive, to its file under partial/ (kept for a resume), through sha256 and into
// a pipe the unpacker reads: no temporary tarball, no second read. The unpacked tree and the
// blob become visible only after the blob's digest and the tree's diff_id both check. A file
// lock per blob makes a second concurrent pull of the same layer wait and then find it done.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/crash_point.h"
#include "base/strings.h"
#include "engine/daemon_config.h"
#include "engine/diagnostics.h"
#include "engine/events.h"
#include "engine/images/internal.h"
#include "engine/images/reference.h"
#include "engine/images/store.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "registry/client.h"

namespace bd::engine {

using nlohmann::json;
using image_json::HostArch;
using image_json::ParseJson;

std::string Platform::ToString() const {
  return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

Result<Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts = Split(text, '/');
  bool ok = parts.size() >= 2 && parts.size() <= 3;
  for (const std::string& p : parts) {
    ok = ok && !p.empty() && p.size() <= 32 && p.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") == std::string::npos;
  }
  if (!ok) {
    return Status::InvalidArgument("invalid platform \"" + std::string(text) +
                                   "\": expected os/arch[/variant], such as linux/amd64 or linux/arm64/v8");
  }
  Platform p{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
  if (p.architecture == "aarch64") p.architecture = "arm64";
  if (p.architecture == "x86_64") p.architecture = "amd64";
  return p;
}

Platform HostPlatform() { return {"linux", HostArch(), HostArch() == "arm64" ? "v8" : ""}; }

namespace {

constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
constexpr std::string_view kDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
constexpr std::string_view kOciNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";

bool IsIndex(std::string_view media) {
  return media == registry::kOciIndex || media == registry::kDockerManifestList;
}

bool IsLayerMedia(std::string_view m) {
  return m == kMediaLayerTar || m == kMediaLayerGzip || m == kOciLayerZstd || m == kDockerLayerGzip ||
         m == kDockerForeignLayer || m == kOciNondistributable;
}

std::string ShortId(std::string_view digest) { return std::string(DigestHex(digest)).substr(0, 12); }

std::string JsonString(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// A manifest list or index entry's platform matches `want` (a missing variant of arm64 is v8).
bool PlatformMatches(const json& p, const Platform& want) {
  if (!p.is_object()) return false;
  std::string arch = JsonString(p, "architecture"), variant = JsonString(p, "variant");
  if (JsonString(p, "os") != want.os || arch != want.architecture) return false;
  if (want.variant.empty()) return true;
  if (arch == "arm64" && variant.empty()) variant = "v8";
  return variant == want.variant;
}

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = -1;
};

Result<Descriptor> ParseDescriptor(const json& d, const std::string& where) {
  if (!d.is_object()) return Status::InvalidArgument(where + " is not a descriptor object");
  Descriptor out{JsonString(d, "mediaType"), JsonString(d, "digest"), -1};
  BD_RETURN_IF_ERROR(ValidateDigest(out.digest).WithContext(where));
  if (d.contains("size")) {
    if (!d["size"].is_number_integer() || d["size"].get<int64_t>() < 0) {
      return Status::InvalidArgument(where + ": size is not a non-negative integer");
    }
    out.size = d["size"].get<int64_t>();
  }
  return out;
}

// Blocks SIGPIPE in the calling thread: a write to a pipe whose reader gave up returns EPIPE
// there instead of killing the process.
void BlockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

struct LayerJob {
  Descriptor blob;
  std::string diff_id;
};

}  // namespace

// One layer: downloaded (resumed from its partial file), hashed and unpacked at once; moved
// into the store when both digests check. Runs on a worker thread: touches no database.
static Status PullLayer(const Paths& paths, const store::BlobStore& blobs, registry::Client& client,
                        const LayerJob& job, int64_t min_free_bytes,
                        const std::function<void(const PullProgress&)>& report) {
  const std::string id = ShortId(job.blob.digest);
  auto progress = [&](PullProgress::Phase phase, int64_t current = 0) {
    report({id, phase, current, job.blob.size});
  };
  auto done_already = [&] { return blobs.Has(job.blob.digest) && os::IsDir(paths.Layer(job.diff_id)); };
  if (done_already()) {
    progress(PullProgress::Phase::kExists);
    return {};
  }
  const std::string partial = blobs.PartialPath(job.blob.digest);
  BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  // A concurrent pull of the same blob holds this; it is waited for, then found done.
  if (os::RetryEintr([&] { return ::flock(fd.get(), LOCK_EX); }) < 0) return os::ErrnoStatus("lock `" + partial + "`");
  if (done_already()) {
    progress(PullProgress::Phase::kExists);
    return {};
  }
  bool need_tree = !os::IsDir(paths.Layer(job.diff_id));
  for (int attempt = 0;; ++attempt) {
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return os::ErrnoStatus("stat `" + partial + "`");
    int64_t have = st.st_size;
    if (job.blob.size >= 0 && have > job.blob.size) {
      if (::ftruncate(fd.get(), 0) < 0) return os::ErrnoStatus("truncate `" + partial + "`");
      have = 0;
    }
    // The unpacker reads the layer's bytes from a pipe as they are written.
    std::optional<os::TempDir> tree;
    UniqueFd pipe_w;
    std::thread unpacker;
    Result<store::UnpackResult> unpacked = Status::Internal("not unpacked");
    if (need_tree) {
      BD_ASSIGN_OR_RETURN(os::TempDir t, os::TempDir::Create(paths.Tmp(), "pull-"));
      ::chmod(t.path().c_str(), 0755);
      tree.emplace(std::move(t));
      UniqueFd ends[2];
      BD_RETURN_IF_ERROR(os::MakePipe(ends));
      ::fcntl(ends[1].get(), F_SETPIPE_SZ, 1 << 20);
      pipe_w = std::move(ends[1]);
      unpacker = std::thread([&, r = std::make_shared<UniqueFd>(std::move(ends[0]))] {
        store::UnpackOptions opts;
        opts.overlay_whiteouts = true;
        opts.min_free_bytes = min_free_bytes;
        unpacked = store::UnpackTar(r->get(), tree->path(), opts);
        r->Reset();  // the writer sees EPIPE if we stopped early
      });
    }
    Sha256Hasher hasher;
    Status sink_error;
    auto feed = [&](std::string_view chunk, bool to_file) -> bool {
      if (to_file) {
        if (Status w = os::WriteAll(fd.get(), chunk); !w.ok()) {
          sink_error = w.WithContext("layer " + id);
          return false;
        }
      }
      hasher.Update(chunk);
      if (pipe_w && !os::WriteAll(pipe_w.get(), chunk).ok()) {
        pipe_w.Reset();  // the unpacker stopped: its error is reported below
      }
      return true;
    };
    // What an earlier, interrupted pull already has goes through first.
    Status download;
    if (have > 0) {
      std::string buf(1 << 20, '\0');
      for (int64_t off = 0; off < have && download.ok();) {
        ssize_t n = os::RetryEintr([&] { return ::pread(fd.get(), buf.data(), std::min<int64_t>(buf.size(), have - off), off); });
        if (n <= 0) {
          download = os::ErrnoStatus("read `" + partial + "`");
          break;
        }
        feed(std::string_view(buf.data(), static_cast<size_t>(n)), false);
        off += n;
      }
      if (::lseek(fd.get(), have, SEEK_SET) < 0) download = os::ErrnoStatus("seek `" + partial + "`");
    }
    int64_t received = have;
    int64_t last_report = 0;
    progress(PullProgress::Phase::kDownloading, received);
    if (download.ok() && (job.blob.size < 0 || have < job.blob.size)) {
      bool past_half = false;
      download = client.GetBlob(job.blob.digest, have, [&](std::string_view chunk) {
        if (!feed(chunk, true)) return false;
        received += static_cast<int64_t>(chunk.size());
        if (!past_half && job.blob.size > 0 && received * 2 >= job.blob.size) {
          past_half = true;
          CrashPoint("pull.mid-layer");  // tests: a kill -9 with half a layer on disk
        }
        if (received - last_report >= (256 << 10)) {
          last_report = received;
          progress(PullProgress::Phase::kDownloading, received);
        }
        if (job.blob.size >= 0 && received > job.blob.size) {
          sink_error = Status::InvalidArgument("layer " + job.blob.digest + ": the registry sent more than its " +
                                               std::to_string(job.blob.size) + " bytes");
          return false;
        }
        return true;
      });
    }
    CrashPoint("pull.after-download");
    pipe_w.Reset();  // the unpacker sees the end of the layer
    bool complete = sink_error.ok() && download.ok();
    std::string got = hasher.Finish();
    if (complete) progress(PullProgress::Phase::kVerifying);
    if (complete && got == job.blob.digest && unpacker.joinable()) progress(PullProgress::Phase::kExtracting);
    if (unpacker.joinable()) unpacker.join();
    if (!sink_error.ok()) {
      if (sink_error.code() == Code::kInvalidArgument) (void)::ftruncate(fd.get(), 0);
      return sink_error;
    }
    if (!download.ok()) return download;  // the partial file stays for the next pull to resume
    if (got != job.blob.digest) {
      (void)::ftruncate(fd.get(), 0);
      if (have > 0 && attempt == 0) continue;  // the resumed part was bad: once more from the start
      return Status::InvalidArgument("layer " + job.blob.digest + " from the registry is corrupt: its content has digest " +
                                     got + "; nothing was kept");
    }
    if (job.blob.size >= 0 && received != job.blob.size) {
      (void)::ftruncate(fd.get(), 0);
      return Status::InvalidArgument("layer " + job.blob.digest + ": " + std::to_string(received) +
                                     " bytes received, the manifest says " + std::to_string(job.blob.size));
    }
    if (need_tree) {
      if (!unpacked.ok()) {
        (void)::ftruncate(fd.get(), 0);
        return unpacked.status().WithContext("layer " + job.blob.digest);
      }
      if (unpacked->diff_id != job.diff_id) {
        (void)::ftruncate(fd.get(), 0);
        return Status::InvalidArgument("layer " + job.blob.digest + " unpacks to " + unpacked->diff_id +
                                       ", not the image config's diff_id " + job.diff_id);
      }
    }
    if (::fsync(fd.get()) < 0) return os::ErrnoStatus("fsync `" + partial + "`");
    BD_RETURN_IF_ERROR(blobs.CommitVerified(partial, job.blob.digest));
    if (need_tree) {
      std::string final_dir = paths.Layer(job.diff_id);
      CrashPoint("pull.before-layer-rename");
      if (::rename(tree->path().c_str(), final_dir.c_str()) == 0) {
        tree->Release();
        BD_RETURN_IF_ERROR(os::FsyncDir(paths.Layers()));
      } else if (errno != EEXIST && errno != ENOTEMPTY) {
        return os::ErrnoStatus("rename layer into `" + final_dir + "`");
      }
    }
    progress(PullProgress::Phase::kDone);
    return {};
  }
}

namespace {

}  // namespace

std::shared_ptr<registry::Session> NewRegistrySession(const registry::Endpoint& ep, const ImageRef& ref,
                                                      const registry::CredentialStore& creds, bool push) {
  auto s = std::make_shared<registry::Session>();
  s->endpoint = ep;
  s->registry = ref.Domain();
  s->repository = ref.RemotePath();
  // A mirror is asked with the registry's login only when it is the registry itself.
  s->credentials = creds.For(ep.mirror ? ep.host : ref.Domain());
  s->push = push;
  return s;
}

Result<registry::Registries> LoadRegistries(const Paths& paths) {
  return registry::Registries::Load({Paths::SystemRegistriesConf(), paths.DaemonConfig(), paths.RegistriesConf()});
}

Status ImageStore::RecordRepoDigest(const std::string& name, const std::string& image_id) {
  BD_ASSIGN_OR_RETURN(auto rd, db_->Prepare(
      "INSERT INTO image_repo_digests(name, image_id) VALUES (?, ?)"
      " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id"));
  return rd.BindAll(name, image_id).Run();
}

Result<std::vector<std::string>> ImageStore::RemoteTags(std::string_view repository) {
  BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(repository));
  BD_ASSIGN_OR_RETURN(registry::Registries regs, LoadRegistries(paths_));
  BD_RETURN_IF_ERROR(regs.CheckAllowed(ref.Domain()));
  registry::CredentialStore creds = registry::CredentialStore::Load(paths_.Credentials());
  Status last;
  for (const registry::Endpoint& ep : regs.PullEndpoints(ref.Domain())) {
    registry::Client client(NewRegistrySession(ep, ref, creds, false));
    auto tags = client.Tags();
    if (tags.ok() || !ep.mirror) return tags;
    last = tags.status();
  }
  return last;
}

Result<PullResult> ImageStore::Pull(std::string_view ref_text, const PullOptions& opts) {
  return Tracked(OperationLog::Of(paths_.root), "image", "pull", std::string(ref_text), [&]() -> Result<PullResult> {
    BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(ref_text));
    Platform want = HostPlatform();
    if (!opts.platform.empty()) {
      BD_ASSIGN_OR_RETURN(want, ParsePlatform(opts.platform));
    }
    BD_ASSIGN_OR_RETURN(registry::Registries regs, LoadRegistries(paths_));
    BD_RETURN_IF_ERROR(regs.CheckAllowed(ref.Domain()));
    BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths_));
    registry::CredentialStore creds = registry::CredentialStore::Load(paths_.Credentials());
    std::mutex report_mu;
    auto message = [&](const std::string& line) {
      std::lock_guard<std::mutex> g(report_mu);
      if (opts.message) opts.message(line);
    };
    auto report = [&](const PullProgress& p) {
      std::lock_guard<std::mutex> g(report_mu);
      if (opts.progress) opts.progress(p);
    };
    const std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
    std::vector<registry::Endpoint> endpoints = regs.PullEndpoints(ref.Domain());
    Status last;
    for (size_t e = 0; e < endpoints.size(); ++e) {
      const registry::Endpoint& ep = endpoints[e];
      auto session = NewRegistrySession(ep, ref, creds, false);
      registry::Client client(session);
      auto top = client.GetManifest(reference);
      if (!top.ok()) {
        last = top.status();
        if (ep.mirror) continue;  // a mirror that fails or lacks it: the next one, then the registry
        return last;
      }
      if (!ref.digest.empty()) message(ref.digest + ": Pulling from " + ref.RemotePath());
      else message(ref.tag + ": Pulling from " + ref.RemotePath());

      registry::Manifest manifest = *top;
      if (IsIndex(manifest.media_type)) {
        json index = ParseJson(manifest.body);
        if (std::string artifact = JsonString(index, "artifactType"); !artifact.empty()) {
          return Status::InvalidArgument(ref.Canonical() + " is not a container image (its type is " + artifact +
                                         "); a capsule is pulled with `capsule pull`, a plugin with `plugin install`");
        }
        if (!index.contains("manifests") || !index["manifests"].is_array()) {
          return Status::InvalidArgument("the index of " + ref.Canonical() + " has no manifests array");
        }
        std::string chosen;
        std::vector<std::string> offered;
        for (const json& d : index["manifests"]) {
          BD_ASSIGN_OR_RETURN(Descriptor desc, ParseDescriptor(d, "an index entry"));
          if (!d.contains("platform")) continue;
          const json& p = d["platform"];
          // Attestation manifests (BuildKit's unknown/unknown) are not images to run.
          if (JsonString(p, "os") == "unknown") continue;
          std::string name = JsonString(p, "os") + "/" + JsonString(p, "architecture") +
                             (JsonString(p, "variant").empty() ? "" : "/" + JsonString(p, "variant"));
          if (std::find(offered.begin(), offered.end(), name) == offered.end()) offered.push_back(name);
          if (chosen.empty() && PlatformMatches(p, want) && !IsIndex(desc.media_type)) chosen = desc.digest;
        }
        if (chosen.empty()) {
          return Status::NotFound("no matching manifest for " + want.ToString() + " in the manifest list of " +
                                  ref.Canonical() + "; it has " + (offered.empty() ? "no platforms" : Join(offered, ", ")));
        }
        BD_ASSIGN_OR_RETURN(manifest, client.GetManifest(chosen));
        if (IsIndex(manifest.media_type)) {
          return Status::NotSupported("the entry " + chosen + " of " + ref.Canonical() + " is an index itself");
        }
      }
      json doc = ParseJson(manifest.body);
      if (manifest.media_type != registry::kOciManifest && manifest.media_type != registry::kDockerManifest) {
        return Status::NotSupported(ref.Canonical() + " has a manifest of media type " + manifest.media_type +
                                    ", which is not an image");
      }
      if (!doc.contains("config") || !doc.contains("layers") || !doc["layers"].is_array()) {
        return Status::InvalidArgument("the manifest of " + ref.Canonical() + " lacks config or layers");
      }
      BD_ASSIGN_OR_RETURN(Descriptor config_desc, ParseDescriptor(doc["config"], "the manifest's config"));
      std::string artifact = JsonString(doc, "artifactType");
      if (!artifact.empty() || (config_desc.media_type != kMediaConfig && config_desc.media_type != kDockerConfig)) {
        return Status::InvalidArgument(ref.Canonical() + " is not a container image (its type is " +
                                       (artifact.empty() ? config_desc.media_type : artifact) +
                                       "); a capsule is pulled with `capsule pull`, a plugin with `plugin install`");
      }
      std::vector<LayerJob> jobs;
      for (const json& l : doc["layers"]) {
        BD_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(l, "a manifest layer"));
        if (!IsLayerMedia(d.media_type)) {
          return Status::NotSupported(ref.Canonical() + " has a layer of media type " + d.media_type +
                                      ", which is not a tar layer (plain, gzip or zstd)");
        }
        jobs.push_back({d, ""});
      }
      // The config, checked against its digest before anything else is used from it.
      std::string config_json;
      if (blobs_->Has(config_desc.digest)) {
        BD_ASSIGN_OR_RETURN(config_json, blobs_->Read(config_desc.digest));
      } else {
        Status sink_error;
        Status got = client.GetBlob(config_desc.digest, 0, [&](std::string_view chunk) {
          if (config_json.size() + chunk.size() > (64 << 20)) {
            sink_error = Status::InvalidArgument("the image config of " + ref.Canonical() + " is larger than 64 MiB");
            return false;
          }
          config_json.append(chunk);
          return true;
        });
        if (!sink_error.ok()) return sink_error;
        BD_RETURN_IF_ERROR(got);
      }
      if (Sha256Digest(config_json) != config_desc.digest) {
        return Status::InvalidArgument("the image config of " + ref.Canonical() + " from " + ref.Domain() +
                                       " does not match its digest " + config_desc.digest);
      }
      Image parsed;
      BD_RETURN_IF_ERROR(ParseImageConfig(config_json, &parsed).WithContext(ref.Canonical()));
      if (parsed.diff_ids.size() != jobs.size()) {
        return Status::InvalidArgument("the image config of " + ref.Canonical() + " lists " +
                                       std::to_string(parsed.diff_ids.size()) + " layers, its manifest " +
                                       std::to_string(jobs.size()));
      }
      for (size_t i = 0; i < jobs.size(); ++i) jobs[i].diff_id = parsed.diff_ids[i];

      // Held shared from the first partial file until the records are in: gc never takes our work.
      BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
      std::string image_id = config_desc.digest;
      bool had_image = false;
      {
        BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
            "SELECT 1 FROM images i WHERE i.id = ?1 AND (i.manifest_digest = ?2 OR EXISTS"
            " (SELECT 1 FROM image_blobs b WHERE b.image_id = i.id AND b.digest = ?2))"));
        st.BindAll(image_id, manifest.digest);
        BD_ASSIGN_OR_RETURN(had_image, st.Step());
      }
      // "Image is up to date" only when the name already meant this image.
      bool name_current = !ref.digest.empty();
      if (ref.digest.empty()) {
        BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT 1 FROM image_tags WHERE name = ? AND image_id = ?"));
        st.BindAll(ref.Canonical(), image_id);
        BD_ASSIGN_OR_RETURN(name_current, st.Step());
      }
      // An image already here is only checked: no layer lines, as Docker shows it.
      auto quiet_report = [](const PullProgress&) {};
      const std::function<void(const PullProgress&)> layer_report =
          had_image ? std::function<void(const PullProgress&)>(quiet_report) : std::function<void(const PullProgress&)>(report);
      for (const LayerJob& j : jobs) layer_report({ShortId(j.blob.digest), PullProgress::Phase::kWaiting, 0, j.blob.size});
      std::atomic<size_t> next{0};
      std::vector<Status> results(jobs.size());
      auto worker = [&] {
        BlockSigpipe();
        registry::Client c(session);
        for (size_t i = next++; i < jobs.size(); i = next++) {
          results[i] = PullLayer(paths_, *blobs_, c, jobs[i], daemon.storage_reserve, layer_report);
          if (!results[i].ok()) next = jobs.size();  // the others finish what they have begun
        }
      };
      std::vector<std::thread> workers;
      size_t n = std::min<size_t>(jobs.size(), static_cast<size_t>(regs.max_concurrent_downloads()));
      for (size_t i = 1; i < n; ++i) workers.emplace_back(worker);
      if (n > 0) worker();
      for (std::thread& t : workers) t.join();
      for (const Status& st : results) BD_RETURN_IF_ERROR(st);

      BD_RETURN_IF_ERROR(blobs_->Put(config_json).status());
      BD_RETURN_IF_ERROR(blobs_->Put(manifest.body).status());
      if (top->digest != manifest.digest) BD_RETURN_IF_ERROR(blobs_->Put(top->body).status());
      std::vector<LayerInput> layers;
      for (const LayerJob& j : jobs) layers.push_back({j.diff_id, j.blob.digest, j.blob.media_type, j.blob.size});
      std::vector<std::string> tags;
      if (ref.digest.empty()) tags.push_back(ref.Canonical());
      const std::string repo_digest = ref.repository + "@" + top->digest;
      BD_RETURN_IF_ERROR(Register(config_json, manifest.digest, layers, tags, [&](const std::string& id) -> Status {
        BD_RETURN_IF_ERROR(RecordRepoDigest(repo_digest, id));
        for (const std::string& t : tags) {
          BD_ASSIGN_OR_RETURN(auto tm, db_->Prepare("UPDATE image_tags SET manifest_digest = ? WHERE name = ?"));
          BD_RETURN_IF_ERROR(tm.BindAll(manifest.digest, t).Run());
        }
        std::vector<std::string> named = {top->digest, manifest.digest};
        for (const LayerJob& j : jobs) named.push_back(j.blob.digest);
        for (const std::string& d : named) {
          BD_ASSIGN_OR_RETURN(auto b, db_->Prepare("INSERT OR IGNORE INTO image_blobs(image_id, digest) VALUES (?, ?)"));
          BD_RETURN_IF_ERROR(b.BindAll(id, d).Run());
        }
        return {};
      }));
      EventLog events(db_);
      (void)events.Emit("image", "pull", image_id, {{"name", ref.Canonical()}});
      message("Digest: " + top->digest);
      PullResult out;
      out.image_id = image_id;
      out.digest = top->digest;
      out.name = ref.Canonical();
      out.downloaded = !had_image || !name_current;
      return out;
    }
    return last;
  });
}

}  // namespace bd::engine
