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
#include "os/error.h"
#include "os/fs.h"
#include "store/archive.h"

namespace bd::engine::capsule_internal {

using nlohmann::json;

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

}  // namespace bd::engine::capsule_internal

namespace bd::engine {

using nlohmann::json;
using capsule_internal::ContentDigestOf;
using capsule_internal::DependenciesFromJson;
using capsule_internal::DependenciesJson;

namespace {

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

Result<std::optional<Capsule>> CapsuleStore::Existing(const Capsule& c) {
  Result<Capsule> existing = Get(c.name, c.version);
  if (!existing.ok()) {
    if (existing.status().code() != Code::kNotFound) return existing.status();
    // "1.0" beside "1.0.0" (or "1"): one version spelled two ways would make references and
    // constraints ambiguous.
    BD_ASSIGN_OR_RETURN(Version mine, ParseVersion(c.version));
    BD_ASSIGN_OR_RETURN(std::vector<Capsule> versions, Versions(c.name));
    for (const Capsule& other : versions) {
      // The same spelling: another creator recorded it since the Get (outside a transaction
      // the two reads are not one snapshot); compared below as that record.
      if (other.version == c.version) {
        existing = other;
        break;
      }
      auto theirs = ParseVersion(other.version);
      if (theirs.ok() && *theirs == mine && theirs->build == mine.build) {
        return Status::AlreadyExists("capsule " + c.Ref() + " would be ambiguous beside " + other.Ref() +
                                     ": the same version spelled differently");
      }
    }
    if (!existing.ok()) return std::optional<Capsule>();
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
