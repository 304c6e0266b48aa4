// basic-docker-plugin-oci: an executor (docs/plugins.md, type executor) that drives any OCI
// runtime binary with runc's command line (crun, runc, basic-runtime) from a bundle.
//
// create hands the work to a keeper: this binary run again as `keep`, detached from the
// server (double fork, a session of its own) and made a child subreaper. The keeper runs the
// runtime's `create`; the container's first process, orphaned when the runtime exits, becomes
// the keeper's child, and the keeper waits for it and writes its exit status to a file. So a
// container's exit code outlives the server's idle exit, a crash or a restart of it; the
// keeper is one small process per container, like the engine's shim.
//
// Every runtime command runs in a mount namespace of its own (slave of the host's, so nothing
// mounted there reaches the host): the bundle's root (an overlay, from the request) is mounted
// there, and on a host with both cgroup versions mounted (hybrid) the unified hierarchy's
// cgroup.controllers is covered by an empty file, which crun 1.8 otherwise refuses to run with.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/unique_fd.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "plugin/sdk.h"
#include "shim/protocol.h"  // ReadLine

namespace {

using bd::Result;
using bd::Status;
using bd::UniqueFd;
using nlohmann::json;

constexpr const char* kHybridControllers = "/sys/fs/cgroup/unified/cgroup.controllers";
constexpr int64_t kCommandTimeoutMs = 60'000;

struct RootfsMount {
  std::string type, source;
  unsigned long flags = 0;
  std::string data;
};

struct Request {
  std::string id;
  std::string runtime_path;
  std::vector<std::string> runtime_args;
  std::string state_root;
  json body;
};

Status Invalid(const std::string& what) { return Status::InvalidArgument(what); }

bool AbsolutePath(const std::string& p) {
  return !p.empty() && p[0] == '/' && p.find('\0') == std::string::npos && p.find("/../") == std::string::npos;
}

std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Request> ParseRequest(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Invalid("the request is not a JSON object");
  Request r;
  r.id = StringField(j, "id");
  bool id_ok = !r.id.empty() && r.id.size() <= 1024 && r.id[0] != '.';
  for (char c : r.id) id_ok = id_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!id_ok) return Invalid("id must be 1-1024 of [A-Za-z0-9_.-], not starting with '.'");
  const json& rt = j.contains("runtime") ? j["runtime"] : json();
  if (!rt.is_object()) return Invalid("runtime must be an object {name, path, args}");
  r.runtime_path = StringField(rt, "path");
  if (!AbsolutePath(r.runtime_path)) return Invalid("runtime.path must be an absolute path");
  if (::access(r.runtime_path.c_str(), X_OK) != 0) {
    return Status::NotFound("the runtime " + r.runtime_path + " is not there or not executable");
  }
  if (rt.contains("args")) {
    if (!rt["args"].is_array()) return Invalid("runtime.args must be an array of strings");
    for (const json& a : rt["args"]) {
      if (!a.is_string()) return Invalid("runtime.args must be an array of strings");
      r.runtime_args.push_back(a.get<std::string>());
    }
  }
  r.state_root = StringField(j, "stateRoot");
  if (!AbsolutePath(r.state_root)) return Invalid("stateRoot must be an absolute path");
  r.body = std::move(j);
  return r;
}

// Where the keeper writes the exit status of container `id`: beside the runtime's own root.
std::string KeeperDir(const Request& r) { return r.state_root + ".keeper"; }
std::string ExitFile(const Request& r) { return KeeperDir(r) + "/" + r.id + ".exit"; }

// What a forked child does before it becomes the runtime. Everything is prepared before the
// fork: the child only makes system calls (the server is multi-threaded).
struct Exec {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv, envp;
  std::vector<RootfsMount> rootfs;
  std::string rootfs_target;
  bool hide_controllers = false;
  int in = -1, out = -1, err = -1;  // -1: /dev/null

