#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"

#include "base/strings.h"

namespace bd::os {

Status SpawnDetached(const std::vector<std::string>& argv, const std::vector<FdMapping>& fds,
                     const std::vector<std::string>& extra_env) {
  if (argv.empty()) return Status::InvalidArgument("spawn: empty argv");
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (char** e = environ; *e; ++e) cenv.push_back(*e);
  for (const auto& e : extra_env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  int max_to = 2;
  for (const auto& m : fds) max_to = m.to > max_to ? m.to : max_to;

  pid_t child = ::fork();
  if (child < 0) return ErrnoStatus("fork");
  if (child == 0) {
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    // Lift the sources above every target so dup2 never clobbers a source not yet placed.
    int lifted[16];
    size_t n = fds.size() < 16 ? fds.size() : 16;
    for (size_t i = 0; i < n; ++i) {
      lifted[i] = ::fcntl(fds[i].from, F_DUPFD, max_to + 1);
      if (lifted[i] < 0) ::_exit(126);
    }
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull < 0) ::_exit(126);
    for (int std_fd = 0; std_fd <= 2; ++std_fd) ::dup2(devnull, std_fd);
    for (size_t i = 0; i < n; ++i) {
      if (::dup2(lifted[i], fds[i].to) < 0) ::_exit(126);
    }
    ::close_range(static_cast<unsigned>(max_to) + 1, ~0U, 0);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  int status = 0;
  if (RetryEintr([&] { return ::waitpid(child, &status, 0); }) < 0) return ErrnoStatus("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal("spawn `" + argv[0] + "`: second fork failed");
  }
  return {};
}

Result<pid_t> SpawnInSession(const std::vector<std::string>& args, const std::vector<FdMapping>& fds,
                             const std::vector<std::string>* env) {
  std::vector<char*> argv, envp;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (env != nullptr) {
    for (const std::string& e : *env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  // Sources lifted above every target first, so that no dup2 clobbers one not yet placed.
  std::vector<UniqueFd> lifted;
  int highest = STDERR_FILENO;
  for (const FdMapping& m : fds) {
    lifted.emplace_back(::fcntl(m.from, F_DUPFD_CLOEXEC, 64));
    if (!lifted.back()) return ErrnoStatus("dup a descriptor for " + args[0]);
    highest = std::max(highest, m.to);
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  for (int std_fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    bool mapped = std::any_of(fds.begin(), fds.end(), [&](const FdMapping& m) { return m.to == std_fd; });
    if (!mapped) posix_spawn_file_actions_addopen(&actions, std_fd, "/dev/null", std_fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
  }
  for (size_t i = 0; i < fds.size(); ++i) posix_spawn_file_actions_adddup2(&actions, lifted[i].get(), fds[i].to);
  posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0].c_str(), &actions, &attr, argv.data(), env != nullptr ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return ErrnoStatus(rc, "start " + args[0]);
  return pid;
}

Result<UniqueFd> PidfdOpen(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return ErrnoStatus("pidfd_open " + std::to_string(pid));
  return UniqueFd(fd);
}

Result<bool> WaitPidfd(int pidfd, int timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  int n = RetryEintr([&] { return ::poll(&p, 1, timeout_ms); });
  if (n < 0) return ErrnoStatus("poll pidfd");
  return n > 0;
}

ProcessStat ReadProcessStat(pid_t pid) {
  ProcessStat out;
  if (pid <= 0) return out;
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return out;
  // The command name in field 2 may hold spaces and parentheses: fields resume after the last ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 4 > stat->size()) return out;
  const char* p = stat->c_str() + close + 2;  // field 3: state
  char state = *p;
  uint64_t ppid = 0, start = 0;
  for (int field = 3; field <= 22 && *p; ++field) {
    if (field == 4) ppid = std::strtoull(p, nullptr, 10);
    if (field == 22) start = std::strtoull(p, nullptr, 10);
    p = std::strchr(p, ' ');
    if (!p) break;
    ++p;
  }
  out.state = state;
  out.ppid = static_cast<pid_t>(ppid);
  out.start_time = start;
  return out;
}

uint64_t ProcessStartTime(pid_t pid) { return ReadProcessStat(pid).start_time; }

bool ProcessMatches(pid_t pid, uint64_t start_time) {
  if (pid <= 0 || start_time == 0) return false;
  ProcessStat st = ReadProcessStat(pid);
  return st.start_time == start_time && st.state != 'Z' && st.state != 'X';
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    // The current child is killed and reaped first (as on destruction); the members stay
    // alive, so assigning to them is assigning to live objects.
    if (pid_ > 0) {
      (void)Signal(SIGKILL);
      (void)Wait();
    }
    pid_ = std::exchange(o.pid_, 0);
    pidfd_ = std::move(o.pidfd_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  (void)Signal(SIGKILL);
  (void)Wait();
}

Result<int> ChildProcess::Wait() {
  if (pid_ <= 0) return Status::FailedPrecondition("no child process to wait for");
  int status = 0;
  if (RetryEintr([&] { return ::waitpid(pid_, &status, 0); }) < 0) {
    return ErrnoStatus("waitpid " + std::to_string(pid_));
  }
  pid_ = 0;
  pidfd_.Reset();
  return status;
}

Status ChildProcess::Signal(int sig) {
  if (pid_ <= 0) return Status::FailedPrecondition("no child process to signal");
  long r = pidfd_ ? ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0)
                  : ::kill(pid_, sig);
  if (r < 0) return ErrnoStatus("signal " + std::to_string(pid_));
  return {};
}

pid_t ChildProcess::Release() {
  pidfd_.Reset();
  return std::exchange(pid_, 0);
}

Status MakePipe(UniqueFd (&ends)[2]) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return ErrnoStatus("pipe2");
  ends[0].Reset(fds[0]);
  ends[1].Reset(fds[1]);
  return {};
}

namespace {

constexpr size_t kMaxFds = 8;

// A message's header with room for kMaxFds descriptors, over the bytes at `data`.
struct FdMessage {
  iovec iov{};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};

  FdMessage(void* data, size_t len) {
    iov = {data, len};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
};

}  // namespace

Status SendFds(int socket, const std::vector<int>& fds, std::string_view payload) {
  if (fds.empty() || fds.size() > kMaxFds) return Status::InvalidArgument("send 1 to 8 descriptors");
  if (payload.empty()) return Status::InvalidArgument("a descriptor message carries at least one byte");
  FdMessage m(const_cast<char*>(payload.data()), payload.size());
  m.msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t sent = RetryEintr([&] { return ::sendmsg(socket, &m.msg, MSG_NOSIGNAL); });
  if (sent < 0) return ErrnoStatus("send descriptors");
  // The descriptors went with the first bytes; on a stream socket the rest follows.
  for (std::string_view rest = payload.substr(static_cast<size_t>(sent)); !rest.empty();) {
    ssize_t n = RetryEintr([&] { return ::send(socket, rest.data(), rest.size(), MSG_NOSIGNAL); });
    if (n <= 0) return ErrnoStatus("send a descriptor message");
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<size_t> RecvMessage(int socket, void* buf, size_t size, std::vector<UniqueFd>* fds) {
  FdMessage m(buf, size);
  ssize_t n = RetryEintr([&] { return ::recvmsg(socket, &m.msg, MSG_CMSG_CLOEXEC); });
  if (n < 0) return ErrnoStatus("receive a message");
  for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg); n > 0 && c; c = CMSG_NXTHDR(&m.msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds->emplace_back(fd);
    }
  }
  return static_cast<size_t>(n);
}

Result<std::vector<UniqueFd>> RecvFds(int socket, std::string* payload) {
  char data[256];
  std::vector<UniqueFd> out;
  BD_ASSIGN_OR_RETURN(size_t n, RecvMessage(socket, data, sizeof data, &out));
  if (n == 0 || out.empty()) return Status::Unavailable("no descriptor received");
  if (payload) payload->assign(data, n);
  return out;
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("unix socket path is too long: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket");
  if (RetryEintr([&] { return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr); }) < 0) {
    return ErrnoStatus("connect to `" + path + "`");
  }
  return fd;
}

Status SendFd(int socket, int fd) { return SendFds(socket, {fd}); }

Result<UniqueFd> RecvFd(int socket) {
  BD_ASSIGN_OR_RETURN(std::vector<UniqueFd> fds, RecvFds(socket));
  return std::move(fds.front());
}

void TrimResidentMemory() {
  ::malloc_trim(0);
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  // smaps: a mapping's header line, then its fields. A mapping the process wrote to (a
  // dynamic binary's relocated GOT and RELRO pages, read-only since) is never dropped: its
  // pages would come back as the file has them, unrelocated.
  auto maps = ReadFile("/proc/self/smaps");
  if (!maps.ok()) return;
  uintptr_t from = 0, to = 0;
  bool candidate = false;
  size_t pos = 0;
  while (pos < maps->size()) {
    size_t end = maps->find('\n', pos);
    if (end == std::string::npos) end = maps->size();
    std::string_view line(maps->data() + pos, end - pos);
    pos = end + 1;
    size_t dash = line.find('-');
    size_t space = line.find(' ');
    if (dash != std::string_view::npos && space != std::string_view::npos && dash < space) {
      // "start-end perms offset dev inode path": only this executable, never writable mappings.
      candidate = false;
      if (line.size() < 2 || !line.ends_with(exe) || line.size() < space + 5) continue;
      std::string_view perms = line.substr(space + 1, 4);
      if (perms[1] == 'w' || perms[3] != 'p') continue;
      from = std::strtoull(std::string(line.substr(0, dash)).c_str(), nullptr, 16);
      to = std::strtoull(std::string(line.substr(dash + 1, space - dash - 1)).c_str(), nullptr, 16);
      candidate = true;
      continue;
    }
    if (candidate && line.rfind("Private_Dirty:", 0) == 0) {
      candidate = false;
      std::string_view value = TrimSpace(line.substr(14));
      if (value == "0 kB") ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    }
  }
}

Result<int> ParseSignal(std::string_view name) {
  auto invalid = [&] { return Status::InvalidArgument("invalid signal \"" + std::string(name) + "\""); };
  if (name.empty()) return invalid();
  if (name.find_first_not_of("0123456789") == std::string_view::npos) {
    int n = std::atoi(std::string(name).c_str());
    if (n < 1 || n > SIGRTMAX) return invalid();
    return n;
  }
  std::string upper;
  for (char c : name) upper.push_back(static_cast<char>(::toupper(static_cast<unsigned char>(c))));
  if (upper.rfind("SIG", 0) == 0) upper.erase(0, 3);
  static constexpr std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"BUS", SIGBUS},   {"FPE", SIGFPE},
      {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
      {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
      {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},   {"URG", SIGURG},   {"XCPU", SIGXCPU},
      {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
      {"IO", SIGIO},     {"PWR", SIGPWR},     {"SYS", SIGSYS}};
  for (const auto& [n, v] : kSignals) {
    if (upper == n) return v;
  }
  return invalid();
}

std::string SelfExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return Dirname(buf);
}

Result<ProgramRun> RunProgram(const std::string& path, std::vector<std::string> args, std::vector<std::string> env,
                              std::string_view input, int timeout_s) {
  // stdin is a socket so that a program which exits without reading cannot raise SIGPIPE here.
  int in[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0) return ErrnoStatus("socketpair");
  UniqueFd in_ours(in[0]), in_theirs(in[1]);
  UniqueFd out[2];
  BD_RETURN_IF_ERROR(MakePipe(out));
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork " + path);
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(in_theirs.get(), 0) < 0 || ::dup2(out[1].get(), 1) < 0 || ::dup2(out[1].get(), 2) < 0) {
      ::_exit(127);
    }
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(path.c_str(), argv.data(), envp.data());
    std::string msg = "exec " + path + ": " + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  auto pidfd = PidfdOpen(pid);  // our child: the pid cannot be recycled yet
  ChildProcess child(pid, pidfd.ok() ? std::move(*pidfd) : UniqueFd());
  in_theirs.Reset();
  out[1].Reset();
  (void)::send(in_ours.get(), input.data(), input.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
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
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  bool exited = false, timed_out = false, eof = false;
  while (!exited) {
    int wait_ms = -1;
    if (timeout_s > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left);
    }
    pollfd fds[2] = {{child.pidfd(), POLLIN, 0}, {eof ? -1 : out[0].get(), POLLIN, 0}};
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) return ErrnoStatus("wait for " + path);
    if (n <= 0) continue;
    if (fds[1].revents) eof = drain();
    if (fds[0].revents & POLLIN) exited = true;
  }
  ProgramRun run;
  if (timed_out) {
    (void)child.Signal(SIGKILL);
    (void)child.Wait();
    run.timed_out = true;
    return run;
  }
  drain();  // what is left; a background child keeping the pipe open is not waited for
  BD_ASSIGN_OR_RETURN(run.wait_status, child.Wait());
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  run.output = std::move(output);
  return run;
}

}  // namespace bd::os
