// Capsules over the OCI distribution API: `capsule push` and `capsule pull`.
//
// A capsule is already an OCI artifact (manifest with the capsule's artifactType, config, one
// zstd layer). A push sends it and every capsule of its dependency closure into one repository,
// each manifest by its digest, then an OCI index naming them all (the pushed capsule first,
// then its dependencies, by digest) under the tag. A pull reads that index (or a lone capsule
// manifest), downloads each manifest, config and layer into a scratch OCI layout, checking
// every digest as it arrives, and records them as `capsule import` does.
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/strings.h"
#include "engine/capsules/store.h"
#include "engine/diagnostics.h"
#include "engine/images/reference.h"
#include "engine/images/store.h"
#include "os/error.h"
#include "os/fs.h"
#include "registry/client.h"

namespace bd::engine {

using nlohmann::json;

namespace {

// The repository and tag a capsule reference names; the tag defaults to `default_tag`.
Result<ImageRef> CapsuleRepoRef(const std::string& ref, const std::string& default_tag) {
  BD_ASSIGN_OR_RETURN(ImageRef r, ParseImageRef(ref));
  if (!r.digest.empty()) return r;
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  bool explicit_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  if (!explicit_tag && !default_tag.empty()) {
    // A capsule version (semver: 1.2.3, 1.0.0-rc.1+build) as a tag: '+' is not allowed there.
    std::string tag = default_tag;
    for (char& ch : tag) {
      if (ch == '+') ch = '_';
    }
    r.tag = tag;
  }
  return r;
}

}  // namespace

Result<std::string> CapsuleStore::Push(const Capsule& root, const std::string& ref_text, std::string* tag) {
  return Tracked(OperationLog::Of(paths_.root), "capsule", "push", root.Ref() + " " + ref_text, [&]() -> Result<std::string> {
    BD_ASSIGN_OR_RETURN(ImageRef ref, CapsuleRepoRef(ref_text, root.version));
    if (!ref.digest.empty()) return Status::InvalidArgument("cannot push to a digest reference: " + ref_text);
    if (root.secret) {
      return Status::FailedPrecondition("capsule " + root.Ref() + " is a secret: secrets are never pushed to a registry");
    }
    BD_ASSIGN_OR_RETURN(std::vector<Capsule> closure, Closure(root));
    for (const Capsule& c : closure) {
      if (c.secret) return Status::FailedPrecondition("dependency " + c.Ref() + " is a secret: secrets are never pushed");
      BD_RETURN_IF_ERROR(Verify(c));
    }
    BD_ASSIGN_OR_RETURN(registry::Registries regs, LoadRegistries(paths_));
    BD_RETURN_IF_ERROR(regs.CheckAllowed(ref.Domain()));
    registry::CredentialStore creds = registry::CredentialStore::Load(paths_.Credentials());
    registry::Client client(NewRegistrySession(regs.PushEndpoint(ref.Domain()), ref, creds, /*push=*/true));
    // The root first in the index: Closure lists dependencies first.
    std::vector<const Capsule*> order = {&closure.back()};
    for (size_t i = 0; i + 1 < closure.size(); ++i) order.push_back(&closure[i]);
    json manifests = json::array();
    for (const Capsule* c : order) {
      for (const std::string& d : {c->config_digest, c->layer_digest}) {
        BD_ASSIGN_OR_RETURN(std::optional<int64_t> there, client.BlobSize(d));
        if (there) continue;
        BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(blobs_->PathFor(d), O_RDONLY | O_CLOEXEC));
        int64_t size = blobs_->SizeOf(d);
        BD_RETURN_IF_ERROR(client.PutBlob(d, size, [&](char* buf, size_t n) -> ssize_t {
          return os::RetryEintr([&] { return ::read(fd.get(), buf, n); });
        }, "").status());
      }
      BD_ASSIGN_OR_RETURN(std::string manifest, blobs_->Read(c->digest));
      BD_RETURN_IF_ERROR(client.PutManifest(c->digest, registry::kOciManifest, manifest).status());
      manifests.push_back({{"mediaType", registry::kOciManifest},
                           {"artifactType", kCapsuleArtifactType},
                           {"digest", c->digest},
                           {"size", manifest.size()},
                           {"annotations", {{"org.opencontainers.image.title", c->name},
                                            {"org.opencontainers.image.version", c->version}}}});
    }
    json index = {{"schemaVersion", 2},
                  {"mediaType", registry::kOciIndex},
                  {"artifactType", kCapsuleArtifactType},
                  {"manifests", std::move(manifests)},
                  {"annotations", {{"org.opencontainers.image.title", root.name},
                                   {"org.opencontainers.image.version", root.version}}}};
    *tag = ref.tag;
    return client.PutManifest(ref.tag, registry::kOciIndex, index.dump());
  });
}

