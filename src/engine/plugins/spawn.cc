#include "engine/plugins/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/strings.h"
#include "base/time.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"

namespace bd::engine {

int64_t PluginNowMs() { return NowNanos() / 1'000'000; }

std::vector<std::string> PluginEnvironment(const std::string& name, const std::string& root) {
  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                                  "BASIC_DOCKER_PLUGIN_NAME=" + name};
  if (!root.empty()) env.push_back("BASIC_DOCKER_ROOT=" + root);
  return env;
}

// Starts `argv` as a plugin process: a session of its own, nothing inherited but the three
// descriptors given, the environment only what the contract passes.
Result<pid_t> SpawnPlugin(const std::vector<std::string>& args, int out_fd, int err_fd,
                          const std::vector<std::string>& env) {
  return os::SpawnInSession(args, {{out_fd, STDOUT_FILENO}, {err_fd, STDERR_FILENO}}, &env);
}

// Reads from `fd` until EOF, a newline (when `line`), `max` bytes or the deadline.
// False on the deadline.
bool ReadUntil(int fd, std::string* out, bool line, size_t max, int64_t deadline_ms) {
  char buf[4096];
  while (out->size() < max && !(line && out->find('\n') != std::string::npos)) {
    int64_t left = deadline_ms - PluginNowMs();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0;
    ssize_t got = os::RetryEintr([&] { return ::read(fd, buf, line ? 1 : sizeof buf); });
    if (got <= 0) return true;  // EOF
    out->append(buf, static_cast<size_t>(got));
  }
  return true;
}

void KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);  // our child, not reaped: the pid is still its
  int status;
  (void)os::RetryEintr([&] { return ::waitpid(pid, &status, 0); });
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

Result<plugin::Capabilities> AskCapabilities(const std::string& path, const std::string& name) {
  constexpr int64_t kTimeoutMs = 5'000;
  constexpr size_t kMax = 1 << 20;
  UniqueFd out_pipe[2], err_pipe[2];
  BD_RETURN_IF_ERROR(os::MakePipe(out_pipe));
  BD_RETURN_IF_ERROR(os::MakePipe(err_pipe));
  BD_ASSIGN_OR_RETURN(pid_t pid, SpawnPlugin({path, "capabilities"}, out_pipe[1].get(), err_pipe[1].get(),
                                             PluginEnvironment(name, "")));
  out_pipe[1].Reset();
  err_pipe[1].Reset();
  std::string out, err;
  if (!ReadUntil(out_pipe[0].get(), &out, false, kMax + 1, PluginNowMs() + kTimeoutMs)) {
    KillAndReap(pid);
    return Status::DeadlineExceeded("`" + path + " capabilities` did not finish within 5s");
  }
  (void)ReadUntil(err_pipe[0].get(), &err, false, 4096, PluginNowMs() + 100);
  int status = 0;
  (void)os::RetryEintr([&] { return ::waitpid(pid, &status, 0); });
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::InvalidArgument("`" + path + " capabilities` " + DescribeExit(status) +
                                   (err.empty() ? "" : ": " + std::string(TrimSpace(err))));
  }
  if (out.size() > kMax) return Status::InvalidArgument("`" + path + " capabilities` printed over 1 MiB");
  return plugin::ParseCapabilities(out);
}

}  // namespace bd::engine
