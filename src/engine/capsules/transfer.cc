// A capsule and its dependencies out to one archive (`capsule export`) and back in
// (`capsule import`), every blob verified before it is recorded.
#include "engine/capsules/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "base/digest.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/capsules/internal.h"
#include "engine/containers/store.h"
#include "engine/daemon_config.h"
#include "engine/diagnostics.h"
#include "os/error.h"
#include "os/fs.h"
#include "store/archive.h"

namespace bd::engine {

using nlohmann::json;
using capsule_internal::ContentDigestOf;
using capsule_internal::DependenciesFromJson;
using capsule_internal::DependenciesJson;

Status CapsuleStore::Export(const Capsule& c, const std::string& path) {
  return Tracked(OperationLog::Of(paths_.root), "capsule", "export", c.name + ":" + c.version, [&]() -> Status {
    if (path.empty()) return Status::InvalidArgument("-o FILE is required");
    BD_RETURN_IF_ERROR(Verify(c));
    BD_ASSIGN_OR_RETURN(std::string manifest, blobs_->Read(c.digest));
    json index = {{"schemaVersion", 2},
                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                  {"manifests",
                   {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"artifactType", kCapsuleArtifactType},
                     {"digest", c.digest},
                     {"size", manifest.size()},
                     {"annotations", {{"org.opencontainers.image.ref.name", c.version},
                                      {"org.opencontainers.image.title", c.name}}}}}}};
    std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    BD_ASSIGN_OR_RETURN(UniqueFd out, os::Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, c.secret ? 0600 : 0644));
    Status st = [&]() -> Status {
      store::TarBuilder tar([&](std::string_view data) { return os::WriteAll(out.get(), data); });
      store::TarBuilder::Meta file;
      store::TarBuilder::Meta dir{0755, 0, 0, 0};
      BD_RETURN_IF_ERROR(tar.AddFile("oci-layout", R"({"imageLayoutVersion":"1.0.0"})", file));
      BD_RETURN_IF_ERROR(tar.AddFile("index.json", index.dump(), file));
      BD_RETURN_IF_ERROR(tar.AddDir("blobs", dir));
      BD_RETURN_IF_ERROR(tar.AddDir("blobs/sha256", dir));
      for (const std::string& d : {c.digest, c.config_digest, c.layer_digest}) {
        BD_RETURN_IF_ERROR(tar.AddFileFromDisk("blobs/sha256/" + std::string(DigestHex(d)), blobs_->PathFor(d), file));
      }
      BD_RETURN_IF_ERROR(tar.Finish());
      if (::fsync(out.get()) < 0) return os::ErrnoStatus("fsync `" + tmp + "`");
      if (::rename(tmp.c_str(), path.c_str()) < 0) return os::ErrnoStatus("rename to `" + path + "`");
      return {};
    }();
    if (!st.ok()) ::unlink(tmp.c_str());
    return st;
  });
}

Result<std::vector<Capsule>> CapsuleStore::Import(const std::string& path, std::vector<bool>* created) {
  return Tracked(OperationLog::Of(paths_.root), "capsule", "import", path, [&]() -> Result<std::vector<Capsule>> {
    BD_ASSIGN_OR_RETURN(UniqueFd in, os::Open(path, O_RDONLY));
    BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
    BD_RETURN_IF_ERROR(os::MkdirAll(paths_.Tmp(), 0700));
    BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "capsule-import-"));
    store::UnpackOptions unpack;
    BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths_));
    unpack.min_free_bytes = daemon.storage_reserve;
    unpack.preserve_owner = false;
    BD_RETURN_IF_ERROR(store::UnpackTar(in.get(), tmp.path(), unpack).status().WithContext("read `" + path + "`"));
    return ImportLayout(tmp.path(), "`" + path + "`", created);
  });
}

