// errno -> Status, in one place. The message names the operation and its object, e.g.
// "open `/var/lib/x`: No such file or directory".
#pragma once

#include <cerrno>
#include <string_view>

#include "base/status.h"

namespace bd::os {

Status ErrnoStatus(int err, std::string_view what);
inline Status ErrnoStatus(std::string_view what) { return ErrnoStatus(errno, what); }

// Retries a syscall expression while it fails with EINTR.
template <typename F>
auto RetryEintr(F&& f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

}  // namespace bd::os
