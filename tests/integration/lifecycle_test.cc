// stop, kill, restart, restart policies and ps filters on real containers.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class StopTest : public EngineTest {
 protected:
  nlohmann::json Inspect(const std::string& name) {
    return nlohmann::json::parse(Cli({"inspect", name}).out)[0];
  }
  // Polls until `pred` holds for the container's inspect JSON, at most `ms`.
  bool WaitFor(const std::string& name, int ms, const std::function<bool(const nlohmann::json&)>& pred) {
    auto end = Clock::now() + milliseconds(ms);
    while (Clock::now() < end) {
      if (pred(Inspect(name))) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }
};

TEST_F(StopTest, StopHonoursTheTimeoutThenKills) {
  // busybox sleep as pid 1 ignores SIGTERM: only SIGKILL ends it.
  ASSERT_EQ(Cli({"run", "-d", "--name", "deaf", "busybox", "sleep", "100"}).code, 0);
  auto t0 = Clock::now();
  CmdResult stop = Cli({"stop", "-t", "1", "deaf"});
  auto took = Clock::now() - t0;
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(stop.out, "deaf\n");
  EXPECT_GE(took, milliseconds(950));
  EXPECT_LT(took, milliseconds(5000));
  EXPECT_EQ(Inspect("deaf")["State"]["ExitCode"], 137);
  // Stopping a stopped container is a no-op, not an error.
  EXPECT_EQ(Cli({"stop", "deaf"}).code, 0);
}

TEST_F(StopTest, StopDeliversSigtermFirst) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "polite", "busybox", "sh", "-c",
                 "trap 'echo term; exit 5' TERM; while true; do sleep 0.1; done"}).code, 0);
  std::this_thread::sleep_for(milliseconds(200));
  auto t0 = Clock::now();
  EXPECT_EQ(Cli({"stop", "polite"}).code, 0);
  EXPECT_LT(Clock::now() - t0, milliseconds(3000));
  EXPECT_EQ(Inspect("polite")["State"]["ExitCode"], 5);
  EXPECT_EQ(Cli({"logs", "polite"}).out, "term\n");
}

TEST_F(StopTest, KillSendsTheNamedSignal) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "target", "busybox", "sh", "-c",
                 "trap 'exit 10' USR1; while true; do sleep 0.1; done"}).code, 0);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(Cli({"kill", "-s", "SIGUSR1", "target"}).code, 0);
  EXPECT_EQ(Cli({"wait", "target"}).out, "10\n");
  CmdResult again = Cli({"kill", "target"});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("not running"), std::string::npos) << again.err;
  EXPECT_EQ(Cli({"kill", "-s", "NOPE", "target"}).code, 1);
}

TEST_F(StopTest, OnFailureRestartsUpToItsLimit) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh",
                 "-c", "echo try; exit 3"}).code, 0);
  ASSERT_TRUE(WaitFor("flaky", 5000, [](const nlohmann::json& j) {
    return j["State"]["Status"] == "exited" && j["RestartCount"] == 2;
  })) << Inspect("flaky").dump();
  EXPECT_EQ(Cli({"logs", "flaky"}).out, "try\ntry\ntry\n");
  EXPECT_EQ(Inspect("flaky")["State"]["ExitCode"], 3);
  // A clean exit is not a failure: no restart.
  ASSERT_EQ(Cli({"run", "-d", "--name", "fine", "--restart", "on-failure", "busybox", "true"}).code, 0);
  EXPECT_EQ(Cli({"wait", "fine"}).out, "0\n");
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(Inspect("fine")["RestartCount"], 0);
}

TEST_F(StopTest, AlwaysRestartsUntilStopped) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c",
                 "echo up; sleep 0.1; exit 1"}).code, 0);
  ASSERT_TRUE(WaitFor("phoenix", 5000, [](const nlohmann::json& j) { return j["RestartCount"] >= 2; }));
  EXPECT_EQ(Cli({"stop", "phoenix"}).code, 0);
  auto state = Inspect("phoenix")["State"]["Status"];
  EXPECT_EQ(state, "exited");
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(Inspect("phoenix")["State"]["Status"], "exited");  // and it stays stopped
  // start brings it back under its policy.
  EXPECT_EQ(Cli({"start", "phoenix"}).code, 0);
  EXPECT_TRUE(WaitFor("phoenix", 3000, [](const nlohmann::json& j) {
    return j["State"]["Status"] != "exited";
  }));
  EXPECT_EQ(Cli({"rm", "-f", "phoenix"}).code, 0);
  EXPECT_EQ(Cli({"ps", "-a", "-q", "--filter", "name=phoenix"}).out, "");
}

