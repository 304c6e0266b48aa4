#include <sys/ioctl.h>
#include <unistd.h>

#include "os/terminal.h"

namespace bd::os {

RawMode::RawMode(int fd) : fd_(fd) {
  if (!::isatty(fd) || ::tcgetattr(fd, &saved_) < 0) return;
  termios raw = saved_;
  ::cfmakeraw(&raw);
  active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
}

RawMode::~RawMode() {
  if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
}

bool CopyWindowSize(int from, int to) {
  winsize ws{};
  if (::ioctl(from, TIOCGWINSZ, &ws) < 0) return false;
  return ::ioctl(to, TIOCSWINSZ, &ws) == 0;
}

}  // namespace bd::os
