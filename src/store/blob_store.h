// Content-addressed blob store in OCI image layout: <root>/blobs/sha256/<hex>.
// Blobs are written into <root>/ingest, fsynced, checked against their digest and renamed into
// place, so a visible blob is always complete and correct; a blob that already exists is a
// success. Blobs are deleted only by the engine's reference-based garbage collection.
// Registry downloads are written under partial/ and moved in once their digest is checked.
// Thread-safe and multi-process-safe: every write goes through its own ingest file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::store {

struct BlobInfo {
  std::string digest;
  int64_t size = 0;
};

class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  ~BlobWriter();  // discards the ingest file unless committed

  Status Write(std::string_view data);
  int64_t size() const { return size_; }
  // Makes the blob visible. With `expected` set, a different digest is an error and nothing
  // becomes visible.
  Result<BlobInfo> Commit(std::optional<std::string_view> expected = std::nullopt);

 private:
  friend class BlobStore;
  BlobWriter(std::string blobs_dir, std::string ingest_path, UniqueFd fd);
  std::string blobs_dir_;
  std::string ingest_path_;
  UniqueFd fd_;
  std::unique_ptr<Sha256Hasher> hasher_;
  int64_t size_ = 0;
};

class BlobStore {
 public:
  // Creates the directories under `root` if needed.
  static Result<BlobStore> Open(const std::string& root);

  std::string PathFor(std::string_view digest) const;
  bool Has(std::string_view digest) const;
  int64_t SizeOf(std::string_view digest) const;  // -1 if absent

  Result<BlobWriter> NewWriter() const;
  Result<BlobInfo> Put(std::string_view data) const;
  // Hard-links an existing file on the same filesystem into the store after hashing it; the
  // caller removes the original when done with it.
  Result<BlobInfo> AdoptFile(const std::string& path,
                             std::optional<std::string_view> expected = std::nullopt) const;
  Result<std::string> Read(std::string_view digest) const;

  // Downloads in progress, kept across a killed pull so the next one resumes them:
  // <root>/partial/<hex>. Not swept with ingest/ (only a full garbage collection empties it).
  std::string PartialPath(std::string_view digest) const;
  // Moves the (fsynced) file at `path`, whose content the caller has checked to be `digest`,
  // into the store; an already stored copy wins and `path` is removed.
  Status CommitVerified(const std::string& path, std::string_view digest) const;
  Status Delete(std::string_view digest) const;

  const std::string& root() const { return root_; }

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace bd::store
