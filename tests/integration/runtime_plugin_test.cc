// `run --runtime crun|runc|basic-runtime`: OCI runtime binaries driven by the executor plugin
// basic-docker-plugin-oci pass the same lifecycle as the builtin runtime (output, exit codes,
// logs, exec, stop, restart, live capsule attach, terminals), and leave nothing behind.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "integration/cli_helper.h"
#include "os/fs.h"
#include "runtime/launch.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class RuntimePluginTest : public EngineTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() != "basic-runtime" && !runtime::LookPath(GetParam(), {}).ok()) {  // the default PATH
      GTEST_SKIP() << GetParam() << " is not installed (scripts/install-deps.sh --test installs it)";
    }
  }
  void TearDown() override {
    EngineTest::TearDown();
    if (!dir_) return;
    Cli({"plugin", "stop", "oci"});
  }
  std::vector<std::string> Run(std::vector<std::string> args) {
    std::vector<std::string> out = {"run", "--runtime", GetParam()};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }
  json Inspect(const std::string& name) {
    json j = json::parse(Cli({"inspect", name}).out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0] : json(nullptr);
  }
  std::string StateRoot() { return root_ + "/runtimes/" + GetParam(); }
  std::vector<std::string> RuntimeState() {
    auto names = os::ListDir(StateRoot());
    return names.ok() ? *names : std::vector<std::string>{};
  }
};

