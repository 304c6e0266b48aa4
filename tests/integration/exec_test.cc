// exec into running containers.
#include <chrono>
#include <thread>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

class ExecTest : public EngineTest {
 protected:
  void StartTarget() {
    CmdResult r = Cli({"run", "-d", "--name", "box", "-h", "boxhost", "-e", "A=1", "-w", "/srv",
                       "busybox", "sleep", "600"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
};

TEST_F(ExecTest, JoinsEveryNamespaceOfTheContainer) {
  StartTarget();
  // Namespace ids of the container's pid 1 and of the exec'd process, seen from inside.
  CmdResult r = Cli({"exec", "box", "sh", "-c",
                     "for n in pid mnt uts ipc net cgroup; do "
                     "[ \"$(readlink /proc/1/ns/$n)\" = \"$(readlink /proc/self/ns/$n)\" ] "
                     "&& echo same-$n || echo diff-$n; done; hostname; cat /proc/1/comm"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "same-pid\nsame-mnt\nsame-uts\nsame-ipc\nsame-net\nsame-cgroup\nboxhost\nsleep\n");
}

TEST_F(ExecTest, InheritsConfigAndTakesOverrides) {
  StartTarget();
  EXPECT_EQ(Cli({"exec", "box", "sh", "-c", "echo $A $(pwd) $(id -u)"}).out, "1 /srv 0\n");
  EXPECT_EQ(Cli({"exec", "-e", "A=2", "-e", "B=3", "-w", "/", "-u", "nobody", "box", "sh", "-c",
                 "echo $A $B $(pwd) $(id -u)"}).out,
            "2 3 / 65534\n");
  CmdResult caps = Cli({"exec", "box", "grep", "-E", "CapEff|Seccomp:", "/proc/self/status"});
  EXPECT_EQ(caps.out, "CapEff:\t00000000a80425fb\nSeccomp:\t2\n");
}

// Docker's environment: PATH, HOSTNAME and, with -t, TERM=xterm, under the container's own.
TEST_F(ExecTest, EnvironmentHasHostnameAndTermWithATerminal) {
  StartTarget();
  EXPECT_EQ(Cli({"exec", "box", "sh", "-c", "echo $HOSTNAME ${TERM:-none} $PATH"}).out,
            "boxhost none /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
  // -t without a terminal of the caller's own: the container still gets its pty and TERM.
  CmdResult t = Cli({"exec", "-t", "box", "sh", "-c", "echo $TERM"});
  EXPECT_NE(t.out.find("xterm"), std::string::npos) << t.out << t.err;
  CmdResult r = Cli({"run", "--rm", "-e", "HOSTNAME=mine", "busybox", "sh", "-c", "echo $HOSTNAME ${TERM:-none}"});
  EXPECT_EQ(r.out, "mine none\n");
  CmdResult id = Cli({"run", "-d", "busybox", "sleep", "60"});
  ASSERT_EQ(id.code, 0) << id.err;
  std::string full = std::string(TrimSpace(id.out));
  EXPECT_EQ(Cli({"exec", full, "sh", "-c", "echo $HOSTNAME"}).out, full.substr(0, 12) + "\n");
}

TEST_F(ExecTest, ReturnsTheCommandsExitCodeAndStreams) {
  StartTarget();
  EXPECT_EQ(Cli({"exec", "box", "sh", "-c", "exit 9"}).code, 9);
  CmdResult streams = Cli({"exec", "box", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(streams.out, "out\n");
  EXPECT_EQ(streams.err, "err\n");
  EXPECT_EQ(Cli({"exec", "-i", "box", "cat"}, "piped in\n").out, "piped in\n");
  EXPECT_EQ(Cli({"exec", "box", "cat"}, "ignored\n").out, "");  // no -i: stdin is /dev/null
  CmdResult missing = Cli({"exec", "box", "no-such-command"});
  EXPECT_EQ(missing.code, 127);
  EXPECT_NE(missing.err.find("executable file not found"), std::string::npos);
  EXPECT_EQ(Cli({"exec", "box", "/etc/passwd"}).code, 126);
}

TEST_F(ExecTest, DetachedExecRunsOn) {
  StartTarget();
  CmdResult r = Cli({"exec", "-d", "box", "sh", "-c", "sleep 0.3; echo done > /tmp/flag"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = Cli({"exec", "box", "cat", "/tmp/flag"}).out == "done\n";
  }
  EXPECT_TRUE(seen);
}

TEST_F(ExecTest, RefusesStoppedAndUnknownContainers) {
  StartTarget();
  ASSERT_EQ(Cli({"stop", "-t", "0", "box"}).code, 0);
  CmdResult stopped = Cli({"exec", "box", "true"});
  EXPECT_EQ(stopped.code, 1);
  EXPECT_NE(stopped.err.find("is not running"), std::string::npos) << stopped.err;
  EXPECT_EQ(Cli({"exec", "nobody-here", "true"}).code, 1);
  EXPECT_EQ(Cli({"exec", "box"}).code, 1);

}

}  // namespace
}  // namespace bd::testing
