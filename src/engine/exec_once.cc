// exec --once: the calling side (StartExecOnce, ExecOnceSession) and the exec monitor's
// (RunExecMonitor), which basic-docker-shim runs when started with --exec-once.
//
// The monitor's descriptors: 3 its reports ("failed CODE MESSAGE" when the command could not be
// started for the engine's reasons; "done EXIT-CODE" once the record is finished; EOF when it
// exits), 4 the caller's messages ("prep LENGTH" and that many bytes of JSON, the command to
// prepare, sent ahead of the claim; then "go RECORD" once the claim is the monitor's, or EOF:
// exit without running anything), 5 the caller's stdin (or /dev/null), 6 and 7 the caller's
// stdout and stderr.
#include "engine/exec_once.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/daemon_config.h"
#include "engine/elements/elements.h"
#include "engine/engine.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/launch.h"
#include "shim/protocol.h"

namespace bd::engine {
namespace {

constexpr int kReportFd = 3, kGoFd = 4, kInFd = 5, kOutFd = 6, kErrFd = 7;
constexpr std::string_view kMsgPrep = "prep";
constexpr std::string_view kMsgGo = "go";
constexpr std::string_view kMsgDone = "done";  // "done EXIT-CODE": the record is finished
// How long a command runs before its start is recorded on its own (see RunExecMonitor).
constexpr int64_t kRecordStartAfterMs = 20;

// Starts the monitor as our child in a session of its own (no terminal's signals reach it),
// with `fds` as its descriptors 3.. in order and nothing else open.
Result<pid_t> SpawnMonitor(const std::string& root, const std::string& container_ref, const std::array<int, 5>& fds) {
  std::string shim = ShimPath();
  std::vector<os::FdMapping> map;
  for (size_t i = 0; i < fds.size(); ++i) map.push_back({fds[i], kReportFd + static_cast<int>(i)});
  auto pid = os::SpawnInSession({shim, "--root", root, "--exec-once", container_ref}, map);
  if (!pid.ok()) return pid.status().WithContext("start the exec monitor (is basic-docker-shim next to basic-docker?)");
  return pid;
}

// The command as the caller hands it to the monitor ahead of its claim.
struct PreparedExec {
  std::vector<std::string> argv, env;
  std::string cwd, user;
  bool tty = false, interactive = false;
  uint16_t rows = 0, cols = 0;
};

std::string PrepMessage(const ExecRecord& r, const SessionIo& io) {
  nlohmann::json j = {{"argv", r.argv}, {"env", r.env},     {"cwd", r.working_dir}, {"user", r.user},
                      {"tty", r.tty},   {"interactive", r.interactive}, {"rows", io.rows}, {"cols", io.cols}};
  std::string body = j.dump();
  return std::string(kMsgPrep) + " " + std::to_string(body.size()) + "\n" + body;
}

// The caller's "prep" message; nothing when it went away first (or sent something else).
std::optional<PreparedExec> ReadPrepared(int fd) {
  auto head = shim::ReadLine(fd);
  if (!head.ok() || head->rfind(std::string(kMsgPrep) + " ", 0) != 0) return std::nullopt;
  std::optional<int64_t> size = ParseInt(TrimSpace(head->substr(kMsgPrep.size())));
  if (!size || *size < 0 || *size > (64 << 20)) return std::nullopt;
  std::string body(static_cast<size_t>(*size), '\0');
  for (size_t got = 0; got < body.size();) {
    ssize_t n = os::RetryEintr([&] { return ::read(fd, body.data() + got, body.size() - got); });
    if (n <= 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  try {
    auto j = nlohmann::json::parse(body);
    PreparedExec p;
    j.at("argv").get_to(p.argv);
    j.at("env").get_to(p.env);
    j.at("cwd").get_to(p.cwd);
    j.at("user").get_to(p.user);
    j.at("tty").get_to(p.tty);
    j.at("interactive").get_to(p.interactive);
    j.at("rows").get_to(p.rows);
    j.at("cols").get_to(p.cols);
    return p;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void Reap(pid_t pid) {
  int status = 0;
  if (pid > 0) (void)os::RetryEintr([&] { return ::waitpid(pid, &status, 0); });
}

}  // namespace

Result<std::shared_ptr<ExecMonitor>> ExecMonitor::Spawn(const std::string& root, const std::string& container_ref,
                                                        const SessionIo& io, bool interactive) {
  UniqueFd report[2], go[2];
  BD_RETURN_IF_ERROR(os::MakePipe(report));
  BD_RETURN_IF_ERROR(os::MakePipe(go));
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return os::ErrnoStatus("open /dev/null");
  auto or_null = [&](int fd) { return fd >= 0 ? fd : devnull.get(); };
  std::shared_ptr<ExecMonitor> m(new ExecMonitor());
  BD_ASSIGN_OR_RETURN(m->pid_, SpawnMonitor(root, container_ref, {report[1].get(), go[0].get(),
                                                                  interactive ? io.stdin_fd : devnull.get(),
                                                                  or_null(io.stdout_fd), or_null(io.stderr_fd)}));
  m->interactive_ = interactive;
  m->report_ = std::move(report[0]);
  m->go_ = std::move(go[1]);
  return m;
}

void ExecMonitor::Stop() {
  if (pid_ <= 0) return;
  go_.Reset();
  ::kill(pid_, SIGKILL);  // our child, not reaped yet: the pid is still its
  Reap(pid_);
  pid_ = 0;
}

std::string InterruptedMessage(const ExecRecord& r, std::string_view container_name) {
  return "exec --once " + r.key + " in container " + std::string(container_name) +
         " was interrupted: its supervisor (pid " + std::to_string(r.supervisor_pid) + ") died" +
         (r.started_at ? " while the command ran" : " before the command's start was recorded (it may have run)") +
         "; it is not run again on its own: `exec --once " + r.key +
         " --reset` runs it anew, `exec-records rm " + std::string(container_name) + " " + r.key + "` forgets it";
}

ExecOnceSession::~ExecOnceSession() {
  if (monitor_ > 0) Reap(monitor_);  // the run goes on alone; the monitor finishes the record
}

Result<ExecRecord> ExecOnceSession::Replay(ExecRecord r) {
  if (stdout_fd_ >= 0) (void)os::WriteAll(stdout_fd_, r.stdout_data);
  if (stderr_fd_ >= 0) (void)os::WriteAll(stderr_fd_, r.stderr_data);
  std::map<std::string, std::string> attrs = {{"key", r.key}, {"execID", r.exec_id}, {"exitCode", std::to_string(r.exit_code)}};
  if (auto c = eng_->containers().Get(container_id_); c.ok()) attrs = EventAttributes(*c, attrs);
  (void)eng_->events().Emit("container", "exec_once_replay", container_id_, attrs);
  return r;
}

Result<ExecRecord> ExecOnceSession::Wait() {
  if (waited_) return Status::FailedPrecondition("exec --once " + key_ + " was waited for already");
  waited_ = true;
  auto outcome = [&]() -> Result<ExecRecord> {
    if (runs_here_) {
      // The monitor's reports until it exits: a failure before the start, or nothing.
      Status failed;
      std::optional<int> done;
      while (true) {
        BD_ASSIGN_OR_RETURN(std::string line, shim::ReadLine(sync_.get()));
        if (line.empty()) break;
        if (line.rfind(std::string(kMsgDone) + " ", 0) == 0) {
          done = ParseInt(TrimSpace(line.substr(kMsgDone.size())));
          break;
        }
        if (line.rfind(shim::kMsgFailed, 0) == 0) {
          std::string rest(TrimSpace(line.substr(shim::kMsgFailed.size())));
          size_t sp = rest.find(' ');
          failed = Status::Internal(sp == std::string::npos ? "the exec monitor failed" : rest.substr(sp + 1));
        }
      }
      Reap(monitor_);
      monitor_ = 0;
      if (!failed.ok()) return failed;
      if (done) {  // finished as reported: its output reached the caller as it came
        ExecRecord r;
        r.id = record_id_;
        r.container_id = container_id_;
        r.key = key_;
        r.state = ExecRecordState::kDone;
        r.exit_code = *done;
        return r;
      }
    }
    // Until the record is settled: done (replayed unless run here) or interrupted.
    while (true) {
      BD_ASSIGN_OR_RETURN(std::optional<ExecRecord> r, eng_->exec_records().Find(container_id_, key_));
      if (!r || r->id != record_id_) {
        return Status::Unavailable("the run of exec --once " + key_ + " never started (its claim was withdrawn); try again");
      }
      if (r->state == ExecRecordState::kDone) return runs_here_ ? *r : Replay(std::move(*r));
      if (r->state == ExecRecordState::kInterrupted) return Status::FailedPrecondition(InterruptedMessage(*r, container_name_));
      // Running: wait for its supervisor, then read again (it finishes the record before it exits).
      auto pidfd = os::PidfdOpen(r->supervisor_pid);
      if (pidfd.ok() && os::ProcessMatches(r->supervisor_pid, r->supervisor_start)) {
        BD_RETURN_IF_ERROR(os::WaitPidfd(pidfd->get(), -1).status());
        continue;
      }
      BD_ASSIGN_OR_RETURN(Container c, eng_->containers().Get(container_id_));
      BD_RETURN_IF_ERROR(eng_->exec_records().InterruptIfOrphaned(&*r, EventAttributes(c)).status());
    }
  }();
  return op_.Finish(std::move(outcome));
}

Result<std::unique_ptr<ExecOnceSession>> Engine::StartExecOnce(const std::string& ref, const ExecOptions& opts,
                                                               const ExecOnceOptions& once, const SessionIo& io) {
  Operation op = Operation::Begin(ops_, "container", "exec_once", ref);
  auto session = [&]() -> Result<std::unique_ptr<ExecOnceSession>> {
    BD_RETURN_IF_ERROR(ValidateExecKey(once.key));
    BD_RETURN_IF_ERROR(ValidateExecOptions(opts));
    if (opts.detach) return Status::InvalidArgument("exec --once waits for its record: it cannot be detached (-d)");
    if (once.output_limit < -1) return Status::InvalidArgument("the record limit must not be negative");
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    std::unique_ptr<ExecOnceSession> s(new ExecOnceSession());
    s->eng_ = this;
    s->container_id_ = c.id;
    s->container_name_ = c.name;
    s->key_ = once.key;
    s->stdout_fd_ = io.stdout_fd;
    s->stderr_fd_ = io.stderr_fd;
    // What is there decides: a record is replayed (or waited for), never run again.
    auto settle = [&](ExecRecord r) -> Result<std::unique_ptr<ExecOnceSession>> {
      if (r.state == ExecRecordState::kRunning) BD_RETURN_IF_ERROR(exec_records_.InterruptIfOrphaned(&r, EventAttributes(c)).status());
      if (r.state == ExecRecordState::kInterrupted) return Status::FailedPrecondition(InterruptedMessage(r, c.name));
      s->record_id_ = r.id;
      return std::move(s);
    };
    if (!once.reset) {
      BD_ASSIGN_OR_RETURN(std::optional<ExecRecord> there, exec_records_.Find(c.id, once.key, false));
      if (there) return settle(std::move(*there));
    }
    if (c.Paused()) return Status::FailedPrecondition("container " + c.name + " is paused, unpause it first");
    if (!c.Running()) return Status::FailedPrecondition("container " + c.name + " is not running");
    // The monitor first, waiting for the go: the claim names it as the supervisor.
    bool interactive = once.interactive && io.stdin_fd >= 0;
    std::shared_ptr<ExecMonitor> monitor = once.monitor;
    if (!monitor || monitor->pid_ <= 0 || monitor->interactive_ != interactive) {
      BD_ASSIGN_OR_RETURN(monitor, ExecMonitor::Spawn(paths_.root, c.id, io, interactive));
    }
    auto abandon = [&](Status st) -> Status {
      monitor->Stop();  // it has done nothing yet
      return st;
    };
    // The command's process, worked out while the monitor loads.
    auto spec = runtime::SpecFromJson(c.spec_json);
    if (!spec.ok()) return abandon(spec.status());
    auto process = ExecProcessOf(c, *spec, opts);
    if (!process.ok()) return abandon(process.status());
    ExecRecord fresh;
    fresh.container_id = c.id;
    fresh.key = once.key;
    fresh.exec_id = RandomHexId();
    fresh.argv = process->args;
    fresh.env = process->env;
    fresh.working_dir = process->cwd;
    fresh.user = process->user;
    fresh.tty = opts.tty;
    fresh.interactive = interactive;
    fresh.created_at = NowNanos();
    fresh.output_limit = once.output_limit;
    if (fresh.output_limit < 0) {
      auto daemon = LoadDaemonConfig(paths_);
      if (!daemon.ok()) return abandon(daemon.status());
      fresh.output_limit = daemon->exec_output_limit;
    }
    // Its identity is fixed from the fork, and it is our unreaped child: no need to wait for
    // it to load (it opens the state database meanwhile, while the claim commits).
    uint64_t start = os::ProcessStartTime(monitor->pid_);
    if (start == 0) return abandon(Status::Internal("the exec monitor did not start"));
    fresh.supervisor_pid = monitor->pid_;
    fresh.supervisor_start = start;
    // The command goes first: the monitor prepares it up to its execve while the claim commits.
    if (Status st = os::WriteAll(monitor->go_.get(), PrepMessage(fresh, io)); !st.ok()) {
      return abandon(st.WithContext("hand the command to the exec monitor"));
    }
    auto claim = exec_records_.ClaimOrFind(&fresh, once.reset);
    if (!claim.ok()) return abandon(claim.status());
    if (!claim->claimed) {  // another call claimed it between our look and our claim
      (void)abandon({});
      if (once.reset && claim->existing->state == ExecRecordState::kRunning) {
        return Status::FailedPrecondition("exec --once " + once.key + " is running in container " + c.name +
                                          "; it cannot be reset until it ends");
      }
      return settle(std::move(*claim->existing));
    }
    std::string msg = std::string(kMsgGo) + " " + std::to_string(fresh.id) + "\n";
    if (Status st = os::WriteAll(monitor->go_.get(), msg); !st.ok()) {
      (void)abandon(st);
      return st.WithContext("hand the run to the exec monitor");
    }
    monitor->go_.Reset();
    s->record_id_ = fresh.id;
    s->runs_here_ = true;
    s->sync_ = std::move(monitor->report_);
    s->monitor_ = monitor->pid_;  // the session reaps it
    monitor->pid_ = 0;
    return std::move(s);
  }();
  if (!session.ok()) return op.Finish(std::move(session));
  (*session)->op_ = std::move(op);  // the operation lasts until Wait
  return session;
}

namespace {

// The monitor's copy of one output stream: into the record (up to the limit) and on to the
// caller while the caller's end takes it.
struct Sink {
  int from = -1;  // our end of the command's pipe (or the terminal's master)
  int to = -1;    // the caller's descriptor; -1 once it went away
  std::string* kept;
  int64_t* size;
  int64_t limit;
  bool open = true;

  // Reads what is there; false at the end of the stream.
  bool Pump() {
    char buf[65536];
    ssize_t n = os::RetryEintr([&] { return ::read(from, buf, sizeof buf); });
    if (n <= 0) return false;  // EOF, or EIO from a master whose terminal closed
    *size += n;
    if (int64_t room = limit - static_cast<int64_t>(kept->size()); room > 0) {
      kept->append(buf, static_cast<size_t>(std::min<int64_t>(room, n)));
    }
    if (to >= 0 && !os::WriteAll(to, std::string_view(buf, static_cast<size_t>(n))).ok()) to = -1;
    return true;
  }
};

void Report(std::string_view line) {
  std::string l(line);
  l.push_back('\n');
  (void)os::WriteAll(kReportFd, l);
}

}  // namespace

int Engine::RunExecMonitor(const std::string& root, const std::string& container_ref) {
  ::signal(SIGPIPE, SIG_IGN);
  for (int fd : {kReportFd, kGoFd, kInFd, kOutFd, kErrFd}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  pid_t self = ::getpid();
  // Everything that does not need the claim is done before the go, while the caller's claim
  // commits: the state database opened (the caller prepared the root), the container's spec
  // read, its process's pidfd taken, and the command prepared up to its execve. A failure here
  // is reported once the claim is ours.
  auto eng = Engine::Open(Options{root, {}, /*prepare_root=*/false});
  Result<Container> c = eng.ok() ? (*eng)->containers_.Find(container_ref) : Result<Container>(eng.status());
  Result<runtime::Spec> spec = c.ok() ? runtime::SpecFromJson(c->spec_json) : Result<runtime::Spec>(c.status());
  Result<UniqueFd> pidfd = spec.ok() ? (*eng)->ContainerPidfd(*c) : Result<UniqueFd>(spec.status());
  std::optional<PreparedExec> want = ReadPrepared(kGoFd);
  if (!want) return 0;  // the caller went away before its claim: nothing to do
  UniqueFd out[2], err[2], console[2];
  Result<runtime::ExecStarted> started = Status::Internal("not prepared");
  bool prepared = false;
  auto prepare = [&]() -> Status {
    prepared = true;
    if (c->Paused()) return Status::FailedPrecondition("container " + c->name + " is paused");
    runtime::Process process = spec->process;
    process.args = want->argv;
    process.env = want->env;
    process.cwd = want->cwd;
    process.user = want->user;
    process.terminal = want->tty;
    process.console_height = want->rows;
    process.console_width = want->cols;
    process.die_with_parent = true;
    runtime::LaunchIo lio{want->interactive && !want->tty ? kInFd : -1, -1, -1};
    if (want->tty) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return os::ErrnoStatus("socketpair");
      console[0].Reset(sv[0]);
      console[1].Reset(sv[1]);
      lio.console_socket = console[1].get();
    } else {
      BD_RETURN_IF_ERROR(os::MakePipe(out));
      BD_RETURN_IF_ERROR(os::MakePipe(err));
      lio.stdout_fd = out[1].get();
      lio.stderr_fd = err[1].get();
    }
    // Gated: it stops short of its execve until the claim is known to be ours.
    started = runtime::ExecIn(pidfd->get(), *spec, process, lio, /*detach=*/false, /*gated=*/true);
    out[1].Reset();
    err[1].Reset();
    console[1].Reset();
    return {};
  };
  Status setup;
  if (pidfd.ok()) setup = prepare();
  auto go = shim::ReadLine(kGoFd);
  auto parts = go.ok() ? Split(*go, ' ') : std::vector<std::string>();
  if (parts.size() != 2 || parts[0] != kMsgGo) return 0;  // the caller did not claim: dropping `started` ends it unrun
  int64_t id = ParseInt(parts[1]).value_or(0);
  ::close(kGoFd);
  if (!eng.ok()) {  // started before the caller had the root ready: once more, now that it has
    eng = Engine::Open(Options{root, {}, /*prepare_root=*/false});
    c = eng.ok() ? (*eng)->containers_.Find(container_ref) : Result<Container>(eng.status());
    spec = c.ok() ? runtime::SpecFromJson(c->spec_json) : Result<runtime::Spec>(c.status());
    pidfd = spec.ok() ? (*eng)->ContainerPidfd(*c) : Result<UniqueFd>(spec.status());
  }
  if (!eng.ok()) {
    Report(std::string(shim::kMsgFailed) + " 125 " + eng.status().ToString());
    return 1;  // the record stays running under us and reads as interrupted once we are gone
  }
  Engine& e = **eng;
  auto record = e.exec_records_.GetById(id);
  if (!record.ok() || record->supervisor_pid != self) return 1;
  ExecRecord r = std::move(*record);
  // Its own diagnostics go beside the container's log.
  if (int fd = ::open((e.paths_.Container(r.container_id) + "/exec-monitor.log").c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      fd >= 0) {
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  // Before the command starts, a failure of the engine's withdraws the claim: nothing ran.
  auto withdraw = [&](const Status& st) {
    if (started.ok()) started = Status::Internal("withdrawn");  // its gate closed: it ends unrun
    (void)e.exec_records_.Withdraw(r);
    Report(std::string(shim::kMsgFailed) + " 125 " + st.ToString());
    return 1;
  };
  if (!pidfd.ok()) return withdraw(pidfd.status());
  if (c->id != r.container_id) return withdraw(Status::Conflict("container " + container_ref + " is another container now"));
  // The record is what runs: what was prepared must be it.
  if (want->argv != r.argv || want->env != r.env || want->cwd != r.working_dir || want->user != r.user ||
      want->tty != r.tty || want->interactive != r.interactive) {
    return withdraw(Status::Internal("the command prepared is not the one the record holds"));
  }
  if (!prepared) setup = prepare();
  if (!setup.ok()) return withdraw(setup);
  if (started.ok()) {
    if (Status st = runtime::ReleaseExec(*started); !st.ok()) started = st;
  }
  std::map<std::string, std::string> attrs = EventAttributes(*c, {{"execID", r.exec_id}, {"key", r.key}});
  if (!started.ok()) {
    CommandFailure failure = started.status().command_failure();
    if (failure == CommandFailure::kNone) return withdraw(started.status());
    // The command itself cannot run (not found, not executable): that is its one run.
    r.exit_code = runtime::ExitCodeOf(failure);
    r.error = started.status().message();
    r.finished_at = NowNanos();
    attrs["exitCode"] = std::to_string(r.exit_code);
    if (Status st = e.exec_records_.Finish(r, attrs); !st.ok()) log::Warn("exec record {}: {}", r.key, st.ToString());
    return 0;
  }
  r.pid = started->pid;
  r.pid_start = os::ProcessStartTime(r.pid);
  r.started_at = NowNanos();
  // The start is recorded once the command has run for kRecordStartAfter, or with the finish
  // of a command that ended sooner: one transaction for a short command instead of two.
  bool start_recorded = false;
  auto record_start = [&]() -> bool {
    start_recorded = true;
    if (Status st = e.exec_records_.MarkStarted(r, attrs); !st.ok()) {
      (void)started->helper.Signal(SIGKILL);  // the record is not ours any more: it must not run unseen
      (void)started->helper.Wait();
      return false;
    }
    return true;
  };
  const int64_t record_start_at = r.started_at + kRecordStartAfterMs * 1'000'000;
  UniqueFd master;
  if (r.tty) {
    auto m = os::RecvFd(console[0].get());
    if (m.ok()) master = std::move(*m);
  }
  Sink sinks[2] = {{r.tty ? master.get() : out[0].get(), kOutFd, &r.stdout_data, &r.stdout_size, r.output_limit},
                   {r.tty ? -1 : err[0].get(), kErrFd, &r.stderr_data, &r.stderr_size, r.output_limit}};
  if (sinks[0].from < 0) sinks[0].open = false;
  if (sinks[1].from < 0) sinks[1].open = false;
  bool relay_in = r.tty && r.interactive && master;
  bool helper_done = false;
  // Until the command ended and its streams are drained: a daemon it left holding them does
  // not keep the record open.
  while (sinks[0].open || sinks[1].open) {
    pollfd fds[4];
    int n = 0, idx[2] = {-1, -1}, in_idx = -1, helper_idx = -1;
    for (int i = 0; i < 2; ++i) {
      if (sinks[i].open) {
        idx[i] = n;
        fds[n++] = {sinks[i].from, POLLIN, 0};
      }
    }
    if (relay_in) {
      in_idx = n;
      fds[n++] = {kInFd, POLLIN, 0};
    }
    if (!helper_done) {
      helper_idx = n;
      fds[n++] = {started->helper.pidfd(), POLLIN, 0};
    }
    int timeout = helper_done ? 0 : -1;
    if (!start_recorded && !helper_done) timeout = static_cast<int>(std::max<int64_t>(0, (record_start_at - NowNanos()) / 1'000'000));
    int ready = ::poll(fds, static_cast<nfds_t>(n), timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0 && !start_recorded && !helper_done) {
      if (!record_start()) return 1;
      continue;
    }
    if (ready <= 0) break;  // the command is gone and nothing more is there
    for (int i = 0; i < 2; ++i) {
      if (idx[i] >= 0 && (fds[idx[i]].revents & (POLLIN | POLLHUP | POLLERR)) && !sinks[i].Pump()) sinks[i].open = false;
    }
    if (in_idx >= 0 && (fds[in_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[4096];
      ssize_t got = os::RetryEintr([&] { return ::read(kInFd, buf, sizeof buf); });
      if (got <= 0 || !os::WriteAll(master.get(), std::string_view(buf, static_cast<size_t>(got))).ok()) relay_in = false;
    }
    if (helper_idx >= 0 && (fds[helper_idx].revents & POLLIN)) helper_done = true;
  }
  auto status = started->helper.Wait();
  r.exit_code = status.ok() ? runtime::ExitCodeFromWaitStatus(*status) : runtime::kExitEngineFailed;
  r.finished_at = NowNanos();
  attrs["exitCode"] = std::to_string(r.exit_code);
  if (Status st = e.exec_records_.Finish(r, attrs, /*record_start=*/!start_recorded); !st.ok()) {
    log::Warn("exec record {}: {}", r.key, st.ToString());
    return 1;
  }
  // The caller need not wait for our exit nor read the record back for what it saw live.
  Report(std::string(kMsgDone) + " " + std::to_string(r.exit_code));
  return 0;
}

}  // namespace bd::engine
