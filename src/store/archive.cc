#include "store/archive.h"

#include <archive.h>

#include <algorithm>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <vector>

#include "base/digest.h"
#include "base/dynlib.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "os/error.h"
#include "os/fs.h"

namespace bd::store {
namespace {

// libarchive (and the libxml2 and ICU it pulls in) is loaded on first use.
#define BD_ARCHIVE_FUNCTIONS(X) X(archive_entry_atime) X(archive_entry_atime_is_set) X(archive_entry_atime_nsec) X(archive_entry_filetype) X(archive_entry_free) X(archive_entry_gid) X(archive_entry_hardlink) X(archive_entry_mtime) X(archive_entry_mtime_nsec) X(archive_entry_new) X(archive_entry_pathname) X(archive_entry_perm) X(archive_entry_rdev) X(archive_entry_set_filetype) X(archive_entry_set_gid) X(archive_entry_set_hardlink) X(archive_entry_set_mtime) X(archive_entry_set_pathname) X(archive_entry_set_perm) X(archive_entry_set_rdev) X(archive_entry_set_size) X(archive_entry_set_symlink) X(archive_entry_set_uid) X(archive_entry_size) X(archive_entry_size_is_set) X(archive_entry_symlink) X(archive_entry_uid) X(archive_entry_xattr_next) X(archive_entry_xattr_reset) X(archive_error_string) X(archive_read_data) X(archive_read_data_block) X(archive_read_free) X(archive_read_new) X(archive_read_next_header) X(archive_read_open) X(archive_read_open_fd) X(archive_read_support_filter_all) X(archive_read_support_format_raw) X(archive_read_support_format_tar) X(archive_write_close) X(archive_write_data) X(archive_write_free) X(archive_write_header) X(archive_write_new) X(archive_write_open) X(archive_write_set_bytes_in_last_block) X(archive_write_set_format_option) X(archive_write_set_format_pax_restricted)

struct ArchiveApi {
  BD_ARCHIVE_FUNCTIONS(BD_DECLARE_FN)
};

Result<const ArchiveApi*> LoadArchive() {
  static const Result<ArchiveApi> loaded = []() -> Result<ArchiveApi> {
    const char* soname = "libarchive.so.13";
    BD_ASSIGN_OR_RETURN(void* handle, OpenLibrary(soname, "libarchive13"));
    ArchiveApi api;
    BD_ARCHIVE_FUNCTIONS(BD_LOAD_FN)
    return api;
  }();
  if (!loaded.ok()) return loaded.status();
  return &loaded.value();
}

// Valid once LoadArchive() succeeded, which every entry point checks first.
const ArchiveApi& Lib() { return *LoadArchive().value(); }

constexpr size_t kBlock = 1 << 16;

Status ArchiveError(archive* a, std::string_view what) {
  const char* msg = Lib().archive_error_string(a);
  return Status::InvalidArgument(std::string(what) + ": " + (msg ? msg : "archive error"));
}

void SplitParent(const std::string& path, std::string* parent, std::string* base) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    parent->clear();
    *base = path;
  } else {
    *parent = path.substr(0, slash);
    *base = path.substr(slash + 1);
  }
}

// Streams the decompressed bytes of an archive of any compression: the outer reader of a
// two-stage pipeline whose inner reader parses tar.
struct RawSource {
  archive* raw = nullptr;
  Sha256Hasher hasher;
  int64_t size = 0;
  const ByteSink* tee = nullptr;
  Status tee_status;
  // The free-space guard: every kCheckEvery bytes, the destination's filesystem must keep
  // `min_free` bytes free (a decompression bomb is stopped, not let fill the disk).
  int root_fd = -1;
  int64_t min_free = 0;
  int64_t next_check = 0;
  static constexpr int64_t kCheckEvery = 16 << 20;
  std::vector<char> buf = std::vector<char>(kBlock);

  ~RawSource() {
    if (raw) Lib().archive_read_free(raw);
  }

