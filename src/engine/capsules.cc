#include "engine/capsules.h"

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
#include "engine/containers.h"
#include "engine/daemon_config.h"
#include "os/error.h"
#include "os/fs.h"
#include "store/archive.h"

namespace bd::engine {

using nlohmann::json;

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

json DependenciesJson(const std::vector<Dependency>& deps) {
  json out = json::array();
  for (const Dependency& d : deps) {
    out.push_back({{"name", d.name}, {"constraint", d.constraint}, {"optional", d.optional}});
  }
  return out;
}

std::vector<Dependency> DependenciesFromJson(const std::string& text) {
  std::vector<Dependency> out;
  json j = json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const json& d : j) {
    out.push_back({d.value("name", ""), d.value("constraint", ""), d.value("optional", false)});
  }
  return out;
}

// Makes a secret tree root-only: directories 0700, files 0400.
Status LockDown(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) return os::ErrnoStatus("stat `" + path + "`");
  if (S_ISLNK(st.st_mode)) return {};
  if (::chmod(path.c_str(), S_ISDIR(st.st_mode) ? 0700 : 0400) < 0) {
    return os::ErrnoStatus("chmod `" + path + "`");
  }
  if (!S_ISDIR(st.st_mode)) return {};
  BD_ASSIGN_OR_RETURN(std::vector<std::string> children, os::ListDir(path));
  for (const std::string& c : children) BD_RETURN_IF_ERROR(LockDown(path + "/" + c));
  return {};
}

// sha256 of the decompressed content of a zstd blob.
Result<std::string> ContentDigestOf(const std::string& blob_path) {
  BD_ASSIGN_OR_RETURN(UniqueFd blob, os::Open(blob_path, O_RDONLY));
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  Sha256Hasher content;
  std::string in(ZSTD_DStreamInSize(), '\0'), out(ZSTD_DStreamOutSize(), '\0');
  size_t last = 0;
  for (;;) {
    ssize_t n = os::RetryEintr([&] { return ::read(blob.get(), in.data(), in.size()); });
    if (n < 0) return os::ErrnoStatus("read blob");
    if (n == 0) break;
    ZSTD_inBuffer ib{in.data(), static_cast<size_t>(n), 0};
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      last = ZSTD_decompressStream(ctx.get(), &ob, &ib);
      if (ZSTD_isError(last)) {
        return Status::InvalidArgument(std::string("blob does not decompress: ") + ZSTD_getErrorName(last));
      }
      content.Update(out.data(), ob.pos);
    }
  }
  if (last != 0) return Status::InvalidArgument("blob is a truncated zstd stream");
  return content.Finish();
}

constexpr const char* kColumns =
    "name, version, digest, config_digest, layer_digest, content_digest, size, blob_size, files, "
    "secret, labels, requires, created_at";

}  // namespace

Result<Capsule> CapsuleStore::Load(store::Statement& st) {
  Capsule c;
  c.name = st.Text(0);
  c.version = st.Text(1);
  c.digest = st.Text(2);
  c.config_digest = st.Text(3);
  c.layer_digest = st.Text(4);
  c.content_digest = st.Text(5);
  c.size = st.Int(6);
  c.blob_size = st.Int(7);
  c.files = st.Int(8);
  c.secret = st.Int(9) != 0;
  json labels = json::parse(st.Text(10), nullptr, false);
  if (labels.is_object()) {
    for (const auto& [k, v] : labels.items()) {
      if (v.is_string()) c.labels[k] = v.get<std::string>();
    }
  }
  c.dependencies = DependenciesFromJson(st.Text(11));
  c.created_at = st.Int(12);
  BD_ASSIGN_OR_RETURN(store::Statement users,
                      db_->Prepare("SELECT container_id FROM capsule_attachments "
                                   "WHERE name = ? AND version = ? ORDER BY container_id"));
  users.BindAll(c.name, c.version);
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, users.Step());
    if (!row) break;
    c.attached_to.push_back(users.Text(0));
  }
  return c;
}

