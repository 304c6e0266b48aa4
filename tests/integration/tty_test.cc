// run -it and exec -it driven through a real pseudo-terminal, as a person at a terminal would.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/cli_helper.h"

namespace bd::testing {
namespace {


class TtyTest : public EngineTest {
 protected:
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_});
    return args;
  }
};

TEST_F(TtyTest, RunItGivesAShellOnTheContainersOwnTerminal) {
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  Terminal t(Args({"run", "--rm", "-it", "busybox", "sh"}));
  ASSERT_TRUE(t.WaitFor("# ")) << t.screen();
  t.Type("tty; stty size; echo term=$TERM; echo $((6*7))\r");
  EXPECT_TRUE(t.WaitFor("42")) << t.screen();
  EXPECT_NE(t.screen().find("term=xterm"), std::string::npos) << t.screen();
  EXPECT_NE(t.screen().find("/dev/pts/0"), std::string::npos) << t.screen();
  EXPECT_NE(t.screen().find("24 80"), std::string::npos) << t.screen();
  t.Resize(40, 120);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  t.Type("stty size\r");
  EXPECT_TRUE(t.WaitFor("40 120")) << t.screen();
  t.Type("exit 5\r");
  EXPECT_EQ(t.Exit(), 5);
}

TEST_F(TtyTest, CtrlCInterruptsAndCtrlDEnds) {
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  Terminal t(Args({"run", "--rm", "-it", "busybox", "sh"}));
  ASSERT_TRUE(t.WaitFor("# ")) << t.screen();
  auto t0 = std::chrono::steady_clock::now();
  t.Type("sleep 30; echo after-sleep\r");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t.Type("\x03");  // Ctrl-C: SIGINT to the foreground job, through the container's terminal
  t.Type("echo interrupted\r");
  EXPECT_TRUE(t.WaitFor("interrupted\r\n/ # ")) << t.screen();  // and the prompt is back
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  t.Type("\x04");  // Ctrl-D at the prompt: end of input, the shell exits
  EXPECT_EQ(t.Exit(), 0);
}

TEST_F(TtyTest, ExecItJoinsARunningContainer) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "host1", "busybox", "sleep", "60"}).code, 0);
  Terminal t(Args({"exec", "-it", "host1", "sh"}));
  ASSERT_TRUE(t.WaitFor("# ")) << t.screen();
  t.Type("tty; cat /proc/1/comm\r");
  EXPECT_TRUE(t.WaitFor("sleep")) << t.screen();
  EXPECT_NE(t.screen().find("/dev/pts/"), std::string::npos);
  t.Type("exit 3\r");
  EXPECT_EQ(t.Exit(), 3);
}

}  // namespace
}  // namespace bd::testing

namespace bd::testing {
namespace {

class AttachTest : public TtyTest {};

TEST_F(AttachTest, AttachFollowsOutputAndReturnsTheExitCode) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                 "sleep 0.5; echo late; exit 4"}).code, 0);
  CmdResult r = Cli({"attach", "ticker"}, "", 20);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(r.out, "late\n");
  CmdResult stopped = Cli({"attach", "ticker"});
  EXPECT_EQ(stopped.code, 1);
  EXPECT_NE(stopped.err.find("stopped container"), std::string::npos) << stopped.err;
  EXPECT_EQ(Cli({"attach", "nobody-here"}).code, 1);
}

TEST_F(AttachTest, AttachFeedsStdinToAnInteractiveContainer) {
  ASSERT_EQ(Cli({"run", "-di", "--name", "shell", "busybox", "sh"}).code, 0);
  CmdResult r = Cli({"attach", "shell"}, "echo from-attach\nexit 6\n", 20);
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_EQ(r.out, "from-attach\n");
  EXPECT_FALSE(os::Exists("/run/basic-docker/" +
                          nlohmann::json::parse(Cli({"inspect", "shell"}).out)[0]["Id"].get<std::string>() +
                          ".sock"));
}

TEST_F(AttachTest, AttachToATerminalContainer) {
  ASSERT_EQ(Cli({"run", "-dit", "--name", "term", "busybox", "sh"}).code, 0);
  Terminal t(Args({"attach", "term"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t.Type("stty size; tty\r");
  EXPECT_TRUE(t.WaitFor("/dev/pts/0")) << t.screen();
  EXPECT_NE(t.screen().find("24 80"), std::string::npos) << t.screen();
  t.Type("exit 2\r");
  EXPECT_EQ(t.Exit(), 2);
}

TEST_F(AttachTest, DetachKeysLeaveTheContainerRunning) {
  std::string pid_before;
  {
    Terminal t(Args({"run", "-it", "--name", "dk", "busybox", "sh"}));
    ASSERT_TRUE(t.WaitFor("# ")) << t.screen();
    t.Type("echo one-$((1+1))\r");
    ASSERT_TRUE(t.WaitFor("one-2")) << t.screen();
    t.Type("\x10");  // Ctrl-P alone is held back, then Ctrl-Q completes the sequence
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    t.Type("\x11");
    EXPECT_EQ(t.Exit(), 0) << t.screen();
  }
  auto state = nlohmann::json::parse(Cli({"inspect", "dk"}).out)[0]["State"];
  ASSERT_TRUE(state["Running"].get<bool>());
  int pid = state["Pid"].get<int>();
  {
    // A custom sequence.
    Terminal t(Args({"attach", "--detach-keys", "ctrl-a,d", "dk"}));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    t.Type("echo two-$((1+2))\r");
    ASSERT_TRUE(t.WaitFor("two-3")) << t.screen();
    t.Type("\x01" "d");
    EXPECT_EQ(t.Exit(), 0) << t.screen();
  }
  state = nlohmann::json::parse(Cli({"inspect", "dk"}).out)[0]["State"];
  EXPECT_TRUE(state["Running"].get<bool>());
  EXPECT_EQ(state["Pid"].get<int>(), pid);  // the same process all along
  {
    // A client killed while attached: the next one still reaches the shell.
    Terminal gone(Args({"attach", "dk"}));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  Terminal t(Args({"attach", "dk"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t.Type("echo four-$((2+2))\r");
  EXPECT_TRUE(t.WaitFor("four-4")) << t.screen();
  t.Type("exit 3\r");
  EXPECT_EQ(t.Exit(), 3);
  EXPECT_NE(Cli({"attach", "--detach-keys", "ctrl-", "dk"}).code, 0);
}

}  // namespace
}  // namespace bd::testing
