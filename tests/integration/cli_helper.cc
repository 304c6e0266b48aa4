#include "integration/cli_helper.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "base/digest.h"
#include "base/strings.h"
#include "engine/paths.h"
#include "engine/images/store.h"
#include "os/process.h"

namespace bd::testing {

CmdResult RunCmd(const std::vector<std::string>& argv, const std::string& input, int timeout_s) {
  CmdResult r;
  UniqueFd in[2], out[2], err[2];
  EXPECT_TRUE(os::MakePipe(in).ok());
  EXPECT_TRUE(os::MakePipe(out).ok());
  EXPECT_TRUE(os::MakePipe(err).ok());
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0].get(), 0);
    ::dup2(out[1].get(), 1);
    ::dup2(err[1].get(), 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  in[0].Reset();
  out[1].Reset();
  err[1].Reset();
  // Input is fed as the command takes it, alongside reading its output: a command may read
  // late, partly or never (EPIPE then just ends the input).
  ::signal(SIGPIPE, SIG_IGN);
  ::fcntl(in[1].get(), F_SETFL, O_NONBLOCK);
  size_t fed = 0;
  if (input.empty()) in[1].Reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[65536];
  while (out[0] || err[0]) {
    pollfd fds[3] = {{out[0].get(), POLLIN, 0}, {err[0].get(), POLLIN, 0}, {in[1].get(), POLLOUT, 0}};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0 || ::poll(fds, in[1] ? 3 : 2, left) == 0) {
      ::kill(pid, SIGKILL);
      ADD_FAILURE() << "timed out: " << Join(argv, " ");
      break;
    }
    if (in[1] && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in[1].get(), input.data() + fed, input.size() - fed);
      if (w > 0) fed += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN) || fed == input.size()) in[1].Reset();
    }
    for (int i = 0; i < 2; ++i) {
      UniqueFd& fd = i == 0 ? out[0] : err[0];
      if (!fd || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n <= 0) fd.Reset();
      else (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : Split(text, '\n')) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::string BuildTar(const std::function<void(store::TarBuilder&)>& fill) {
  std::string data;
  store::TarBuilder t([&](std::string_view d) {
    data.append(d);
    return Status();
  });
  fill(t);
  EXPECT_TRUE(t.Finish().ok());
  return data;
}

std::string BusyboxLayerTar() {
  return BuildTar([](store::TarBuilder& t) {
    ASSERT_TRUE(t.AddDir("bin", {}).ok());
    ASSERT_TRUE(t.AddFileFromDisk("bin/busybox", engine::BusyboxPath(), {0755}).ok());
    for (const char* applet : {"sh", "echo", "cat", "ls", "pwd", "env", "id", "sleep"}) {
      ASSERT_TRUE(t.AddSymlink(std::string("bin/") + applet, "busybox", {}).ok());
    }
    ASSERT_TRUE(t.AddDir("tmp", {01777}).ok());
  });
}

std::string ProbeLayerTar() {
  return BuildTar([](store::TarBuilder& t) {
    ASSERT_TRUE(t.AddDir("bin", {}).ok());
    ASSERT_TRUE(t.AddFileFromDisk("bin/busybox", engine::BusyboxPath(), {0755}).ok());
    ASSERT_TRUE(t.AddFileFromDisk("bin/bd-probe", std::string(BD_BIN_DIR) + "/bd-probe", {0755}).ok());
    for (const char* applet : {"sh", "cat", "grep", "touch", "mkdir", "unshare", "wc", "echo"}) {
      ASSERT_TRUE(t.AddSymlink(std::string("bin/") + applet, "busybox", {}).ok());
    }
    ASSERT_TRUE(t.AddDir("etc", {}).ok());
    ASSERT_TRUE(t.AddFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n", {}).ok());
    ASSERT_TRUE(t.AddDir("tmp", {01777}).ok());
  });
}

std::string MissingPrivilege() {
  if (::geteuid() != 0) return "needs root (namespaces, mounts); CI runs as root";
  auto fs = os::ReadFile("/proc/filesystems");
  if (!fs.ok() || fs->find("overlay") == std::string::npos) {
    return "the kernel has no overlayfs";
  }
  if (!os::Exists(engine::BusyboxPath())) return "no static busybox (install busybox-static)";
  return "";
}

std::vector<std::string> HostMountPoints() {
  std::vector<std::string> out;
  auto info = os::ReadFile("/proc/self/mountinfo");
  if (!info.ok()) return out;
  for (const std::string& line : Split(*info, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 4) out.push_back(f[4]);
  }
  return out;
}

void EngineTest::SetUp() {
  if (std::string why = MissingPrivilege(); !why.empty()) GTEST_SKIP() << why;
  auto t = os::TempDir::Create("/var/tmp", "bd-it-");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  dir_ = std::make_unique<os::TempDir>(std::move(t).value());
  root_ = dir_->path() + "/root";
  BlockDockerHub(root_);
}

void BlockDockerHub(const std::string& root) {
  // Tests never reach beyond loopback: a missing image is not looked for on Docker Hub.
  ASSERT_TRUE(os::MkdirAll(root, 0700).ok());
  ASSERT_TRUE(os::WriteFileAtomic(root + "/registries.conf", R"({"registries": {"docker.io": {"blocked": true}}})").ok());
}

void EngineTest::TearDown() {
  if (!dir_) return;
  CmdResult ids = Cli({"ps", "-a", "-q", "--no-trunc"});
  for (const std::string& id : Split(ids.out, '\n')) {
    if (!id.empty()) Cli({"rm", "-f", id});
  }
  // A data root this long keeps its plugin sockets and locks under /run (PluginManager): they
  // go with it.
  (void)os::RemoveAll(engine::Paths::RunDir() + "/plugins-" + Sha256Digest(root_).substr(7, 12));
}

CmdResult EngineTest::Cli(std::vector<std::string> args, const std::string& input, int timeout_s) {
  args.insert(args.begin(), {std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_});
  return RunCmd(args, input, timeout_s);
}

std::string EngineTest::WriteFile(const std::string& name, const std::string& data) {
  std::string path = dir_->path() + "/" + name;
  EXPECT_TRUE(os::WriteFile(path, data).ok());
  return path;
}

pid_t StartInBackground(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace bd::testing
