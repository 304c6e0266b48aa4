// Attach and exec as sessions (engine/session.h), and the outcome of a started container.
#include "engine/session.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "base/strings.h"
#include "engine/containers/detach.h"
#include "engine/engine.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/launch.h"
#include "shim/protocol.h"

namespace bd::engine {
namespace {

// A shim's report at the end of a session: detached, or the container's exit code. Any other
// line (EOF among them) is `lost`.
Result<ExitOutcome> ParseExitReport(const std::string& line, std::string_view lost) {
  ExitOutcome out;
  if (line == shim::kMsgDetached) {
    out.detached = true;
    return out;
  }
  if (line.rfind(shim::kMsgExited, 0) != 0) return Status::Internal(std::string(lost));
  auto code = ParseInt(TrimSpace(line.substr(shim::kMsgExited.size())));
  if (!code) return Status::Internal("malformed exit report from the shim: " + line);
  return OutcomeOfExitCode(static_cast<int>(*code));
}

// /dev/null, standing in for the descriptors a caller did not give.
class DevNull {
 public:
  static Result<DevNull> Open() {
    UniqueFd fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!fd) return os::ErrnoStatus("open /dev/null");
    return DevNull(std::move(fd));
  }
  int get() const { return fd_.get(); }
  int Or(int fd) const { return fd >= 0 ? fd : fd_.get(); }

