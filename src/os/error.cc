#include "os/error.h"

#include <cstring>
#include <string>

namespace bd::os {

Status ErrnoStatus(int err, std::string_view what) {
  std::string msg(what);
  msg.append(": ").append(std::strerror(err));
  switch (err) {
    case ENOENT:
    case ESRCH:
      return Status::NotFound(std::move(msg));
    case EEXIST:
    case ENOTEMPTY:
      return Status::AlreadyExists(std::move(msg));
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::PermissionDenied(std::move(msg));
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
    case ENOTDIR:
    case EXDEV:
      return Status::InvalidArgument(std::move(msg));
    case EBUSY:
      return Status::FailedPrecondition(std::move(msg));
    case ENOSYS:
    case EOPNOTSUPP:
    case EAGAIN:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

}  // namespace bd::os
