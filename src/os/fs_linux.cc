#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <algorithm>
#include <set>
#include <utility>

#include "base/crash_point.h"
#include "base/strings.h"
#include "os/error.h"
#include "os/fs.h"

namespace bd::os {

Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode) {
  int fd = RetryEintr([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) return ErrnoStatus("open `" + path + "`");
  return UniqueFd(fd);
}

Result<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(
      RetryEintr([&] { return syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how); }));
  if (fd < 0) return ErrnoStatus("open `" + path + "` inside root");
  return UniqueFd(fd);
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = RetryEintr([&] { return ::write(fd, data.data(), data.size()); });
    if (n < 0) return ErrnoStatus("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string> ReadAll(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = RetryEintr([&] { return ::read(fd, buf, sizeof buf); });
    if (n < 0) return ErrnoStatus("read");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, Open(path, O_RDONLY));
  auto r = ReadAll(fd.get());
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

Status FsyncDir(const std::string& dir) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, Open(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) < 0) return ErrnoStatus("fsync `" + dir + "`");
  return {};
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  std::string tmp = path + ".tmp-" + RandomHexId().substr(0, 12);
  {
    BD_ASSIGN_OR_RETURN(UniqueFd fd, Open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode));
    Status st = WriteAll(fd.get(), data);
    if (st.ok() && durable && ::fsync(fd.get()) < 0) st = ErrnoStatus("fsync `" + tmp + "`");
    if (!st.ok()) {
      ::unlink(tmp.c_str());
      return st.WithContext(tmp);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    Status st = ErrnoStatus("rename `" + tmp + "` to `" + path + "`");
    ::unlink(tmp.c_str());
    return st;
  }
  return durable ? FsyncDir(Dirname(path)) : Status();
}

Status WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, Open(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
  return WriteAll(fd.get(), data).WithContext(path);
}

Status WriteExisting(const std::string& path, std::string_view data) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, Open(path, O_WRONLY));
  return WriteAll(fd.get(), data);
}

Status MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return Status::InvalidArgument("mkdir: empty path");
  if (::mkdir(path.c_str(), mode) == 0) return {};
  if (errno == EEXIST) {
    if (IsDir(path)) return {};
    return Status::AlreadyExists("mkdir `" + path + "`: exists and is not a directory");
  }
  if (errno != ENOENT) return ErrnoStatus("mkdir `" + path + "`");
  std::string parent = Dirname(path);
  if (parent == path) return ErrnoStatus(ENOENT, "mkdir `" + path + "`");
  BD_RETURN_IF_ERROR(MkdirAll(parent, mode));
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir `" + path + "`");
  }
  return {};
}

namespace {

// Empties the directory open as `dirfd` (which this function takes), never following symlinks.
Status RemoveContents(int dirfd, const std::string& shown) {
  DIR* dir = ::fdopendir(dirfd);
  if (!dir) {
    ::close(dirfd);
    return ErrnoStatus("opendir `" + shown + "`");
  }
  Status result;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::unlinkat(dirfd, e->d_name, 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR) {
      result = ErrnoStatus("unlink `" + shown + "/" + std::string(name) + "`");
      break;
    }
    int child = ::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0 && errno == ENOENT) continue;  // removed by someone else meanwhile
    if (child < 0) {
      result = ErrnoStatus("open `" + shown + "/" + std::string(name) + "`");
      break;
    }
    result = RemoveContents(child, shown + "/" + std::string(name));
    if (!result.ok()) break;
    if (::unlinkat(dirfd, e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
      result = ErrnoStatus("rmdir `" + shown + "/" + std::string(name) + "`");
      break;
    }
  }
  ::closedir(dir);
  return result;
}

}  // namespace

Status RemoveAll(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return {};
  if (errno != EISDIR) return ErrnoStatus("unlink `" + path + "`");
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Status() : ErrnoStatus("open `" + path + "`");
  BD_RETURN_IF_ERROR(RemoveContents(fd, path));
  if (::rmdir(path.c_str()) < 0 && errno != ENOENT) return ErrnoStatus("rmdir `" + path + "`");
  return {};
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return ErrnoStatus("opendir `" + path + "`");
  std::vector<std::string> out;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") out.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

int64_t DiskUsageAt(int dirfd, std::set<std::pair<dev_t, ino_t>>* seen) {
  DIR* dir = ::fdopendir(dirfd);
  if (!dir) {
    ::close(dirfd);
    return 0;
  }
  int64_t total = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (S_ISDIR(st.st_mode)) {
      int child = ::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) total += DiskUsageAt(child, seen);
    } else if (S_ISREG(st.st_mode) && seen->insert({st.st_dev, st.st_ino}).second) {
      total += st.st_size;
    }
  }
  ::closedir(dir);
  return total;
}

}  // namespace

int64_t DiskUsage(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) return 0;
  if (S_ISREG(st.st_mode)) return st.st_size;
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  return DiskUsageAt(fd, &seen);
}

std::string Dirname(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string Basename(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

Result<TempDir> TempDir::Create(const std::string& parent, std::string_view prefix) {
  std::string tmpl = JoinPath(parent, std::string(prefix) + "XXXXXX");
  if (!::mkdtemp(tmpl.data())) return ErrnoStatus("mkdtemp `" + tmpl + "`");
  return TempDir(std::move(tmpl));
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)RemoveAll(path_);
}

Result<FileLock> FileLock::Acquire(const std::string& path, bool exclusive) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, Open(path, O_RDWR | O_CREAT, 0600));
  if (RetryEintr([&] { return ::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH); }) < 0) {
    return ErrnoStatus("lock `" + path + "`");
  }
  return FileLock(std::move(fd));
}

Result<FileLock> FileLock::TryExclusive(const std::string& path) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, Open(path, O_RDWR | O_CREAT, 0600));
  if (RetryEintr([&] { return ::flock(fd.get(), LOCK_EX | LOCK_NB); }) < 0) {
    if (errno == EWOULDBLOCK) return Status::Unavailable("`" + path + "` is held");
    return ErrnoStatus("lock `" + path + "`");
  }
  return FileLock(std::move(fd));
}

Status RemoveOutOfSight(const std::string& path, const std::string& trash_dir) {
  std::string hidden = JoinPath(trash_dir, Basename(path) + "." + RandomHexId().substr(0, 12));
  if (::rename(path.c_str(), hidden.c_str()) < 0) {
    if (errno == ENOENT) return {};
    return ErrnoStatus("move `" + path + "` out of sight");
  }
  // The name is gone before any content goes: a kill from here on leaves trash, never a
  // half-removed directory under its real name.
  CrashPoint("remove.after-rename");
  return RemoveAll(hidden);
}

}  // namespace bd::os