Result<Capsule> CapsuleStore::Get(const std::string& name, const std::string& version) {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare(std::string("SELECT ") + kColumns +
                                   " FROM capsules WHERE name = ? AND version = ?"));
  st.BindAll(name, version);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("no such capsule: " + name + ":" + version);
  return Load(st);
}

Result<std::vector<Capsule>> CapsuleStore::List() {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare(std::string("SELECT ") + kColumns + " FROM capsules"));
  std::vector<Capsule> out;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    BD_ASSIGN_OR_RETURN(Capsule c, Load(st));
    out.push_back(std::move(c));
  }
  // By name, then by semantic version.
  std::sort(out.begin(), out.end(), [](const Capsule& a, const Capsule& b) {
    if (a.name != b.name) return a.name < b.name;
    auto va = ParseVersion(a.version), vb = ParseVersion(b.version);
    return va.ok() && vb.ok() ? *va < *vb : a.version < b.version;
  });
  return out;
}

Result<std::vector<Capsule>> CapsuleStore::Versions(const std::string& name) {
  BD_ASSIGN_OR_RETURN(std::vector<Capsule> all, List());
  std::erase_if(all, [&](const Capsule& c) { return c.name != name; });
  return all;
}

Result<Capsule> CapsuleStore::Create(const CapsuleCreateOptions& opts, bool* created) {
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
}

Result<std::optional<Capsule>> CapsuleStore::Existing(const Capsule& c) {
  auto existing = Get(c.name, c.version);
  if (!existing.ok()) {
    if (existing.status().code() != Code::kNotFound) return existing.status();
    // "1.0" beside "1.0.0" (or "1"): one version spelled two ways would make references and
    // constraints ambiguous.
    BD_ASSIGN_OR_RETURN(Version mine, ParseVersion(c.version));
    BD_ASSIGN_OR_RETURN(std::vector<Capsule> versions, Versions(c.name));
    for (const Capsule& other : versions) {
      auto theirs = ParseVersion(other.version);
      if (theirs.ok() && *theirs == mine && theirs->build == mine.build) {
        return Status::AlreadyExists("capsule " + c.Ref() + " would be ambiguous beside " + other.Ref() +
                                     ": the same version spelled differently");
      }
    }
    return std::optional<Capsule>();
  }
  if (existing->digest == c.digest) return std::optional<Capsule>(*existing);
  if (existing->content_digest == c.content_digest) {
    return Status::AlreadyExists("capsule " + c.Ref() +
                                 " already exists with the same content but other labels, "
                                 "dependencies or secrecy; versions are immutable");
  }
  return Status::AlreadyExists("capsule " + c.Ref() + " already exists with different content (" +
                               existing->content_digest + "); versions are immutable: create a new version");
}

Result<std::optional<Capsule>> CapsuleStore::Insert(Capsule* c) {
  if (c->secret && ::chmod(blobs_->PathFor(c->layer_digest).c_str(), 0600) < 0) {
    return os::ErrnoStatus("protect the secret capsule's blob");
  }
  c->created_at = NowNanos();
  std::optional<Capsule> existing;
  BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
    // Checked again under the write lock: of two racing creators of one NAME:VERSION, the
    // second finds the first's record (a NOOP, or the immutability error).
    BD_ASSIGN_OR_RETURN(existing, Existing(*c));
    if (existing) return {};
    BD_ASSIGN_OR_RETURN(store::Statement ins,
                        db_->Prepare(std::string("INSERT INTO capsules (") + kColumns +
                                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.BindAll(c->name, c->version, c->digest, c->config_digest, c->layer_digest, c->content_digest,
                c->size, c->blob_size, c->files, c->secret ? 1 : 0, json(c->labels).dump(),
                DependenciesJson(c->dependencies).dump(), c->created_at);
    return ins.Run();
  }));
  return existing;
}

