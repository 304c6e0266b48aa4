#include "shim/oci_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engine/daemon_config.h"
#include "engine/runtimes/runtimes.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/oci_export.h"
#include "runtime/security.h"
#include "runtime/user.h"

namespace bd::shim {

using nlohmann::json;

namespace {

// `file` (relative, e.g. "etc/passwd") as the container will see it: from the topmost layer
// that has it, each looked up inside its own layer (a symlink cannot lead out of it).
std::string ReadFromLayers(const runtime::Spec& spec, const std::string& file) {
  std::vector<std::string> dirs;
  if (spec.overlay) {
    dirs.push_back(spec.overlay->upper_dir);
    dirs.insert(dirs.end(), spec.overlay->lower_dirs.begin(), spec.overlay->lower_dirs.end());
  } else {
    dirs.push_back(spec.rootfs);
  }
  for (const std::string& d : dirs) {
    UniqueFd root(::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) continue;
    auto fd = os::OpenInRoot(root.get(), file, O_RDONLY | O_CLOEXEC);
    if (!fd.ok()) continue;
    if (auto text = os::ReadAll(fd->get()); text.ok()) return *text;
  }
  return "";
}

// A command the runtime could not run, told in runc's and crun's words, as Launch tells it.
Status WithCommandFailure(Status st) {
  const std::string& m = st.message();
  if (m.find("executable file not found") != std::string::npos ||
      (m.find("executable file") != std::string::npos && m.find("not found") != std::string::npos) ||
      (m.find("no such file or directory") != std::string::npos && m.find("exec") != std::string::npos)) {
    return Status::NotFound(m).WithCommandFailure(CommandFailure::kNotFound);
  }
  if (m.find("permission denied") != std::string::npos && m.find("exec") != std::string::npos) {
    return Status::PermissionDenied(m).WithCommandFailure(CommandFailure::kCannotRun);
  }
  return st;
}

// The listening socket the runtime sends a terminal's master on (--console-socket).
Result<UniqueFd> ListenConsole(const std::string& path) {
  UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l) return os::ErrnoStatus("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Status::InvalidArgument("console socket path too long: " + path);
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ::unlink(path.c_str());
  if (::bind(l.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return os::ErrnoStatus("bind " + path);
  ::chmod(path.c_str(), 0600);
  if (::listen(l.get(), 1) < 0) return os::ErrnoStatus("listen " + path);
  return l;
}

}  // namespace

Result<std::string> BundleConfig(const engine::ContainerConfig& config, const runtime::Spec& spec) {
  runtime::OciExport extra;
  std::string user = spec.process.user.empty() ? "0" : spec.process.user;
  BD_ASSIGN_OR_RETURN(runtime::ResolvedUser u,
                      runtime::ResolveUser(user, ReadFromLayers(spec, "etc/passwd"), ReadFromLayers(spec, "etc/group")));
  extra.user.uid = u.uid;
  extra.user.gid = u.gid;
  extra.user.additional_gids.assign(u.additional_gids.begin(), u.additional_gids.end());
  extra.home = u.home;
  if (!config.privileged && config.seccomp != "unconfined") {
    const std::string& profile = config.seccomp == "default" ? runtime::DefaultSeccompProfile() : config.seccomp;
    BD_ASSIGN_OR_RETURN(extra.seccomp_json, runtime::SeccompProfileForOci(profile, spec.process.capabilities));
  }
  return runtime::OciConfigOf(spec, extra);
}

Result<std::unique_ptr<OciTask>> OciTask::Launch(const engine::Paths& paths, store::Db* db,
                                                 const engine::Container& c, const runtime::Spec& spec,
                                                 const runtime::LaunchIo& io) {
  BD_ASSIGN_OR_RETURN(engine::DaemonConfig daemon, engine::LoadDaemonConfig(paths));
  BD_ASSIGN_OR_RETURN(engine::RuntimeInfo rt, engine::ResolveRuntime(daemon, os::SelfExeDir(), c.config.runtime));
  if (rt.builtin()) return Status::Internal("the builtin runtime runs in the shim, not through an executor");
  std::unique_ptr<OciTask> t(new OciTask);
  BD_ASSIGN_OR_RETURN(engine::PluginSettings settings, engine::PluginManager::LoadSettings(paths, os::SelfExeDir()));
  t->plugins_ = std::make_unique<engine::PluginManager>(paths, db, settings);
  BD_ASSIGN_OR_RETURN(t->plugin_, t->plugins_->Find("executor", "create"));
  t->paths_ = paths;
  t->runtime_ = rt;
  t->id_ = c.id;

  std::string dir = paths.Container(c.id);
  std::string bundle = dir + "/bundle";
  BD_RETURN_IF_ERROR(os::MkdirAll(bundle, 0700));
  BD_RETURN_IF_ERROR(os::MkdirAll(spec.rootfs, 0755));
  BD_ASSIGN_OR_RETURN(std::string config, BundleConfig(c.config, spec));
  BD_RETURN_IF_ERROR(os::WriteFileAtomic(bundle + "/config.json", config, 0600, /*durable=*/false));

  json create = json::object();
  create["bundle"] = bundle;
  if (spec.overlay) {
    std::vector<std::string> options = {"lowerdir=" + Join(spec.overlay->lower_dirs, ":"),
                                        "upperdir=" + spec.overlay->upper_dir, "workdir=" + spec.overlay->work_dir};
    create["rootfs"] = json::array({{{"type", "overlay"}, {"source", "overlay"}, {"options", options}}});
  }
  std::string self = "/proc/" + std::to_string(::getpid()) + "/fd/";
  if (io.stdin_fd >= 0) create["stdin"] = self + std::to_string(io.stdin_fd);
  if (io.stdout_fd >= 0) create["stdout"] = self + std::to_string(io.stdout_fd);
  if (io.stderr_fd >= 0) create["stderr"] = self + std::to_string(io.stderr_fd);
  UniqueFd listener;
  std::string console_path = engine::Paths::RunDir() + "/" + c.id + ".console";
  if (spec.process.terminal) {
    BD_RETURN_IF_ERROR(os::MkdirAll(engine::Paths::RunDir(), 0700));
    BD_ASSIGN_OR_RETURN(listener, ListenConsole(console_path));
    create["consoleSocket"] = console_path;
  }
  auto created = t->Call("create", create.dump());
  if (listener) ::unlink(console_path.c_str());
  if (!created.ok()) return WithCommandFailure(created.status());
  t->created_ = true;
  json answer = json::parse(*created, nullptr, false);
  if (!answer.is_object() || !answer.contains("pid") || !answer["pid"].is_number_integer() || answer["pid"].get<int64_t>() <= 0) {
    return Status::Internal("executor " + t->plugin_ + " answered create without a pid");
  }
  t->pid_ = static_cast<pid_t>(answer["pid"].get<int64_t>());
  BD_ASSIGN_OR_RETURN(t->pidfd_, os::PidfdOpen(t->pid_));
  if (listener) {
    // The runtime connected and sent the master during create: it waits in the backlog.
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return Status::Internal("the runtime sent no terminal on its console socket");
    t->console_.Reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!t->console_) return os::ErrnoStatus("accept the runtime's console connection");
  }
  BD_RETURN_IF_ERROR(WithCommandFailure(t->Call("start").status()));
  return t;
}

Result<std::string> OciTask::Call(const char* capability, std::string_view extra) {
  return plugins_->Call(plugin_, "executor", capability, engine::ExecutorRequest(paths_, runtime_, id_, extra));
}

Result<int> OciTask::Wait() {
  // The keeper writes the status as soon as it has reaped the process: a few ms at most.
  for (int round = 0; round < 6; ++round) {
    BD_ASSIGN_OR_RETURN(std::string text, Call("wait", R"({"timeoutMs":10000})"));
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return Status::Internal("executor " + plugin_ + " answered wait with no JSON object");
    // A plugin's answer is checked, not trusted: a wrong type is an error, never an exception.
    if (!j.contains("exited") || !j["exited"].is_boolean()) {
      return Status::Internal("executor " + plugin_ + " answered wait without \"exited\"");
    }
    if (j["exited"].get<bool>()) {
      if (!j.contains("exitCode") || !j["exitCode"].is_number_integer()) {
        return Status::Internal("executor " + plugin_ + " answered wait without an exit code");
      }
      return j["exitCode"].get<int>();
    }
  }
  return Status::DeadlineExceeded("executor " + plugin_ + " never told the container's exit status");
}

Status OciTask::Delete() {
  if (!created_) return {};
  created_ = false;
  auto r = Call("delete", R"({"force":true})");
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return {};
}

OciTask::~OciTask() {
  if (created_) (void)Delete();
}

}  // namespace bd::shim