Result<std::vector<Capsule>> CapsuleStore::ImportLayout(const std::string& dir, const std::string& what,
                                                        std::vector<bool>* created) {
  {
    int root = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return os::ErrnoStatus("open the unpacked archive");
    UniqueFd root_fd(root);
    // Every path the archive's JSON names is opened beneath the unpacked directory only.
    auto read_in = [&](const std::string& rel) -> Result<std::string> {
      BD_ASSIGN_OR_RETURN(UniqueFd fd, os::OpenInRoot(root_fd.get(), rel, O_RDONLY));
      return os::ReadAll(fd.get());
    };
    auto blob_path = [&](const std::string& digest) -> Result<std::string> {
      if (digest.rfind("sha256:", 0) != 0 || DigestHex(digest).size() != 64 ||
          DigestHex(digest).find_first_not_of("0123456789abcdef") != std::string_view::npos) {
        return Status::InvalidArgument("bad digest \"" + digest + "\" in the archive");
      }
      // Real directories and a regular file all the way: a symlink in the archive must never
      // make us read (and adopt) a file from elsewhere on the host.
      std::string rel = "blobs/sha256/" + std::string(DigestHex(digest));
      for (const std::string& part : {std::string("blobs"), std::string("blobs/sha256"), rel}) {
        struct stat st;
        if (::fstatat(root_fd.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
          return os::ErrnoStatus("archive entry `" + part + "`");
        }
        bool ok = part == rel ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode);
        if (!ok) return Status::InvalidArgument("archive entry `" + part + "` is not a plain " +
                                                (part == rel ? "file" : "directory"));
      }
      return dir + "/" + rel;
    };
    BD_ASSIGN_OR_RETURN(std::string index_text, read_in("index.json"));
    json index = json::parse(index_text, nullptr, false);
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
      return Status::InvalidArgument(what + " is not an OCI image layout (no index.json manifests)");
    }
    std::vector<Capsule> staged;
    try {
      for (const json& desc : index["manifests"]) {
        std::string digest = desc.at("digest").get<std::string>();
        BD_ASSIGN_OR_RETURN(std::string mpath, blob_path(digest));
        BD_ASSIGN_OR_RETURN(std::string manifest_text, os::ReadFile(mpath));
        if (Sha256Digest(manifest_text) != digest) return Status::InvalidArgument("manifest " + digest + " does not match its digest");
        json manifest = json::parse(manifest_text, nullptr, false);
        if (!manifest.is_object() || manifest.value("artifactType", "") != kCapsuleArtifactType) {
          return Status::InvalidArgument("manifest " + digest + " is not a capsule");
        }
        std::string config_digest = manifest.at("config").at("digest").get<std::string>();
        BD_ASSIGN_OR_RETURN(std::string cpath, blob_path(config_digest));
        BD_ASSIGN_OR_RETURN(std::string config_text, os::ReadFile(cpath));
        if (Sha256Digest(config_text) != config_digest) {
          return Status::InvalidArgument("config " + config_digest + " does not match its digest");
        }
        json config = json::parse(config_text, nullptr, false);
        if (!config.is_object()) return Status::InvalidArgument("capsule config is not JSON");
        if (!manifest.at("layers").is_array() || manifest["layers"].size() != 1) {
          return Status::InvalidArgument("a capsule manifest has exactly one layer");
        }
        std::string layer_digest = manifest["layers"][0].at("digest").get<std::string>();
        BD_ASSIGN_OR_RETURN(std::string lpath, blob_path(layer_digest));
        Capsule c;
        c.name = config.at("name").get<std::string>();
        c.version = config.at("version").get<std::string>();
        BD_RETURN_IF_ERROR(ValidateCapsuleName(c.name));
        BD_RETURN_IF_ERROR(ParseVersion(c.version).status());
        c.digest = digest;
        c.config_digest = config_digest;
        c.layer_digest = layer_digest;
        c.content_digest = config.at("contentDigest").get<std::string>();
        c.size = config.value("size", int64_t{0});
        c.files = config.value("files", int64_t{0});
        c.secret = config.value("secret", false);
        const json labels = config.value("labels", json::object());
        for (const auto& [k, v] : labels.items()) c.labels[k] = v.get<std::string>();
        c.dependencies = DependenciesFromJson(config.value("requires", json::array()).dump());
        for (const Dependency& d : c.dependencies) {
          BD_RETURN_IF_ERROR(ValidateCapsuleName(d.name));
          BD_RETURN_IF_ERROR(Constraint::Parse(d.constraint).status());
        }
        // The layer: its own digest (checked on adoption) and the content it unpacks to.
        BD_ASSIGN_OR_RETURN(std::string content, ContentDigestOf(lpath));
        if (content != c.content_digest) {
          return Status::InvalidArgument("capsule " + c.Ref() + ": content is " + content + ", config says " +
                                         c.content_digest);
        }
        struct stat st;
        c.blob_size = ::stat(lpath.c_str(), &st) == 0 ? st.st_size : 0;
        staged.push_back(std::move(c));
      }
    } catch (const json::exception& e) {
      return Status::InvalidArgument(std::string("capsule archive: ") + e.what());
    }
    if (staged.empty()) return Status::InvalidArgument(what + " holds no capsule");
    // All verified: check immutability for every one, then store blobs and rows.
    std::vector<Capsule> out;
    created->clear();
    for (Capsule& c : staged) {
      BD_ASSIGN_OR_RETURN(std::optional<Capsule> existing, Existing(c));
      if (existing) {
        out.push_back(*existing);
        created->push_back(false);
        continue;
      }
      for (const std::string& d : {c.digest, c.config_digest, c.layer_digest}) {
        BD_ASSIGN_OR_RETURN(std::string p, blob_path(d));
        BD_RETURN_IF_ERROR(blobs_->AdoptFile(p, d).status());
      }
      BD_ASSIGN_OR_RETURN(std::optional<Capsule> raced, Insert(&c));
      out.push_back(raced ? *raced : c);
      created->push_back(!raced);
    }
    return out;
  }
}
}  // namespace bd::engine
