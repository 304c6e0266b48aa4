// Forwarding the signals an attached client receives (Docker's sig-proxy), in one place for
// basic-docker's `run`/`start -a`, `attach` and `exec` and basic-runtime's `run` and `exec`: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
// go to the session's process through a pidfd (never a recycled pid); SIGWINCH copies the
// caller's window size to a terminal master and/or wakes the shim, which reads the new size.
// Installed for the object's lifetime, then the previous dispositions come back. One at a
// time per process; the handler only makes system calls.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "base/unique_fd.h"

namespace bd::os {

class SignalForwarder {
 public:
  struct Targets {
    pid_t process = 0;     // gets the forwarded signals; 0: none (a terminal session)
    pid_t winch = 0;       // gets SIGWINCH (the shim of a terminal session); 0: none
    int terminal = -1;     // a master to copy the caller's window size to; -1: none
  };
  explicit SignalForwarder(const Targets& targets);
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

  // The master of an exec's terminal once it is known.
  void SetTerminal(int fd);

 private:
  UniqueFd pidfd_;
  struct sigaction saved_[7];
};

}  // namespace bd::os
