#include "shim/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <termios.h>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/capsules/store.h"
#include "engine/containers/detach.h"
#include "engine/containers/store.h"
#include "engine/engine.h"
#include "engine/schema.h"
#include "engine/containers/logfile.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "os/terminal.h"
#include "runtime/launch.h"
#include "runtime/live_mount.h"
#include "shim/oci_executor.h"
#include "shim/protocol.h"

namespace bd::shim {
namespace {

constexpr int kSyncFd = 3;
constexpr int kAttachOutFd = 4;
constexpr int kAttachErrFd = 5;
constexpr int kAttachInFd = 6;

void Report(std::string_view msg) {
  std::string line(msg);
  line.push_back('\n');
  (void)os::WriteAll(kSyncFd, line);  // the CLI may be gone: that is fine
}

void ReportFailed(int exit_code, const std::string& message) {
  Report(std::string(shim::kMsgFailed) + " " + std::to_string(exit_code) + " " + message);
}

// A client of `basic-docker attach`: its stdio (passed over the attach socket) stands in for
// the attached CLI's, and it hears the exit code on the socket.
struct Attachment {
  UniqueFd listener;
  UniqueFd client;
  UniqueFd in, out, err;
  std::string detach_keys;  // the client's sequence (default Ctrl-P Ctrl-Q)
};

// Takes a connection from the attach listener: only root may attach or resize. A resize is
// applied to `master` (when the container has a terminal) at once; true only for a new client.
bool AcceptAttach(Attachment* a, int master) {
  UniqueFd conn(::accept4(a->listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return false;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
    return false;
  }
  char data[256];
  std::vector<UniqueFd> received;
  auto n = os::RecvMessage(conn.get(), data, sizeof data, &received);
  if (!n.ok() || *n == 0) return false;
  std::string payload(data, *n);
  if (payload.rfind(shim::kResizePayload, 0) == 0 && received.empty()) {
    auto parts = Split(payload.substr(shim::kResizePayload.size()), ',');
    auto rows = parts.size() == 2 ? ParseInt(parts[0]) : std::nullopt;
    auto cols = parts.size() == 2 ? ParseInt(parts[1]) : std::nullopt;
    if (master >= 0 && rows && cols && *rows > 0 && *cols > 0 && *rows <= 65535 && *cols <= 65535) {
      struct winsize ws = {};
      ws.ws_row = static_cast<unsigned short>(*rows);
      ws.ws_col = static_cast<unsigned short>(*cols);
      (void)::ioctl(master, TIOCSWINSZ, &ws);
    }
    return false;  // closing the connection tells the client it is done
  }
  if (received.size() != 3) return false;
  a->detach_keys = std::string(engine::kDefaultDetachKeys);
  if (payload.rfind(shim::kDetachKeysPayload, 0) == 0) {
    auto keys = engine::ParseDetachKeys(payload.substr(shim::kDetachKeysPayload.size()));
    if (keys.ok()) a->detach_keys = *keys;
  }
  a->in = std::move(received[0]);
  a->out = std::move(received[1]);
  a->err = std::move(received[2]);
  a->client = std::move(conn);
  return true;
}

struct Output {
  UniqueFd pipe;
  engine::Stream stream;
  int attach_fd;  // -1 when not attached or the reader went away
};

// One run of the container: launch, record it running, copy its output until it exits.
// Returns the exit code, or the launch failure (with `error` set).
struct RunResult {
  int exit_code = runtime::kExitEngineFailed;  // until the container ran
  bool launched = false;
  bool oom_killed = false;
  Status error;
};

// A container of an OCI runtime: what its executor needs besides the spec.
struct External {
  const engine::Paths* paths;
  store::Db* db;
  const engine::Container* container;
};

// `stdin_source`: an fd to copy into the container's stdin (the attached CLI's), -1 for none.
// With `open_stdin` and no source, the container's stdin is a pipe that stays open, empty.
// `external`: run by an OCI runtime through its executor (null: the builtin runtime).
RunResult RunOnce(const runtime::Spec& spec, engine::ContainerStore& containers,
                  const std::string& id, engine::LogWriter& log, bool attach, bool report, bool open_stdin,
                  int stdin_source, const std::string& detach_keys, Attachment* attachment,
                  const External* external) {
  RunResult result;
  UniqueFd out[2], err[2], in[2], console[2];
  bool tty = spec.process.terminal;
  if (Status st = os::MakePipe(out); !st.ok() || !(st = os::MakePipe(err)).ok()) {
    result.error = st;
    return result;
  }
  if (tty) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
      result.error = os::ErrnoStatus("socketpair");
      return result;
    }
    console[0].Reset(sv[0]);
    console[1].Reset(sv[1]);
  } else if (open_stdin || stdin_source >= 0) {
    if (Status st = os::MakePipe(in); !st.ok()) {
      result.error = st;
      return result;
    }
    ::fcntl(in[1].get(), F_SETFL, O_NONBLOCK);
  }
  runtime::LaunchIo io{in[0] ? in[0].get() : -1, out[1].get(), err[1].get(),
                       console[1] ? console[1].get() : -1};
  os::ChildProcess child;  // the builtin runtime's process
  std::unique_ptr<OciTask> oci;  // or an OCI runtime's
  Status launch_status;
  if (external) {
    auto task = OciTask::Launch(*external->paths, external->db, *external->container, spec, io);
    if (task.ok()) oci = std::move(task).value();
    else launch_status = task.status();
  } else {
    auto launched = runtime::Launch(spec, io);
    if (launched.ok()) child = std::move(launched).value();
    else launch_status = launched.status();
  }
  out[1].Reset();
  err[1].Reset();
  in[0].Reset();
  console[1].Reset();
  UniqueFd master;
  if (launch_status.ok() && tty) {
    // The container sent its terminal's master before exec: output comes from it (stdout and
    // stderr are one stream on a terminal) and input goes to it.
    auto received = os::RecvFd(oci ? oci->console() : console[0].get());
    if (!received.ok()) {
      result.error = received.status().WithContext("receive the container's terminal");
      return result;
    }
    master = std::move(received).value();
    ::fcntl(master.get(), F_SETFL, O_NONBLOCK);
    out[0].Reset(::dup(master.get()));
    err[0].Reset();
    in[1].Reset(::dup(master.get()));
    if (stdin_source >= 0) os::CopyWindowSize(stdin_source, master.get());
  }
  if (!launch_status.ok()) {
    result.error = launch_status;
    result.exit_code = runtime::ExitCodeOf(launch_status.command_failure());
    return result;
  }
  const pid_t pid = oci ? oci->pid() : child.pid();
  const int pidfd = oci ? oci->pidfd() : child.pidfd();
  pid_t self = ::getpid();
  Status st = containers.MarkRunning(id, pid, self, os::ProcessStartTime(self), NowNanos());
  if (!st.ok()) {
    // Without a record nobody could manage the container: `child` (or `oci`, deleting it from
    // its runtime) takes it down on return.
    result.error = st.WithContext("record start");
    return result;
  }
  result.launched = true;
  if (report) Report(std::string(shim::kMsgStarted) + " " + std::to_string(pid));
  // From here the shim mostly sleeps in poll(): keep only what that loop touches resident.
  os::TrimResidentMemory();

