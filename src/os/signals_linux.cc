#include "os/signals.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "os/process.h"
#include "os/terminal.h"

namespace bd::os {
namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// Read by the handler: plain values set before the handler is installed.
std::atomic<int> g_pidfd{-1};
std::atomic<pid_t> g_winch{0};
std::atomic<int> g_terminal{-1};

void Forward(int sig) {
  int saved_errno = errno;
  if (sig == SIGWINCH) {
    if (int t = g_terminal.load(); t >= 0) CopyWindowSize(STDIN_FILENO, t);
    if (pid_t w = g_winch.load(); w > 0) ::kill(w, SIGWINCH);
  } else if (int fd = g_pidfd.load(); fd >= 0) {
    ::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0);
  }
  errno = saved_errno;
}

}  // namespace

SignalForwarder::SignalForwarder(const Targets& targets) {
  if (targets.process > 0) {
    auto fd = PidfdOpen(targets.process);
    if (fd.ok()) pidfd_ = std::move(*fd);
  }
  g_pidfd = pidfd_ ? pidfd_.get() : -1;
  g_winch = targets.winch;
  g_terminal = targets.terminal;
  struct sigaction sa {};
  sa.sa_handler = Forward;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &sa, &saved_[i]);
}

SignalForwarder::~SignalForwarder() {
  for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &saved_[i], nullptr);
  g_pidfd = -1;
  g_winch = 0;
  g_terminal = -1;
}

void SignalForwarder::SetTerminal(int fd) { g_terminal = fd; }

}  // namespace bd::os
