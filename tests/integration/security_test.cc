// Docker's security defaults, checked from inside real containers.
#include <sys/prctl.h>

#include <cstdlib>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

// Docker's default capability set as the kernel's CapEff bit mask.
constexpr uint64_t kDockerDefaultCaps = 0xa80425fb;

uint64_t Hex(const std::string& s) { return std::strtoull(std::string(TrimSpace(s)).c_str(), nullptr, 16); }

class SecurityTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    CmdResult imp = Cli({"import", "-", "probe"}, ProbeLayerTar());
    ASSERT_EQ(imp.code, 0) << imp.err;
  }
  CmdResult Probe(std::vector<std::string> flags, std::vector<std::string> cmd) {
    std::vector<std::string> args = {"run", "--rm"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("probe");
    args.insert(args.end(), cmd.begin(), cmd.end());
    return Cli(args);
  }
};

// The standard device nodes are crw-rw-rw- as in Docker and runc: a service running as a
// non-root user writes to /dev/null.
TEST_F(SecurityTest, StandardDevicesAreWritableByEveryUser) {
  CmdResult r = Probe({"-u", "nobody"}, {"sh", "-c", "echo x > /dev/null && busybox head -c 4 /dev/zero | wc -c && "
                                                  "busybox ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string& line : Split(r.out, '\n')) {
    if (line.find("/dev/") != std::string::npos) {
      EXPECT_EQ(line.substr(0, 10), "crw-rw-rw-") << line;
    }
  }
}

TEST_F(SecurityTest, CapEffIsDockersDefaultSet) {
  CmdResult r = Probe({}, {"/bin/bd-probe", "caps"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hex(r.out), kDockerDefaultCaps) << r.out;
  // A non-root user holds none; bounding is still the default set.
  CmdResult user = Probe({"-u", "nobody"}, {"/bin/bd-probe", "caps"});
  EXPECT_EQ(Hex(user.out), 0u) << user.out;
}

TEST_F(SecurityTest, CapAddAndDropAdjustTheSet) {
  CmdResult r = Probe({"--cap-drop", "ALL", "--cap-add", "net_raw", "--cap-add", "CAP_KILL"},
                      {"/bin/bd-probe", "caps"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Hex(r.out), (1ull << 13) | (1ull << 5));
  CmdResult drop = Probe({"--cap-drop", "chown"}, {"/bin/bd-probe", "caps"});
  EXPECT_EQ(Hex(drop.out), kDockerDefaultCaps & ~1ull);
  CmdResult bad = Probe({"--cap-add", "NOT_A_CAP"}, {"/bin/true"});
  EXPECT_EQ(bad.code, 125);
  EXPECT_NE(bad.err.find("unknown capability"), std::string::npos);
}

TEST_F(SecurityTest, SeccompBlocksUnshareAndKeyctl) {
  EXPECT_EQ(Probe({}, {"/bin/bd-probe", "syscall", "unshare"}).out, "EPERM\n");
  EXPECT_EQ(Probe({}, {"/bin/bd-probe", "syscall", "keyctl"}).out, "EPERM\n");
  EXPECT_EQ(Probe({}, {"/bin/bd-probe", "syscall", "add_key"}).out, "EPERM\n");
  EXPECT_EQ(Probe({}, {"/bin/bd-probe", "syscall", "getpid"}).out, "ok\n");
  CmdResult nnp = Probe({}, {"grep", "-E", "NoNewPrivs|Seccomp:", "/proc/self/status"});
  EXPECT_NE(nnp.out.find("NoNewPrivs:\t1"), std::string::npos) << nnp.out;
  EXPECT_NE(nnp.out.find("Seccomp:\t2"), std::string::npos) << nnp.out;
  // CAP_SYS_ADMIN re-allows namespace creation, as Docker's profile does.
  EXPECT_EQ(Probe({"--cap-add", "SYS_ADMIN"}, {"/bin/bd-probe", "syscall", "unshare"}).out, "ok\n");
  // Unconfined: no filter at all (keyctl then answers from the kernel, not EPERM).
  CmdResult unconfined = Probe({"--security-opt", "seccomp=unconfined"},
                               {"grep", "Seccomp:", "/proc/self/status"});
  EXPECT_EQ(unconfined.out, "Seccomp:\t0\n");
}

TEST_F(SecurityTest, CustomProfilesInDockersFormat) {
  std::string profile = WriteFile("deny-mkdir.json", R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
  })");
  CmdResult r = Probe({"--security-opt", "seccomp=" + profile}, {"mkdir", "/tmp/x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  std::string bad = WriteFile("bad.json", R"({"defaultAction": "SCMP_ACT_EXPLODE"})");
  CmdResult b = Probe({"--security-opt", "seccomp=" + bad}, {"true"});
  EXPECT_EQ(b.code, 125);
  EXPECT_NE(b.err.find("unknown action"), std::string::npos) << b.err;
  EXPECT_EQ(Probe({"--security-opt", "seccomp=" + WriteFile("nojson", "{")}, {"true"}).code, 125);
  EXPECT_EQ(Probe({"--security-opt", "apparmor=x"}, {"true"}).code, 125);
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
}

// Several comparisons on one argument mean "any of them" (as runc reads them; libseccomp
// takes one per argument in a rule): runtime-tools' default profile has such a rule.
TEST_F(SecurityTest, SeveralConditionsOnOneArgumentMatchAny) {
  std::string profile = WriteFile("signals.json", R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                  "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                           {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}]
  })");
  CmdResult r = Probe({"--security-opt", "seccomp=" + profile},
                      {"sh", "-c", "trap '' USR1 USR2; kill -USR1 $$ && echo usr1; kill -USR2 $$ && echo usr2; "
                                   "kill -0 $$ && echo zero; true"});
  EXPECT_EQ(r.out, "zero\n") << r.err;
}

TEST_F(SecurityTest, MaskedPathsReadEmptyAndReadonlyPathsRefuseWrites) {
  std::string script;
  int masked_files = 0;
  for (const char* p : {"/proc/keys", "/proc/timer_list", "/proc/latency_stats", "/proc/sched_debug"}) {
    auto host = os::ReadFile(p);
    if (!host.ok() || host->empty()) continue;  // not on this kernel: nothing to mask
    ++masked_files;
    script += std::string("echo ") + p + "=$(cat " + p + " | wc -c); ";
  }
  script += "echo 1 > /proc/sys/kernel/domainname && echo sys-writable || echo sys-ro; "
            "echo x > /proc/sysrq-trigger && echo sysrq-writable || echo sysrq-ro";
  CmdResult r = Probe({}, {"sh", "-c", script});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string& line : Split(r.out, '\n')) {
    if (line.rfind("/proc/", 0) == 0) {
      EXPECT_EQ(line.substr(line.find('=')), "=0") << line;
    }
  }
  EXPECT_GT(masked_files, 0) << "no masked file exists on this kernel to check";
  EXPECT_NE(r.out.find("sys-ro"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sysrq-ro"), std::string::npos) << r.out;
}

TEST_F(SecurityTest, ReadOnlyRootfsRejectsWrites) {
  CmdResult r = Probe({"--read-only"}, {"sh", "-c", "touch /x 2>&1; touch /tmp/y 2>&1; echo done"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("/x: Read-only file system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/tmp/y: Read-only file system"), std::string::npos) << r.out;
  EXPECT_EQ(Probe({}, {"touch", "/x"}).code, 0);  // writable by default
}

TEST_F(SecurityTest, OnlyTheStandardDevicesOpen) {
  if (!os::Exists("/sys/fs/cgroup/devices/devices.allow")) {
    GTEST_SKIP() << "no v1 devices controller on this host (cgroup v2 device filtering is not done)";
  }
  // A node for the kernel log (c 1:11) can be made but not opened; the standard ones work.
  CmdResult r = Probe({}, {"sh", "-c",
                           "mknod /kmsg c 1 11 && head -c1 /kmsg 2>&1; "
                           "echo x > /dev/null && head -c3 /dev/zero | wc -c"});
  EXPECT_NE(r.out.find("/kmsg: Operation not permitted"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("3\n"), std::string::npos) << r.out;
  CmdResult p = Probe({"--privileged"}, {"sh", "-c", "mknod /kmsg c 1 11 && head -c1 /kmsg >/dev/null 2>&1; echo $?"});
  EXPECT_EQ(p.out, "0\n") << p.err;
}

TEST_F(SecurityTest, PrivilegedLiftsTheRestrictions) {
  uint64_t bounding = 0;
  for (int c = 0; c <= 63; ++c) {
    if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) bounding |= 1ull << c;
  }
  CmdResult caps = Probe({"--privileged"}, {"/bin/bd-probe", "caps"});
  EXPECT_EQ(Hex(caps.out), bounding) << caps.out;
  EXPECT_EQ(Probe({"--privileged"}, {"/bin/bd-probe", "syscall", "unshare"}).out, "ok\n");
  CmdResult sys = Probe({"--privileged"}, {"sh", "-c", "grep ' /sys ' /proc/mounts"});
  EXPECT_NE(sys.out.find("rw,"), std::string::npos) << sys.out;
}

}  // namespace
}  // namespace bd::testing

namespace bd::testing {
namespace {

class SignalStateTest : public EngineTest {};

TEST_F(SignalStateTest, ContainerStartsWithNoBlockedOrIgnoredSignals) {
  CmdResult r = Cli({"run", "--rm", "busybox", "grep", "-E", "SigBlk|SigIgn", "/proc/self/status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

}  // namespace
}  // namespace bd::testing
