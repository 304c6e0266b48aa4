// Real containers through the CLI, as a user runs them.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "integration/cli_helper.h"
#include "os/process.h"
#include "runtime/security.h"

namespace bd::testing {
namespace {

class ContainerTest : public EngineTest {};

TEST_F(ContainerTest, RunPrintsAndReturnsTheCommandsExitCode) {
  CmdResult r = Cli({"run", "--rm", "busybox", "echo", "hello"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(Cli({"run", "--rm", "busybox", "sh", "-c", "exit 7"}).code, 7);
  CmdResult err = Cli({"run", "--rm", "busybox", "sh", "-c", "echo to-err >&2"});
  EXPECT_EQ(err.out, "");
  EXPECT_EQ(err.err, "to-err\n");
}

TEST_F(ContainerTest, ProcessIsPid1WithItsOwnHostnameAndNoHostProcesses) {
  CmdResult r = Cli({"run", "--rm", "--hostname", "box", "busybox", "sh", "-c",
                     "echo $$; hostname; cat /etc/hostname; for p in /proc/[0-9]*; do cat $p/comm; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = Split(r.out, '\n');
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], "1");
  EXPECT_EQ(lines[1], "box");
  EXPECT_EQ(lines[2], "box");
  std::set<std::string> comms(lines.begin() + 3, lines.end());
  comms.erase("");
  // Only the shell and the `cat` it runs: nothing of the host.
  for (const auto& c : comms) EXPECT_TRUE(c == "sh" || c == "cat") << "host process visible: " << c;
}

TEST_F(ContainerTest, SeesNoHostMountsAndOnlyLoopback) {
  CmdResult r = Cli({"run", "--rm", "busybox", "sh", "-c",
                     "cut -d' ' -f5 /proc/self/mountinfo; echo ---; ls /sys/class/net; "
                     "cat /sys/class/net/lo/operstate"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto parts = Split(r.out, '-');
  std::set<std::string> mounts;
  for (const auto& m : Split(r.out.substr(0, r.out.find("---")), '\n')) {
    if (!m.empty()) mounts.insert(m);
  }
  std::set<std::string> want = {"/",        "/proc",    "/dev",          "/dev/pts",
                                "/dev/shm", "/dev/mqueue", "/sys",       "/etc/hostname",
                                "/etc/hosts", "/etc/resolv.conf",
                                "/capsules"};  // the tmpfs capsule mount points live on
  // Plus the masked and read-only paths that exist on this kernel: still nothing of the host.
  std::set<std::string> protect;
  for (const auto& p : runtime::DefaultMaskedPaths()) protect.insert(p);
  for (const auto& p : runtime::DefaultReadonlyPaths()) protect.insert(p);
  for (const auto& m : mounts) {
    if (!want.count(m)) {
      EXPECT_TRUE(protect.count(m)) << "unexpected mount " << m;
    }
  }
  for (const auto& w : want) EXPECT_TRUE(mounts.count(w)) << "missing mount " << w;
  std::string net = r.out.substr(r.out.find("---") + 4);
  EXPECT_EQ(net, "lo\nunknown\n");  // loopback only, and up
}

TEST_F(ContainerTest, DevHasTheMinimalNodesAndSysIsReadOnly) {
  CmdResult r = Cli({"run", "--rm", "busybox", "sh", "-c",
                     "ls /dev | sort | tr '\\n' ' '; echo; echo x > /dev/null && echo null-ok; "
                     "touch /sys/x 2>/dev/null || echo sys-ro"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx",
                           "fd", "stdin", "stdout", "stderr"}) {
    EXPECT_NE(r.out.find(std::string(node) + " "), std::string::npos) << node << " in " << r.out;
  }
  EXPECT_NE(r.out.find("null-ok"), std::string::npos);
  EXPECT_NE(r.out.find("sys-ro"), std::string::npos);
}

TEST_F(ContainerTest, EnvWorkdirAndUserApply) {
  CmdResult r = Cli({"run", "--rm", "-e", "GREETING=hi", "-w", "/srv/app", "-u", "nobody",
                     "busybox", "sh", "-c", "echo $GREETING; pwd; id -u; echo $HOME"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n/srv/app\n65534\n/home\n");
  CmdResult bad = Cli({"run", "--rm", "-u", "ghost", "busybox", "true"});
  EXPECT_EQ(bad.code, 125);
  EXPECT_NE(bad.err.find("unable to find user ghost"), std::string::npos) << bad.err;
}

TEST_F(ContainerTest, RmLeavesNoDirectoriesMountsOrRows) {
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);  // creates the image
  auto before = HostMountPoints();
  CmdResult r = Cli({"run", "--rm", "busybox", "sh", "-c", "echo data > /tmp/f"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(os::ListDir(root_ + "/containers")->empty());
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
  EXPECT_EQ(HostMountPoints(), before);
  for (const auto& m : HostMountPoints()) EXPECT_EQ(m.find(root_), std::string::npos) << m;
  // Without --rm the container stays until `rm`, which then removes everything.
  CmdResult kept = Cli({"run", "--name", "kept", "busybox", "true"});
  ASSERT_EQ(kept.code, 0) << kept.err;
  EXPECT_EQ(os::ListDir(root_ + "/containers")->size(), 1u);
  EXPECT_NE(Cli({"ps", "-a"}).out.find("Exited (0)"), std::string::npos);
  EXPECT_EQ(Cli({"rm", "kept"}).code, 0);
  EXPECT_TRUE(os::ListDir(root_ + "/containers")->empty());
  EXPECT_EQ(Cli({"rm", "kept"}).code, 1);
}

TEST_F(ContainerTest, DetachedContainerOutlivesTheCliAndLogsBothStreams) {
  auto t0 = std::chrono::steady_clock::now();
  CmdResult r = Cli({"run", "-d", "--name", "bg", "busybox", "sh", "-c",
                     "echo out1; echo err1 >&2; sleep 2; echo out2"});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id(TrimSpace(r.out));
  ASSERT_EQ(id.size(), 64u);
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  CmdResult ps = Cli({"ps"});
  EXPECT_NE(ps.out.find(id.substr(0, 12)), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("Up "), std::string::npos);
  EXPECT_NE(ps.out.find("\"sh -c \"echo out1; e…\""), std::string::npos) << ps.out;
  // --no-trunc: the whole id and the whole command.
  CmdResult full = Cli({"ps", "--no-trunc"});
  EXPECT_NE(full.out.find(id), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("\"sh -c \"echo out1; echo err1 >&2; sleep 2; echo out2\"\""), std::string::npos) << full.out;
  CmdResult w = Cli({"wait", "bg"});
  EXPECT_EQ(w.out, "0\n");
  CmdResult logs = Cli({"logs", "bg"});
  EXPECT_EQ(logs.out, "out1\nout2\n");
  EXPECT_EQ(logs.err, "err1\n");
  CmdResult tail = Cli({"logs", "--tail", "1", id.substr(0, 8)});
  EXPECT_EQ(tail.out, "out2\n");
  CmdResult ts = Cli({"logs", "-t", "bg"});
  EXPECT_EQ(ts.out.substr(4, 1), "-");
  EXPECT_NE(ts.out.find("Z out1\n"), std::string::npos) << ts.out;
  auto raw = os::ReadFile(root_ + "/containers/" + id + "/ctr.log");
  ASSERT_TRUE(raw.ok());
  EXPECT_NE(raw->find(" stdout F out1\n"), std::string::npos);
  EXPECT_NE(raw->find(" stderr F err1\n"), std::string::npos);
}

TEST_F(ContainerTest, LogsFollowEndsWhenTheContainerExits) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "tick", "busybox", "sh", "-c",
                 "for i in 1 2 3; do echo $i; sleep 0.3; done"}).code, 0);
  CmdResult f = Cli({"logs", "-f", "tick"}, "", 20);
  EXPECT_EQ(f.code, 0);
  EXPECT_EQ(f.out, "1\n2\n3\n");
}

TEST_F(ContainerTest, RemovingARunningContainerNeedsForce) {
  CmdResult r = Cli({"run", "-d", "--name", "long", "busybox", "sleep", "60"});
  ASSERT_EQ(r.code, 0) << r.err;
  CmdResult rm = Cli({"rm", "long"});
  EXPECT_EQ(rm.code, 1);
  EXPECT_NE(rm.err.find("running"), std::string::npos);
  EXPECT_NE(Cli({"ps", "-q"}).out, "");
  auto info = nlohmann::json::parse(Cli({"inspect", "long"}).out);
  int pid = info[0]["State"]["Pid"].get<int>();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0);
  CmdResult force = Cli({"rm", "-f", "long"});
  EXPECT_EQ(force.code, 0) << force.err;
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
  EXPECT_NE(::kill(pid, 0), 0);  // the process is gone
  EXPECT_TRUE(os::ListDir(root_ + "/containers")->empty());
}

TEST_F(ContainerTest, InspectShowsStateAndConfig) {
  ASSERT_EQ(Cli({"run", "--name", "insp", "-e", "K=V", "-l", "tier=web", "busybox", "sh", "-c",
                 "exit 3"}).code, 3);
  CmdResult r = Cli({"inspect", "insp"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["Name"], "/insp");
  EXPECT_EQ(j[0]["State"]["Status"], "exited");
  EXPECT_EQ(j[0]["State"]["ExitCode"], 3);
  EXPECT_EQ(j[0]["Path"], "sh");
  EXPECT_EQ(j[0]["Config"]["Labels"]["tier"], "web");
  auto env = j[0]["Config"]["Env"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(env.begin(), env.end(), "K=V"), env.end());
  EXPECT_EQ(Cli({"inspect", "nothing-here"}).code, 1);
  auto ps = Cli({"ps", "-a", "--format", "json"});
  EXPECT_EQ(nlohmann::json::parse(ps.out)["Names"], "insp");
}

TEST_F(ContainerTest, BadInputFailsClearlyAndLeavesNothing) {
  CmdResult missing = Cli({"run", "--rm", "no-such-image"});
  EXPECT_EQ(missing.code, 125);
  EXPECT_NE(missing.err.find("Unable to find image 'no-such-image:latest' locally"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("registry docker.io is blocked"), std::string::npos) << missing.err;
  CmdResult never = Cli({"run", "--rm", "--pull", "never", "no-such-image"});
  EXPECT_EQ(never.code, 125);
  EXPECT_NE(never.err.find("No such image: no-such-image:latest"), std::string::npos) << never.err;
  CmdResult notfound = Cli({"run", "busybox", "no-such-command"});
  EXPECT_EQ(notfound.code, 127);
  EXPECT_NE(notfound.err.find("executable file not found"), std::string::npos) << notfound.err;
  CmdResult noexec = Cli({"run", "busybox", "/etc/passwd"});
  EXPECT_EQ(noexec.code, 126);
  CmdResult badname = Cli({"run", "--name", "bad name!", "busybox", "true"});
  EXPECT_EQ(badname.code, 125);
  EXPECT_NE(badname.err.find("invalid container name"), std::string::npos);
  CmdResult badref = Cli({"run", "Bad/Image", "true"});
  EXPECT_EQ(badref.code, 125);
  EXPECT_NE(badref.err.find("invalid reference format"), std::string::npos) << badref.err;
  CmdResult badflag = Cli({"run", "--bogus", "busybox"});
  EXPECT_EQ(badflag.code, 125);
  // None of it left a container behind.
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
  EXPECT_TRUE(os::ListDir(root_ + "/containers")->empty());
  // Names are unique.
  ASSERT_EQ(Cli({"create", "--name", "dup", "busybox", "true"}).code, 0);
  CmdResult dup = Cli({"create", "--name", "dup", "busybox", "true"});
  EXPECT_EQ(dup.code, 125);
  EXPECT_NE(dup.err.find("already in use"), std::string::npos);
}

TEST_F(ContainerTest, CreateThenStartAttached) {
  CmdResult c = Cli({"create", "--name", "later", "busybox", "echo", "started"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(Cli({"ps", "-a"}).out.find("Created"), std::string::npos);
  CmdResult s = Cli({"start", "-a", "later"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.out, "started\n");
  // Starting again runs it again: a stopped container can be restarted.
  EXPECT_EQ(Cli({"start", "-a", "later"}).out, "started\n");
  EXPECT_EQ(Cli({"logs", "later"}).out, "started\nstarted\n");
}

}  // namespace
}  // namespace bd::testing

namespace bd::testing {
namespace {

class LifecycleTest : public EngineTest {
 protected:
  std::vector<std::string> CliArgs(std::vector<std::string> args) {
    args.insert(args.begin(), {std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_});
    return args;
  }
  // Polls until `ps -q` shows a running container (the CLI started it).
  bool WaitRunning() {
    for (int i = 0; i < 100; ++i) {
      if (!Cli({"ps", "-q"}).out.empty()) return true;
      ::usleep(50'000);
    }
    return false;
  }
};

TEST_F(LifecycleTest, ForegroundRunForwardsSignalsToTheContainer) {
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  pid_t cli = StartInBackground(CliArgs({"run", "--rm", "busybox", "sh", "-c",
                                "trap 'exit 42' TERM; while true; do sleep 0.1; done"}));
  ASSERT_TRUE(WaitRunning());
  ::usleep(200'000);  // let the shell install its trap
  ASSERT_EQ(::kill(cli, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(cli, &status, 0), cli);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
}

TEST_F(LifecycleTest, ExecForwardsSignalsToItsProcess) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "target", "busybox", "sleep", "600"}).code, 0);
  pid_t cli = StartInBackground(CliArgs({"exec", "target", "sh", "-c",
                                "trap 'exit 43' TERM; while true; do sleep 0.1; done"}));
  ::usleep(500'000);  // the exec'd shell installs its trap
  ASSERT_EQ(::kill(cli, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(cli, &status, 0), cli);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 43);
  EXPECT_EQ(nlohmann::json::parse(Cli({"inspect", "target"}).out)[0]["State"]["Running"], true);
}

TEST_F(LifecycleTest, KillingTheCliLosesNothing) {
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  pid_t cli = StartInBackground(CliArgs({"run", "--name", "survivor", "busybox", "sh", "-c",
                                "echo before; sleep 1; echo after"}));
  ASSERT_TRUE(WaitRunning());
  ASSERT_EQ(::kill(cli, SIGKILL), 0);
  ::waitpid(cli, nullptr, 0);
  // The container goes on under its shim and its exit is recorded.
  CmdResult w = Cli({"wait", "survivor"});
  EXPECT_EQ(w.out, "0\n") << w.err;
  EXPECT_EQ(Cli({"logs", "survivor"}).out, "before\nafter\n");
  auto ps = Cli({"ps", "-a"});
  EXPECT_NE(ps.out.find("Exited (0)"), std::string::npos) << ps.out;
}

TEST_F(LifecycleTest, ParallelRunsDoNotInterfere) {
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  std::vector<pid_t> clis;
  for (int i = 0; i < 6; ++i) {
    clis.push_back(StartInBackground(CliArgs({"run", "--name", "par" + std::to_string(i), "busybox", "sh",
                                     "-c", "exit " + std::to_string(i)})));
  }
  for (int i = 0; i < 6; ++i) {
    int status = 0;
    ASSERT_EQ(::waitpid(clis[i], &status, 0), clis[i]);
    EXPECT_EQ(WEXITSTATUS(status), i);
  }
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(Cli({"wait", "par" + std::to_string(i)}).out, std::to_string(i) + "\n");
  }
}

}  // namespace
}  // namespace bd::testing

namespace bd::testing {
namespace {

class ShimTest : public EngineTest {};

TEST_F(ShimTest, AnIdleShimStaysSmall) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "idle", "busybox", "sleep", "60"}).code, 0);
  auto info = nlohmann::json::parse(Cli({"inspect", "idle"}).out)[0];
  pid_t shim = os::ReadProcessStat(info["State"]["Pid"].get<int>()).ppid;
  ::usleep(200'000);
  auto status = os::ReadFile("/proc/" + std::to_string(shim) + "/status");
  ASSERT_TRUE(status.ok());
  int64_t rss_kib = 0;
  for (const std::string& line : Split(*status, '\n')) {
    if (line.rfind("VmRSS:", 0) == 0) rss_kib = ParseInt(TrimSpace(line.substr(6, line.size() - 9))).value_or(0);
  }
  // conmon, podman's monitor, holds about 2 MiB here; the shim trims itself below that.
  EXPECT_GT(rss_kib, 0);
  EXPECT_LT(rss_kib, 2048) << "idle shim RSS " << rss_kib << " KiB";
  // And still does its work after trimming: output, exit recording.
  ASSERT_EQ(Cli({"run", "-d", "--name", "late", "busybox", "sh", "-c", "sleep 0.5; echo late"}).code, 0);
  EXPECT_EQ(Cli({"wait", "late"}).out, "0\n");
  EXPECT_EQ(Cli({"logs", "late"}).out, "late\n");
}

}  // namespace
}  // namespace bd::testing

namespace bd::testing {
namespace {

class InteractiveTest : public EngineTest {};

TEST_F(InteractiveTest, RunDashIFeedsStdinToTheContainer) {
  CmdResult r = Cli({"run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"}, "hello\nworld\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\nworld\ndone\n");
  // Exact bytes, more than a pipe holds, while output flows back.
  std::string big;
  for (int i = 0; i < 200000; ++i) big += static_cast<char>('a' + i % 26);
  CmdResult echo = Cli({"run", "--rm", "-i", "busybox", "cat"}, big);
  EXPECT_EQ(echo.out.size(), big.size());
  EXPECT_TRUE(echo.out == big);
  // Without -i the container reads nothing.
  EXPECT_EQ(Cli({"run", "--rm", "busybox", "cat"}, "ignored\n").out, "");
  // A container that never reads its input does not hang.
  CmdResult deaf = Cli({"run", "--rm", "-i", "busybox", "sh", "-c", "sleep 0.2; echo fine"}, big, 20);
  EXPECT_EQ(deaf.out, "fine\n");
}

TEST_F(InteractiveTest, DetachedDashIKeepsStdinOpen) {
  // `sh` with an open, empty stdin waits instead of exiting, as with `docker run -di`.
  ASSERT_EQ(Cli({"run", "-d", "-i", "--name", "shell", "busybox", "sh"}).code, 0);
  ::usleep(300'000);
  EXPECT_NE(Cli({"ps", "-q"}).out, "");
  EXPECT_EQ(Cli({"exec", "shell", "echo", "alive"}).out, "alive\n");
  // -t without a terminal on the caller side still works (output through the container tty).
  EXPECT_EQ(Cli({"run", "--rm", "-t", "busybox", "echo", "tty"}).out, "tty\r\n");
}

// An unknown verb is named as such, as Docker names it.
TEST_F(ContainerTest, AnUnknownCommandIsNamed) {
  CmdResult r = Cli({"frobnicate", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("'frobnicate' is not a basic-docker command"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"--log-level", "error", "ps", "-q"}).code, 0);  // global flags before the verb
}

}  // namespace
}  // namespace bd::testing
