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
  EXPECT_EQ(Cli({"ps", "--filter", "colour=red"}).code, 1);
  EXPECT_EQ(Cli({"ps", "--filter", "status=sleepy"}).code, 1);
}

}  // namespace
}  // namespace bd::testing
