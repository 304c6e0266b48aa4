// `capsule create`: a directory packed into a deterministic tar, compressed with zstd into a
// content-addressed blob, recorded with its dependencies.
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

namespace {

struct PackStats {
  int64_t files = 0;
  int64_t bytes = 0;
};

// Adds `host` as `name` (recursively for directories), in sorted order and with fixed owner
// and time, so equal content always makes the same tar. Only files, directories and symlinks.
Status AddTree(store::TarBuilder& tar, const std::string& host, const std::string& name,
               PackStats* stats) {
  struct stat st;
  if (::lstat(host.c_str(), &st) < 0) return os::ErrnoStatus("stat `" + host + "`");
  store::TarBuilder::Meta meta;
  meta.mode = st.st_mode & 0777;  // no setuid, setgid or sticky bits in a capsule
  if (S_ISDIR(st.st_mode)) {
    if (!name.empty()) {
      BD_RETURN_IF_ERROR(tar.AddDir(name, meta));
      ++stats->files;
    }
    BD_ASSIGN_OR_RETURN(std::vector<std::string> children, os::ListDir(host));
    for (const std::string& child : children) {
      BD_RETURN_IF_ERROR(AddTree(tar, host + "/" + child, name.empty() ? child : name + "/" + child, stats));
    }
    return {};
  }
  ++stats->files;
  if (S_ISREG(st.st_mode)) {
    stats->bytes += st.st_size;
    return tar.AddFileFromDisk(name, host, meta);
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    ssize_t n = ::readlink(host.c_str(), target.data(), target.size());
    if (n < 0) return os::ErrnoStatus("readlink `" + host + "`");
    target.resize(static_cast<size_t>(n));
    return tar.AddSymlink(name, target, meta);
  }
  return Status::InvalidArgument("`" + host +
                                 "` is not a file, directory or symlink: a capsule holds only those");
}

// Streams bytes through zstd into a blob.
class ZstdBlobSink {
 public:
  explicit ZstdBlobSink(store::BlobWriter* out) : out_(out), ctx_(ZSTD_createCCtx(), ZSTD_freeCCtx) {
    ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_compressionLevel, 3);
    // Two workers whatever the machine: the output depends on the worker count, and equal
    // content must give an equal blob everywhere.
    ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_nbWorkers, 2);
    ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_checksumFlag, 1);
  }
  Status Write(std::string_view data, bool end) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::string buf(ZSTD_CStreamOutSize(), '\0');
    for (;;) {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      size_t left = ZSTD_compressStream2(ctx_.get(), &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(left));
      if (out.pos) BD_RETURN_IF_ERROR(out_->Write(std::string_view(buf.data(), out.pos)));
      if (end ? left == 0 : in.pos == in.size) return {};
    }
  }

 private:
  store::BlobWriter* out_;
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx_;
};

}  // namespace