  ssize_t Read(const void** out) {
    la_ssize_t n = Lib().archive_read_data(raw, buf.data(), buf.size());
    if (n > 0) {
      hasher.Update(buf.data(), static_cast<size_t>(n));
      size += n;
      if (tee && *tee && tee_status.ok()) tee_status = (*tee)({buf.data(), static_cast<size_t>(n)});
      if (tee_status.ok() && min_free > 0 && size >= next_check) {
        next_check = size + kCheckEvery;
        struct statvfs fs;
        if (::fstatvfs(root_fd, &fs) == 0 &&
            static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize) < min_free) {
          tee_status = Status::Unavailable(
              "refusing to unpack further: after " + HumanSize(size, true) +
              " of content the disk would keep less than the reserve of " + HumanSize(min_free, true) +
              " free (a decompression bomb?); nothing was stored");
        }
      }
      if (!tee_status.ok()) return -1;
    }
    *out = buf.data();
    return n;
  }

  static la_ssize_t Callback(archive*, void* self, const void** out) {
    return static_cast<RawSource*>(self)->Read(out);
  }
};

class Unpacker {
 public:
  Unpacker(int root_fd, const UnpackOptions& opts) : root_fd_(root_fd), opts_(opts) {}

  Status Entry(archive* a, archive_entry* e);
  Status Finish();

 private:
  // Opens the directory `rel` beneath the root, creating missing components, never following a
  // symlink. The returned fd is owned by the cache.
  Result<int> ParentFd(const std::string& rel);
  Result<UniqueFd> OpenDirBeneath(const std::string& rel);
  Status RemoveExisting(int dirfd, const std::string& name, bool keep_dir, bool* kept_dir);
  Status ApplyMeta(int fd, archive_entry* e, bool is_dir);
  Status WriteData(archive* a, int fd, archive_entry* e);
  Status Whiteout(int parent_fd, const std::string& parent, const std::string& base);

  int root_fd_;
  UnpackOptions opts_;
  std::string cached_rel_ = "\x01";
  UniqueFd cached_fd_;
  struct DirTime {
    std::string rel;
    timespec times[2];
  };
  std::vector<DirTime> dir_times_;
};

Result<UniqueFd> Unpacker::OpenDirBeneath(const std::string& rel) {
  if (rel.empty()) {
    int fd = ::fcntl(root_fd_, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return os::ErrnoStatus("dup");
    return UniqueFd(fd);
  }
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  int fd = static_cast<int>(syscall(SYS_openat2, root_fd_, rel.c_str(), &how, sizeof how));
  if (fd >= 0) return UniqueFd(fd);
  if (errno == ELOOP || errno == EXDEV) {
    return Status::InvalidArgument("`" + rel + "` goes through a symlink");
  }
  if (errno == ENOTDIR) return Status::InvalidArgument("`" + rel + "` is not a directory");
  if (errno != ENOENT) return os::ErrnoStatus("open `" + rel + "`");
  // Create the missing components one at a time, each opened with O_NOFOLLOW.
  UniqueFd cur(::fcntl(root_fd_, F_DUPFD_CLOEXEC, 3));
  std::string walked;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    std::string comp = rel.substr(start, slash == std::string::npos ? std::string::npos
                                                                      : slash - start);
    walked += (walked.empty() ? "" : "/") + comp;
    if (::mkdirat(cur.get(), comp.c_str(), 0755) < 0 && errno != EEXIST) {
      return os::ErrnoStatus("mkdir `" + walked + "`");
    }
    int next = ::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return Status::InvalidArgument("`" + walked + "` is a symlink or not a directory");
      }
      return os::ErrnoStatus("open `" + walked + "`");
    }
    cur.Reset(next);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return cur;
}

Result<int> Unpacker::ParentFd(const std::string& rel) {
  if (rel == cached_rel_ && cached_fd_) return cached_fd_.get();
  BD_ASSIGN_OR_RETURN(cached_fd_, OpenDirBeneath(rel));
  cached_rel_ = rel;
  return cached_fd_.get();
}

