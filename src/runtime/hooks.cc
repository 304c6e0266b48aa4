#include "runtime/hooks.h"

#include <sys/wait.h>

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
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  BD_ASSIGN_OR_RETURN(os::ProgramRun run, os::RunProgram(hook.path, args, hook.env, state, hook.timeout_s));
  if (run.timed_out) {
    return Status::DeadlineExceeded("hook " + hook.path + " did not finish within its timeout of " +
                               std::to_string(hook.timeout_s) + "s and was killed");
  }
  std::string shown = run.output.empty() ? "" : ", output: " + run.output;
  if (WIFEXITED(run.wait_status) && WEXITSTATUS(run.wait_status) == 0) return {};
  if (WIFSIGNALED(run.wait_status)) {
    return Status::Internal("hook " + hook.path + " was killed by signal " +
                            std::to_string(WTERMSIG(run.wait_status)) + shown);
  }
  return Status::Internal("hook " + hook.path + " exited with status " +
                          std::to_string(WEXITSTATUS(run.wait_status)) + shown);
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
  return os::SendFds(sock->get(), {notify_fd}, payload).WithContext("send the seccomp state to `" + spec.seccomp_listener + "`");
}

}  // namespace bd::runtime
