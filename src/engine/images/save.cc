// `save`: images written back out as they are stored (same manifest, config and layer blobs,
// so the same digests), as an OCI image layout (`--format oci`) or a docker save archive, which
// is the same layout with Docker's manifest.json beside it (as Docker 25
// writes it), so `load`, `docker load`, skopeo and podman read either.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "engine/diagnostics.h"
#include "engine/images/internal.h"
#include "engine/images/reference.h"
#include "engine/images/store.h"
#include "store/archive.h"

namespace bd::engine {

using nlohmann::json;
using image_json::ParseJson;

Status ImageStore::Save(const std::vector<std::string>& refs, std::string_view format,
                        const store::ByteSink& sink) {
  if (format != "docker" && format != "oci") {
    return Status::InvalidArgument("unknown save format \"" + std::string(format) + "\": docker or oci");
  }
  if (refs.empty()) return Status::InvalidArgument("save needs at least one image");
  return Tracked(OperationLog::Of(paths_.root), "image", "save", Join(refs, " "), [&]() -> Status {
    struct Entry {
      Image image;
      std::vector<std::string> tags;
      std::string manifest;
      std::string media_type;
      std::vector<std::string> blobs;  // config first, then layers
    };
    std::vector<Entry> entries;
    for (const std::string& r : refs) {
      BD_ASSIGN_OR_RETURN(Image img, Resolve(r));
      Entry e;
      auto parsed = ParseImageRef(r);
      bool by_tag = parsed.ok() && parsed->digest.empty() &&
                    std::find(img.tags.begin(), img.tags.end(), parsed->Canonical()) != img.tags.end();
      e.tags = by_tag ? std::vector<std::string>{parsed->Canonical()} : img.tags;
      BD_ASSIGN_OR_RETURN(std::string manifest_digest, ManifestOf(img, r));
      BD_ASSIGN_OR_RETURN(e.manifest, blobs_->Read(manifest_digest));
      img.manifest_digest = manifest_digest;  // what this entry of the archive names
      json m = ParseJson(e.manifest);
      if (!m.is_object() || !m.contains("config") || !m.contains("layers") || !m["layers"].is_array()) {
        return Status::Internal("the stored manifest of " + r + " lacks config or layers");
      }
      e.media_type = m.contains("mediaType") && m["mediaType"].is_string() ? m["mediaType"].get<std::string>()
                                                                           : std::string(kMediaManifest);
      e.blobs.push_back(m["config"].value("digest", ""));
      for (const json& l : m["layers"]) e.blobs.push_back(l.value("digest", ""));
      for (const std::string& d : e.blobs) {
        BD_RETURN_IF_ERROR(ValidateDigest(d).WithContext("the stored manifest of " + r));
        if (!blobs_->Has(d)) {
          return Status::FailedPrecondition("blob " + d + " of " + r + " is not in the store; pull or load the image again");
        }
      }
      e.image = std::move(img);
      entries.push_back(std::move(e));
    }
    store::TarBuilder tar(sink);
    store::TarBuilder::Meta dir_meta{0755, 0, 0, 0};
    store::TarBuilder::Meta file_meta{0644, 0, 0, 0};
    BD_RETURN_IF_ERROR(tar.AddDir("blobs", dir_meta));
    BD_RETURN_IF_ERROR(tar.AddDir("blobs/sha256", dir_meta));
    std::set<std::string> written;
    auto add_blob = [&](const std::string& digest) -> Status {
      if (!written.insert(digest).second) return {};
      return tar.AddFileFromDisk("blobs/sha256/" + std::string(DigestHex(digest)), blobs_->PathFor(digest), file_meta);
    };
    json index = {{"schemaVersion", 2}, {"mediaType", kMediaIndex}, {"manifests", json::array()}};
    json docker_manifest = json::array();
    for (const Entry& e : entries) {
      for (const std::string& d : e.blobs) BD_RETURN_IF_ERROR(add_blob(d));
      BD_RETURN_IF_ERROR(add_blob(e.image.manifest_digest));
      json desc = {{"mediaType", e.media_type},
                   {"digest", e.image.manifest_digest},
                   {"size", static_cast<int64_t>(e.manifest.size())}};
      if (e.tags.empty()) index["manifests"].push_back(desc);
      json repo_tags = json::array();
      for (const std::string& t : e.tags) {
        BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(t));
        std::string full = ref.Domain() + "/" + ref.RemotePath() + ":" + ref.tag;
        json tagged = desc;
        tagged["annotations"] = {{"io.containerd.image.name", full}, {"org.opencontainers.image.ref.name", ref.tag}};
        index["manifests"].push_back(std::move(tagged));
        repo_tags.push_back(t);
      }
      json layers = json::array();
      for (size_t i = 1; i < e.blobs.size(); ++i) layers.push_back("blobs/sha256/" + std::string(DigestHex(e.blobs[i])));
      docker_manifest.push_back({{"Config", "blobs/sha256/" + std::string(DigestHex(e.blobs[0]))},
                                 {"RepoTags", repo_tags.empty() ? json(nullptr) : repo_tags},
                                 {"Layers", std::move(layers)}});
    }
    BD_RETURN_IF_ERROR(tar.AddFile("oci-layout", R"({"imageLayoutVersion":"1.0.0"})", file_meta));
    BD_RETURN_IF_ERROR(tar.AddFile("index.json", index.dump(), file_meta));
    if (format == "docker") {
      BD_RETURN_IF_ERROR(tar.AddFile("manifest.json", docker_manifest.dump(), file_meta));
    }
    return tar.Finish();
  });
}

}  // namespace bd::engine