Status Unpacker::RemoveExisting(int dirfd, const std::string& name, bool keep_dir,
                                bool* kept_dir) {
  *kept_dir = false;
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return {};
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) {
      *kept_dir = true;
      return {};
    }
    // `dirfd` may be the cached fd: remove through it first, then drop the cache, since the
    // cached directory may lie inside the tree going away.
    Status st = os::RemoveAll("/proc/self/fd/" + std::to_string(dirfd) + "/" + name);
    cached_rel_ = "\x01";
    cached_fd_.Reset();
    return st;
  }
  if (::unlinkat(dirfd, name.c_str(), 0) < 0) return os::ErrnoStatus("unlink `" + name + "`");
  return {};
}

Status Unpacker::ApplyMeta(int fd, archive_entry* e, bool is_dir) {
  if (opts_.preserve_owner &&
      ::fchown(fd, static_cast<uid_t>(Lib().archive_entry_uid(e)), static_cast<gid_t>(Lib().archive_entry_gid(e))) < 0) {
    return os::ErrnoStatus("chown");
  }
  // chmod after chown: chown clears set-id bits.
  if (::fchmod(fd, Lib().archive_entry_perm(e) & 07777) < 0) return os::ErrnoStatus("chmod");
  Lib().archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (Lib().archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view n = name;
    // Only file capabilities and user attributes; never overlay's trusted.* (a layer must not
    // steer overlayfs) nor labels of another security module.
    if (n != "security.capability" && n.substr(0, 5) != "user.") continue;
    if (::fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP) {
      return os::ErrnoStatus("setxattr " + std::string(n));
    }
  }
  if (!is_dir) {
    timespec times[2] = {{Lib().archive_entry_atime(e), Lib().archive_entry_atime_nsec(e)},
                         {Lib().archive_entry_mtime(e), Lib().archive_entry_mtime_nsec(e)}};
    if (!Lib().archive_entry_atime_is_set(e)) times[0] = times[1];
    ::futimens(fd, times);
  }
  return {};
}

Status Unpacker::WriteData(archive* a, int fd, archive_entry* e) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  while (true) {
    int r = Lib().archive_read_data_block(a, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) return ArchiveError(a, "read entry data");
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = os::RetryEintr([&] { return ::pwrite(fd, p, size, offset); });
      if (n < 0) return os::ErrnoStatus("write");
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
  }
  if (Lib().archive_entry_size_is_set(e) && ::ftruncate(fd, Lib().archive_entry_size(e)) < 0) {
    return os::ErrnoStatus("truncate");
  }
  return {};
}

