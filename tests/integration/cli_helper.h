// Helpers for tests that drive the real binaries on a throwaway data root.
#pragma once

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json_fwd.hpp>

#include "os/fs.h"
#include "store/archive.h"

namespace bd::testing {

struct CmdResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] with the rest, feeding `input` on stdin; kills it after `timeout_s`.
CmdResult RunCmd(const std::vector<std::string>& argv, const std::string& input = "",
                 int timeout_s = 60);

// The JSON objects of `--format json` output, one per non-empty line.
std::vector<nlohmann::json> JsonLines(const std::string& text);

// Builds a tar archive in memory.
std::string BuildTar(const std::function<void(store::TarBuilder&)>& fill);

// A root filesystem layer holding the host's static busybox as /bin/busybox and /bin/sh.
std::string BusyboxLayerTar();

// BusyboxLayerTar() plus the static test probe at /bin/bd-probe.
std::string ProbeLayerTar();

// The reason a real-container test cannot run here, or "" when it can.
std::string MissingPrivilege();

// Starts `args` (argv[0] a path) as a child in the background, stdio on /dev/null; returns its
// pid for the caller to kill and reap.
pid_t StartInBackground(const std::vector<std::string>& args);

// Mount points of the calling process (field 5 of /proc/self/mountinfo).
std::vector<std::string> HostMountPoints();

// Writes registries.conf under `root` (created if needed) blocking Docker Hub, so that a test
// never sends traffic beyond loopback (EngineTest does it for its root).
void BlockDockerHub(const std::string& root);

// A fixture with a fresh data root, removed (containers first) afterwards.
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  CmdResult Cli(std::vector<std::string> args, const std::string& input = "", int timeout_s = 60);
  std::string WriteFile(const std::string& name, const std::string& data);
  std::string root_;
  std::unique_ptr<os::TempDir> dir_;
};

// A command on a terminal of its own (forkpty): keys in, screen out.
class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& argv) {
    winsize ws{24, 80, 0, 0};
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  void Type(const std::string& keys) { ASSERT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size())); }
  void Resize(unsigned short rows, unsigned short cols) {
    winsize ws{rows, cols, 0, 0};
    ::ioctl(master_, TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to the CLI
  }
  // Reads until `text` appears on screen or `ms` pass.
  bool WaitFor(const std::string& text, int ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (screen_.find(text) == std::string::npos && std::chrono::steady_clock::now() < end) {
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char buf[4096];
        ssize_t n = ::read(master_, buf, sizeof buf);
        if (n <= 0) break;
        screen_.append(buf, static_cast<size_t>(n));
      }
    }
    return screen_.find(text) != std::string::npos;
  }
  int Exit() {
    int status = 0;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) return -1;
      char buf[4096];
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0 && ::read(master_, buf, sizeof buf) > 0) {}
    }
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& screen() const { return screen_; }

 private:
  int master_ = -1;
  pid_t pid_ = 0;
  std::string screen_;
};

}  // namespace bd::testing