Result<std::vector<Capsule>> CapsuleStore::Closure(const Capsule& root) {
  std::vector<Capsule> out;
  std::map<std::string, std::string> chosen;  // name -> version
  std::vector<std::string> path;              // NAME:VERSION from the root down
  auto chain = [&](const std::string& last) {
    std::string text;
    for (const std::string& p : path) text += p + " -> ";
    return text + last;
  };
  std::function<Status(const Capsule&)> visit = [&](const Capsule& c) -> Status {
    if (auto it = chosen.find(c.name); it != chosen.end()) {
      if (it->second != c.version) {
        return Status::FailedPrecondition("dependency conflict: " + chain(c.Ref()) + " but " + c.name +
                                          ":" + it->second + " is already required");
      }
      return {};
    }
    for (const std::string& p : path) {
      if (p.substr(0, p.find(':')) == c.name) {
        return Status::FailedPrecondition("dependency cycle: " + chain(c.Ref()));
      }
    }
    path.push_back(c.Ref());
    for (const Dependency& d : c.dependencies) {
      BD_ASSIGN_OR_RETURN(Constraint constraint, Constraint::Parse(d.constraint));
      BD_ASSIGN_OR_RETURN(std::vector<Capsule> versions, Versions(d.name));
      const Capsule* best = nullptr;
      for (const Capsule& v : versions) {  // lowest first: the last match is the highest
        auto parsed = ParseVersion(v.version);
        if (parsed.ok() && constraint.Matches(*parsed)) best = &v;
      }
      if (!best) {
        if (d.optional) continue;
        std::string have;
        for (const Capsule& v : versions) have += (have.empty() ? "" : ", ") + v.version;
        return Status::NotFound("missing dependency: " + chain(d.name + "@" + d.constraint) +
                                ": no version of " + d.name + " matches" +
                                (have.empty() ? " (none stored)" : " (stored: " + have + ")"));
      }
      BD_RETURN_IF_ERROR(visit(*best));
    }
    path.pop_back();
    chosen[c.name] = c.version;
    out.push_back(c);
    return {};
  };
  BD_RETURN_IF_ERROR(visit(root));
  return out;
}

Status CapsuleStore::Remove(const std::string& name, const std::string& version) {
  return db_->WriteTxn([&]() -> Status {
    BD_ASSIGN_OR_RETURN(Capsule c, Get(name, version));
    if (!c.attached_to.empty()) {
      BD_ASSIGN_OR_RETURN(auto users, db_->Prepare(
          "SELECT c.name FROM capsule_attachments a JOIN containers c ON c.id = a.container_id"
          " WHERE a.name = ? AND a.version = ? ORDER BY c.name"));
      users.BindAll(name, version);
      BD_ASSIGN_OR_RETURN(std::vector<std::string> user_names, ContainerNames(users));
      return Status::FailedPrecondition("capsule " + c.Ref() + " is attached to " +
                                        std::to_string(user_names.size()) + " container(s) (" +
                                        NameList(user_names) + "): detach it first, or use --force");
    }
    BD_ASSIGN_OR_RETURN(store::Statement del,
                        db_->Prepare("DELETE FROM capsules WHERE name = ? AND version = ?"));
    del.BindAll(name, version);
    return del.Run();
  });
}

Result<std::string> CapsuleStore::Tree(const Capsule& c) {
  std::string dir = paths_.CapsuleTree(c.content_digest, c.secret);
  if (os::IsDir(dir)) return dir;
  BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
  std::string parent = os::Dirname(dir);
  BD_RETURN_IF_ERROR(os::MkdirAll(paths_.Capsules(), 0700));
  BD_RETURN_IF_ERROR(os::MkdirAll(parent, 0700));
  BD_RETURN_IF_ERROR(os::MkdirAll(paths_.Tmp(), 0700));
  BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "capsule-"));
  BD_ASSIGN_OR_RETURN(UniqueFd blob, os::Open(blobs_->PathFor(c.layer_digest), O_RDONLY));
  store::UnpackOptions opts;
  BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths_));
  opts.min_free_bytes = daemon.storage_reserve;
  BD_ASSIGN_OR_RETURN(store::UnpackResult unpacked, store::UnpackTar(blob.get(), tmp.path(), opts));
  if (unpacked.diff_id != c.content_digest) {
    return Status::Internal("capsule " + c.Ref() + ": blob content is " + unpacked.diff_id +
                            ", expected " + c.content_digest + " (run `capsule verify`)");
  }
  if (c.secret) BD_RETURN_IF_ERROR(LockDown(tmp.path()));
  if (::chmod(tmp.path().c_str(), c.secret ? 0700 : 0755) < 0) return os::ErrnoStatus("chmod tree");
  if (::rename(tmp.path().c_str(), dir.c_str()) < 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) return dir;  // unpacked by someone else meanwhile
    return os::ErrnoStatus("rename the unpacked capsule into `" + dir + "`");
  }
  (void)tmp.Release();
  BD_RETURN_IF_ERROR(os::FsyncDir(parent));
  return dir;
}