  Output outputs[2] = {{std::move(out[0]), engine::Stream::kStdout, attach ? kAttachOutFd : -1},
                       {std::move(err[0]), engine::Stream::kStderr, attach ? kAttachErrFd : -1}};
  if (!attach && attachment->client) {  // a client attached during an earlier run stays
    outputs[0].attach_fd = attachment->out.get();
    outputs[1].attach_fd = attachment->err.get();
    if (open_stdin) stdin_source = attachment->in.get();
  }
  bool exited = false;
  int exit_code = 0;
  char buf[65536];
  // Input from the attached CLI: read only while nothing is pending, so a container that does
  // not read never blocks this loop (its output must keep flowing).
  int source = stdin_source;
  std::string pending;
  // The attached CLI forwards SIGWINCH: the terminal's new size is read from its stdin.
  UniqueFd winch;
  if (tty && stdin_source >= 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    winch.Reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  auto close_input = [&] {
    source = -1;
    pending.clear();
    in[1].Reset();  // the container sees EOF
  };
  // On a terminal the attached client may let go with its detach keys; the container runs on.
  engine::DetachScanner scanner(detach_keys);
  if (!attach && attachment->client) scanner = engine::DetachScanner(attachment->detach_keys);
  auto detach = [&] {
    bool from_attach_client = attachment->client && source == attachment->in.get();
    source = -1;
    pending.clear();
    outputs[0].attach_fd = outputs[1].attach_fd = -1;
    if (from_attach_client) {
      (void)os::WriteAll(attachment->client.get(), std::string(shim::kMsgDetached) + "\n");
      attachment->client.Reset();
      attachment->in.Reset();
      attachment->out.Reset();
      attachment->err.Reset();
      return;
    }
    // The CLI that started the container: it hears of it on the sync pipe, and its terminal
    // is let go (the descriptor numbers stay taken, by /dev/null).
    Report(shim::kMsgDetached);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd : {kAttachOutFd, kAttachErrFd, kAttachInFd}) ::dup3(null, fd, O_CLOEXEC);
    if (null >= 0) ::close(null);
  };
  while (!exited || outputs[0].pipe || outputs[1].pipe) {
    pollfd fds[7];
    int n = 0;
    int index[7];
    if (source >= 0 && pending.empty() && !exited) {
      fds[n] = {source, POLLIN, 0};
      index[n++] = 2;
    }
    if (in[1] && !pending.empty() && !exited) {
      fds[n] = {in[1].get(), POLLOUT, 0};
      index[n++] = 3;
    }
    if (winch && !exited) {
      fds[n] = {winch.get(), POLLIN, 0};
      index[n++] = 4;
    }
    if (attachment->listener && !exited) {
      fds[n] = {attachment->listener.get(), POLLIN, 0};
      index[n++] = 5;
    }
    for (int i = 0; i < 2; ++i) {
      if (outputs[i].pipe) {
        fds[n] = {outputs[i].pipe.get(), POLLIN, 0};
        index[n++] = i;
      }
    }
    if (!exited) {
      fds[n] = {pidfd, POLLIN, 0};
      index[n++] = -1;
    }
    if (os::RetryEintr([&] { return ::poll(fds, static_cast<nfds_t>(n), -1); }) < 0) break;
    for (int k = 0; k < n; ++k) {
      if (!fds[k].revents) continue;
      if (index[k] == 5) {
        if (AcceptAttach(attachment, tty ? master.get() : -1)) {
          outputs[0].attach_fd = attachment->out.get();
          outputs[1].attach_fd = attachment->err.get();
          if (open_stdin || tty) {
            pending.clear();
            source = attachment->in.get();
            scanner = engine::DetachScanner(attachment->detach_keys);
            if (!winch && tty) {
              sigset_t set;
              sigemptyset(&set);
              sigaddset(&set, SIGWINCH);
              winch.Reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
            }
            if (tty) os::CopyWindowSize(source, master.get());
          }
        }
        continue;
      }
      if (index[k] == 4) {
        signalfd_siginfo info;
        while (::read(winch.get(), &info, sizeof info) > 0) {
        }
        os::CopyWindowSize(source, master.get());
        continue;
      }
      if (index[k] == 2) {
        ssize_t r = os::RetryEintr([&] { return ::read(source, buf, sizeof buf); });
        if (r <= 0) {
          // A client that goes away (or a terminal that closes) takes only its own input
          // along: the container's stays open for the next attach. EOF on the stdin `run -i`
          // was started with is the container's EOF, as in Docker.
          if (tty || (attachment->client && source == attachment->in.get())) {
            source = -1;
          } else {
            close_input();
          }
        } else if (tty) {
          bool detached = false;
          pending = scanner.Feed(std::string_view(buf, static_cast<size_t>(r)), &detached);
          if (detached) {
            detach();
            continue;
          }
        } else {
          pending.assign(buf, static_cast<size_t>(r));
        }
      }
      if (index[k] == 2 || index[k] == 3) {
        if (pending.empty() || !in[1]) continue;
        ssize_t w = ::write(in[1].get(), pending.data(), pending.size());
        if (w > 0) pending.erase(0, static_cast<size_t>(w));
        else if (w < 0 && errno != EAGAIN && errno != EINTR) close_input();  // container closed stdin
        continue;
      }
      if (index[k] < 0) {
        if (oci) {
          auto code = oci->Wait();
          if (!code.ok()) log::Error("exit status: {}", code.status().ToString());
          exit_code = code.ok() ? *code : 255;
          exited = true;
        } else if (auto waited = child.Wait(); waited.ok()) {
          exit_code = runtime::ExitCodeFromWaitStatus(*waited);
          exited = true;
        }
        continue;
      }
      Output& o = outputs[index[k]];
      ssize_t r = os::RetryEintr([&] { return ::read(o.pipe.get(), buf, sizeof buf); });
      if (r < 0 && errno == EAGAIN) continue;
      int64_t now = NowNanos();
      if (r <= 0) {  // EOF, or EIO from a terminal whose last slave closed
        (void)log.Flush(o.stream, now);
        o.pipe.Reset();
        continue;
      }
      std::string_view data(buf, static_cast<size_t>(r));
      if (Status ws = log.Write(o.stream, data, now); !ws.ok()) {
        log::Error("write container log: {}", ws.ToString());
      }
      if (o.attach_fd >= 0 && !os::WriteAll(o.attach_fd, data).ok()) o.attach_fd = -1;
    }
  }
  result.exit_code = exit_code;
  // The run's cgroup tells whether the kernel's OOM killer ended it; then it goes.
  runtime::CgroupPlan cgroup = runtime::PlanFor(spec);
  if (auto stats = runtime::ReadCgroupStats(cgroup); stats.ok()) {
    result.oom_killed = stats->oom_kills > 0;
  }
  if (oci) {
    if (Status st = oci->Delete(); !st.ok()) log::Error("delete from the runtime: {}", st.ToString());
  }
  if (Status st = runtime::RemoveCgroup(cgroup); !st.ok()) {
    log::Error("remove cgroup: {}", st.ToString());
  }
  return result;
}

// Sleeps `ms` unless woken by SIGUSR1 (sent by `stop` to a container between restarts).
void Backoff(int signal_fd, int64_t ms) {
  pollfd p{signal_fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(ms)) > 0) {
    signalfd_siginfo info;
    (void)!::read(signal_fd, &info, sizeof info);
  }
}

