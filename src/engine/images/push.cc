// `push`: an image's blobs and manifest, exactly as stored, to a registry, so its digests
// there are the ones it has here. Each blob is asked for with HEAD first, mounted from another
// repository of the same registry when the image came from one, else uploaded (streamed from
// the blob store), several at once (max-concurrent-uploads); the manifest goes last.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/strings.h"
#include "engine/diagnostics.h"
#include "engine/events.h"
#include "engine/images/internal.h"
#include "engine/images/reference.h"
#include "engine/images/store.h"
#include "os/error.h"
#include "os/fs.h"
#include "registry/client.h"

namespace bd::engine {

using nlohmann::json;
using image_json::ParseJson;

namespace {

struct Blob {
  std::string digest;
  int64_t size = 0;
};

}  // namespace

Result<PushResult> ImageStore::Push(std::string_view ref_text, const PullOptions& opts) {
  return Tracked(OperationLog::Of(paths_.root), "image", "push", std::string(ref_text), [&]() -> Result<PushResult> {
    BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(ref_text));
    if (!ref.digest.empty()) {
      return Status::InvalidArgument("cannot push a digest reference: " + std::string(ref_text) + " (push a tag)");
    }
    auto image = Resolve(ref.Canonical());
    if (!image.ok()) {
      if (image.status().code() == Code::kNotFound) {
        return Status::NotFound("An image does not exist locally with the tag: " + ref.Canonical());
      }
      return image.status();
    }
    BD_ASSIGN_OR_RETURN(std::string manifest_digest, ManifestOf(*image, ref.Canonical()));
    BD_ASSIGN_OR_RETURN(std::string manifest_body, blobs_->Read(manifest_digest));
    json doc = ParseJson(manifest_body);
    if (!doc.is_object() || !doc.contains("config") || !doc.contains("layers") || !doc["layers"].is_array()) {
      return Status::Internal("the stored manifest of " + ref.Canonical() + " lacks config or layers");
    }
    std::string media_type = doc.contains("mediaType") && doc["mediaType"].is_string()
                                 ? doc["mediaType"].get<std::string>() : std::string(kMediaManifest);
    std::vector<Blob> blobs;
    for (const json& l : doc["layers"]) {
      blobs.push_back({l.value("digest", ""), l.value("size", int64_t{0})});
    }
    blobs.push_back({doc["config"].value("digest", ""), doc["config"].value("size", int64_t{0})});
    for (const Blob& b : blobs) {
      BD_RETURN_IF_ERROR(ValidateDigest(b.digest).WithContext("the stored manifest of " + ref.Canonical()));
      if (!blobs_->Has(b.digest)) {
        return Status::FailedPrecondition("blob " + b.digest + " of " + ref.Canonical() +
                                          " is not in the store; pull or load the image again");
      }
    }
    BD_ASSIGN_OR_RETURN(registry::Registries regs, LoadRegistries(paths_));
    BD_RETURN_IF_ERROR(regs.CheckAllowed(ref.Domain()));
    registry::CredentialStore creds = registry::CredentialStore::Load(paths_.Credentials());
    auto session = NewRegistrySession(regs.PushEndpoint(ref.Domain()), ref, creds, /*push=*/true);
    // A repository of the same registry the image is known in: blobs are mounted from there,
    // best one that has this very manifest (its blobs, not another compression's).
    std::string mount_from;
    BD_ASSIGN_OR_RETURN(std::vector<std::string> known, RepoDigests(image->id));
    for (const std::string& name : known) {
      auto other = ParseImageRef(name);
      if (!other.ok() || other->Domain() != ref.Domain() || other->RemotePath() == ref.RemotePath()) continue;
      if (mount_from.empty() || other->digest == manifest_digest) mount_from = other->RemotePath();
      if (other->digest == manifest_digest) break;
    }
    if (!mount_from.empty()) session->extra_scopes.push_back("repository:" + mount_from + ":pull");
    std::mutex report_mu;
    auto report = [&](const PullProgress& p) {
      std::lock_guard<std::mutex> g(report_mu);
      if (opts.progress) opts.progress(p);
    };
    if (opts.message) opts.message("The push refers to repository [" + ref.Domain() + "/" + ref.RemotePath() + "]");
    for (size_t i = 0; i + 1 < blobs.size(); ++i) {
      report({std::string(DigestHex(blobs[i].digest)).substr(0, 12), PullProgress::Phase::kWaiting, 0, blobs[i].size});
    }
    auto push_one = [&](registry::Client& c, const Blob& b, bool shown) -> Status {
      std::string id = std::string(DigestHex(b.digest)).substr(0, 12);
      auto say = [&](PullProgress::Phase ph, int64_t cur = 0) {
        if (shown) report({id, ph, cur, b.size});
      };
      BD_ASSIGN_OR_RETURN(std::optional<int64_t> there, c.BlobSize(b.digest));
      if (there) {
        say(PullProgress::Phase::kExists);
        return {};
      }
      BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(blobs_->PathFor(b.digest), O_RDONLY | O_CLOEXEC));
      int64_t sent = 0, last = 0;
      BD_ASSIGN_OR_RETURN(bool mounted, c.PutBlob(b.digest, b.size, [&](char* buf, size_t n) -> ssize_t {
        if (sent == 0 && last == 0) {
          last = -1;  // once: the registry asked for the content, so it is not a mount
          say(PullProgress::Phase::kDownloading, 0);
        }
        ssize_t got = os::RetryEintr([&] { return ::read(fd.get(), buf, n); });
        if (got > 0) {
          sent += got;
          if (sent - last >= (256 << 10)) {
            last = sent;
            say(PullProgress::Phase::kDownloading, sent);
          }
        }
        return got;
      }, mount_from));
      say(mounted ? PullProgress::Phase::kMounted : PullProgress::Phase::kDone);
      return {};
    };
    std::atomic<size_t> next{0};
    std::vector<Status> results(blobs.size());
    auto worker = [&] {
      registry::Client c(session);
      for (size_t i = next++; i < blobs.size(); i = next++) {
        results[i] = push_one(c, blobs[i], i + 1 < blobs.size());
        if (!results[i].ok()) next = blobs.size();
      }
    };
    // The first blob alone, so the workers share one authentication.
    registry::Client client(session);
    size_t first = next++;
    results[first] = push_one(client, blobs[first], first + 1 < blobs.size());
    BD_RETURN_IF_ERROR(results[first]);
    std::vector<std::thread> workers;
    size_t n = std::min<size_t>(blobs.size() - 1, static_cast<size_t>(regs.max_concurrent_uploads()));
    for (size_t i = 0; i < n; ++i) workers.emplace_back(worker);
    for (std::thread& t : workers) t.join();
    for (const Status& st : results) BD_RETURN_IF_ERROR(st);
    BD_ASSIGN_OR_RETURN(std::string digest, client.PutManifest(ref.tag, media_type, manifest_body));
    BD_RETURN_IF_ERROR(db_->WriteTxn([&] { return RecordRepoDigest(ref.repository + "@" + digest, image->id); }));
    EventLog events(db_);
    (void)events.Emit("image", "push", image->id, {{"name", ref.Canonical()}});
    return PushResult{ref.tag, digest, static_cast<int64_t>(manifest_body.size())};
  });
}

}  // namespace bd::engine