TEST_P(RuntimePluginTest, RunGivesOutputExitCodeAndLogsAsTheBuiltinDoes) {
  CmdResult r = Cli(Run({"--name", "ra", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  CmdResult logs = Cli({"logs", "ra"});
  EXPECT_EQ(logs.out, "out\n");
  EXPECT_EQ(logs.err, "err\n");
  json a = Inspect("ra");
  EXPECT_EQ(a["HostConfig"]["Runtime"], GetParam());
  EXPECT_EQ(a["State"]["ExitCode"], 3);
  // The same container again: the runtime's record of the first run was deleted.
  r = Cli({"start", "-a", "ra"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_TRUE(RuntimeState().empty()) << Join(RuntimeState(), " ");
  // The command's own failures are Docker's exit codes.
  r = Cli(Run({"--rm", "busybox", "/no/such/command"}));
  EXPECT_EQ(r.code, 127) << r.err;
  // The image's environment, the user's HOME and the process's identity.
  r = Cli(Run({"--rm", "-u", "nobody", "-e", "X=1", "busybox", "sh", "-c", "echo $X $HOME $(id -u)"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1 /home 65534\n");
}

TEST_P(RuntimePluginTest, DetachedExecStopRestartAndRm) {
  CmdResult r = Cli(Run({"-d", "--name", "svc", "--restart", "on-failure:1", "busybox", "sh", "-c",
                         "echo up; trap 'exit 0' TERM; sleep 600 & wait"}));
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli({"exec", "svc", "sh", "-c", "echo in-$(hostname); exit 4"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(r.out, "in-" + Inspect("svc")["Config"]["Hostname"].get<std::string>() + "\n");
  // The limits and cgroup of the engine's plan: stats read them.
  json stats = JsonLines(Cli({"stats", "--no-stream", "--format", "json", "svc"}).out).at(0);
  EXPECT_NE(stats.dump().find("svc"), std::string::npos) << stats.dump();
  int pid = Inspect("svc")["State"]["Pid"].get<int>();
  ASSERT_GT(pid, 0);
  // Killed from outside: the restart policy brings it back under the same runtime.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int again = 0;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    json s = Inspect("svc")["State"];
    if (s["Running"] == true && s["Pid"].get<int>() != pid) {
      again = s["Pid"].get<int>();
      break;
    }
  }
  EXPECT_GT(again, 0) << "no restart after SIGKILL";
  EXPECT_EQ(Inspect("svc")["RestartCount"], 1);
  auto t0 = std::chrono::steady_clock::now();
  r = Cli({"stop", "svc"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));  // SIGTERM was heard
  EXPECT_EQ(Inspect("svc")["State"]["ExitCode"], 0);
  EXPECT_EQ(Cli({"logs", "svc"}).out, "up\nup\n");
  EXPECT_EQ(Cli({"rm", "svc"}).code, 0);
  EXPECT_TRUE(RuntimeState().empty()) << Join(RuntimeState(), " ");
}

TEST_P(RuntimePluginTest, ACapsuleAttachesLiveAndATerminalWorks) {
  std::string content = dir_->path() + "/content";
  ASSERT_TRUE(os::MkdirAll(content, 0755).ok());
  ASSERT_TRUE(os::WriteFile(content + "/hello.txt", "capsule data\n").ok());
  ASSERT_EQ(Cli({"capsule", "create", "--name", "data", "--version", "1.0.0", "--path", content}).code, 0);
  ASSERT_EQ(Cli(Run({"-d", "--name", "cc", "busybox", "sleep", "600"})).code, 0);
  int pid = Inspect("cc")["State"]["Pid"].get<int>();
  CmdResult r = Cli({"capsule", "attach", "cc", "data:1.0.0"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli({"exec", "cc", "cat", "/capsules/data/1.0.0/hello.txt"});
  EXPECT_EQ(r.out, "capsule data\n") << r.err;
  EXPECT_NE(Cli({"exec", "cc", "touch", "/capsules/data/1.0.0/x"}).code, 0);  // read-only
  EXPECT_EQ(Cli({"capsule", "detach", "cc", "data:1.0.0"}).code, 0);
  EXPECT_NE(Cli({"exec", "cc", "test", "-e", "/capsules/data/1.0.0/hello.txt"}).code, 0);
  EXPECT_EQ(Inspect("cc")["State"]["Pid"], pid);  // never restarted
  ASSERT_EQ(Cli({"rm", "-f", "cc"}).code, 0);

  Terminal term({std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_, "run", "--rm", "-it", "--runtime",
                 GetParam(), "busybox", "sh"});
  ASSERT_TRUE(term.WaitFor("# ")) << term.screen();
  term.Resize(30, 100);  // forwarded to the container's shim, which sets the terminal's size
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  term.Type("stty size\r");
  EXPECT_TRUE(term.WaitFor("30 100")) << term.screen();
  term.Type("tty; exit 5\r");
  EXPECT_TRUE(term.WaitFor("/dev/pts/0")) << term.screen();
  EXPECT_EQ(term.Exit(), 5) << term.screen();
}

TEST_P(RuntimePluginTest, AKilledShimLeavesNothingAfterRmForce) {
  ASSERT_EQ(Cli(Run({"-d", "--name", "kk", "busybox", "sleep", "600"})).code, 0);
  json k = Inspect("kk");
  int pid = k["State"]["Pid"].get<int>();
  int shim = 0;
  ASSERT_FALSE(RuntimeState().empty());
  // The container's shim: the one with its id in its environment (its parent is its keeper).
  auto procs = os::ListDir("/proc");
  ASSERT_TRUE(procs.ok());
  for (const std::string& p : *procs) {
    auto cmd = os::ReadFile("/proc/" + p + "/cmdline");
    auto env = os::ReadFile("/proc/" + p + "/environ");
    if (cmd.ok() && cmd->find("basic-docker-shim-dynamic") != std::string::npos && cmd->find(root_) != std::string::npos &&
        env.ok() && env->find(k["Id"].get<std::string>()) != std::string::npos) {
      shim = std::atoi(p.c_str());
    }
  }
  ASSERT_GT(shim, 0);
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CmdResult r = Cli({"rm", "-f", "kk"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(RuntimeState().empty()) << Join(RuntimeState(), " ");
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(::kill(pid, 0), 0) << "the container's process outlived rm -f";
}

INSTANTIATE_TEST_SUITE_P(Runtimes, RuntimePluginTest, ::testing::Values("crun", "runc", "basic-runtime"),
                         [](const auto& info) { return info.param == "basic-runtime" ? std::string("basic_runtime") : info.param; });

class RuntimeChoiceTest : public EngineTest {};

TEST_F(RuntimeChoiceTest, UnknownRuntimesAndBadSettingsAreRefusedAndTheDefaultApplies) {
  CmdResult r = Cli({"run", "--rm", "--runtime", "nosuch", "busybox", "true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("unknown runtime \"nosuch\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("builtin"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"ps", "-aq"}).out, "");  // nothing was made
  r = Cli({"run", "--rm", "--runtime", "../x", "busybox", "true"});
  EXPECT_NE(r.err.find("invalid runtime name"), std::string::npos) << r.err;
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json", R"({"runtimes": {"gone": {"path": "/no/such/runtime"}}})").ok());
  r = Cli({"run", "--rm", "--runtime", "gone", "busybox", "true"});
  EXPECT_NE(r.err.find("/no/such/runtime is not there"), std::string::npos) << r.err;
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json", R"({"runtimes": {"x": {"runtimeArgs": []}}})").ok());
  r = Cli({"run", "--rm", "busybox", "true"});
  EXPECT_NE(r.err.find("runtimes.x needs a \"path\""), std::string::npos) << r.err;
  // default-runtime: a configured runtime (basic-runtime under another name, with a global flag).
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json",
                            json{{"default-runtime", "mine"},
                                 {"runtimes", {{"mine", {{"path", std::string(BD_BIN_DIR) + "/basic-runtime"},
                                                         {"runtimeArgs", {"--debug"}}}}}}}.dump()).ok());
  r = Cli({"run", "--name", "dd", "busybox", "echo", "via-default"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "via-default\n");
  json d = json::parse(Cli({"inspect", "dd"}).out)[0];
  EXPECT_EQ(d["HostConfig"]["Runtime"], "mine");
  r = Cli({"run", "--rm", "--runtime", "builtin", "busybox", "echo", "builtin"});
  EXPECT_EQ(r.out, "builtin\n") << r.err;
  r = Cli({"plugin", "call", "builtin-executor", "executor/runtimes"});
  json rts = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(rts.is_object()) << r.out << r.err;
  EXPECT_EQ(rts["default"], "mine");
  EXPECT_NE(r.out.find("\"name\":\"mine\""), std::string::npos) << r.out;
  EXPECT_NE(Cli({"info"}).out.find("Default Runtime: mine"), std::string::npos);
  // The executor's members of the wrong type are the caller's error, named, and nothing runs.
  json bad = {{"id", "x1"}, {"runtime", {{"path", std::string(BD_BIN_DIR) + "/basic-runtime"}}},
              {"stateRoot", root_ + "/runtimes/probe"}};
  for (const auto& [cap, member] : {std::pair<const char*, const char*>{"executor/delete", "force"}, {"executor/kill", "all"}}) {
    json body = bad;
    body[member] = "yes";
    r = Cli({"plugin", "call", "oci", cap, body.dump()});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(std::string(member) + " must be true or false"), std::string::npos) << r.err;
  }
  json rootfs = bad;
  rootfs["bundle"] = dir_->path();
  rootfs["rootfs"] = {{{"type", "overlay"}, {"source", "overlay"}, {"options", "ro"}}};
  ASSERT_TRUE(os::WriteFile(dir_->path() + "/config.json", "{}").ok());
  r = Cli({"plugin", "call", "oci", "executor/create", rootfs.dump()});
  EXPECT_NE(r.err.find("rootfs options must be an array"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(root_ + "/runtimes/probe.keeper/x1.exit"));
  Cli({"plugin", "stop", "oci"});
}

}  // namespace
}  // namespace bd::testing
