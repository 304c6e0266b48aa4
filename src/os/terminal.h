// Terminals: raw mode for the duration of an attached session, and window sizes.
// Not thread-safe (terminal state is process-wide).
#pragma once

#include <termios.h>

namespace bd::os {

// Puts `fd` in raw mode if it is a terminal, and restores its settings on destruction.
class RawMode {
 public:
  explicit RawMode(int fd);
  ~RawMode();
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  bool active_ = false;
  termios saved_{};
};

// Copies the window size of terminal `from` to terminal `to`; false when `from` is no terminal.
bool CopyWindowSize(int from, int to);

// Relays a session on a pseudo-terminal's `master`: its output to stdout, and, with
// `forward_input`, stdin to it (until stdin ends). Returns when the process side of the
// terminal closes, or when `stop_fd` (e.g. the process's pidfd; -1: none) becomes readable,
// output already pending being written first.
void RelayTerminal(int master, bool forward_input, int stop_fd = -1);

}  // namespace bd::os