Result<Capsule> CapsuleStore::Create(const CapsuleCreateOptions& opts, bool* created) {
  return Tracked(OperationLog::Of(paths_.root), "capsule", "create", opts.name + ":" + opts.version, [&]() -> Result<Capsule> {
    *created = false;
    BD_RETURN_IF_ERROR(ValidateCapsuleName(opts.name));
    BD_RETURN_IF_ERROR(ParseVersion(opts.version).status());
    for (const Dependency& d : opts.dependencies) {
      BD_RETURN_IF_ERROR(ValidateCapsuleName(d.name));
      BD_RETURN_IF_ERROR(Constraint::Parse(d.constraint).status());
      if (d.name == opts.name) {
        return Status::InvalidArgument("capsule " + opts.name + " cannot depend on itself");
      }
    }
    for (const auto& [k, v] : opts.labels) {
      if (k.empty()) return Status::InvalidArgument("empty label key");
      BD_RETURN_IF_ERROR(ValidateUtf8("a label key (-l)", k));
      BD_RETURN_IF_ERROR(ValidateUtf8("a label value (-l)", v));
    }
    if (opts.path.empty()) return Status::InvalidArgument("--path is required");
    struct stat st;
    if (::lstat(opts.path.c_str(), &st) < 0) {
      return os::ErrnoStatus("capsule content `" + opts.path + "`");
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
      return Status::InvalidArgument("capsule content `" + opts.path + "` is not a file or a directory");
    }
    // The kernel's pseudo filesystems report sizes their files do not have (0 for /proc's).
    if (struct statfs fs; ::statfs(opts.path.c_str(), &fs) == 0) {
      static constexpr std::pair<long, const char*> kPseudo[] = {
          {0x9fa0, "proc"}, {0x62656572, "sysfs"}, {0x64626720, "debugfs"}, {0x74726163, "tracefs"},
          {0x27e0eb, "cgroup"}, {0x63677270, "cgroup2"}, {0x73636673, "securityfs"}};
      for (const auto& [magic, fs_name] : kPseudo) {
        if (static_cast<long>(fs.f_type) == magic) {
          return Status::InvalidArgument("capsule content `" + opts.path + "` is on " + fs_name +
                                         ", a kernel pseudo filesystem: copy it to a real file first");
        }
      }
    }
    BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));

    // Pack: tar -> (sha256 of the content, zstd -> blob).
    BD_ASSIGN_OR_RETURN(store::BlobWriter layer, blobs_->NewWriter());
    ZstdBlobSink zstd(&layer);
    Sha256Hasher content_hash;
    PackStats stats;
    {
      store::TarBuilder tar([&](std::string_view data) -> Status {
        content_hash.Update(data);
        return zstd.Write(data, false);
      });
      if (S_ISDIR(st.st_mode)) {
        BD_RETURN_IF_ERROR(AddTree(tar, opts.path, "", &stats));
      } else {
        BD_RETURN_IF_ERROR(AddTree(tar, opts.path, os::Basename(opts.path), &stats));
      }
      BD_RETURN_IF_ERROR(tar.Finish());
    }
    BD_RETURN_IF_ERROR(zstd.Write("", true));
    std::string content_digest = content_hash.Finish();

    json config = {{"name", opts.name},
                   {"version", opts.version},
                   {"secret", opts.secret},
                   {"labels", opts.labels},
                   {"requires", DependenciesJson(opts.dependencies)},
                   {"contentDigest", content_digest},
                   {"size", stats.bytes},
                   {"files", stats.files}};
    std::string config_text = config.dump();
    std::string config_digest = Sha256Digest(config_text);

    // Equal content is stored once: an existing blob of the same content is reused.
    std::string layer_digest;
    int64_t blob_size = 0;
    {
      BD_ASSIGN_OR_RETURN(store::Statement same,
                          db_->Prepare("SELECT layer_digest, blob_size FROM capsules "
                                       "WHERE content_digest = ? LIMIT 1"));
      same.BindAll(content_digest);
      BD_ASSIGN_OR_RETURN(bool row, same.Step());
      if (row && blobs_->Has(same.Text(0))) {
        layer_digest = same.Text(0);
        blob_size = same.Int(1);
      }
    }
    json manifest_layer = {{"mediaType", kCapsuleLayerType},
                           {"annotations", {{"org.opencontainers.image.title", opts.name}}}};
    if (layer_digest.empty()) {
      blob_size = layer.size();
      BD_ASSIGN_OR_RETURN(store::BlobInfo info, layer.Commit());
      layer_digest = info.digest;
    }
    manifest_layer["digest"] = layer_digest;
    manifest_layer["size"] = blob_size;
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"artifactType", kCapsuleArtifactType},
                     {"config", {{"mediaType", kCapsuleConfigType},
                                 {"digest", config_digest},
                                 {"size", config_text.size()}}},
                     {"layers", json::array({manifest_layer})},
                     {"annotations", {{"org.opencontainers.image.title", opts.name},
                                      {"org.opencontainers.image.version", opts.version}}}};
    std::string manifest_text = manifest.dump();
    std::string digest = Sha256Digest(manifest_text);

    Capsule c;
    c.name = opts.name;
    c.version = opts.version;
    c.digest = digest;
    c.config_digest = config_digest;
    c.layer_digest = layer_digest;
    c.content_digest = content_digest;
    c.size = stats.bytes;
    c.blob_size = blob_size;
    c.files = stats.files;
    c.secret = opts.secret;
    c.labels = opts.labels;
    c.dependencies = opts.dependencies;
    BD_ASSIGN_OR_RETURN(std::optional<Capsule> existing, Existing(c));
    if (existing) return *existing;  // the same again: a NOOP
    BD_RETURN_IF_ERROR(blobs_->Put(config_text).status());
    BD_RETURN_IF_ERROR(blobs_->Put(manifest_text).status());
    BD_ASSIGN_OR_RETURN(std::optional<Capsule> raced, Insert(&c));
    if (raced) return *raced;
    *created = true;
    return c;
  });
}
}  // namespace bd::engine
