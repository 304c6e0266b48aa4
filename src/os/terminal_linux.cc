#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "os/fs.h"
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

void RelayTerminal(int master, bool forward_input, int stop_fd) {
  char buf[65536];
  bool input = forward_input;
  for (;;) {
    pollfd fds[3] = {{master, POLLIN, 0}, {stop_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int n = ::poll(fds, input ? 3 : 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) {
      ssize_t r = ::read(master, buf, sizeof buf);
      if (r <= 0) return;  // EIO: the last slave closed
      if (!WriteAll(STDOUT_FILENO, {buf, static_cast<size_t>(r)}).ok()) return;
      continue;  // drain output before looking at the stop descriptor
    }
    if (input && fds[2].revents) {
      ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
      if (r <= 0) {
        input = false;
        continue;
      }
      (void)WriteAll(master, {buf, static_cast<size_t>(r)});
    }
    if (fds[1].revents & POLLIN) return;
  }
}

}  // namespace bd::os
