#include <sys/mount.h>

#include "os/error.h"
#include "os/mount.h"

namespace bd::os {

Status Mount(const std::string& source, const std::string& target, const std::string& type,
             unsigned long flags, const std::string& data) {
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
              type.empty() ? nullptr : type.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) < 0) {
    return ErrnoStatus("mount " + (type.empty() ? std::string("bind") : type) + " `" + source +
                       "` on `" + target + "`");
  }
  return {};
}

Status Unmount(const std::string& target, int flags) {
  if (::umount2(target.c_str(), flags) < 0) return ErrnoStatus("unmount `" + target + "`");
  return {};
}

Result<ScopedMount> ScopedMount::Make(const std::string& source, const std::string& target,
                                      const std::string& type, unsigned long flags,
                                      const std::string& data) {
  BD_RETURN_IF_ERROR(Mount(source, target, type, flags, data));
  return ScopedMount(target);
}

ScopedMount::~ScopedMount() {
  if (!target_.empty()) (void)Unmount(target_, MNT_DETACH);
}

}  // namespace bd::os
