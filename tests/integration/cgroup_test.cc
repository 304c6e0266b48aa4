// Resource limits, stats, pause and reconciliation on real containers.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/strings.h"
#include "integration/cli_helper.h"
#include "os/process.h"
#include "runtime/cgroups.h"
#include "runtime/device_filter.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class CgroupTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    if (runtime::DetectCgroupLayout(runtime::CgroupRoot()) == runtime::CgroupLayout::kNone) {
      GTEST_SKIP() << "no cgroup hierarchy mounted";
    }
  }
  json Inspect(const std::string& name) { return json::parse(Cli({"inspect", name}).out)[0]; }
  json StatsOf(const std::string& name) {
    CmdResult r = Cli({"stats", "--no-stream", "--format", "json", name});
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out);
  }
  // Whether any cgroup directory of the container is still there.
  bool CgroupLeft(const std::string& id) {
    for (const char* c : {"memory", "cpu", "pids", "freezer", "cpuacct"}) {
      if (os::Exists(runtime::CgroupRoot() + "/" + c + "/basic-docker/" + id)) return true;
    }
    return os::Exists(runtime::CgroupRoot() + "/basic-docker/" + id);
  }
};

TEST_F(CgroupTest, MemoryHogIsOomKilledAndReported) {
  CmdResult r = Cli({"run", "--name", "hog", "-m", "16m", "busybox", "sh", "-c",
                     "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"});
  EXPECT_EQ(r.code, 137) << r.out << r.err;
  EXPECT_EQ(r.out.find("survived"), std::string::npos);
  json j = Inspect("hog");
  EXPECT_EQ(j["State"]["OOMKilled"], true);
  EXPECT_EQ(j["State"]["ExitCode"], 137);
  EXPECT_EQ(j["HostConfig"]["Memory"], 16 << 20);
  EXPECT_FALSE(CgroupLeft(j["Id"]));
  // One oom event, before the die that carries the exit code.
  CmdResult ev = Cli({"events", "--since", "10m", "--until", "0s", "--filter", "container=hog",
                      "--filter", "event=oom", "--filter", "event=die", "--format", "json"});
  std::vector<std::string> lines;
  for (const std::string& line : Split(ev.out, '\n')) {
    if (line.empty()) continue;
    json e = json::parse(line);
    lines.push_back(e["Action"].get<std::string>() + " " + e["Actor"]["Attributes"].value("exitCode", ""));
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"oom ", "die 137"})) << ev.out << ev.err;
  // Without a limit the same container is not OOM-killed.
  ASSERT_EQ(Cli({"run", "--name", "fine", "busybox", "sh", "-c", "x=$(head -c 1000000 /dev/zero | tr '\\0' a)"}).code, 0);
  EXPECT_EQ(Inspect("fine")["State"]["OOMKilled"], false);
}

TEST_F(CgroupTest, ForkBombStopsAtThePidsLimit) {
  ASSERT_EQ(Cli({"import", "-", "probe"}, ProbeLayerTar()).code, 0);
  // The probe is one of the 12 pids: 11 forks succeed, the other 189 fail.
  CmdResult r = Cli({"run", "--rm", "--pids-limit", "12", "probe", "/bin/bd-probe", "forks", "200"});
  EXPECT_EQ(r.out, "11\n") << r.err;
  CmdResult unlimited = Cli({"run", "--rm", "probe", "/bin/bd-probe", "forks", "50"});
  EXPECT_EQ(unlimited.out, "50\n") << unlimited.err;
}

TEST_F(CgroupTest, CpusLimitsUsage) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "spin", "--cpus", "0.3", "busybox", "sh", "-c",
                 "while true; do :; done"}).code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json s = StatsOf("spin");
  double cpu = std::stod(s["CPUPerc"].get<std::string>());
  EXPECT_LT(cpu, 45.0) << s.dump();
  EXPECT_GT(cpu, 10.0) << s.dump();
  EXPECT_EQ(Cli({"run", "--rm", "--cpus", "zero", "busybox", "true"}).code, 125);
  EXPECT_EQ(Cli({"run", "--rm", "-m", "1k", "busybox", "true"}).code, 125);
  EXPECT_EQ(Cli({"run", "--rm", "-m", "lots", "busybox", "true"}).code, 125);
}