Result<std::vector<Capsule>> CapsuleStore::Pull(const std::string& ref_text, std::vector<bool>* created) {
  return Tracked(OperationLog::Of(paths_.root), "capsule", "pull", ref_text, [&]() -> Result<std::vector<Capsule>> {
    BD_ASSIGN_OR_RETURN(ImageRef ref, CapsuleRepoRef(ref_text, ""));
    BD_ASSIGN_OR_RETURN(registry::Registries regs, LoadRegistries(paths_));
    BD_RETURN_IF_ERROR(regs.CheckAllowed(ref.Domain()));
    registry::CredentialStore creds = registry::CredentialStore::Load(paths_.Credentials());
    const std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
    Status last;
    for (const registry::Endpoint& ep : regs.PullEndpoints(ref.Domain())) {
      registry::Client client(NewRegistrySession(ep, ref, creds, false));
      auto top = client.GetManifest(reference);
      if (!top.ok()) {
        last = top.status();
        if (ep.mirror) continue;
        return last;
      }
      json doc = json::parse(top->body, nullptr, false);
      auto type_of = [](const json& j) {
        return j.is_object() && j.contains("artifactType") && j["artifactType"].is_string()
                   ? j["artifactType"].get<std::string>() : std::string();
      };
      std::vector<std::string> digests;
      if (top->media_type == registry::kOciIndex) {
        if (type_of(doc) != kCapsuleArtifactType || !doc.contains("manifests") || !doc["manifests"].is_array()) {
          return Status::InvalidArgument(ref.Canonical() + " is not a capsule (an index of artifact type \"" + type_of(doc) + "\")");
        }
        for (const json& d : doc["manifests"]) {
          if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string() || type_of(d) != kCapsuleArtifactType) {
            return Status::InvalidArgument("the capsule index of " + ref.Canonical() + " names something that is not a capsule");
          }
          digests.push_back(d["digest"].get<std::string>());
        }
      } else {
        if (type_of(doc) != kCapsuleArtifactType) {
          return Status::InvalidArgument(ref.Canonical() + " is not a capsule (its artifact type is \"" + type_of(doc) +
                                         "\"); an image is pulled with `pull`");
        }
        digests.push_back(top->digest);
      }
      if (digests.empty()) return Status::InvalidArgument("the capsule index of " + ref.Canonical() + " is empty");
      BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
      BD_RETURN_IF_ERROR(os::MkdirAll(paths_.Tmp(), 0700));
      BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "capsule-pull-"));
      BD_RETURN_IF_ERROR(os::MkdirAll(tmp.path() + "/blobs/sha256", 0700));
      auto blob_file = [&](const std::string& d) { return tmp.path() + "/blobs/sha256/" + std::string(DigestHex(d)); };
      // Each blob lands in the scratch layout only once its digest checks.
      auto fetch = [&](const std::string& d) -> Status {
        BD_RETURN_IF_ERROR(ValidateDigest(d));
        if (os::Exists(blob_file(d))) return {};
        std::string part = blob_file(d) + ".part";
        BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        Sha256Hasher hasher;
        Status sink;
        int64_t got = 0;
        BD_RETURN_IF_ERROR(client.GetBlob(d, 0, [&](std::string_view chunk) {
          got += static_cast<int64_t>(chunk.size());
          if (got > (int64_t{8} << 30)) {
            sink = Status::InvalidArgument("blob " + d + " is larger than 8 GiB");
            return false;
          }
          hasher.Update(chunk);
          sink = os::WriteAll(fd.get(), chunk);
          return sink.ok();
        }));
        BD_RETURN_IF_ERROR(sink);
        std::string actual = hasher.Finish();
        if (actual != d) {
          return Status::InvalidArgument("blob " + d + " of capsule " + ref.Canonical() + " from " + ref.Domain() +
                                         " is corrupt: its content has digest " + actual);
        }
        if (::rename(part.c_str(), blob_file(d).c_str()) < 0) return Status::Internal("rename `" + part + "` failed");
        return {};
      };
      json index_manifests = json::array();
      for (const std::string& d : digests) {
        BD_ASSIGN_OR_RETURN(registry::Manifest m, client.GetManifest(d));
        BD_RETURN_IF_ERROR(os::WriteFileAtomic(blob_file(d), m.body, 0600, false));
        json manifest = json::parse(m.body, nullptr, false);
        if (!manifest.is_object() || !manifest.contains("config") || !manifest["config"].is_object() ||
            !manifest.contains("layers") || !manifest["layers"].is_array() || manifest["layers"].size() != 1 ||
            !manifest["layers"][0].is_object()) {
          return Status::InvalidArgument("manifest " + d + " of " + ref.Canonical() + " is not a capsule manifest");
        }
        for (const json* desc : {&manifest["config"], &manifest["layers"][0]}) {
          if (!desc->contains("digest") || !(*desc)["digest"].is_string()) {
            return Status::InvalidArgument("manifest " + d + " has a descriptor without a digest");
          }
          BD_RETURN_IF_ERROR(fetch((*desc)["digest"].get<std::string>()));
        }
        index_manifests.push_back({{"mediaType", registry::kOciManifest}, {"digest", d}, {"size", m.body.size()}});
      }
      json index = {{"schemaVersion", 2}, {"manifests", std::move(index_manifests)}};
      BD_RETURN_IF_ERROR(os::WriteFileAtomic(tmp.path() + "/index.json", index.dump(), 0600, false));
      return ImportLayout(tmp.path(), ref.Canonical(), created);
    }
    return last;
  });
}

}  // namespace bd::engine