  void Finish() {
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

Exec RuntimeCommand(const Request& r, const std::vector<std::string>& args) {
  Exec e;
  e.argv_storage.push_back(r.runtime_path);
  e.argv_storage.insert(e.argv_storage.end(), r.runtime_args.begin(), r.runtime_args.end());
  e.argv_storage.push_back("--root");
  e.argv_storage.push_back(r.state_root);
  e.argv_storage.insert(e.argv_storage.end(), args.begin(), args.end());
  const char* path = std::getenv("PATH");
  e.env_storage.push_back(std::string("PATH=") + (path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  struct stat st;
  e.hide_controllers = ::stat(kHybridControllers, &st) == 0;
  return e;
}

[[noreturn]] void ChildExec(const Exec& e) {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int fds[3] = {e.in >= 0 ? e.in : null, e.out >= 0 ? e.out : null, e.err >= 0 ? e.err : null};
  // Above 2 first, so that dup2 into 0-2 never overwrites one still to be moved.
  for (int& fd : fds) {
    if (fd >= 0 && fd <= 2) fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  }
  for (int i = 0; i < 3; ++i) {
    if (fds[i] < 0 || ::dup2(fds[i], i) < 0) ::_exit(121);
  }
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::unshare(CLONE_NEWNS) < 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) {
    ::_exit(122);
  }
  if (e.hide_controllers && ::mount("/dev/null", kHybridControllers, nullptr, MS_BIND, nullptr) < 0) {
    ::_exit(123);
  }
  for (const RootfsMount& m : e.rootfs) {
    if (::mount(m.source.c_str(), e.rootfs_target.c_str(), m.type.c_str(), m.flags,
                m.data.empty() ? nullptr : m.data.c_str()) < 0) {
      const char msg[] = "basic-docker-plugin-oci: mounting the bundle's root failed\n";
      (void)!::write(2, msg, sizeof msg - 1);
      ::_exit(124);
    }
  }
  ::execve(e.argv[0], e.argv.data(), e.envp.data());
  ::_exit(127);
}

const char* SetupFailure(int code) {
  switch (code) {
    case 121: return "could not set up the runtime's stdio";
    case 122: return "could not make a private mount namespace for the runtime";
    case 123: return "could not cover the unified hierarchy's cgroup.controllers (hybrid cgroups)";
    case 124: return "could not mount the bundle's root";
    case 127: return "could not execute the runtime";
    default: return nullptr;
  }
}

struct Ran {
  int status = 0;
  std::string out, err;
};

// Runs the runtime with `args` and waits (at most kCommandTimeoutMs), its stdout and stderr
// captured.
Result<Ran> Run(const Request& r, const std::vector<std::string>& args) {
  Exec e = RuntimeCommand(r, args);
  e.Finish();
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) < 0) return bd::os::ErrnoStatus("pipe");
  if (::pipe2(err, O_CLOEXEC) < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return bd::os::ErrnoStatus("pipe");
  }
  UniqueFd out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
  e.out = out_w.get();
  e.err = err_w.get();
  pid_t pid = ::fork();
  if (pid < 0) return bd::os::ErrnoStatus("fork");
  if (pid == 0) ChildExec(e);
  out_w.Reset();
  err_w.Reset();
  Ran ran;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCommandTimeoutMs);
  bool timed_out = false;
  while (out_r || err_r) {
    pollfd fds[2];
    int n = 0;
    if (out_r) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_r) fds[n++] = {err_r.get(), POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    int p = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left));
    if (p < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      char buf[8192];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      bool is_out = out_r && fds[i].fd == out_r.get();
      if (got <= 0) {
        (is_out ? out_r : err_r).Reset();
      } else if ((is_out ? ran.out : ran.err).size() < (1 << 20)) {
        (is_out ? ran.out : ran.err).append(buf, static_cast<size_t>(got));
      }
    }
  }
  if (bd::os::RetryEintr([&] { return ::waitpid(pid, &ran.status, 0); }) < 0) {
    return bd::os::ErrnoStatus("wait for the runtime");
  }
  if (timed_out) return Status::DeadlineExceeded(r.runtime_path + " did not finish within 60s");
  return ran;
}

