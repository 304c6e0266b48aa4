#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

#include "os/error.h"
#include "os/process.h"

namespace bd::runtime {

std::string HookState(const Spec& spec, pid_t pid, std::string_view status) {
  nlohmann::json j = {{"ociVersion", "1.2.0"},      {"id", spec.id},
                      {"status", std::string(status)}, {"pid", pid},
                      {"bundle", spec.hooks.bundle}, {"annotations", spec.hooks.annotations}};
  return j.dump();
}

Status RunHook(const Hook& hook, std::string_view state) {
  if (hook.path.empty() || hook.path[0] != '/') {
    return Status::InvalidArgument("hook path `" + hook.path + "` is not absolute");
  }
  // stdin is a socket so that a hook which exits without reading cannot raise SIGPIPE here.
  int in[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0) return os::ErrnoStatus("socketpair");
  UniqueFd in_ours(in[0]), in_theirs(in[1]);
  UniqueFd out[2];
  BD_RETURN_IF_ERROR(os::MakePipe(out));
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return os::ErrnoStatus("fork a hook");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(in_theirs.get(), 0) < 0 || ::dup2(out[1].get(), 1) < 0 || ::dup2(out[1].get(), 2) < 0) {
      ::_exit(127);
    }
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    std::string msg = "exec " + hook.path + ": " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  auto pidfd = os::PidfdOpen(pid);  // our child: the pid cannot be recycled yet
  os::ChildProcess child(pid, pidfd.ok() ? std::move(*pidfd) : UniqueFd());
  in_theirs.Reset();
  out[1].Reset();
  (void)::send(in_ours.get(), state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  in_ours.Reset();
  ::fcntl(out[0].get(), F_SETFL, O_NONBLOCK);
  std::string output;
  auto drain = [&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0].get(), buf, sizeof buf)) > 0) {
      if (output.size() < 4096) output.append(buf, static_cast<size_t>(std::min<ssize_t>(n, 4096)));
    }
    return n == 0;  // end of output
  };
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(hook.timeout_s);
  bool exited = false, timed_out = false, eof = false;
  while (!exited) {
    int wait_ms = -1;
    if (hook.timeout_s > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left);
    }
    pollfd fds[2] = {{child.pidfd(), POLLIN, 0}, {eof ? -1 : out[0].get(), POLLIN, 0}};
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) return os::ErrnoStatus("wait for a hook");
    if (n <= 0) continue;
    if (fds[1].revents) eof = drain();
    if (fds[0].revents & POLLIN) exited = true;
  }
  if (timed_out) {
    (void)child.Signal(SIGKILL);
    (void)child.Wait();
    return Status::Unavailable("hook " + hook.path + " did not finish within its timeout of " +
                                    std::to_string(hook.timeout_s) + "s and was killed");
  }
  drain();  // what is left; a background child keeping the pipe open is not waited for
  auto status = child.Wait();
  if (!status.ok()) return status.status();
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  std::string shown = output.empty() ? "" : ", output: " + output;
  if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) return {};
  if (WIFSIGNALED(*status)) {
    return Status::Internal("hook " + hook.path + " was killed by signal " +
                            std::to_string(WTERMSIG(*status)) + shown);
  }
  return Status::Internal("hook " + hook.path + " exited with status " +
                          std::to_string(WEXITSTATUS(*status)) + shown);
}

Status RunHooks(const std::vector<Hook>& hooks, std::string_view kind, std::string_view state) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    if (Status st = RunHook(hooks[i], state); !st.ok()) {
      return st.WithContext("error running " + std::string(kind) + " hook #" + std::to_string(i));
    }
  }
  return {};
}

Status SendToSeccompAgent(const Spec& spec, pid_t pid, std::string_view status, int notify_fd) {
  nlohmann::json msg = {{"ociVersion", "1.2.0"},
                        {"fds", {"seccompFd"}},
                        {"pid", pid},
                        {"metadata", spec.seccomp_listener_metadata},
                        {"state", nlohmann::json::parse(HookState(spec, pid, status))}};
  std::string payload = msg.dump();
  auto sock = os::ConnectUnix(spec.seccomp_listener);
  if (!sock.ok()) return sock.status().WithContext("send the seccomp descriptor to linux.seccomp.listenerPath");
  iovec iov{payload.data(), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &notify_fd, sizeof(int));
  ssize_t sent = os::RetryEintr([&] { return ::sendmsg(sock->get(), &m, MSG_NOSIGNAL); });
  if (sent < 0) return os::ErrnoStatus("send the seccomp state to `" + spec.seccomp_listener + "`");
  // The descriptor went with the first byte; the rest of a long state follows as a stream.
  std::string_view rest = std::string_view(payload).substr(static_cast<size_t>(sent));
  while (!rest.empty()) {
    ssize_t n = os::RetryEintr([&] { return ::send(sock->get(), rest.data(), rest.size(), MSG_NOSIGNAL); });
    if (n <= 0) return os::ErrnoStatus("send the seccomp state to `" + spec.seccomp_listener + "`");
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace bd::runtime
