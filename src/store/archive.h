// Tar archives: a safe unpacker and a builder.
// UnpackTar refuses, with an error naming the entry, any entry that is absolute, has a ".."
// component, or would be written through a symlink; nothing is ever written outside the
// destination. On error the destination holds a partial tree: unpack into a temp dir and
// rename it into place on success. Not thread-safe per object; separate calls are independent.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bd::store {

struct UnpackOptions {
  bool overlay_whiteouts = false;  // turn OCI whiteouts (.wh.*) into overlayfs whiteouts
  bool preserve_owner = true;      // chown entries to their recorded uid/gid
  // Unavailable, and nothing kept, once the destination's filesystem would have fewer free
  // bytes than this (checked as the content is decompressed). 0: no check.
  int64_t min_free_bytes = 0;
};

struct UnpackResult {
  std::string diff_id;  // sha256 of the uncompressed tar stream
  int64_t uncompressed_size = 0;
  int64_t entries = 0;
};

using ByteSink = std::function<Status(std::string_view)>;

// Unpacks the tar read from `src_fd` (plain, gzip, zstd, xz or bzip2) into the existing
// directory `dest_dir`. If `tee` is set it receives the uncompressed tar stream.
Result<UnpackResult> UnpackTar(int src_fd, const std::string& dest_dir, const UnpackOptions& opts,
                               const ByteSink& tee = nullptr);

// "./a//b/" -> "a/b"; "" or "." -> "" (the root). Absolute paths, ".." components and NUL bytes
// are errors.
Result<std::string> CleanEntryPath(std::string_view raw);

// Writes an uncompressed POSIX (pax) tar to a sink. Entries are written in call order.
class TarBuilder {
 public:
  explicit TarBuilder(ByteSink sink);
  ~TarBuilder();
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;

  struct Meta {
    mode_t mode = 0644;
    uid_t uid = 0;
    gid_t gid = 0;
    int64_t mtime = 0;
  };
  // Paths are written exactly as given (tests use this to build hostile archives).
  Status AddDir(const std::string& path, Meta meta);
  Status AddFile(const std::string& path, std::string_view content, Meta meta);
  Status AddFileFromDisk(const std::string& path, const std::string& host_path, Meta meta);
  Status AddSymlink(const std::string& path, const std::string& target, Meta meta);
  Status AddHardlink(const std::string& path, const std::string& target, Meta meta);
  Status AddCharDevice(const std::string& path, unsigned major, unsigned minor, Meta meta);
  Status Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bd::store