// The runtime's complaint: the messages of a JSON log (runc's --log-format json), else the text.
std::string RuntimeMessage(std::string_view text) {
  std::string msgs;
  for (const std::string& line : bd::Split(std::string(text), '\n')) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("msg") && j["msg"].is_string()) {
      std::string level = StringField(j, "level");
      if (level == "error" || level == "fatal" || level.empty()) {
        if (!msgs.empty()) msgs += "; ";
        msgs += j["msg"].get<std::string>();
      }
    }
  }
  if (!msgs.empty()) return msgs;
  return std::string(bd::TrimSpace(text));
}

Status Failed(const Request& r, const char* what, const Ran& ran) {
  std::string why;
  if (WIFEXITED(ran.status)) {
    if (const char* setup = SetupFailure(WEXITSTATUS(ran.status)); setup && ran.err.empty()) why = setup;
    else why = "exit status " + std::to_string(WEXITSTATUS(ran.status));
  } else {
    why = "killed by signal " + std::to_string(WTERMSIG(ran.status));
  }
  std::string msg = RuntimeMessage(ran.err);
  if (msg.empty()) msg = RuntimeMessage(ran.out);
  std::string text = r.runtime_path + " " + what + " " + r.id + ": " + (msg.empty() ? why : msg + " (" + why + ")");
  // runc and crun say so in these words when the container is not there.
  if (msg.find("does not exist") != std::string::npos || msg.find("not found") != std::string::npos ||
      msg.find("No such file") != std::string::npos) {
    return Status::NotFound(text);
  }
  return Status::FailedPrecondition(text);
}

// A boolean member of the request (absent: false).
Result<bool> BoolField(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end()) return false;
  if (!it->is_boolean()) return Invalid(std::string(key) + " must be true or false");
  return it->get<bool>();
}

// Runs the runtime with `args` (the container's id among them); its failure is the call's.
Result<Ran> RunChecked(const Request& r, const char* what, const std::vector<std::string>& args) {
  BD_ASSIGN_OR_RETURN(Ran ran, Run(r, args));
  if (!WIFEXITED(ran.status) || WEXITSTATUS(ran.status) != 0) return Failed(r, what, ran);
  return ran;
}

Result<std::string> Start(std::string_view body) {
  BD_ASSIGN_OR_RETURN(Request r, ParseRequest(body));
  BD_RETURN_IF_ERROR(RunChecked(r, "start", {"start", r.id}).status());
  return std::string("{}");
}

Result<std::string> Kill(std::string_view body) {
  BD_ASSIGN_OR_RETURN(Request r, ParseRequest(body));
  BD_ASSIGN_OR_RETURN(bool all, BoolField(r.body, "all"));
  std::string sig = "SIGTERM";
  if (r.body.contains("signal")) {
    const json& s = r.body["signal"];
    if (s.is_number_integer() && s.get<int>() > 0 && s.get<int>() < 65) sig = std::to_string(s.get<int>());
    else if (s.is_string() && !s.get<std::string>().empty() && s.get<std::string>().size() < 16) sig = s.get<std::string>();
    else return Invalid("signal must be a number 1-64 or a name such as \"SIGTERM\"");
  }
  std::vector<std::string> args = {"kill"};
  if (all) args.push_back("--all");
  args.push_back(r.id);  // the id goes before the signal
  args.push_back(sig);
  BD_RETURN_IF_ERROR(RunChecked(r, "kill", args).status());
  return std::string("{}");
}