Status CapsuleStore::Verify(const Capsule& c) {
  for (const auto& [what, digest] : {std::pair{"manifest", c.digest}, std::pair{"config", c.config_digest},
                                     std::pair{"blob", c.layer_digest}}) {
    BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(blobs_->PathFor(digest), O_RDONLY));
    Sha256Hasher h;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = os::RetryEintr([&] { return ::read(fd.get(), buf, sizeof buf); });
      if (n < 0) return os::ErrnoStatus("read blob " + digest);
      if (n == 0) break;
      h.Update(buf, static_cast<size_t>(n));
    }
    std::string actual = h.Finish();
    if (actual != digest) {
      return Status::Internal("capsule " + c.Ref() + ": " + what + " blob " + digest + " hashes to " + actual);
    }
  }
  // The content: decompress and hash the tar, without unpacking it.
  BD_ASSIGN_OR_RETURN(std::string actual, ContentDigestOf(blobs_->PathFor(c.layer_digest)));
  if (actual != c.content_digest) {
    return Status::Internal("capsule " + c.Ref() + ": content hashes to " + actual + ", recorded " +
                            c.content_digest);
  }
  return {};
}

Status CapsuleStore::Export(const Capsule& c, const std::string& path) {
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
}

Result<std::vector<Capsule>> CapsuleStore::Import(const std::string& path, std::vector<bool>* created) {
  BD_ASSIGN_OR_RETURN(UniqueFd in, os::Open(path, O_RDONLY));
  BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
  BD_RETURN_IF_ERROR(os::MkdirAll(paths_.Tmp(), 0700));
  BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "capsule-import-"));
  store::UnpackOptions unpack;
  BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths_));
  unpack.min_free_bytes = daemon.storage_reserve;
  unpack.preserve_owner = false;
  BD_RETURN_IF_ERROR(store::UnpackTar(in.get(), tmp.path(), unpack).status().WithContext("read `" + path + "`"));
  int root = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    return tmp.path() + "/" + rel;
  };
  BD_ASSIGN_OR_RETURN(std::string index_text, read_in("index.json"));
  json index = json::parse(index_text, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return Status::InvalidArgument("`" + path + "` is not an OCI image layout (no index.json manifests)");
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
  if (staged.empty()) return Status::InvalidArgument("`" + path + "` holds no capsule");
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

Status CapsuleStore::RecordAttachment(const std::string& container_id, const Capsule& c) {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare("INSERT OR IGNORE INTO capsule_attachments "
                                   "(container_id, name, version, attached_at) VALUES (?, ?, ?, ?)"));
  st.BindAll(container_id, c.name, c.version, NowNanos());
  return st.Run();
}

Status CapsuleStore::ForgetAttachment(const std::string& container_id, const std::string& name,
                                      const std::string& version) {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare("DELETE FROM capsule_attachments "
                                   "WHERE container_id = ? AND name = ? AND version = ?"));
  st.BindAll(container_id, name, version);
  return st.Run();
}

Result<std::vector<CapsuleRef>> CapsuleStore::AttachedTo(const std::string& container_id) {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare("SELECT name, version FROM capsule_attachments "
                                   "WHERE container_id = ? ORDER BY attached_at, name, version"));
  st.BindAll(container_id);
  std::vector<CapsuleRef> out;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Text(0), st.Text(1)});
  }
  return out;
}

}  // namespace bd::engine
