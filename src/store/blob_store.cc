#include "store/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/strings.h"
#include "os/error.h"
#include "os/fs.h"

namespace bd::store {

BlobWriter::BlobWriter(std::string blobs_dir, std::string ingest_path, UniqueFd fd)
    : blobs_dir_(std::move(blobs_dir)),
      ingest_path_(std::move(ingest_path)),
      fd_(std::move(fd)),
      hasher_(std::make_unique<Sha256Hasher>()) {}

BlobWriter::BlobWriter(BlobWriter&& o) noexcept
    : blobs_dir_(std::move(o.blobs_dir_)),
      ingest_path_(std::exchange(o.ingest_path_, {})),
      fd_(std::move(o.fd_)),
      hasher_(std::move(o.hasher_)),
      size_(o.size_) {}

BlobWriter::~BlobWriter() {
  if (!ingest_path_.empty()) ::unlink(ingest_path_.c_str());
}

Status BlobWriter::Write(std::string_view data) {
  if (!fd_) return Status::FailedPrecondition("blob writer already committed");
  hasher_->Update(data);
  size_ += static_cast<int64_t>(data.size());
  return os::WriteAll(fd_.get(), data).WithContext("ingest " + ingest_path_);
}

Result<BlobInfo> BlobWriter::Commit(std::optional<std::string_view> expected) {
  if (!fd_) return Status::FailedPrecondition("blob writer already committed");
  BlobInfo info{hasher_->Finish(), size_};
  if (expected && *expected != info.digest) {
    return Status::InvalidArgument("content digest mismatch: expected " + std::string(*expected) +
                                   ", got " + info.digest);
  }
  if (::fsync(fd_.get()) < 0) return os::ErrnoStatus("fsync `" + ingest_path_ + "`");
  fd_.Reset();
  std::string final_path = os::JoinPath(blobs_dir_, DigestHex(info.digest));
  if (::access(final_path.c_str(), F_OK) == 0) return info;  // identical content already stored
  if (::rename(ingest_path_.c_str(), final_path.c_str()) < 0) {
    return os::ErrnoStatus("rename into `" + final_path + "`");
  }
  ingest_path_.clear();
  BD_RETURN_IF_ERROR(os::FsyncDir(blobs_dir_));
  return info;
}

Result<BlobStore> BlobStore::Open(const std::string& root) {
  BD_RETURN_IF_ERROR(os::MkdirAll(os::JoinPath(root, "blobs/sha256"), 0700));
  BD_RETURN_IF_ERROR(os::MkdirAll(os::JoinPath(root, "ingest"), 0700));
  BD_RETURN_IF_ERROR(os::MkdirAll(os::JoinPath(root, "partial"), 0700));
  return BlobStore(root);
}

std::string BlobStore::PathFor(std::string_view digest) const {
  return os::JoinPath(os::JoinPath(root_, "blobs/sha256"), DigestHex(digest));
}

bool BlobStore::Has(std::string_view digest) const {
  return ValidateDigest(digest).ok() && ::access(PathFor(digest).c_str(), F_OK) == 0;
}

int64_t BlobStore::SizeOf(std::string_view digest) const {
  struct stat st;
  if (!ValidateDigest(digest).ok() || ::stat(PathFor(digest).c_str(), &st) < 0) return -1;
  return st.st_size;
}

Result<BlobWriter> BlobStore::NewWriter() const {
  std::string path = os::JoinPath(os::JoinPath(root_, "ingest"), RandomHexId().substr(0, 24));
  BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(path, O_WRONLY | O_CREAT | O_EXCL, 0644));
  return BlobWriter(os::JoinPath(root_, "blobs/sha256"), std::move(path), std::move(fd));
}

Result<BlobInfo> BlobStore::Put(std::string_view data) const {
  BD_ASSIGN_OR_RETURN(BlobWriter w, NewWriter());
  BD_RETURN_IF_ERROR(w.Write(data));
  return w.Commit();
}

Result<BlobInfo> BlobStore::AdoptFile(const std::string& path,
                                      std::optional<std::string_view> expected) const {
  BlobInfo info;
  {
    BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(path, O_RDONLY | O_NOFOLLOW));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) {
      return Status::InvalidArgument("`" + path + "` is not a regular file");
    }
    Sha256Hasher h;
    char buf[1 << 16];
    while (true) {
      ssize_t n = os::RetryEintr([&] { return ::read(fd.get(), buf, sizeof buf); });
      if (n < 0) return os::ErrnoStatus("read `" + path + "`");
      if (n == 0) break;
      h.Update(buf, static_cast<size_t>(n));
      info.size += n;
    }
    if (::fsync(fd.get()) < 0) return os::ErrnoStatus("fsync `" + path + "`");
    info.digest = h.Finish();
  }
  if (expected && *expected != info.digest) {
    return Status::InvalidArgument("content digest mismatch for `" + path + "`: expected " +
                                   std::string(*expected) + ", got " + info.digest);
  }
  std::string final_path = PathFor(info.digest);
  if (::access(final_path.c_str(), F_OK) == 0) return info;
  if (::chmod(path.c_str(), 0644) < 0) return os::ErrnoStatus("chmod `" + path + "`");
  if (::link(path.c_str(), final_path.c_str()) < 0 && errno != EEXIST) {
    return os::ErrnoStatus("link `" + path + "` into the blob store");
  }
  BD_RETURN_IF_ERROR(os::FsyncDir(os::Dirname(final_path)));
  return info;
}

Result<std::string> BlobStore::Read(std::string_view digest) const {
  BD_RETURN_IF_ERROR(ValidateDigest(digest));
  auto r = os::ReadFile(PathFor(digest));
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) {
      return Status::NotFound("blob " + std::string(digest) + " not found");
    }
    return r.status();
  }
  return r;
}

std::string BlobStore::PartialPath(std::string_view digest) const {
  return os::JoinPath(os::JoinPath(root_, "partial"), DigestHex(digest));
}

Status BlobStore::CommitVerified(const std::string& path, std::string_view digest) const {
  BD_RETURN_IF_ERROR(ValidateDigest(digest));
  std::string final_path = PathFor(digest);
  if (::access(final_path.c_str(), F_OK) == 0) {
    ::unlink(path.c_str());
    return {};
  }
  if (::chmod(path.c_str(), 0644) < 0) return os::ErrnoStatus("chmod `" + path + "`");
  if (::rename(path.c_str(), final_path.c_str()) < 0) {
    return os::ErrnoStatus("rename into `" + final_path + "`");
  }
  return os::FsyncDir(os::Dirname(final_path));
}

Status BlobStore::Delete(std::string_view digest) const {
  BD_RETURN_IF_ERROR(ValidateDigest(digest));
  if (::unlink(PathFor(digest).c_str()) < 0 && errno != ENOENT) {
    return os::ErrnoStatus("unlink blob " + std::string(digest));
  }
  return {};
}

}  // namespace bd::store