Result<std::string> Delete(std::string_view body) {
  BD_ASSIGN_OR_RETURN(Request r, ParseRequest(body));
  BD_ASSIGN_OR_RETURN(bool force, BoolField(r.body, "force"));
  std::vector<std::string> args = {"delete"};
  if (force) args.push_back("--force");
  args.push_back(r.id);
  BD_RETURN_IF_ERROR(RunChecked(r, "delete", args).status());
  ::unlink(ExitFile(r).c_str());
  return std::string("{}");
}

Result<std::string> State(std::string_view body) {
  BD_ASSIGN_OR_RETURN(Request r, ParseRequest(body));
  BD_ASSIGN_OR_RETURN(Ran ran, RunChecked(r, "state", {"state", r.id}));
  json state = json::parse(ran.out, nullptr, false);
  if (!state.is_object()) return Status::Internal(r.runtime_path + " state " + r.id + " printed no JSON object");
  return state.dump();
}

// {"exited": false} while the container runs (after up to timeoutMs), else its status.
Result<std::string> Wait(std::string_view body) {
  BD_ASSIGN_OR_RETURN(Request r, ParseRequest(body));
  int64_t timeout = 0;
  if (r.body.contains("timeoutMs")) {
    if (!r.body["timeoutMs"].is_number_integer() || r.body["timeoutMs"].get<int64_t>() < 0 ||
        r.body["timeoutMs"].get<int64_t>() > 60'000) {
      return Invalid("timeoutMs must be a number of milliseconds from 0 to 60000");
    }
    timeout = r.body["timeoutMs"].get<int64_t>();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  while (true) {
    auto text = bd::os::ReadFile(ExitFile(r));
    if (text.ok()) {
      json j = json::parse(*text, nullptr, false);
      if (!j.is_object()) return Status::Internal("the exit record " + ExitFile(r) + " is damaged");
      j["exited"] = true;
      return j.dump();
    }
    if (text.status().code() != bd::Code::kNotFound) return text.status();
    if (std::chrono::steady_clock::now() >= deadline) return std::string(R"({"exited":false})");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The request's rootfs mounts (containerd's way of handing a shim the container's root).
Result<std::vector<RootfsMount>> RootfsMounts(const json& body) {
  std::vector<RootfsMount> out;
  if (!body.contains("rootfs")) return out;
  if (!body["rootfs"].is_array()) return Invalid("rootfs must be an array of {type, source, options}");
  for (const json& m : body["rootfs"]) {
    if (!m.is_object()) return Invalid("rootfs must be an array of {type, source, options}");
    RootfsMount r{StringField(m, "type"), StringField(m, "source")};
    if (r.type.empty() || r.source.empty()) return Invalid("a rootfs mount needs a type and a source");
    std::vector<std::string> data;
    if (m.contains("options") && !m["options"].is_array()) return Invalid("rootfs options must be an array of strings");
    for (const json& o : m.value("options", json::array())) {
      if (!o.is_string()) return Invalid("rootfs options must be strings");
      std::string opt = o.get<std::string>();
      if (opt == "ro") r.flags |= MS_RDONLY;
      else if (opt == "nosuid") r.flags |= MS_NOSUID;
      else if (opt == "nodev") r.flags |= MS_NODEV;
      else if (opt == "noexec") r.flags |= MS_NOEXEC;
      else if (opt == "rw") r.flags &= ~static_cast<unsigned long>(MS_RDONLY);
      else data.push_back(opt);
    }
    r.data = bd::Join(data, ",");
    if (r.data.size() >= 4096) return Invalid("rootfs mount options exceed a page");
    out.push_back(std::move(r));
  }
  return out;
}

// create: validated here, done by a keeper (see the top of the file), which reports
// "pid N" or "error MESSAGE" on its stdout.
Result<std::string> Create(std::string_view body) {
  BD_ASSIGN_OR_RETURN(Request r, ParseRequest(body));
  std::string bundle = StringField(r.body, "bundle");
  if (!AbsolutePath(bundle)) return Invalid("bundle must be an absolute path");
  if (::access((bundle + "/config.json").c_str(), R_OK) != 0) {
    return Status::NotFound("no config.json in the bundle " + bundle);
  }
  BD_RETURN_IF_ERROR(RootfsMounts(r.body).status());
  for (const char* key : {"stdin", "stdout", "stderr", "consoleSocket"}) {
    std::string p = StringField(r.body, key);
    if (!p.empty() && !AbsolutePath(p)) return Invalid(std::string(key) + " must be an absolute path");
  }
  BD_RETURN_IF_ERROR(bd::os::MkdirAll(r.state_root, 0700));
  BD_RETURN_IF_ERROR(bd::os::MkdirAll(KeeperDir(r), 0700));
  if (::unlink(ExitFile(r).c_str()) < 0 && errno != ENOENT) return bd::os::ErrnoStatus("remove the old exit record");
  UniqueFd in[2], report[2];
  BD_RETURN_IF_ERROR(bd::os::MakePipe(in));
  BD_RETURN_IF_ERROR(bd::os::MakePipe(report));
  BD_RETURN_IF_ERROR(bd::os::WriteAll(in[1].get(), r.body.dump()));
  in[1].Reset();
  std::vector<bd::os::FdMapping> fds = {{in[0].get(), 0}, {report[1].get(), 1}, {2, 2}};
  // SpawnDetached: the keeper is a grandchild, reparented away from this server at once.
  BD_RETURN_IF_ERROR(bd::os::SpawnDetached({"/proc/self/exe", "keep"}, fds));
  in[0].Reset();
  report[1].Reset();
  std::string line = bd::shim::ReadLine(report[0].get()).value_or("");
  if (line.rfind("pid ", 0) == 0) {
    auto pid = bd::ParseInt(line.substr(4));
    if (pid && *pid > 0) return json{{"pid", *pid}}.dump();
  }
  if (line.rfind("error ", 0) == 0) {
    std::string msg = line.substr(6);
    if (msg.find("does not exist") != std::string::npos) return Status::NotFound(msg);
    return Status::FailedPrecondition(msg);
  }
  return Status::Internal("the keeper of " + r.id + " ended without a word (see the plugin's log)");
}

// ---- the keeper ----

void Say(const std::string& line) { (void)bd::os::WriteAll(1, line + "\n"); }

int Keep() {
  auto text = bd::os::ReadAll(0);
  auto req = text.ok() ? ParseRequest(*text) : Result<Request>(text.status());
  if (!req.ok()) {
    Say("error " + req.status().message());
    return 1;
  }
  const Request& r = *req;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::prctl(PR_SET_NAME, "bd-oci-keeper");
  if (::chdir("/") < 0) return 1;
  std::string bundle = StringField(r.body, "bundle");
  std::string pid_file = KeeperDir(r) + "/" + r.id + ".pid";
  std::string log_file = KeeperDir(r) + "/" + r.id + ".log";
  ::unlink(pid_file.c_str());
  ::unlink(log_file.c_str());
  // --log and --log-format are global options: before the command.
  Request with_log = r;
  with_log.runtime_args.insert(with_log.runtime_args.end(), {"--log", log_file, "--log-format", "json"});
  std::vector<std::string> command = {"create", "--bundle", bundle, "--pid-file", pid_file};
  if (std::string console = StringField(r.body, "consoleSocket"); !console.empty()) {
    command.insert(command.end(), {"--console-socket", console});
  }
  command.push_back(r.id);
  Exec e = RuntimeCommand(with_log, command);
  auto mounts = RootfsMounts(r.body);
  if (!mounts.ok()) {
    Say("error " + mounts.status().message());
    return 1;
  }
  e.rootfs = std::move(*mounts);
  if (!e.rootfs.empty()) {
    auto config = bd::os::ReadFile(bundle + "/config.json");
    json c = config.ok() ? json::parse(*config, nullptr, false) : json();
    std::string root = c.is_object() && c.contains("root") && c["root"].is_object() ? StringField(c["root"], "path") : "";
    if (root.empty()) {
      Say("error the bundle's config.json names no root.path to mount the rootfs on");
      return 1;
    }
    e.rootfs_target = root[0] == '/' ? root : bundle + "/" + root;
  }
  UniqueFd stdio[3];
  const char* keys[] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; ++i) {
    std::string p = StringField(r.body, keys[i]);
    if (p.empty()) continue;
    stdio[i].Reset(::open(p.c_str(), (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
    if (!stdio[i]) {
      Say("error open " + std::string(keys[i]) + " " + p + ": " + std::strerror(errno));
      return 1;
    }
  }
  e.in = stdio[0].get();
  e.out = stdio[1].get();
  e.err = stdio[2].get();
  e.Finish();
  pid_t runtime = ::fork();
  if (runtime < 0) {
    Say(std::string("error fork: ") + std::strerror(errno));
    return 1;
  }
  if (runtime == 0) ChildExec(e);
  for (UniqueFd& fd : stdio) fd.Reset();  // the container holds its stdio now, not the keeper
  int status = 0;
  // Orphans reparented meanwhile are reaped too; the runtime's status is the one that counts.
  while (true) {
    pid_t got = ::waitpid(-1, &status, 0);
    if (got == runtime) break;
    if (got < 0 && errno != EINTR) {
      Say("error wait for the runtime");
      return 1;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string msg = RuntimeMessage(bd::os::ReadFile(log_file).value_or(""));
    const char* setup = WIFEXITED(status) ? SetupFailure(WEXITSTATUS(status)) : nullptr;
    if (msg.empty()) msg = setup ? setup : "failed with wait status " + std::to_string(status);
    for (char& ch : msg) ch = ch == '\n' ? ' ' : ch;
    Say("error " + r.runtime_path + " create " + r.id + ": " + msg);
    return 1;
  }
  auto pid_text = bd::os::ReadFile(pid_file);
  auto pid = pid_text.ok() ? bd::ParseInt(std::string(bd::TrimSpace(*pid_text))) : std::nullopt;
  ::unlink(pid_file.c_str());
  if (!pid || *pid <= 0) {
    Say("error " + r.runtime_path + " create " + r.id + " wrote no pid file");
    return 1;
  }
  Say("pid " + std::to_string(*pid));
  ::close(1);
  int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0 && null != 1) ::dup2(null, 1);
  // The container's first process is ours now (subreaper): its status is the container's.
  json exit;
  while (true) {
    pid_t got = ::waitpid(-1, &status, 0);
    if (got == static_cast<pid_t>(*pid)) {
      if (WIFSIGNALED(status)) exit = {{"exitCode", 128 + WTERMSIG(status)}, {"signal", WTERMSIG(status)}};
      else exit = {{"exitCode", WEXITSTATUS(status)}};
      break;
    }
    if (got < 0 && errno == ECHILD) {
      // Not reparented here (the runtime handed it elsewhere): wait for it, status unknown.
      if (auto fd = bd::os::PidfdOpen(static_cast<pid_t>(*pid)); fd.ok()) (void)bd::os::WaitPidfd(fd->get(), -1);
      exit = {{"exitCode", 255}, {"unknown", true}};
      break;
    }
  }
  exit["finishedAt"] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
  // Not fsynced: after a host crash the container is gone with it.
  (void)bd::os::WriteFileAtomic(ExitFile(r), exit.dump(), 0600, /*durable=*/false);
  ::unlink(log_file.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "keep") return Keep();
  ::signal(SIGPIPE, SIG_IGN);
  bd::plugin::Plugin p;
  p.Serve("executor", "create", Create);
  p.Serve("executor", "start", Start);
  p.Serve("executor", "wait", Wait);
  p.Serve("executor", "kill", Kill);
  p.Serve("executor", "delete", Delete);
  p.Serve("executor", "state", State);
  return p.Main(argc, argv);
}