int Run(const std::string& root, const std::string& id, bool attach, bool attach_stdin,
        const std::string& detach_keys) {
  // Only the state database and the container's row: the shim needs nothing else of the engine.
  engine::Paths paths{root};
  auto db = store::Db::Open(paths.Db(), engine::Migrations());
  if (!db.ok()) {
    log::Error("open state: {}", db.status().ToString());
    ReportFailed(125, db.status().ToString());
    return 1;
  }
  engine::ContainerStore containers(db->get());
  auto c = containers.Get(id);
  if (!c.ok()) {
    ReportFailed(125, c.status().ToString());
    return 1;
  }
  auto spec = runtime::SpecFromJson(c->spec_json);
  if (!spec.ok()) {
    ReportFailed(125, spec.status().ToString());
    return 1;
  }
  std::string dir = paths.Container(id);
  auto log = engine::LogWriter::Open(dir + "/ctr.log", c->config.log);
  if (!log.ok()) {
    ReportFailed(125, log.status().ToString());
    return 1;
  }
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);   // `stop` between restarts
  sigaddset(&blocked, SIGWINCH);  // an attached terminal resized (read in RunOnce)
  sigprocmask(SIG_BLOCK, &blocked, nullptr);
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, SIGUSR1);
  UniqueFd wake_fd(::signalfd(-1, &wake, SFD_CLOEXEC));

  // `basic-docker attach` reaches the shim here; the socket goes when the shim does.
  Attachment attachment;
  std::string socket_path = engine::Paths::AttachSocket(id);
  if (os::MkdirAll(engine::Paths::RunDir(), 0700).ok()) {
    ::unlink(socket_path.c_str());
    UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
    if (l && ::bind(l.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(l.get(), 4) == 0) {
      ::chmod(socket_path.c_str(), 0600);
      attachment.listener = std::move(l);
    } else {
      log::Warn("no attach socket at {}", socket_path);
    }
  }
  struct SocketRemover {
    std::string path;
    ~SocketRemover() { ::unlink(path.c_str()); }
  } remover{socket_path};
  auto tell_attached = [&](int code) {
    if (attachment.client) {
      (void)os::WriteAll(attachment.client.get(),
                         std::string(shim::kMsgExited) + " " + std::to_string(code) + "\n");
    }
  };

  int restarts = c->restart_count;
  int64_t backoff_ms = 100;
  bool first = true;
  while (true) {
    int64_t started = NowNanos();
    if (!first) {
      // A restart brings back the capsules attached meanwhile (attach records them live).
      auto blobs = store::BlobStore::Open(root);
      if (blobs.ok()) {
        engine::CapsuleStore capsules(paths, db->get(), &*blobs);
        auto fresh = engine::SpecWithCapsules(*spec, id, capsules, paths);
        if (fresh.ok()) *spec = std::move(*fresh);
        else log::Warn("capsules for the restart: {}", fresh.status().ToString());
      }
    }
    External external{&paths, db->get(), &*c};
    RunResult run = RunOnce(*spec, containers, id, *log, attach && first, first,
                            c->config.open_stdin, attach_stdin && first ? kAttachInFd : -1,
                            detach_keys, &attachment, c->config.runtime.empty() ? nullptr : &external);
    int64_t finished = NowNanos();
    if (first && !run.launched) {
      Status st = containers.MarkExited(id, run.exit_code, run.error.message(), finished);
      if (!st.ok()) log::Error("record failed start: {}", st.ToString());
      ReportFailed(run.exit_code, run.error.message());
      return 1;
    }
    auto now = containers.Get(id);
    bool stop = !now.ok() || now->stop_requested;
    if (stop || !engine::ShouldRestart(c->config, run.exit_code, restarts)) {
      if (c->config.auto_remove) {
        log->Close();
        Status rm = runtime::ReleaseSharedDir(dir + "/capsules");  // propagation fallback
        if (rm.ok()) rm = os::RemoveOutOfSight(dir, paths.Trash());
        if (rm.ok()) rm = containers.Delete(id);
        if (!rm.ok()) {
          log::Error("remove container: {}", rm.ToString());
          (void)containers.MarkExited(id, run.exit_code, "auto-remove failed: " + rm.ToString(),
                                      finished);
        }
      } else if (Status ms = containers.MarkExited(id, run.exit_code, run.error.message(),
                                                   finished, run.oom_killed);
                 !ms.ok()) {
        log::Error("record exit: {}", ms.ToString());
      }
      if (first) Report(std::string(shim::kMsgExited) + " " + std::to_string(run.exit_code));
      tell_attached(run.exit_code);
      return 0;
    }
    if (Status st = containers.MarkRestarting(id, run.exit_code, finished, run.oom_killed);
        !st.ok()) {
      log::Error("record restart: {}", st.ToString());
    }
    ++restarts;
    if (first) {
      // An attached CLI returns at the first exit, as Docker's does; restarts go on detached.
      Report(std::string(shim::kMsgExited) + " " + std::to_string(run.exit_code));
      if (attach) {
        ::close(kAttachOutFd);
        ::close(kAttachErrFd);
        if (attach_stdin) ::close(kAttachInFd);
      }
      first = false;
    }
    // Docker's backoff: 100 ms doubling up to a minute, reset after a run of 10 s or more.
    if (finished - started >= 10'000'000'000) backoff_ms = 100;
    Backoff(wake_fd.get(), backoff_ms);
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 60'000);
    auto again = containers.Get(id);
    if (!again.ok() || again->stop_requested) {
      if (again.ok()) (void)containers.MarkExited(id, run.exit_code, "", NowNanos());
      tell_attached(run.exit_code);
      return 0;
    }
  }
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc == 5 && std::string_view(argv[1]) == "--root" && std::string_view(argv[3]) == "--exec-once") {
    return engine::Engine::RunExecMonitor(argv[2], argv[4]);  // an exec --once run (engine/exec_once.h)
  }
  std::string root, id;
  bool attach = false;
  bool attach_stdin = false;
  std::string detach_keys(engine::kDefaultDetachKeys);
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--root" && i + 1 < argc) root = argv[++i];
    else if (a == "--id" && i + 1 < argc) id = argv[++i];
    else if (a == "--attach") attach = true;
    else if (a == "--stdin") attach_stdin = true;
    else if (a == "--detach-keys" && i + 1 < argc) {
      auto keys = engine::ParseDetachKeys(argv[++i]);
      if (!keys.ok()) {
        std::fprintf(stderr, "basic-docker-shim: %s\n", keys.status().ToString().c_str());
        return 2;
      }
      detach_keys = *keys;
    } else {
      std::fprintf(stderr, "basic-docker-shim: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (const char* env = std::getenv(std::string(shim::kShimIdEnv).c_str()); env && id.empty()) {
    id = env;
    ::unsetenv(std::string(shim::kShimIdEnv).c_str());  // the container never sees it
  }
  if (root.empty() || id.empty()) {
    std::fprintf(stderr, "usage: basic-docker-shim --root DIR [--id ID] [--attach [--stdin] [--detach-keys K]]\n"
                         "The id may come in $BASIC_DOCKER_SHIM_ID instead.\n"
                         "Started by basic-docker; not meant to be run by hand.\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // The shim's own diagnostics go to a file beside the container log.
  std::string shim_log = engine::Paths{root}.Container(id) + "/shim.log";
  int fd = ::open(shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd >= 0) {
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  return Run(root, id, attach, attach && attach_stdin, detach_keys);
}

}  // namespace bd::shim
