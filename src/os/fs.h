// Filesystem operations with Status errors. Every fd is opened O_CLOEXEC; EINTR is retried.
// WriteFileAtomic is the only way state files are written: temp name, fsync, rename, fsync dir.
// All functions are thread-safe (they share no state).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::os {

Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode = 0);
// openat2(dirfd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `path` resolves inside dirfd
// even through absolute or ".." symlinks, as it would with dirfd as "/".
Result<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags, mode_t mode = 0);

Status WriteAll(int fd, std::string_view data);
Result<std::string> ReadAll(int fd);
Result<std::string> ReadFile(const std::string& path);

// Writes to "<path>.tmp-<random>", fsyncs, renames over `path`, fsyncs the directory. Without
// `durable`, no fsync: still never half-written under kill -9, for state that does not outlive
// a reboot anyway (what a running process holds, on a tmpfs such as /run).
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644, bool durable = true);
// Plain write (truncate/create), no fsync: for files derived from state and rebuilt on demand.
Status WriteFile(const std::string& path, std::string_view data, mode_t mode = 0644);
// Writes `data` to a file that must exist (a /proc or cgroup control file): no create, no
// truncate.
Status WriteExisting(const std::string& path, std::string_view data);

Status FsyncDir(const std::string& dir);
Status MkdirAll(const std::string& path, mode_t mode = 0755);
// Removes `path` and everything under it without following symlinks. A missing path is OK.
Status RemoveAll(const std::string& path);
bool Exists(const std::string& path);
bool IsDir(const std::string& path);
// The names in directory `path` (without "." and ".."), sorted.
Result<std::vector<std::string>> ListDir(const std::string& path);
// Total bytes of regular files under `path` (hard links counted once per inode); for a
// regular file, its size; 0 when `path` does not exist.
int64_t DiskUsage(const std::string& path);

// Removes `path` (a file or a tree) by first renaming it into `trash_dir` (same filesystem),
// so nobody ever sees it half-removed; what a crash leaves in the trash is removed later.
Status RemoveOutOfSight(const std::string& path, const std::string& trash_dir);

std::string Dirname(std::string_view path);
std::string Basename(std::string_view path);
std::string JoinPath(std::string_view a, std::string_view b);

// An advisory lock (flock) on `path`, created if needed, held until destruction: shared by
// writers that may run side by side, exclusive for a collector that must run alone.
class FileLock {
 public:
  static Result<FileLock> Acquire(const std::string& path, bool exclusive);
  // Exclusive, without waiting: Unavailable while anyone else holds it.
  static Result<FileLock> TryExclusive(const std::string& path);
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// A directory removed (recursively) on destruction unless Release()d.
class TempDir {
 public:
  // Creates "<parent>/<prefix>XXXXXX".
  static Result<TempDir> Create(const std::string& parent, std::string_view prefix);
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Release() { return std::exchange(path_, {}); }

 private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

}  // namespace bd::os