TEST_F(CgroupTest, PauseFreezesAndUnpauseResumes) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                 "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done"}).code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Cli({"pause", "ticker"}).code, 0);
  EXPECT_NE(Cli({"ps"}).out.find("(Paused)"), std::string::npos);
  EXPECT_EQ(Inspect("ticker")["State"]["Paused"], true);
  json frozen1 = StatsOf("ticker");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json frozen2 = StatsOf("ticker");
  EXPECT_LT(std::stod(frozen2["CPUPerc"].get<std::string>()), 1.0);
  CmdResult exec = Cli({"exec", "ticker", "true"});
  EXPECT_EQ(exec.code, 1);
  EXPECT_NE(exec.err.find("paused"), std::string::npos);
  EXPECT_EQ(Cli({"pause", "ticker"}).code, 1);  // already paused
  EXPECT_EQ(Cli({"unpause", "ticker"}).code, 0);
  std::string c1 = Cli({"exec", "ticker", "cat", "/tmp/count"}).out;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string c2 = Cli({"exec", "ticker", "cat", "/tmp/count"}).out;
  EXPECT_NE(c1, c2);
  // A paused container can still be stopped.
  EXPECT_EQ(Cli({"pause", "ticker"}).code, 0);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Cli({"stop", "-t", "1", "ticker"}).code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(Inspect("ticker")["State"]["Status"], "exited");
  EXPECT_EQ(Cli({"unpause", "ticker"}).code, 1);
}

TEST_F(CgroupTest, AKilledShimIsNoticed) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "orphan", "busybox", "sleep", "60"}).code, 0);
  json j = Inspect("orphan");
  std::string id = j["Id"];
  int pid = j["State"]["Pid"];
  // The shim is the container process's parent.
  auto stat = os::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  ASSERT_TRUE(stat.ok());
  auto fields = Split(stat->substr(stat->rfind(')') + 2), ' ');
  pid_t shim = static_cast<pid_t>(std::stoi(fields[1]));
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json after = Inspect("orphan");
  EXPECT_EQ(after["State"]["Status"], "exited");
  EXPECT_NE(after["State"]["Error"].get<std::string>().find("shim"), std::string::npos);
  // The container went with its shim (gone, or a zombie left for this host's pid 1 to reap).
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    char state = os::ReadProcessStat(pid).state;
    gone = state == 0 || state == 'Z' || state == 'X';
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone);
  EXPECT_FALSE(CgroupLeft(id));
  EXPECT_EQ(Cli({"rm", "orphan"}).code, 0);
}

// cgroup v2's device filter: a BPF program from the rules, attached to a cgroup made here (on
// the unified hierarchy of a hybrid host too), checked by a child that moves into it.
TEST(DeviceFilterTest, TheProgramEnforcesTheRulesInOrder) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (BPF programs, cgroups)";
  std::string root = runtime::CgroupRoot();
  std::string v2 = os::Exists(root + "/cgroup.controllers") ? root : root + "/unified";
  if (!os::Exists(v2 + "/cgroup.procs")) GTEST_SKIP() << "no cgroup v2 hierarchy mounted";
  struct Case {
    runtime::DeviceRules rules;
    int want;  // bit per probe: 1 /dev/null rw, 2 /dev/zero r, 4 /dev/zero w, 8 /dev/full r
  };
  const Case cases[] = {
      {{{false, "a"}, {true, "c 1:3 rwm"}, {true, "c 1:5 r"}}, 1 | 2},
      {{{false, "c 1:7 rwm"}}, 1 | 2 | 4},                                      // default allow
      {{{false, "a"}, {true, "c *:* rw"}, {false, "c 1:5 w"}}, 1 | 2 | 8},      // the last match decides
      {{{true, "c 1:3 rwm"}, {false, "a"}, {true, "b *:* rwm"}}, 0},            // "a" resets
  };
  for (const Case& c : cases) {
    std::string dir = v2 + "/bd-devfilter-" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
    Status st = runtime::AttachDeviceFilter(dir, c.rules);
    ASSERT_TRUE(st.ok()) << st.ToString();
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY);
      if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(100);
      ::close(fd);
      int got = 0;
      auto can = [](const char* path, int flags) {
        int f = ::open(path, flags);
        if (f >= 0) ::close(f);
        return f >= 0;
      };
      if (can("/dev/null", O_RDWR)) got |= 1;
      if (can("/dev/zero", O_RDONLY)) got |= 2;
      if (can("/dev/zero", O_WRONLY)) got |= 4;
      if (can("/dev/full", O_RDONLY)) got |= 8;
      ::_exit(got);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_EQ(::rmdir(dir.c_str()), 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), c.want) << c.rules.size() << " rules, first " << c.rules[0].second;
  }
  EXPECT_FALSE(runtime::CompileDeviceFilter({{true, "x 1:3 rwm"}}).ok());
  EXPECT_FALSE(runtime::CompileDeviceFilter({{true, "c 1 rwm"}}).ok());
  EXPECT_FALSE(runtime::CompileDeviceFilter({{true, "c 1:3 rwq"}}).ok());
  EXPECT_TRUE(runtime::CompileDeviceFilter({{true, "b *:* m"}}).ok());
}

}  // namespace
}  // namespace bd::testing