Status Unpacker::Whiteout(int parent_fd, const std::string& parent, const std::string& base) {
  if (base == ".wh..wh..opq") {
    if (::fsetxattr(parent_fd, "trusted.overlay.opaque", "y", 1, 0) < 0) {
      return os::ErrnoStatus("mark `" + parent + "` opaque");
    }
    return {};
  }
  if (base.rfind(".wh..wh.", 0) == 0) return {};  // other AUFS metadata: meaningless here
  std::string target = base.substr(4);
  bool kept;
  BD_RETURN_IF_ERROR(RemoveExisting(parent_fd, target, false, &kept));
  // Removing a directory drops the descriptor cache, `parent_fd` with it: look it up again.
  BD_ASSIGN_OR_RETURN(parent_fd, ParentFd(parent));
  if (::mknodat(parent_fd, target.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0) {
    return os::ErrnoStatus("whiteout `" + target + "`");
  }
  return {};
}

Status Unpacker::Entry(archive* a, archive_entry* e) {
  const char* raw_name = Lib().archive_entry_pathname(e);
  BD_ASSIGN_OR_RETURN(std::string path, CleanEntryPath(raw_name ? raw_name : ""));
  if (path.empty()) return {};  // the root itself: its metadata belongs to the destination
  std::string parent, base;
  SplitParent(path, &parent, &base);
  BD_ASSIGN_OR_RETURN(int pfd, ParentFd(parent));
  if (opts_.overlay_whiteouts && base.rfind(".wh.", 0) == 0) return Whiteout(pfd, parent, base);

  const char* hardlink = Lib().archive_entry_hardlink(e);
  mode_t type = Lib().archive_entry_filetype(e);
  bool kept_dir = false;
  BD_RETURN_IF_ERROR(RemoveExisting(pfd, base, !hardlink && type == AE_IFDIR, &kept_dir));
  BD_ASSIGN_OR_RETURN(pfd, ParentFd(parent));  // RemoveExisting may have dropped the cache

  if (hardlink) {
    BD_ASSIGN_OR_RETURN(std::string target, CleanEntryPath(hardlink));
    std::string tparent, tbase;
    SplitParent(target, &tparent, &tbase);
    BD_ASSIGN_OR_RETURN(UniqueFd tfd, OpenDirBeneath(tparent));
    if (::linkat(tfd.get(), tbase.c_str(), pfd, base.c_str(), 0) < 0) {
      return os::ErrnoStatus("link `" + path + "` to `" + target + "`");
    }
    return {};
  }
  uid_t uid = static_cast<uid_t>(Lib().archive_entry_uid(e));
  gid_t gid = static_cast<gid_t>(Lib().archive_entry_gid(e));
  switch (type) {
    case AE_IFDIR: {
      if (!kept_dir && ::mkdirat(pfd, base.c_str(), 0700) < 0) {
        return os::ErrnoStatus("mkdir `" + path + "`");
      }
      UniqueFd dfd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dfd) return os::ErrnoStatus("open `" + path + "`");
      BD_RETURN_IF_ERROR(ApplyMeta(dfd.get(), e, true));
      dir_times_.push_back({path,
                            {{Lib().archive_entry_mtime(e), Lib().archive_entry_mtime_nsec(e)},
                             {Lib().archive_entry_mtime(e), Lib().archive_entry_mtime_nsec(e)}}});
      return {};
    }
    case AE_IFREG: {
      UniqueFd fd(::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0600));
      if (!fd) return os::ErrnoStatus("create `" + path + "`");
      BD_RETURN_IF_ERROR(WriteData(a, fd.get(), e).WithContext(path));
      return ApplyMeta(fd.get(), e, false).WithContext(path);
    }
    case AE_IFLNK: {
      const char* target = Lib().archive_entry_symlink(e);
      if (::symlinkat(target ? target : "", pfd, base.c_str()) < 0) {
        return os::ErrnoStatus("symlink `" + path + "`");
      }
      if (opts_.preserve_owner && ::fchownat(pfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        return os::ErrnoStatus("chown `" + path + "`");
      }
      timespec times[2] = {{Lib().archive_entry_mtime(e), Lib().archive_entry_mtime_nsec(e)},
                           {Lib().archive_entry_mtime(e), Lib().archive_entry_mtime_nsec(e)}};
      ::utimensat(pfd, base.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return {};
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      if (::mknodat(pfd, base.c_str(), type | (Lib().archive_entry_perm(e) & 07777),
                    Lib().archive_entry_rdev(e)) < 0) {
        return os::ErrnoStatus("mknod `" + path + "`");
      }
      if (opts_.preserve_owner && ::fchownat(pfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        return os::ErrnoStatus("chown `" + path + "`");
      }
      ::fchmodat(pfd, base.c_str(), Lib().archive_entry_perm(e) & 07777, 0);
      return {};
    }
    default:
      return {};  // sockets and unknown types are not restored, as tar does
  }
}

Status Unpacker::Finish() {
  // Directory times last, deepest first: creating children changed them.
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    auto fd = OpenDirBeneath(it->rel);
    if (fd.ok()) ::futimens(fd->get(), it->times);
  }
  return {};
}

}  // namespace