 private:
  explicit DevNull(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// The OOM flag the shim recorded with the exit (gone with the record after --rm).
void AddOomFlag(Engine* eng, const std::string& id, ExitOutcome* out) {
  if (out->detached) return;
  if (auto c = eng->containers().Get(id); c.ok()) out->oom_killed = c->oom_killed;
}

}  // namespace

ExitOutcome OutcomeOfExitCode(int code) {
  ExitOutcome out;
  out.exit_code = code;
  if (code > 128 && code < 128 + 65) out.signal = code - 128;
  return out;
}

Status TaskSession::Resize(unsigned short rows, unsigned short cols) { return eng_->ResizeTerminal(id_, rows, cols); }

Status AttachSession::Resize(unsigned short rows, unsigned short cols) { return eng_->ResizeTerminal(id_, rows, cols); }

Status Engine::ResizeTerminal(const std::string& ref, unsigned short rows, unsigned short cols) {
  if (rows == 0 || cols == 0) return Status::InvalidArgument("a terminal size needs rows and columns above 0");
  BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
  if (!c.Running()) return Status::FailedPrecondition("container " + c.name + " is not running");
  if (!c.config.tty) return Status::FailedPrecondition("container " + c.name + " has no terminal (run -t)");
  auto connected = os::ConnectUnix(Paths::AttachSocket(c.id));
  if (!connected.ok()) return connected.status().WithContext("reach the container's shim");
  std::string msg = std::string(shim::kResizePayload) + std::to_string(rows) + "," + std::to_string(cols);
  if (::send(connected->get(), msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    return os::ErrnoStatus("send the size to the container's shim");
  }
  // The shim closes the connection once the size is set.
  BD_RETURN_IF_ERROR(shim::ReadLine(connected->get()).status());
  return {};
}

Result<ExitOutcome> TaskSession::Wait() {
  BD_ASSIGN_OR_RETURN(std::string line, shim::ReadLine(fd_.get()));
  BD_ASSIGN_OR_RETURN(ExitOutcome out, ParseExitReport(line, "lost contact with the container's shim"));
  AddOomFlag(eng_, id_, &out);
  return out;
}

Result<ExitOutcome> AttachSession::Wait() {
  Result<ExitOutcome> out = [&]() -> Result<ExitOutcome> {
    BD_ASSIGN_OR_RETURN(std::string line, shim::ReadLine(sock_.get()));
    return ParseExitReport(line, "the shim closed the attach session");
  }();
  if (out.ok()) AddOomFlag(eng_, id_, &*out);
  return op_.Finish(std::move(out));
}

Result<std::unique_ptr<AttachSession>> Engine::StartAttach(const std::string& ref, const AttachIo& io) {
  Operation op = Operation::Begin(ops_, "container", "attach", ref);
  auto session = [&]() -> Result<std::unique_ptr<AttachSession>> {
    if (!io.detach_keys.empty()) BD_RETURN_IF_ERROR(ParseDetachKeys(io.detach_keys).status());
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    if (!c.Running()) return Status::FailedPrecondition("cannot attach to a stopped container, start it first");
    if (c.Paused()) return Status::FailedPrecondition("cannot attach to a paused container");
    auto connected = os::ConnectUnix(Paths::AttachSocket(c.id));
    if (!connected.ok()) return connected.status().WithContext("reach the container's shim");
    UniqueFd sock = std::move(*connected);
    bool input = io.stdin_fd >= 0 && c.config.open_stdin;
    BD_ASSIGN_OR_RETURN(DevNull devnull, DevNull::Open());
    BD_RETURN_IF_ERROR(os::SendFds(sock.get(), {input ? io.stdin_fd : devnull.get(), devnull.Or(io.stdout_fd), devnull.Or(io.stderr_fd)},
                                   std::string(shim::kDetachKeysPayload) +
                                       (io.detach_keys.empty() ? "ctrl-p,ctrl-q" : io.detach_keys)));
    std::unique_ptr<AttachSession> s(new AttachSession());
    s->eng_ = this;
    s->id_ = c.id;
    s->sock_ = std::move(sock);
    s->pid_ = c.pid;
    s->shim_pid_ = c.shim_pid;
    s->tty_ = c.config.tty;
    s->input_ = input;
    return s;
  }();
  if (!session.ok()) return op.Finish(std::move(session));
  (*session)->op_ = std::move(op);  // the operation lasts until Wait
  return session;
}

ExecSession::~ExecSession() {
  if (!waited_ && started_) (void)Wait();  // the command is the caller's; its end is still recorded
}

Status ExecSession::Resize(unsigned short rows, unsigned short cols) {
  if (!master_) return Status::FailedPrecondition("exec " + exec_id_.substr(0, 12) + " has no terminal");
  struct winsize ws = {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (::ioctl(master_.get(), TIOCSWINSZ, &ws) < 0) return os::ErrnoStatus("resize the exec's terminal");
  return {};
}

Status ExecSession::Signal(int sig) {
  if (!pidfd_) return Status::FailedPrecondition("exec " + exec_id_.substr(0, 12) + " has ended");
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) < 0) {
    if (errno == ESRCH) return Status::FailedPrecondition("exec " + exec_id_.substr(0, 12) + " has ended");
    return os::ErrnoStatus("signal the exec's process");
  }
  return {};
}

Result<ExitOutcome> ExecSession::Wait() {
  if (waited_) return Status::FailedPrecondition("exec " + exec_id_.substr(0, 12) + " was waited for already");
  waited_ = true;
  if (detached_) {
    (void)started_->helper.Wait();
    ExitOutcome out;
    out.detached = true;
    return op_.Finish(Result<ExitOutcome>(out));
  }
  Result<int> status = started_->helper.Wait();
  if (!status.ok()) return op_.Finish(Result<ExitOutcome>(status.status()));
  ExitOutcome out;
  out.exit_code = runtime::ExitCodeFromWaitStatus(*status);
  // The helper exits with the command's status, re-raising the command's signal on itself.
  if (WIFSIGNALED(*status)) out.signal = WTERMSIG(*status);
  else if (out.exit_code > 128) out.signal = OutcomeOfExitCode(out.exit_code).signal;
  master_.Reset();
  pidfd_.Reset();
  attributes_["exitCode"] = std::to_string(out.exit_code);
  (void)eng_->events().Emit("container", "exec_die", container_id_, attributes_);
  return op_.Finish(Result<ExitOutcome>(out));
}

Status Engine::ValidateExecOptions(const ExecOptions& opts) {
  BD_RETURN_IF_ERROR(ValidateUtf8("a command argument", opts.cmd));
  BD_RETURN_IF_ERROR(ValidateUtf8("an environment variable (-e)", opts.env));
  BD_RETURN_IF_ERROR(ValidateUtf8("the working directory (-w)", opts.working_dir));
  BD_RETURN_IF_ERROR(ValidateUtf8("the user (-u)", opts.user));
  if (opts.cmd.empty()) return Status::InvalidArgument("exec needs a command");
  return {};
}

Result<runtime::Process> Engine::ExecProcessOf(const Container& c, const runtime::Spec& spec,
                                              const ExecOptions& opts) {
  runtime::Process process = spec.process;
  process.args = opts.cmd;
  // As Docker's exec: the container's environment made anew, TERM with this exec's terminal.
  process.env = ContainerEnvironment(c.config, spec.hostname, opts.tty);
  for (const std::string& e : opts.env) {
    if (e.empty() || e.front() == '=' || e.find('=') == std::string::npos) {
      return Status::InvalidArgument("invalid environment variable \"" + e + "\": want K=V");
    }
    SetEnv(&process.env, e);
  }
  if (!opts.working_dir.empty()) {
    if (opts.working_dir.front() != '/') {
      return Status::InvalidArgument("the working directory \"" + opts.working_dir + "\" is not an absolute path");
    }
    process.cwd = opts.working_dir;
  }
  if (!opts.user.empty()) process.user = opts.user;
  process.terminal = opts.tty && !opts.detach;
  return process;
}

Result<std::unique_ptr<ExecSession>> Engine::StartExec(const std::string& ref, const ExecOptions& opts,
                                                       const SessionIo& io) {
  Operation op = Operation::Begin(ops_, "container", "exec", ref);
  auto session = [&]() -> Result<std::unique_ptr<ExecSession>> {
    BD_RETURN_IF_ERROR(ValidateExecOptions(opts));
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    if (c.Paused()) return Status::FailedPrecondition("container " + c.name + " is paused, unpause it first");
    BD_ASSIGN_OR_RETURN(runtime::Spec spec, runtime::SpecFromJson(c.spec_json));
    BD_ASSIGN_OR_RETURN(UniqueFd pidfd, ContainerPidfd(c));
    BD_ASSIGN_OR_RETURN(runtime::Process process, ExecProcessOf(c, spec, opts));
    // Its first size set before it runs (the OCI consoleSize), so the command never sees another.
    process.console_height = io.rows;
    process.console_width = io.cols;
    BD_ASSIGN_OR_RETURN(DevNull devnull, DevNull::Open());
    runtime::LaunchIo lio{io.stdin_fd, devnull.Or(io.stdout_fd), devnull.Or(io.stderr_fd)};
    if (opts.detach) lio = {-1, devnull.get(), devnull.get()};
    UniqueFd console[2];
    if (process.terminal) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return os::ErrnoStatus("socketpair");
      console[0].Reset(sv[0]);
      console[1].Reset(sv[1]);
      lio.console_socket = console[1].get();
    }
    BD_ASSIGN_OR_RETURN(runtime::ExecStarted started, runtime::ExecIn(pidfd.get(), spec, process, lio, opts.detach));
    std::unique_ptr<ExecSession> s(new ExecSession());
    s->eng_ = this;
    s->container_id_ = c.id;
    s->exec_id_ = RandomHexId();
    s->pid_ = started.pid;
    s->detached_ = opts.detach;
    s->started_ = std::make_unique<runtime::ExecStarted>(std::move(started));
    if (!opts.detach) {
      if (auto fd = os::PidfdOpen(s->pid_); fd.ok()) s->pidfd_ = std::move(*fd);
    }
    if (process.terminal) {
      console[1].Reset();
      BD_ASSIGN_OR_RETURN(s->master_, os::RecvFd(console[0].get()));
    }
    // While the command runs: Docker's exec_start, "exec_start: " and the command line.
    s->attributes_ = EventAttributes(c, {{"execID", s->exec_id_}});
    (void)events_.Emit("container", "exec_start: " + Join(process.args, " "), c.id, s->attributes_);
    return s;
  }();
  if (!session.ok()) return op.Finish(std::move(session));
  (*session)->op_ = std::move(op);  // the operation lasts until Wait
  return session;
}

pid_t TaskSession::ShimPid() const {
  auto c = eng_->containers().Get(id_);
  return c.ok() ? c->shim_pid : 0;
}

}  // namespace bd::engine
