// -v bind mounts and named volumes, --tmpfs, --network host, --init.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class MountsTest : public EngineTest {};

TEST_F(MountsTest, BindMountsAHostDirectoryReadWriteOrReadOnly) {
  std::string host = dir_->path() + "/share";
  ASSERT_TRUE(os::MkdirAll(host).ok());
  ASSERT_TRUE(os::WriteFile(host + "/in", "from host\n").ok());
  CmdResult rw = Cli({"run", "--rm", "-v", host + ":/data", "busybox", "sh", "-c",
                      "cat /data/in; echo from container > /data/out"});
  ASSERT_EQ(rw.code, 0) << rw.err;
  EXPECT_EQ(rw.out, "from host\n");
  EXPECT_EQ(*os::ReadFile(host + "/out"), "from container\n");
  CmdResult ro = Cli({"run", "--rm", "-v", host + ":/data:ro", "busybox", "sh", "-c",
                      "cat /data/in; touch /data/x"});
  EXPECT_EQ(ro.code, 1);
  EXPECT_EQ(ro.out, "from host\n");
  EXPECT_NE(ro.err.find("Read-only file system"), std::string::npos) << ro.err;
  // A missing host directory is created, as Docker does for -v.
  EXPECT_EQ(Cli({"run", "--rm", "-v", host + "/new:/n", "busybox", "true"}).code, 0);
  EXPECT_TRUE(os::IsDir(host + "/new"));
  // A source beginning with "." is a host path relative to the working directory, not a
  // volume name, as with Docker's CLI.
  CmdResult rel = RunCmd({"/bin/sh", "-c", "cd '" + host + "' && exec \"$@\"", "sh",
                          std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_, "run", "--rm",
                          "-v", "./:/data", "-v", "../share/./new/..:/again:ro", "busybox", "cat", "/data/in", "/again/in"});
  EXPECT_EQ(rel.code, 0) << rel.err;
  EXPECT_EQ(rel.out, "from host\nfrom host\n");
  EXPECT_EQ(Cli({"volume", "ls", "-q"}).out, "");
}

TEST_F(MountsTest, NamedVolumesPersistAndAreProtectedWhileUsed) {
  ASSERT_EQ(Cli({"run", "--name", "writer", "-v", "cache:/cache", "busybox", "sh", "-c",
                 "echo kept > /cache/f"}).code, 0);
  CmdResult read = Cli({"run", "--rm", "-v", "cache:/c:ro", "busybox", "cat", "/c/f"});
  EXPECT_EQ(read.out, "kept\n") << read.err;
  EXPECT_EQ(Cli({"volume", "ls", "-q"}).out, "cache\n");
  json v = json::parse(Cli({"volume", "inspect", "cache"}).out)[0];
  EXPECT_EQ(v["Name"], "cache");
  EXPECT_EQ(v["UsedBy"].size(), 1u);
  CmdResult busy = Cli({"volume", "rm", "cache"});
  EXPECT_EQ(busy.code, 1);
  EXPECT_NE(busy.err.find("volume is in use - [writer]"), std::string::npos) << busy.err;
  ASSERT_EQ(Cli({"rm", "writer"}).code, 0);
  EXPECT_EQ(Cli({"volume", "rm", "cache"}).code, 0);
  EXPECT_EQ(Cli({"volume", "ls", "-q"}).out, "");
  EXPECT_FALSE(os::Exists(root_ + "/volumes/cache"));
  // create is idempotent; bad names and specs are refused.
  EXPECT_EQ(Cli({"volume", "create", "-l", "k=v", "data1"}).code, 0);
  EXPECT_EQ(Cli({"volume", "create", "data1"}).out, "data1\n");
  EXPECT_EQ(Cli({"volume", "create", "bad/name"}).code, 1);
  EXPECT_EQ(Cli({"volume", "rm", "nope"}).code, 1);
  EXPECT_EQ(Cli({"volume", "rm", "-f", "nope"}).code, 0);
  for (const char* bad : {"rel/x:/x", "/host:relative", "/host:/", "/host:/a/../b", "/h:/x:bogus",
                          "only-one-part"}) {
    EXPECT_EQ(Cli({"run", "--rm", "-v", bad, "busybox", "true"}).code, 125) << bad;
  }
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
}

TEST_F(MountsTest, TmpfsMountsAreFreshMemory) {
  CmdResult r = Cli({"run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m", "busybox", "sh",
                     "-c", "echo x > /scratch/f && cat /scratch/f; grep ' /scratch ' /proc/mounts"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("x\ntmpfs /scratch tmpfs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("size=1024k"), std::string::npos) << r.out;
  EXPECT_EQ(Cli({"run", "--rm", "--tmpfs", "relative", "busybox", "true"}).code, 125);
}

TEST_F(MountsTest, HostNetworkSharesTheHostsInterfaces) {
  auto host_ifaces = os::ListDir("/sys/class/net");
  ASSERT_TRUE(host_ifaces.ok());
  CmdResult r = Cli({"run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> seen;
  for (const auto& l : Split(r.out, '\n')) {
    if (!l.empty()) seen.push_back(l);
  }
  std::sort(seen.begin(), seen.end());
  std::sort(host_ifaces->begin(), host_ifaces->end());
  EXPECT_EQ(seen, *host_ifaces);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(Cli({"run", "--rm", "--net=host", "busybox", "hostname"}).out, std::string(host) + "\n");
  EXPECT_EQ(Cli({"run", "--rm", "--network", "bridge", "busybox", "true"}).code, 125);
}

TEST_F(MountsTest, InitReapsZombiesAndForwardsSignals) {
  // Without --init, the shell is pid 1; with it, basic-docker-init is.
  EXPECT_EQ(Cli({"run", "--rm", "--init", "busybox", "cat", "/proc/1/comm"}).out,
            "basic-docker-in\n");  // comm is cut at 15 characters
  CmdResult code = Cli({"run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"});
  EXPECT_EQ(code.code, 7);
  // An orphan that exits is reaped by init: no zombie remains.
  CmdResult z = Cli({"run", "--rm", "--init", "busybox", "sh", "-c",
                     "(sleep 0.1 &) ; sleep 0.5; grep -l Z /proc/[0-9]*/stat 2>/dev/null | wc -l"});
  EXPECT_EQ(z.out, "0\n") << z.err;
  // stop's SIGTERM reaches the command through init.
  ASSERT_EQ(Cli({"run", "-d", "--init", "--name", "fwd", "busybox", "sh", "-c",
                 "trap 'exit 3' TERM; while true; do sleep 0.1; done"}).code, 0);
  ::usleep(300'000);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Cli({"stop", "fwd"}).code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(json::parse(Cli({"inspect", "fwd"}).out)[0]["State"]["ExitCode"], 3);
}

}  // namespace
}  // namespace bd::testing