TEST_F(StopTest, BadRestartPoliciesAreRefused) {
  EXPECT_EQ(Cli({"run", "-d", "--restart", "sometimes", "busybox", "true"}).code, 125);
  EXPECT_EQ(Cli({"run", "-d", "--restart", "always:3", "busybox", "true"}).code, 125);
  EXPECT_EQ(Cli({"run", "-d", "--restart", "on-failure:-1", "busybox", "true"}).code, 125);
  EXPECT_EQ(Cli({"run", "--rm", "--restart", "always", "busybox", "true"}).code, 125);
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
}

TEST_F(StopTest, RestartRunsTheContainerAgain) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "again", "busybox", "sh", "-c", "echo hi; sleep 30"}).code, 0);
  int pid1 = Inspect("again")["State"]["Pid"];
  CmdResult r = Cli({"restart", "-t", "0", "again"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto j = Inspect("again");
  EXPECT_EQ(j["State"]["Status"], "running");
  EXPECT_NE(j["State"]["Pid"], pid1);
  EXPECT_TRUE(WaitFor("again", 2000, [&](const nlohmann::json&) {
    return Cli({"logs", "again"}).out == "hi\nhi\n";
  }));
}

TEST_F(StopTest, PsFilters) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "web-1", "-l", "tier=web", "busybox", "sleep", "30"}).code, 0);
  ASSERT_EQ(Cli({"run", "--name", "job-1", "-l", "tier=batch", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"create", "--name", "new-1", "busybox", "true"}).code, 0);
  auto names = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "ps");
    args.push_back("--format");
    args.push_back("json");
    std::vector<std::string> out;
    for (const auto& line : Split(Cli(args).out, '\n')) {
      if (!line.empty()) out.push_back(nlohmann::json::parse(line)["Names"]);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(names({}), (std::vector<std::string>{"web-1"}));
  EXPECT_EQ(names({"--filter", "status=exited"}), (std::vector<std::string>{"job-1"}));
  EXPECT_EQ(names({"--filter", "status=created"}), (std::vector<std::string>{"new-1"}));
  EXPECT_EQ(names({"-a", "--filter", "label=tier"}), (std::vector<std::string>{"job-1", "web-1"}));
  EXPECT_EQ(names({"-a", "--filter", "label=tier=web"}), (std::vector<std::string>{"web-1"}));
  EXPECT_EQ(names({"-a", "--filter", "name=-1", "--filter", "status=running"}),
            (std::vector<std::string>{"web-1"}));
  EXPECT_EQ(names({"-a", "--filter", "status=running", "--filter", "status=created"}),
            (std::vector<std::string>{"new-1", "web-1"}));
  // The rest of Docker's keys: before/since a container, exited=CODE, ancestor, id, name as
  // a regular expression, volume by destination.
  EXPECT_EQ(names({"-a", "--filter", "since=web-1"}), (std::vector<std::string>{"job-1", "new-1"}));
  EXPECT_EQ(names({"-a", "--filter", "before=job-1"}), (std::vector<std::string>{"web-1"}));
  EXPECT_EQ(names({"--filter", "exited=0"}), (std::vector<std::string>{"job-1"}));
  EXPECT_TRUE(names({"--filter", "exited=3"}).empty());
  EXPECT_EQ(names({"-a", "--filter", "name=^/job-"}), (std::vector<std::string>{"job-1"}));
  EXPECT_EQ(names({"-a", "--filter", "name=^new-1$"}), (std::vector<std::string>{"new-1"}));
  EXPECT_EQ(names({"-a", "--filter", "ancestor=busybox"}).size(), 3u);
  EXPECT_EQ(names({"-a", "--filter", "ancestor=busybox:latest"}).size(), 3u);
  EXPECT_TRUE(names({"-a", "--filter", "ancestor=alpine"}).empty());
  std::string web_id = Inspect("web-1")["Id"];
  EXPECT_EQ(names({"--filter", "id=" + web_id.substr(0, 8)}), (std::vector<std::string>{"web-1"}));
  ASSERT_EQ(Cli({"create", "--name", "vol-1", "-v", "data:/srv/data", "busybox", "true"}).code, 0);
  EXPECT_EQ(names({"-a", "--filter", "volume=/srv/data"}), (std::vector<std::string>{"vol-1"}));
  EXPECT_EQ(names({"-a", "--filter", "volume=data"}), (std::vector<std::string>{"vol-1"}));
  // An infrastructure container: left out unless asked for (-a, or its label).
  ASSERT_EQ(Cli({"run", "-d", "--name", "helper", "-l", "system.hidden=true", "busybox", "sleep", "30"}).code, 0);
  EXPECT_EQ(names({}), (std::vector<std::string>{"web-1"}));
  EXPECT_EQ(names({"--filter", "label=system.hidden"}), (std::vector<std::string>{"helper"}));
  EXPECT_EQ(names({"-a", "--filter", "status=running"}), (std::vector<std::string>{"helper", "web-1"}));
  // Bad input: refused with the filter named, nothing listed.
  CmdResult bad = Cli({"ps", "--filter", "colour=red"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("invalid filter \"colour=red\": ps takes id=, name="), std::string::npos) << bad.err;
  EXPECT_EQ(Cli({"ps", "--filter", "status=sleepy"}).code, 1);
  EXPECT_EQ(Cli({"ps", "--filter", "exited=zero"}).code, 1);
  EXPECT_EQ(Cli({"ps", "--filter", "name=(["}).code, 1);
  EXPECT_EQ(Cli({"ps", "--filter", "since=nothing-here"}).code, 1);
  EXPECT_EQ(Cli({"ps", "--filter", "label"}).code, 1);
  EXPECT_EQ(Cli({"ps", "--filter", std::string("name=\xff")}).code, 1);
}

TEST_F(StopTest, ImageAndVolumeListFilters) {
  auto lines = [&](std::vector<std::string> args) {
    std::vector<std::string> out;
    for (const auto& line : Split(Cli(args).out, '\n')) {
      if (!line.empty()) out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  ASSERT_EQ(Cli({"create", "--name", "keep", "busybox", "true"}).code, 0);  // makes the built-in image
  // images: reference globs (only the matching names listed), dangling, label.
  auto refs = lines({"images", "--format", "json", "--filter", "reference=busy*"});
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(refs[0])["Repository"], "busybox");
  EXPECT_TRUE(lines({"images", "-q", "--filter", "reference=nothing*"}).empty());
  EXPECT_TRUE(lines({"images", "-q", "--filter", "dangling=true"}).empty());
  EXPECT_EQ(lines({"images", "-q", "--filter", "dangling=false"}).size(), 1u);
  EXPECT_EQ(lines({"images", "-q", "-a"}).size(), 1u);
  EXPECT_EQ(Cli({"images", "--filter", "dangling=maybe"}).code, 1);
  EXPECT_EQ(Cli({"images", "--filter", "dangling=true", "--filter", "dangling=false"}).code, 1);
  EXPECT_EQ(Cli({"images", "--filter", "before=missing"}).code, 1);
  EXPECT_EQ(Cli({"images", "--filter", "status=running"}).code, 1);
  // volume ls: name (a substring), dangling (used by no container), label.
  ASSERT_EQ(Cli({"volume", "create", "-l", "env=prod", "app-data"}).code, 0);
  ASSERT_EQ(Cli({"volume", "create", "scratch"}).code, 0);
  ASSERT_EQ(Cli({"create", "--name", "user", "-v", "app-data:/d", "busybox", "true"}).code, 0);
  EXPECT_EQ(lines({"volume", "ls", "-q", "--filter", "name=data"}), (std::vector<std::string>{"app-data"}));
  EXPECT_EQ(lines({"volume", "ls", "-q", "--filter", "dangling=true"}), (std::vector<std::string>{"scratch"}));
  EXPECT_EQ(lines({"volume", "ls", "-q", "--filter", "label=env=prod"}), (std::vector<std::string>{"app-data"}));
  EXPECT_EQ(lines({"volume", "ls", "-q", "--filter", "driver=local"}).size(), 2u);
  EXPECT_TRUE(lines({"volume", "ls", "-q", "--filter", "driver=nfs"}).empty());
  EXPECT_EQ(Cli({"volume", "ls", "--filter", "ancestor=busybox"}).code, 1);
  ASSERT_EQ(Cli({"volume", "create", "-l", "system.hidden=true", "helper-state"}).code, 0);
  EXPECT_EQ(lines({"volume", "ls", "-q"}).size(), 2u);
  EXPECT_EQ(lines({"volume", "ls", "-q", "-a"}).size(), 3u);
}

}  // namespace
}  // namespace bd::testing