Result<std::string> CleanEntryPath(std::string_view raw) {
  if (raw.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("archive entry name contains a NUL byte");
  }
  if (!raw.empty() && raw.front() == '/') {
    return Status::InvalidArgument("archive entry `" + std::string(raw) +
                                   "` is an absolute path");
  }
  std::string out;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t slash = raw.find('/', start);
    std::string_view comp = raw.substr(start, slash == std::string_view::npos ? raw.npos
                                                                              : slash - start);
    if (comp == "..") {
      return Status::InvalidArgument("archive entry `" + std::string(raw) +
                                     "` has a `..` component");
    }
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(comp);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

Result<UnpackResult> UnpackTar(int src_fd, const std::string& dest_dir, const UnpackOptions& opts,
                               const ByteSink& tee) {
  BD_RETURN_IF_ERROR(LoadArchive().status());
  UniqueFd root(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return os::ErrnoStatus("open `" + dest_dir + "`");

  RawSource src;
  src.tee = &tee;
  src.root_fd = root.get();
  src.min_free = opts.min_free_bytes;
  src.raw = Lib().archive_read_new();
  Lib().archive_read_support_filter_all(src.raw);
  Lib().archive_read_support_format_raw(src.raw);
  if (Lib().archive_read_open_fd(src.raw, src_fd, kBlock) != ARCHIVE_OK) {
    return ArchiveError(src.raw, "open archive");
  }
  archive_entry* raw_entry;
  int r = Lib().archive_read_next_header(src.raw, &raw_entry);
  if (r != ARCHIVE_OK) return ArchiveError(src.raw, "read archive");

  archive* tar = Lib().archive_read_new();
  std::unique_ptr<archive, int (*)(archive*)> tar_owner(tar, Lib().archive_read_free);
  Lib().archive_read_support_format_tar(tar);
  if (Lib().archive_read_open(tar, &src, nullptr, RawSource::Callback, nullptr) != ARCHIVE_OK) {
    if (!src.tee_status.ok()) return src.tee_status;
    return ArchiveError(tar, "not a tar archive");
  }
  Unpacker unpacker(root.get(), opts);
  UnpackResult result;
  while (true) {
    archive_entry* e;
    r = Lib().archive_read_next_header(tar, &e);
    if (r == ARCHIVE_EOF) break;
    if (!src.tee_status.ok()) return src.tee_status;
    if (r < ARCHIVE_WARN) return ArchiveError(tar, "read tar entry");
    Status st = unpacker.Entry(tar, e);
    if (!st.ok() && !src.tee_status.ok()) return src.tee_status;
    if (!st.ok()) {
      if (st.message().rfind("archive entry", 0) == 0) return st;
      const char* name = Lib().archive_entry_pathname(e);
      return st.WithContext("archive entry `" + std::string(name ? name : "?") + "`");
    }
    ++result.entries;
  }
  BD_RETURN_IF_ERROR(unpacker.Finish());
  // The tar reader may stop before the end-of-archive padding: hash the rest too.
  const void* ignored;
  while (true) {
    ssize_t n = src.Read(&ignored);
    if (n < 0) return src.tee_status.ok() ? ArchiveError(src.raw, "read archive") : src.tee_status;
    if (n == 0) break;
  }
  result.diff_id = src.hasher.Finish();
  result.uncompressed_size = src.size;
  return result;
}

struct TarBuilder::Impl {
  ByteSink sink;
  Status sink_status;
  archive* a = nullptr;
  bool finished = false;

  static la_ssize_t Write(archive*, void* self, const void* buf, size_t len) {
    auto* impl = static_cast<Impl*>(self);
    impl->sink_status = impl->sink({static_cast<const char*>(buf), len});
    return impl->sink_status.ok() ? static_cast<la_ssize_t>(len) : -1;
  }

  Status Header(const std::string& path, mode_t type, const Meta& meta, int64_t size,
                const char* link, bool hard, dev_t rdev = 0) {
    if (!a) return sink_status;
    archive_entry* e = Lib().archive_entry_new();
    Lib().archive_entry_set_pathname(e, path.c_str());
    Lib().archive_entry_set_filetype(e, type);
    Lib().archive_entry_set_perm(e, meta.mode & 07777);
    Lib().archive_entry_set_uid(e, meta.uid);
    Lib().archive_entry_set_gid(e, meta.gid);
    Lib().archive_entry_set_mtime(e, meta.mtime, 0);
    Lib().archive_entry_set_size(e, size);
    if (rdev) Lib().archive_entry_set_rdev(e, rdev);
    if (link && hard) Lib().archive_entry_set_hardlink(e, link);
    if (link && !hard) Lib().archive_entry_set_symlink(e, link);
    int r = Lib().archive_write_header(a, e);
    Lib().archive_entry_free(e);
    if (r != ARCHIVE_OK) {
      return sink_status.ok() ? Status::Internal(std::string("tar header: ") +
                                                 Lib().archive_error_string(a))
                              : sink_status;
    }
    return {};
  }

  Status Data(const char* p, size_t n) {
    while (n > 0) {
      la_ssize_t w = Lib().archive_write_data(a, p, n);
      if (w <= 0) return sink_status.ok() ? Status::Internal("tar data write failed") : sink_status;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return {};
  }
};

TarBuilder::TarBuilder(ByteSink sink) : impl_(std::make_unique<Impl>()) {
  impl_->sink = std::move(sink);
  if (auto api = LoadArchive(); !api.ok()) {
    impl_->sink_status = api.status();  // every call reports it
    return;
  }
  impl_->a = Lib().archive_write_new();
  Lib().archive_write_set_format_pax_restricted(impl_->a);
  // File names are bytes: stored as they are (pax hdrcharset=BINARY), never translated through
  // the locale, which fails on anything but ASCII in the C locale and on non-UTF-8 names in any.
  Lib().archive_write_set_format_option(impl_->a, "pax", "hdrcharset", "BINARY");
  Lib().archive_write_set_bytes_in_last_block(impl_->a, 1);
  Lib().archive_write_open(impl_->a, impl_.get(), nullptr, Impl::Write, nullptr);
}

TarBuilder::~TarBuilder() {
  if (!impl_->a) return;
  if (!impl_->finished) Lib().archive_write_close(impl_->a);
  Lib().archive_write_free(impl_->a);
}

Status TarBuilder::AddDir(const std::string& path, Meta meta) {
  if (meta.mode == 0644) meta.mode = 0755;
  return impl_->Header(path, AE_IFDIR, meta, 0, nullptr, false);
}

Status TarBuilder::AddFile(const std::string& path, std::string_view content, Meta meta) {
  BD_RETURN_IF_ERROR(impl_->Header(path, AE_IFREG, meta, static_cast<int64_t>(content.size()),
                                   nullptr, false));
  return impl_->Data(content.data(), content.size());
}

Status TarBuilder::AddFileFromDisk(const std::string& path, const std::string& host_path,
                                   Meta meta) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(host_path, O_RDONLY));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return os::ErrnoStatus("stat `" + host_path + "`");
  BD_RETURN_IF_ERROR(impl_->Header(path, AE_IFREG, meta, st.st_size, nullptr, false));
  char buf[kBlock];
  int64_t left = st.st_size;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<int64_t>(left, sizeof buf));
    ssize_t n = os::RetryEintr([&] { return ::read(fd.get(), buf, want); });
    if (n < 0) return os::ErrnoStatus("read `" + host_path + "`");
    if (n == 0) return Status::Internal("`" + host_path + "` shrank while being archived");
    BD_RETURN_IF_ERROR(impl_->Data(buf, static_cast<size_t>(n)));
    left -= n;
  }
  // More than its size said: growing, or a pseudo file (/proc, /sys) whose size is 0.
  ssize_t more = os::RetryEintr([&] { return ::read(fd.get(), buf, 1); });
  if (more > 0) {
    return Status::InvalidArgument("`" + host_path + "` holds more than its size of " +
                                   std::to_string(st.st_size) +
                                   " bytes (growing, or a pseudo file such as /proc's)");
  }
  return {};
}

Status TarBuilder::AddSymlink(const std::string& path, const std::string& target, Meta meta) {
  meta.mode = 0777;
  return impl_->Header(path, AE_IFLNK, meta, 0, target.c_str(), false);
}

Status TarBuilder::AddHardlink(const std::string& path, const std::string& target, Meta meta) {
  return impl_->Header(path, AE_IFREG, meta, 0, target.c_str(), true);
}

Status TarBuilder::AddCharDevice(const std::string& path, unsigned major, unsigned minor,
                                 Meta meta) {
  return impl_->Header(path, AE_IFCHR, meta, 0, nullptr, false, makedev(major, minor));
}

Status TarBuilder::Finish() {
  if (!impl_->a) return impl_->sink_status;
  impl_->finished = true;
  if (Lib().archive_write_close(impl_->a) != ARCHIVE_OK) {
    return impl_->sink_status.ok() ? Status::Internal("tar close failed") : impl_->sink_status;
  }
  return impl_->sink_status;
}

}  // namespace bd::store
